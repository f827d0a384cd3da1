#!/usr/bin/perl
# Parsing and reporting for bench/throughput.
#
#   bench.pl iperf PREFIX   < iperf3 -J output    -> "PREFIX.KEY VALUE" lines
#   bench.pl ping PREFIX    < ping -q output      -> "PREFIX.KEY VALUE" lines
#   bench.pl report         < results file        -> table, ratios, BENCH line
#
# The throughput script gathers its figures as flat "a.b.c VALUE" lines in
# one results file; this turns that file into the human table and the single
# machine-readable `BENCH {...}` line, so the shell side never does
# arithmetic on floats. JSON::PP is used because it ships with perl (jq is
# not part of the lab's dependencies). Any parse failure dies with a sentence
# naming what was missing, which makes the benchmark fail loudly instead of
# reporting zeros.
use strict;
use warnings;
use JSON::PP;
use FindBin;
use lib $FindBin::Bin;
use BenchResults qw(results_parse ratio);

my $mode = shift // die "usage: bench.pl iperf|ping PREFIX | report\n";

if ($mode eq 'iperf') {
	my $p = shift // die "bench.pl iperf PREFIX\n";
	local $/;
	my $in = <STDIN> // '';
	my $d = eval { JSON::PP->new->decode($in) };
	die "iperf3 output is not JSON: $@" if $@ || ref $d ne 'HASH';
	die "iperf3 failed: $d->{error}\n" if defined $d->{error};
	my $end = $d->{end} // die "iperf3 JSON has no end section\n";
	my $rx = $end->{sum_received} // die "iperf3 JSON has no sum_received\n";
	my $tx = $end->{sum_sent} // die "iperf3 JSON has no sum_sent\n";
	printf "%s.mbps %.1f\n", $p, $rx->{bits_per_second} / 1e6;
	printf "%s.sent_mbps %.1f\n", $p, $tx->{bits_per_second} / 1e6;
	printf "%s.seconds %.2f\n", $p, $rx->{seconds} // 0;
	printf "%s.retransmits %d\n", $p, $tx->{retransmits} // 0;
	my $cpu = $end->{cpu_utilization_percent} // {};
	printf "%s.cpu_sender %.1f\n", $p, $cpu->{host_total} // 0;
	printf "%s.cpu_receiver %.1f\n", $p, $cpu->{remote_total} // 0;
	my $mss = $d->{start}{tcp_mss_default};
	printf "%s.mss %d\n", $p, $mss if defined $mss;
	exit 0;
}

if ($mode eq 'ping') {
	my $p = shift // die "bench.pl ping PREFIX\n";
	local $/;
	my $in = <STDIN> // '';
	my ($sent, $recv) = $in =~ /(\d+) packets transmitted, (\d+) received/
	    or die "ping output has no packet summary:\n$in";
	my ($min, $avg, $max, $mdev) =
	    $in =~ m{= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms}
	    or die "ping output has no rtt line (0 of $sent answered?)\n";
	print "$p.ping_sent $sent\n$p.ping_received $recv\n";
	print "$p.rtt_min $min\n$p.rtt_avg $avg\n$p.rtt_max $max\n";
	print "$p.rtt_mdev $mdev\n";
	exit 0;
}

