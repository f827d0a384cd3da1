#!/usr/bin/perl
# UDP address reflector for the lab: the piece that shows what a NAT did.
#
#   udp.pl reflect PORT                      answer every datagram with the
#                                            sender's address as seen here
#   udp.pl probe SRC_PORT DST_IP DST_PORT    send from SRC_PORT (0 = any) and
#                                            print the reflected "ip:port"
#
# A probe from a host behind a router prints the router's mapping of that
# host's socket. Two probes from one fixed source port to two destinations
# print the same mapping through an endpoint-independent NAT and different
# ones through a symmetric NAT. Written in Perl because perl-base is
# Essential in Debian, so it exists wherever the lab runs; only core modules.
use strict;
use warnings;
use IO::Socket::IP;
use IO::Select;

sub usage {
	print STDERR "usage: udp.pl reflect PORT | probe SRC_PORT DST_IP DST_PORT\n";
	exit 2;
}

sub port_ok {
	my ($p) = @_;
	return defined $p && $p =~ /^\d{1,5}$/ && $p <= 65535;
}

# Strip the v4-mapped prefix a dual-stack socket reports for IPv4 senders.
sub format_peer {
	my ($host, $port) = @_;
	$host =~ s/^::ffff://i;
	return $host =~ /:/ ? "[$host]:$port" : "$host:$port";
}

sub reflect {
	my ($port) = @_;
	usage() unless port_ok($port);
	my $sock = IO::Socket::IP->new(
		Proto => 'udp', LocalHost => '::', LocalPort => $port,
		V6Only => 0, ReuseAddr => 1)
	    or die "udp.pl: bind [::]:$port: $@\n";
	$| = 1;
	print "reflecting on udp port $port\n";
	while (1) {
		my $buf;
		next unless defined $sock->recv($buf, 1500);
		my $peer = format_peer($sock->peerhost, $sock->peerport);
		print "from $peer\n";
		$sock->send($peer);
	}
}

sub probe {
	my ($src, $dst, $dport) = @_;
	usage() unless port_ok($src) && defined $dst && port_ok($dport);
	my $family = $dst =~ /:/ ? '::' : '0.0.0.0';
	my $sock = IO::Socket::IP->new(
		Proto => 'udp', LocalHost => $family, LocalPort => $src,
		PeerHost => $dst, PeerPort => $dport, ReuseAddr => 1)
	    or die "udp.pl: socket to $dst:$dport from port $src: $@\n";
	my $sel = IO::Select->new($sock);
	# Retry a few times: the first datagram may wait on ARP or be dropped
	# while a neighbour entry is being resolved.
	for my $try (1 .. 5) {
		$sock->send("rayfish-lab-probe") or next;
		next unless $sel->can_read(1);
		my $buf;
		next unless defined $sock->recv($buf, 1500);
		print "$buf\n";
		return 0;
	}
	print STDERR "udp.pl: no answer from $dst:$dport\n";
	return 1;
}

my $mode = shift @ARGV // usage();
if ($mode eq 'reflect') {
	reflect(@ARGV);
} elsif ($mode eq 'probe') {
	exit probe(@ARGV);
} else {
	usage();
}
