#!/usr/bin/perl
# A minimal STUN Binding responder for the lab's routers running miniupnpd.
#
#   stun_reflector.pl ADDR PORT
#
# miniupnpd refuses to forward ports when its WAN address is private or
# reserved (every lab address is TEST-NET) unless ext_perform_stun shows it
# sits behind no filtering NAT: it sends four Binding requests from four
# sockets, three of them with CHANGE-REQUEST (answer from another IP and/or
# port), and wants all four answered with its own address and local port.
# coturn honours CHANGE-REQUEST (other port) or drops the request (other IP,
# it has only one), and a router drops answers from an address it never sent
# to, so coturn's check always reads "restrictive NAT". This responder
# answers every Binding request from the address it was asked on, ignoring
# CHANGE-REQUEST, with MAPPED-ADDRESS (and XOR-MAPPED-ADDRESS for RFC 5389
# requests) of the sender as seen here: the honest answer for a router with
# a public address, which is what the lab models.
#
# Everything received is checked before it is answered: at least a 20-byte
# header, a Binding request type, a length field that is a multiple of 4 and
# matches the datagram. Anything else is ignored. IPv4 only (miniupnpd's
# check is IPv4). Perl with core modules only, like the lab's other tools.
use strict;
use warnings;
use IO::Socket::IP;
use Socket qw(inet_aton);

my $COOKIE = 0x2112A442;

sub usage {
	print STDERR "usage: stun_reflector.pl ADDR PORT\n";
	exit 2;
}

# The answer to a well-formed Binding request from $ip:$port, or undef.
sub answer {
	my ($req, $ip, $port) = @_;
	return undef if length($req) < 20;
	my ($type, $len, $cookie) = unpack('n n N', $req);
	return undef if $type != 0x0001;
	return undef if $len % 4 != 0 || $len + 20 != length($req);
	my $addr = inet_aton($ip) // return undef;
	my $attrs = pack('n n C C n a4', 0x0001, 8, 0, 1, $port, $addr);
	if ($cookie == $COOKIE) {
		my $x = unpack('N', $addr) ^ $COOKIE;
		$attrs .= pack('n n C C n N', 0x0020, 8, 0, 1,
		    $port ^ ($COOKIE >> 16), $x);
	}
	return pack('n n', 0x0101, length($attrs)) . substr($req, 4, 16) . $attrs;
}

sub main {
	my ($addr, $port) = @ARGV;
	usage() unless defined $addr && $addr =~ /^\d{1,3}(\.\d{1,3}){3}$/;
	usage() unless defined $port && $port =~ /^\d{1,5}$/ && $port >= 1 && $port <= 65535;
	my $sock = IO::Socket::IP->new(
		Proto => 'udp', LocalHost => $addr, LocalPort => $port,
		ReuseAddr => 1)
	    or die "stun_reflector.pl: bind $addr:$port: $@\n";
	$| = 1;
	print "stun reflector on $addr:$port\n";
	while (1) {
		my $buf;
		next unless defined $sock->recv($buf, 1500);
		my ($ip, $from) = ($sock->peerhost, $sock->peerport);
		my $out = answer($buf, $ip, $from);
		if (!defined $out) {
			print "ignored ", length($buf), " bytes from $ip:$from\n";
			next;
		}
		print "binding $ip:$from\n";
		$sock->send($out);
	}
}

main();
