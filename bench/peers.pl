#!/usr/bin/perl
# Reporting for bench/peers.
#
#   peers.pl report < results file -> table, ratios, BENCH line
#
# The ping and iperf3 figures are parsed by bench.pl (the parser
# bench/throughput and bench/paths use) into "VPN.RUN.KEY VALUE" lines;
# bench/peers adds each run's wall time and the CPU milliseconds of the
# VPN's processes (VPN.RUN.cpu_ms.HOST), and the VPNs' versions and
# settings. This turns them into the tables, the ours/peer ratios and the
# single machine-readable `BENCH {...}` line. Like bench.pl it dies with a
# sentence naming what was missing rather than reporting zeros.
use strict;
use warnings;
use utf8;
use JSON::PP;
use FindBin;
use lib $FindBin::Bin;
use BenchResults qw(results_parse ratio);

binmode STDOUT, ':encoding(UTF-8)';

my $mode = shift // die "usage: peers.pl report\n";
die "peers.pl: unknown mode $mode\n" unless $mode eq 'report';

my %r = %{results_parse(do { local $/; <STDIN> // '' })};

my @vpns = ([raw => 'raw'], [ours => 'rayfish'], [wg => 'wireguard-go'],
    [tinc => 'tinc']);
my @runs = ([fwd => 'a → b'], [rev => 'b → a'], [p4 => 'a → b ×4']);
my %cipher = (91 => 'bf-cbc', 419 => 'aes-128-cbc', 423 => 'aes-192-cbc',
    427 => 'aes-256-cbc', 0 => 'none');
my %digest = (4 => 'md5', 64 => 'sha1', 672 => 'sha256', 673 => 'sha384',
    674 => 'sha512', 0 => 'none');

for my $v (map { $_->[0] } @vpns) {
	die "peers.pl: no figures for $v\n" unless $r{$v};
	for my $run (map { $_->[0] } @runs) {
		die "peers.pl: no $v $run run\n" unless defined $r{$v}{$run}{mbps};
	}
}

# CPU seconds of both ends and Gbit/s per CPU-second: the throughput over
# the cores the VPN's processes kept busy during the run.
sub cpu {
	my ($x) = @_;
	my $c = $x->{cpu_ms} or return;
	my $sum = 0;
	$sum += $_ for values %$c;
	$x->{cpu_s} = 0 + sprintf '%.2f', $sum / 1000;
	$x->{cores} = 0 + sprintf '%.3f', $sum / ($x->{wall_ms} || 1);
	$x->{gbit_per_cpu_s} = $sum
	    ? 0 + sprintf('%.3f', $x->{mbps} / 1000 * ($x->{wall_ms} || 1) / $sum)
	    : undef;
}
for my $v (map { $_->[0] } @vpns) {
	cpu($r{$v}{$_->[0]}) for @runs;
	$r{$v}{rtt_added_avg} = 0 + sprintf '%.3f', $r{$v}{rtt_avg} - $r{raw}{rtt_avg};
	$r{$v}{rtt_added_min} = 0 + sprintf '%.3f', $r{$v}{rtt_min} - $r{raw}{rtt_min};
}
for my $k (qw(member turn)) {
	cpu($r{$k}{fwd}) if $r{$k} && $r{$k}{fwd} && defined $r{$k}{fwd}{mbps};
}

my $t = $r{tinc};
$t->{cipher} = $cipher{$t->{cipher_nid}} // "NID $t->{cipher_nid}";
$t->{digest} = $digest{$t->{digest_nid}} // "NID $t->{digest_nid}";

printf "\nrayfish against its peers: a ↔ b over one veth pair, iperf3 %d s "
    . "per run, every tunnel at MTU %d\n", $r{seconds}, $r{mtu};
printf "  rayfish       %s, QUIC over UDP, TUN %s (mtu %d, vnet_hdr %s)\n",
    $r{ours}{version}, $r{ours}{addr}, $r{ours}{mtu}, $r{ours}{vnet_hdr};
printf "  wireguard-go  %s (Debian %s), userspace, TUN %s (mtu %d, vnet_hdr %s)\n",
    $r{wg}{version}, $r{wg}{package}, $r{wg}{addr}, $r{wg}{mtu}, $r{wg}{vnet_hdr};
printf "  tinc          %s, router mode over UDP, cipher %s, digest %s, "
    . "MAC %d B, compression %d, pmtu %d, TUN %s (mtu %d)\n",
    $t->{version}, $t->{cipher}, $t->{digest}, $t->{maclength},
    $t->{compression}, $t->{pmtu}, $t->{addr}, $t->{mtu};

printf "\n%-13s %-9s %9s %7s %5s %8s %8s %6s %11s\n", 'path', 'run',
    'Mbit/s', 'retr', 'mss', 'CPU s a', 'CPU s b', 'cores', 'Gbit/CPU-s';
for my $vp (@vpns) {
	my ($v, $label) = @$vp;
	for my $rp (@runs) {
		my ($k, $rl) = @$rp;
		my $x = $r{$v}{$k};
		my $c = $x->{cpu_ms} // {};
		printf "%-13s %-9s %9.1f %7d %5s %8s %8s %6s %11s\n", $label, $rl,
		    $x->{mbps}, $x->{retransmits} // 0, $x->{mss} // '-',
		    defined $c->{a} ? sprintf('%.2f', $c->{a} / 1000) : '-',
		    defined $c->{b} ? sprintf('%.2f', $c->{b} / 1000) : '-',
		    defined $x->{cores} ? sprintf('%.2f', $x->{cores}) : '-',
		    defined $x->{gbit_per_cpu_s} ? sprintf('%.3f', $x->{gbit_per_cpu_s}) : '-';
	}
}

printf "\nidle ping a → b (%d × 0.05 s):\n", $r{pings};
printf "%-13s %-16s %24s %18s %6s\n", 'path', 'address',
    'rtt min/avg/max (ms)', 'added min/avg', 'loss';
for my $vp (@vpns) {
	my ($v, $label) = @$vp;
	my $x = $r{$v};
	printf "%-13s %-16s %24s %18s %6s\n", $label, $x->{addr},
	    sprintf('%.3f/%.3f/%.3f', $x->{rtt_min}, $x->{rtt_avg}, $x->{rtt_max}),
	    $v eq 'raw' ? '-' : sprintf('%+.3f/%+.3f', $x->{rtt_added_min},
	    $x->{rtt_added_avg}),
	    sprintf('%d%%', 100 * (1 - $x->{ping_received} / $x->{ping_sent}));
}

# ours/peer for every figure; above 1 means ours is higher (better for
# throughput and Gbit/CPU-s, worse for RTT, CPU and retransmits).
my %ratio;
for my $p (qw(wg tinc)) {
	my %q;
	for my $rp (@runs) {
		my $k = $rp->[0];
		my ($o, $x) = ($r{ours}{$k}, $r{$p}{$k});
		$q{"mbps_$k"} = ratio($o->{mbps}, $x->{mbps});
		$q{"gbit_per_cpu_s_$k"} = ratio($o->{gbit_per_cpu_s}, $x->{gbit_per_cpu_s});
		$q{"cpu_s_$k"} = ratio($o->{cpu_s}, $x->{cpu_s});
		$q{"retransmits_$k"} = ratio($o->{retransmits}, $x->{retransmits});
	}
	$q{rtt_min} = ratio($r{ours}{rtt_min}, $r{$p}{rtt_min});
	$q{rtt_avg} = ratio($r{ours}{rtt_avg}, $r{$p}{rtt_avg});
	$q{rtt_added_avg} = ratio($r{ours}{rtt_added_avg}, $r{$p}{rtt_added_avg});
	$ratio{"ours_$p"} = \%q;
}

sub fx { defined $_[0] ? sprintf('x%.2f', $_[0]) : 'n/a' }

for my $pp ([wg => 'wireguard-go'], [tinc => 'tinc']) {
	my ($p, $label) = @$pp;
	my $q = $ratio{"ours_$p"};
	print "\nratios ours/$label (throughput and Gbit/CPU-s: higher is better for "
	    . "us; RTT, CPU s, retransmits: lower):\n";
	for my $rp (@runs) {
		my ($k, $rl) = @$rp;
		printf "  %-9s throughput %6s  Gbit/CPU-s %6s  CPU s %6s  retransmits "
		    . "%6s (%d vs %d)\n", $rl, fx($q->{"mbps_$k"}),
		    fx($q->{"gbit_per_cpu_s_$k"}), fx($q->{"cpu_s_$k"}),
		    fx($q->{"retransmits_$k"}), $r{ours}{$k}{retransmits} // 0,
		    $r{$p}{$k}{retransmits} // 0;
	}
	printf "  idle RTT  min %s  avg %s  added avg %s (%+.3f ms vs %+.3f ms)\n",
	    fx($q->{rtt_min}), fx($q->{rtt_avg}), fx($q->{rtt_added_avg}),
	    $r{ours}{rtt_added_avg}, $r{$p}{rtt_added_avg};
}

if ($r{member} || $r{turn}) {
	my $d = $r{ours};
	print "\nrelay paths (rayfish, a → b single stream; direct is the rayfish "
	    . "run above):\n";
	printf "%-13s %-22s %9s %7s %24s %16s %11s %s\n", 'path', 'via', 'Mbit/s',
	    'retr', 'rtt min/avg/max (ms)', 'CPU s a/b/relay', 'Gbit/CPU-s', 'vs direct';
	printf "%-13s %-22s %9.1f %7d %24s %16s %11s %s\n", 'direct', '-',
	    $d->{fwd}{mbps}, $d->{fwd}{retransmits} // 0,
	    sprintf('%.3f/%.3f/%.3f', $d->{rtt_min}, $d->{rtt_avg}, $d->{rtt_max}),
	    join('/', map { sprintf '%.2f', ($d->{fwd}{cpu_ms}{$_} // 0) / 1000 } qw(a b)) . '/-',
	    sprintf('%.3f', $d->{fwd}{gbit_per_cpu_s} // 0), '-';
	for my $kp ([member => 'member relay'], [turn => 'TURN relay']) {
		my ($k, $label) = @$kp;
		my $x = $r{$k} or next;
		if (defined $x->{failed}) {
			printf "%-13s %-22s FAILED: %s\n", $label, $x->{via} // '?', $x->{failed};
			next;
		}
		my $f = $x->{fwd};
		my ($relay) = grep { $_ ne 'a' && $_ ne 'b' } keys %{$f->{cpu_ms} // {}};
		$ratio{"${k}_vs_direct"} = {
			mbps => ratio($f->{mbps}, $d->{fwd}{mbps}),
			rtt_avg => ratio($x->{rtt_avg}, $d->{rtt_avg}),
			rtt_min => ratio($x->{rtt_min}, $d->{rtt_min}),
		};
		printf "%-13s %-22s %9.1f %7d %24s %16s %11s throughput %s, rtt avg %s "
		    . "(%+.3f ms)\n", $label, $x->{via}, $f->{mbps}, $f->{retransmits} // 0,
		    sprintf('%.3f/%.3f/%.3f', $x->{rtt_min}, $x->{rtt_avg}, $x->{rtt_max}),
		    join('/', map { sprintf '%.2f', ($f->{cpu_ms}{$_} // 0) / 1000 }
		    'a', 'b', $relay // 'none'),
		    defined $f->{gbit_per_cpu_s} ? sprintf('%.3f', $f->{gbit_per_cpu_s}) : '-',
		    fx($ratio{"${k}_vs_direct"}{mbps}), fx($ratio{"${k}_vs_direct"}{rtt_avg}),
		    $x->{rtt_avg} - $d->{rtt_avg};
		printf "%-13s path after the run: %s\n", '', $x->{path_after}
		    if ($x->{path_after} // '') !~ /^relay \Q$x->{via}\E$/;
	}
	my $m = $r{member} // {};
	if ($m->{relay_before} && $m->{relay_after}) {
		my %d = map { $_ => ($m->{relay_after}{$_} // 0) - ($m->{relay_before}{$_} // 0) }
		    qw(forwarded denied over_rate);
		$m->{relay_delta} = \%d;
		printf "  c as member relay during its run: forwarded %d packets, denied %d, "
		    . "over its rate %d\n", $d{forwarded}, $d{denied}, $d{over_rate};
	}
	printf "  the cut dropped %d datagrams\n", $r{relay}{blocked_datagrams}
	    if defined $r{relay}{blocked_datagrams};
}

$r{ratio} = \%ratio;
printf "\nrun: %d s on %d cores, load average (1 min) %s at the start, %s at the end\n",
    $r{run_seconds} // 0, $r{cores} // 0, $r{load_start} // '?', $r{load_end} // '?';
print "\nBENCH ", JSON::PP->new->canonical->encode(\%r), "\n";
