#!/usr/bin/perl
# Parsing and reporting for bench/paths.
#
#   paths.pl first-reply            < ping -D output -> ms of the first reply
#   paths.pl replied-since MS       < ping -D output -> exit 0 if a reply came
#                                     after MS (unix milliseconds)
#   paths.pl gap PREFIX MS          < ping -D -O output -> "PREFIX.KEY VALUE"
#   paths.pl report                 < results file   -> table, ratios, BENCH
#
# The ping and iperf3 figures of each path are parsed by bench.pl (the same
# parser bench/throughput uses); this file adds the timestamped pings the
# path switches and the joins are timed with, and the report. Like bench.pl
# it dies with a sentence naming what was missing rather than reporting
# zeros.
use strict;
use warnings;
use JSON::PP;
use FindBin;
use lib $FindBin::Bin;
use BenchResults qw(results_parse ratio);

my $mode = shift // die "usage: paths.pl first-reply | replied-since MS | gap PREFIX MS | report\n";

# Receive times (unix ms, fractional) and sequence numbers of the echo
# replies in `ping -D` output; "no answer yet" lines are not replies.
sub replies {
	my ($text) = @_;
	my @r;
	for my $line (split /\n/, $text) {
		next unless $line =~ /^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)/;
		push @r, [$1 * 1000, $2];
	}
	return @r;
}

my $in = do { local $/; <STDIN> // '' };

if ($mode eq 'first-reply') {
	my @r = replies($in);
	die "no echo reply in the ping output\n" unless @r;
	printf "%d\n", $r[0][0];
	exit 0;
}

if ($mode eq 'replied-since') {
	my $t = shift // die "paths.pl replied-since MS\n";
	die "paths.pl: MS must be a number\n" unless $t =~ /^\d+$/;
	for my $r (replies($in)) {
		exit 0 if $r->[0] > $t;
	}
	exit 1;
}

if ($mode eq 'gap') {
	my ($p, $t) = @ARGV;
	die "paths.pl gap PREFIX MS\n" unless defined $t && $t =~ /^\d+$/;
	my @r = replies($in);
	# The longest silence between two replies, the later one after the
	# switch began: the time the data plane was dark across it.
	my ($gap, $from) = (0, undef);
	for my $i (1 .. $#r) {
		next unless $r[$i][0] > $t;
		my $g = $r[$i][0] - $r[$i - 1][0];
		($gap, $from) = ($g, $r[$i - 1][0]) if $g > $gap;
	}
	die "the watch ping has no reply after the switch\n" unless defined $from;
	my ($sent, $recv) = $in =~ /(\d+) packets transmitted, (\d+) received/
	    or die "the watch ping has no packet summary\n";
	printf "%s.gap_ms %.0f\n", $p, $gap;
	printf "%s.gap_start_ms %.0f\n", $p, $from - $t;
	print "$p.watch_sent $sent\n$p.watch_lost ", $sent - $recv, "\n";
	exit 0;
}

die "paths.pl: unknown mode $mode\n" unless $mode eq 'report';

my %r = %{results_parse($in)};

printf "\n%-8s %-16s %10s %6s %5s %24s %6s %16s %s\n", 'path', 'address', 'Mbit/s',
    'retr', 'mss', 'rtt min/avg/max (ms)', 'loss', 'cpu% a/b/coturn', 'path after';
for my $k (qw(raw direct relay)) {
	my $x = $r{$k} or next;
	my $loss = $x->{ping_sent}
	    ? sprintf('%d%%', 100 * (1 - $x->{ping_received} / $x->{ping_sent}))
	    : '-';
	printf "%-8s %-16s %10.1f %6d %5s %24s %6s %16s %s\n", $k, $x->{addr},
	    $x->{mbps} // 0, $x->{retransmits} // 0, $x->{mss} // '-',
	    sprintf('%.3f/%.3f/%.3f', $x->{rtt_min} // 0, $x->{rtt_avg} // 0,
	    $x->{rtt_max} // 0), $loss,
	    join('/', map { $x->{"cpu_$_"} // '-' } qw(a b coturn)),
	    $x->{path_after} // '-';
}

my %ratio;
for my $k (qw(direct relay)) {
	my ($t, $w) = ($r{$k}, $r{raw});
	next unless $t && $w;
	$ratio{$k} = {
		throughput => ratio($t->{mbps}, $w->{mbps}),
		rtt_avg => ratio($t->{rtt_avg}, $w->{rtt_avg}),
		rtt_min => ratio($t->{rtt_min}, $w->{rtt_min}),
	};
}
if ($r{relay} && $r{direct}) {
	$ratio{relay_vs_direct} = {
		throughput => ratio($r{relay}{mbps}, $r{direct}{mbps}),
		rtt_avg => ratio($r{relay}{rtt_avg}, $r{direct}{rtt_avg}),
	};
}
$r{ratio} = \%ratio;
print "\nratios against raw:\n";
for my $k (qw(direct relay)) {
	my $x = $ratio{$k} or next;
	printf "  %-7s throughput %5.1f%%   rtt avg x%.2f (+%.3f ms)   rtt min x%.2f\n",
	    $k, 100 * ($x->{throughput} // 0), $x->{rtt_avg} // 0,
	    $r{$k}{rtt_avg} - $r{raw}{rtt_avg}, $x->{rtt_min} // 0;
}

printf "\npath switches (mesh ping a → b every 50 ms during each):\n";
for my $pp ([failover => 'direct -> relay (a-b mesh UDP cut)'],
    [recovery => 'relay -> direct (cut undone)']) {
	my ($k, $label) = @$pp;
	my $x = $r{$k} or next;
	printf "  %-33s ray ping says so after %6d ms; longest reply gap %6d ms, "
	    . "%d of %d pings lost\n", $label, $x->{path_ms} // 0, $x->{gap_ms} // 0,
	    $x->{watch_lost} // 0, $x->{watch_sent} // 0;
}
printf "  the block dropped %d datagrams\n", $r{relay}{blocked_datagrams}
    if defined $r{relay}{blocked_datagrams};

print "\njoin to first ping (fresh hosts, open network):\n";
for my $pp ([join_direct => 'direct  (c joins d)'],
    [join_relay => 'relayed (e joins f, e-f mesh UDP cut)']) {
	my ($k, $label) = @$pp;
	my $x = $r{$k} or next;
	printf "  %-37s first reply %6d ms; ray join returned after %6d ms; "
	    . "path %s%s\n", $label, $x->{first_ping_ms}, $x->{join_cmd_ms},
	    $x->{path}, $x->{attempts} > 1
	    ? sprintf(' (%d attempts: the DHT lacked the record)', $x->{attempts}) : '';
}
print "\nBENCH ", JSON::PP->new->canonical->encode(\%r), "\n";