if ($mode eq 'snap') {
	snap(shift // die "bench.pl snap PREFIX\n");
	exit 0;
}

die "bench.pl: unknown mode $mode\n" unless $mode eq 'report';

my %r = %{results_parse(do { local $/; <STDIN> // '' })};

my @paths = (
	[raw4 => 'raw IPv4'], [raw6 => 'raw IPv6'],
	[tun4 => 'tunnel IPv4'], [tun6 => 'tunnel IPv6'],
);
printf "\n%-12s %-40s %10s %6s %5s %24s %6s\n", 'path', 'address',
    'Mbit/s', 'retr', 'mss', 'rtt min/avg/max (ms)', 'loss';
for my $pp (@paths) {
	my ($k, $label) = @$pp;
	my $x = $r{$k} or next;
	my $loss = $x->{ping_sent}
	    ? sprintf('%d%%', 100 * (1 - $x->{ping_received} / $x->{ping_sent}))
	    : '-';
	printf "%-12s %-40s %10.1f %6d %5s %24s %6s\n", $label, $x->{addr},
	    $x->{mbps} // 0, $x->{retransmits} // 0, $x->{mss} // '-',
	    sprintf('%.3f/%.3f/%.3f', $x->{rtt_min} // 0, $x->{rtt_avg} // 0,
	    $x->{rtt_max} // 0), $loss;
}

# Counter deltas over each tunnel run, and where the sender's bytes went.
my %loss;
for my $k (qw(tun4 tun6)) {
	my $d = delete $r{diag}{$k} or next;
	my %c;
	for my $h (keys %$d) {
		my ($b, $a) = ($d->{$h}{before}, $d->{$h}{after});
		next unless $b && $a;
		$c{$h}{$_} = $a->{$_} - ($b->{$_} // 0) for keys %$a;
	}
	next unless $c{a} && $c{b};
	$r{$k}{counters} = \%c;
	my $in = $c{a}{tun_tx_bytes};		# the kernel handed daemon a
	my $sent = $c{a}{peer_tx_bytes};	# QUIC accepted on a
	my $got = $c{b}{peer_rx_bytes};		# b wrote to its TUN
	# Packets, not bytes: with TUN offloads the kernel counts a super-packet's
	# headers once, the daemon once per segment it cut.
	my $drop = $c{a}{dp_dropped} // 0;
	my $out = ($c{a}{dp_tx_packets} // 0) + $drop;
	$loss{$k} = {
		tun_bytes_a => $in, quic_accepted_a => $sent, delivered_b => $got,
		gso_in_a => $c{a}{dp_gso_in} // 0, gso_segments_a => $c{a}{dp_gso_segments} // 0,
		dropped_in_a => $drop,
		dropped_in_a_pct => $out ? 0 + sprintf('%.2f', 100 * $drop / $out) : 0,
		lost_a_to_b_pct => $sent ? 0 + sprintf('%.2f', 100 * ($sent - $got) / $sent) : 0,
	};
	$r{$k}{loss} = $loss{$k};
}
delete $r{diag};

my %ratio;
for my $v (4, 6) {
	my ($t, $w) = ($r{"tun$v"}, $r{"raw$v"});
	next unless $t && $w;
	$ratio{"throughput$v"} = ratio($t->{mbps}, $w->{mbps});
	$ratio{"rtt_avg$v"} = ratio($t->{rtt_avg}, $w->{rtt_avg});
	$ratio{"rtt_min$v"} = ratio($t->{rtt_min}, $w->{rtt_min});
}
if ($r{fwoff} && $r{fw100}) {
	$ratio{firewall100_vs_off} = ratio($r{fw100}{mbps}, $r{fwoff}{mbps});
	printf "\nfirewall: tunnel IPv4 %.1f Mbit/s off, %.1f Mbit/s with 100 rules (x%.2f)\n",
	    $r{fwoff}{mbps}, $r{fw100}{mbps}, $ratio{firewall100_vs_off} // 0;
}
$r{ratio} = \%ratio;
print "\nratios tunnel/raw:\n";
for my $v (4, 6) {
	next unless defined $ratio{"throughput$v"};
	printf "  IPv%d  throughput %5.1f%%   rtt avg x%.2f (+%.3f ms)   rtt min x%.2f\n",
	    $v, 100 * $ratio{"throughput$v"}, $ratio{"rtt_avg$v"} // 0,
	    $r{"tun$v"}{rtt_avg} - $r{"raw$v"}{rtt_avg},
	    $ratio{"rtt_min$v"} // 0;
}

for my $k (sort keys %loss) {
	my ($l, $c) = ($loss{$k}, $r{$k}{counters});
	printf "\nwhere the a → b bytes went (%s run):\n", $k;
	printf "  a: TUN → daemon %12d B (TUN tx_dropped %d; %d super-packets cut into %d)\n",
	    $l->{tun_bytes_a}, $c->{a}{tun_tx_dropped}, $l->{gso_in_a}, $l->{gso_segments_a};
	printf "  a: accepted by QUIC %8d B (%d packets, %.2f%%, dropped inside a: "
	    . "congestion/EAGAIN/too big/offload)\n", $l->{quic_accepted_a},
	    $l->{dropped_in_a}, $l->{dropped_in_a_pct};
	printf "  b: written to TUN %10d B (%.2f%% of what a sent lost on the way)\n",
	    $l->{delivered_b}, $l->{lost_a_to_b_pct};
	printf "  UDP: a out %d / b in %d datagrams; rcvbuf errors a %d b %d; "
	    . "sndbuf errors a %d b %d; TUN rx_dropped b %d\n",
	    $c->{a}{udp_OutDatagrams}, $c->{b}{udp_InDatagrams},
	    $c->{a}{udp_RcvbufErrors}, $c->{b}{udp_RcvbufErrors},
	    $c->{a}{udp_SndbufErrors}, $c->{b}{udp_SndbufErrors},
	    $c->{b}{tun_rx_dropped};
}

print "\ndaemons:\n";
for my $h (sort keys %{$r{daemon} // {}}) {
	my $d = $r{daemon}{$h};
	printf "  %s (%s): VmRSS %s kB at start, %s kB before, %s kB after "
	    . "(%+d kB), VmHWM %s kB\n", $h, $d->{role} // '?',
	    $d->{rss_start_kb} // '?', $d->{rss_before_kb} // '?',
	    $d->{rss_after_kb} // '?',
	    ($d->{rss_after_kb} // 0) - ($d->{rss_before_kb} // 0),
	    $d->{hwm_kb} // '?';
	for my $v (4, 6) {
		my $c = $d->{"cpu_tun$v"};
		printf "      CPU during tunnel IPv%d iperf: %.0f%% of one core\n",
		    $v, $c if defined $c;
	}
}
if (defined $r{perf}) {
	print "\nperf profiles: $r{perf}{dir}\n";
}
print "\nBENCH ", JSON::PP->new->canonical->encode(\%r), "\n";

# snap PREFIX: counters of one host, from sections on stdin that
# bench/throughput concatenates: "--- link" (ip -j -s -d link), "--- snmp"
# (/proc/net/snmp), "--- snmp6" (/proc/net/snmp6), "--- status" (ray --json
# status). The TUN device is the link whose kind is "tun"; UDP counters are
# summed over IPv4 and IPv6 since the daemon's socket may carry both.
sub snap {
	my ($p) = @_;
	my (%sec, $cur);
	while (my $line = <STDIN>) {
		if ($line =~ /^--- (\w+)$/) { $cur = $1; next }
		$sec{$cur} .= $line if defined $cur;
	}
	my $links = eval { decode_json($sec{link} // '') } // [];
	my ($tun) = grep { ($_->{linkinfo}{info_kind} // '') eq 'tun' } @$links;
	die "snap: no TUN device in the host\n" unless $tun;
	for my $dir (qw(tx rx)) {
		for my $k (qw(bytes packets dropped errors)) {
			print "$p.tun_${dir}_$k ", $tun->{stats64}{$dir}{$k} // 0, "\n";
		}
	}
	my %udp = map { $_ => 0 } qw(InDatagrams OutDatagrams InErrors
	    RcvbufErrors SndbufErrors);
	my @snmp = grep { /^Udp: / } split /\n/, $sec{snmp} // '';
	if (@snmp == 2) {
		my @n = split ' ', $snmp[0];
		my @v = split ' ', $snmp[1];
		for my $i (1 .. $#n) {
			$udp{$n[$i]} += $v[$i] if exists $udp{$n[$i]};
		}
	}
	for (split /\n/, $sec{snmp6} // '') {
		$udp{$1} += $2 if /^Udp6(\w+)\s+(\d+)/ && exists $udp{$1};
	}
	print "$p.udp_$_ $udp{$_}\n" for sort keys %udp;
	my $st = eval { decode_json($sec{status} // '') } // {};
	my $peer = $st->{networks}[0]{peers}[0] // {};
	print "$p.peer_tx_bytes ", $peer->{tx_bytes} // 0, "\n";
	print "$p.peer_rx_bytes ", $peer->{rx_bytes} // 0, "\n";
	my $dp = $st->{dataplane} // {};
	my $dr = $dp->{drops} // {};
	my $drop = 0;
	$drop += $dr->{$_} // 0 for qw(congestion too_big send_failed offload_invalid);
	print "$p.dp_tx_packets ", $dp->{tx_packets} // 0, "\n";
	print "$p.dp_dropped $drop\n";
	print "$p.dp_gso_in ", $dp->{offload}{gso_in} // 0, "\n";
	print "$p.dp_gso_segments ", $dp->{offload}{gso_segments} // 0, "\n";
}
