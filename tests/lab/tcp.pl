#!/usr/bin/perl
# Lab TCP helpers (perl is on every Debian system; nc/socat are not).
#   tcp.pl listen PORT...          accept and close connections on each port
#   tcp.pl connect HOST PORT SECS  exit 0 if connected, 1 if refused, 2 on timeout
use strict;
use warnings;
use IO::Socket::IP;
use IO::Select;
use Time::HiRes qw(time);

my $mode = shift // '';
if ($mode eq 'listen') {
	my $sel = IO::Select->new;
	for my $port (@ARGV) {
		for my $addr ('0.0.0.0', '::') {
			my $s = IO::Socket::IP->new(LocalHost => $addr, LocalPort => $port,
				Listen => 16, ReuseAddr => 1, V6Only => 1) or die "listen $addr $port: $!";
			$sel->add($s);
		}
	}
	$| = 1;
	print "listening\n";
	while (1) {
		for my $s ($sel->can_read) {
			my $c = $s->accept or next;
			print $c "hello\n";
			close $c;
		}
	}
} elsif ($mode eq 'connect') {
	my ($host, $port, $secs) = @ARGV;
	my $t0 = time;
	my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port, Timeout => $secs);
	my $dt = sprintf('%.3f', time - $t0);
	if ($s) { print "connected $dt\n"; exit 0 }
	my $err = "$!";
	print "failed $dt $err\n";
	exit($err =~ /refused/i ? 1 : 2);
}
die "usage: tcp.pl listen PORT... | connect HOST PORT SECS\n";
