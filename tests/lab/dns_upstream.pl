#!/usr/bin/perl
# A tiny authoritative DNS responder for the lab's "internet": answers A
# queries for names in a fixed table (NAME=IP arguments) and NXDOMAIN for
# everything else. Enough to prove that Magic DNS forwards non-.ray names.
#   dns_upstream.pl PORT name1=ip1 [name2=ip2 ...]
use strict;
use warnings;
use IO::Socket::INET;

my ($port, @pairs) = @ARGV;
my %table = map { my ($n, $ip) = split /=/; (lc($n) => $ip) } @pairs;
my $sock = IO::Socket::INET->new(LocalPort => $port, Proto => 'udp', ReuseAddr => 1)
	or die "bind: $!";
$| = 1;
print "dns_upstream: listening on $port\n";
while (1) {
	my $from = $sock->recv(my $q, 512) or next;
	next if length($q) < 12;
	my ($id, $flags, $qd) = unpack('n n n', $q);
	next if $qd != 1;
	my ($pos, @labels) = (12);
	while ($pos < length $q) {
		my $len = ord substr($q, $pos, 1);
		last if $len == 0 || $len > 63;
		push @labels, substr($q, $pos + 1, $len);
		$pos += 1 + $len;
	}
	next if $pos + 5 > length $q;
	my $question = substr($q, 12, $pos + 5 - 12);
	my ($qtype) = unpack('n', substr($q, $pos + 1, 2));
	my $name = lc join '.', @labels;
	my $ip = $table{$name};
	my ($rcode, $an) = (3, '');
	if (defined $ip) {
		$rcode = 0;
		$an = pack('n n n N n C4', 0xc00c, 1, 1, 60, 4, split(/\./, $ip)) if $qtype == 1;
	}
	my $resp = pack('n n n n n n', $id, 0x8400 | ($flags & 0x0100) | $rcode, 1,
			length($an) ? 1 : 0, 0, 0) . $question . $an;
	$sock->send($resp, 0, $from);
}
