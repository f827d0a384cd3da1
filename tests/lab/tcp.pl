#!/usr/bin/perl
# Lab TCP helpers (perl is on every Debian system; nc/socat are not).
#   tcp.pl listen PORT...          accept and close connections on each port
#   tcp.pl connect HOST PORT SECS  exit 0 if connected, 1 if refused, 2 on timeout
#   tcp.pl sink PORT               accept one connection (IPv4 or IPv6), copy it to stdout
#   tcp.pl source HOST PORT        connect, copy stdin to it, wait for the peer's close
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
} elsif ($mode eq 'sink') {
	my ($port) = @ARGV;
	my $l = IO::Socket::IP->new(LocalHost => '::', LocalPort => $port, Listen => 1,
		ReuseAddr => 1, V6Only => 0) or die "listen $port: $!";
	my $c = $l->accept or die "accept: $!";
	my $buf;
	binmode STDOUT;
	while (my $n = sysread($c, $buf, 1 << 20)) {
		print STDOUT $buf or die "write: $!";
	}
	exit 0;
} elsif ($mode eq 'source') {
	my ($host, $port) = @ARGV;
	my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port)
		or die "connect $host $port: $!";
	my $buf;
	binmode STDIN;
	while (my $n = sysread(STDIN, $buf, 1 << 20)) {
		for (my $off = 0; $off < $n;) {
			$off += syswrite($s, $buf, $n - $off, $off) // die "send: $!";
		}
	}
	# half-close, then wait for the sink to have read it all
	shutdown($s, 1);
	1 while sysread($s, $buf, 4096);
	exit 0;
}
die "usage: tcp.pl listen PORT... | connect HOST PORT SECS | sink PORT | source HOST PORT\n";
