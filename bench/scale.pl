#!/usr/bin/perl
# Status checks and the report for bench/scale.
#
#   scale.pl full N FILE...               -> "HOST ok|why" per status file
#   scale.pl roster VERSION ID NAME FILE... -> "HOST ok|why" per status file
#   scale.pl counters FILE...             -> "budget.KEY SUM" lines
#   scale.pl adopted VERSION MS LOG...    -> "roster.log.HOST MS" lines
#   scale.pl dhtget                       < dhtnode output -> "dht.KEY VALUE" lines
#   scale.pl report                       < results file -> table, BENCH line
#
# Each FILE is one host's `ray status --json` (HOST.json; empty when the
# daemon did not answer). `full`: the host's first network lists N members
# and its N-1 peers are all online. `roster`: the host holds roster VERSION
# or newer, and the member with endpoint id ID is called NAME there (its own
# hostname when the host is that member). `counters` sums the budget
# counters over the hosts and counts the (host, peer) pairs by path. `adopted` reads each host's daemon log
# (HOST/daemon.log; info level, "HH:MM:SS.mmm" in UTC) for the first
# "network NAME: roster vN," line with N >= VERSION and prints when that
# was, in ms after MS (unix ms): when the daemon took the roster, without
# the polling's resolution. `dhtget` reads the transcript of a `dhtnode`
# that ran "g KEY": how many values the DHT holds under the network's key,
# how many of them differ (distinct record versions), their bytes and how
# long the get took. Like bench.pl, report dies with a sentence naming
# what was missing rather than reporting zeros.
use strict;
use warnings;
use JSON::PP;
use File::Basename qw(basename dirname);
use List::Util qw(sum max min);
use FindBin;
use lib $FindBin::Bin;
use BenchResults qw(results_parse);

my $mode = shift // die "usage: scale.pl full N FILE... | roster VERSION ID NAME FILE... | counters FILE... | report\n";

sub status_of {
	my ($file) = @_;
	open my $fh, '<', $file or return undef;
	my $text = do { local $/; <$fh> };
	return undef unless defined $text && length $text;
	my $d = eval { decode_json($text) };
	return ref $d eq 'HASH' ? $d : undef;
}

sub host_of { basename($_[0], '.json') }

if ($mode eq 'full') {
	my $n = shift // die "scale.pl full N FILE...\n";
	for my $f (@ARGV) {
		my $st = status_of($f);
		my $net = $st && $st->{networks} && $st->{networks}[0];
		if (!$net) {
			printf "%s %s\n", host_of($f), $st ? 'no-network' : 'no-answer';
			next;
		}
		my @peers = @{$net->{peers} // []};
		my $online = grep { $_->{online} } @peers;
		my $members = $net->{members} // 0;
		if ($members == $n && @peers == $n - 1 && $online == $n - 1) {
			printf "%s ok\n", host_of($f);
		} else {
			printf "%s members=%d peers=%d online=%d\n", host_of($f), $members,
			    scalar @peers, $online;
		}
	}
	exit 0;
}

if ($mode eq 'roster') {
	my ($v, $id, $name) = splice @ARGV, 0, 3;
	die "scale.pl roster VERSION ID NAME FILE...\n" unless defined $name;
	for my $f (@ARGV) {
		my $st = status_of($f);
		my $net = $st && $st->{networks} && $st->{networks}[0];
		if (!$net) {
			printf "%s %s\n", host_of($f), $st ? 'no-network' : 'no-answer';
			next;
		}
		my $got;
		if (($st->{endpoint_id} // '') eq $id) {
			$got = $net->{hostname};
		} else {
			my ($p) = grep { ($_->{endpoint_id} // '') eq $id } @{$net->{peers} // []};
			$got = $p ? $p->{hostname} : '(not in roster)';
		}
		my $rv = $net->{roster_version} // -1;
		if ($rv >= $v && ($got // '') eq $name) {
			printf "%s ok\n", host_of($f);
		} else {
			printf "%s roster_version=%d name=%s\n", host_of($f), $rv, $got // '?';
		}
	}
	exit 0;
}

if ($mode eq 'counters') {
	my %sum;
	my @keys = (
		[blobs => 'fetched_mesh'], [blobs => 'fetched_conn'], [blobs => 'refused'],
		[gate => 'refused'], [gate => 'expired'], [gate => 'messages_dropped'],
		[gate => 'quic_refused'], [gate => 'quic_refused_source'],
		[gate => 'quic_refused_key'], [gate => 'quic_refused_full'],
		[gate => 'quic_refused_token'], [gate => 'overloads'],
	);
	my $answered = 0;
	for my $f (@ARGV) {
		my $st = status_of($f) or next;
		$answered++;
		for my $k (@keys) {
			my ($sec, $field) = @$k;
			$sum{"${sec}_$field"} += $st->{$sec}{$field} // 0;
		}
		$sum{address_clashes} += $st->{address_clashes} // 0;
		for my $peer (@{($st->{networks} // [])->[0]{peers} // []}) {
			$sum{'paths_' . ($peer->{path} // 'none')}++;
		}
	}
	$sum{"paths_$_"} //= 0 for qw(direct relay none);
	print "budget.hosts_answered $answered\n";
	print "budget.$_ $sum{$_}\n" for sort keys %sum;
	exit 0;
}

if ($mode eq 'adopted') {
	my ($v, $ref) = splice @ARGV, 0, 2;
	die "scale.pl adopted VERSION MS LOG...\n" unless defined $ref && $ref =~ /^\d+$/;
	my $day = $ref - $ref % 86400000;
	for my $f (@ARGV) {
		my $host = basename(dirname($f));
		open my $fh, '<', $f or next;
		while (my $line = <$fh>) {
			next unless $line =~ /^(\d\d):(\d\d):(\d\d)\.(\d{3}) I network \S+: roster v(\d+), /;
			next unless $5 >= $v;
			my $t = $day + (($1 * 60 + $2) * 60 + $3) * 1000 + $4;
			$t += 86400000 if $t < $ref - 43200000;	# past midnight UTC
			$t -= 86400000 if $t > $ref + 43200000;
			printf "roster.log.%s %d\n", $host, $t - $ref;
			last;
		}
	}
	exit 0;
}

if ($mode eq 'dhtget') {
	my (%ids, %data, $bytes);
	my %unit = (s => 1, ms => 1e-3, us => 1e-6);
	my $took;
	while (my $line = <STDIN>) {
		$took = $1 * $unit{$2} if $line =~ /^Get: completed, took ([\d.]+) (s|ms|us) /;
		next unless $line =~ /Value\[id:([0-9a-f]+) data:([0-9a-f]*)/;
		next if $ids{$1}++;
		$data{$2}++;
		$bytes += length($2) / 2;
	}
	die "dhtnode's get did not complete\n" unless defined $took;
	printf "dht.values %d\ndht.distinct %d\ndht.bytes %d\ndht.get_ms %d\n",
	    scalar keys %ids, scalar keys %data, $bytes // 0, $took * 1000;
	exit 0;
}

die "scale.pl: unknown mode $mode\n" unless $mode eq 'report';

my %r = %{results_parse(do { local $/; <STDIN> // '' })};
my $n = $r{nodes} // die "results have no node count\n";

# Per-host figures become mean / median / max; the per-host detail is left
# out of the BENCH line (it would be N entries per figure).
sub stats {
	my (%by) = @_;
	my @h = sort { $by{$a} <=> $by{$b} } keys %by;
	return undef unless @h;
	my @v = map { $by{$_} } @h;
	return {
		mean => 0 + sprintf('%.2f', sum(@v) / @v),
		median => 0 + $v[int($#v / 2)],
		min => 0 + $v[0],
		max => 0 + $v[-1],
		max_host => $h[-1],
	};
}

my $join = delete $r{join} // die "results have no joins\n";
my %cmd = map { $_ => $join->{$_}{cmd_ms} } keys %$join;
my %att = map { $_ => $join->{$_}{attempts} } keys %$join;
$r{join_cmd_ms} = stats(%cmd);
$r{join_attempts} = sum(values %att);
$r{join_retried} = scalar grep { $_ > 1 } values %att;

my $idle = $r{idle} // die "results have no idle window\n";
my $d = delete $r{daemon} // die "results have no daemon figures\n";
my $scale = 100 * 1000 / ($idle->{clk_tck} * $idle->{ms});
my %cpu = map { $_ => 0 + sprintf('%.2f', $d->{$_}{cpu_ticks} * $scale) } keys %$d;
my %rss = map { $_ => $d->{$_}{rss_kb} } keys %$d;
my $loop = sum(map { $d->{$_}{loop_ticks} // 0 } keys %$d);
my $all = sum(map { $d->{$_}{cpu_ticks} } keys %$d);
$idle->{seconds} = 0 + sprintf('%.1f', $idle->{ms} / 1000);
$idle->{cpu_pct} = stats(%cpu);
$idle->{cpu_pct_total} = 0 + sprintf('%.2f', sum(values %cpu));
$idle->{rss_kb} = stats(%rss);
# Per-thread and per-process times are rounded apart: a share over 1 is 1.
$idle->{loop_thread_share} = $all ? 0 + sprintf('%.2f', min(1, $loop / $all)) : 0;
$idle->{dhtnode_cpu_pct} = 0 + sprintf('%.2f', $idle->{dhtnode_ticks} * $scale);
my $slices = delete $idle->{slice} // {};
$idle->{slices_pct} = [map {
	my $x = $slices->{$_};
	0 + sprintf('%.1f', $x->{ms} ? $x->{ticks} * 100 * 1000 / ($idle->{clk_tck} * $x->{ms}) : 0)
} sort { $a <=> $b } keys %$slices];
$idle->{peak_slice_pct} = @{$idle->{slices_pct}} ? max(@{$idle->{slices_pct}}) : 0;
delete @$idle{qw(dhtnode_ticks clk_tck)};

my $roster = $r{roster} // die "results have no roster figures\n";
my $seen = delete $roster->{seen} // {};
$roster->{seen_ms} = stats(%$seen);
my $logged = delete $roster->{log} // {};
$roster->{coordinator_log_ms} = $logged->{$r{coordinator}} if defined $r{coordinator};
$roster->{adopted_ms} = stats(%$logged);
$roster->{adopted_by} = scalar keys %$logged;

my $b = $r{budget} // {};
printf "\nscale: %d daemons, one open network, %d joins %d at a time\n",
    $n, $n - 1, $r{join_parallel};
printf "  %-40s %10s\n", 'measure', 'value';
my @rows = (
	['daemons up (lab setup)', "$r{setup_s} s"],
	['all joins returned', sprintf('%.1f s', $r{joins_ms} / 1000)],
	['  ray join (mean / max)', sprintf('%.1f / %.1f s',
	    $r{join_cmd_ms}{mean} / 1000, $r{join_cmd_ms}{max} / 1000)],
	['  join attempts (hosts retried)', "$r{join_attempts} ($r{join_retried})"],
	['first join to full mesh', sprintf('%.1f s', $r{mesh_ms} / 1000)],
	['  of which after the last join', sprintf('%.1f s', $r{mesh_after_joins_ms} / 1000)],
	["idle CPU per daemon, mean / max ($idle->{seconds} s)",
	    sprintf('%.2f / %.2f %%', $idle->{cpu_pct}{mean}, $idle->{cpu_pct}{max})],
	['  all daemons together', sprintf('%.1f %% of one core', $idle->{cpu_pct_total})],
	['  on the loop thread (rest: DHT, pool)', sprintf('%.0f %%', 100 * $idle->{loop_thread_share})],
	['  all daemons, busiest 5 s', sprintf('%.1f %% of one core', $idle->{peak_slice_pct})],
	['  dhtnode bootstrap', sprintf('%.2f %%', $idle->{dhtnode_cpu_pct})],
	['VmRSS per daemon, mean / max', sprintf('%.1f / %.1f MiB',
	    $idle->{rss_kb}{mean} / 1024, $idle->{rss_kb}{max} / 1024)],
	["rename: coordinator shows v$roster->{version}", sprintf('%.2f s', $roster->{coordinator_ms} / 1000)],
	['rename: status shows it everywhere', sprintf('%.2f s', $roster->{all_ms} / 1000)],
	['  median daemon', sprintf('%.2f s', $roster->{seen_ms}{median} / 1000)],
	['rename: coordinator signs it (its log)', defined $roster->{coordinator_log_ms}
	    ? sprintf('%.3f s', $roster->{coordinator_log_ms} / 1000) : '?'],
	["rename: adopted (daemon logs, $roster->{adopted_by} of $n)",
	    $roster->{adopted_ms} ? sprintf('%.3f s', $roster->{adopted_ms}{max} / 1000) : '?'],
	['  median daemon', $roster->{adopted_ms}
	    ? sprintf('%.3f s', $roster->{adopted_ms}{median} / 1000) : '?'],
	['rosters fetched over mesh connections', $b->{blobs_fetched_mesh} // '?'],
	['rosters fetched over blobs connections', $b->{blobs_fetched_conn} // '?'],
	['blobs connections refused', $b->{blobs_refused} // '?'],
	['gate: strangers refused / expired', sprintf('%s / %s',
	    $b->{gate_refused} // '?', $b->{gate_expired} // '?')],
	['gate: control messages dropped', $b->{gate_messages_dropped} // '?'],
	['QUIC: refused / overload closes', sprintf('%s / %s',
	    $b->{gate_quic_refused} // '?', $b->{gate_overloads} // '?')],
	['  refused for: source / pool full / stale token; key over its limit',
	    sprintf('%s / %s / %s; %s', map { $b->{"gate_quic_refused_$_"} // '?' }
	    qw(source full token key))],
	['address clashes', $b->{address_clashes} // '?'],
	['peer paths direct / relay / none', sprintf('%s / %s / %s',
	    map { $b->{"paths_$_"} // '?' } qw(direct relay none))],
	['DHT values under the network key', $r{dht}
	    ? sprintf('%d (%d distinct, %.0f KiB)', $r{dht}{values}, $r{dht}{distinct},
	    $r{dht}{bytes} / 1024) : '?'],
	['  one get of them takes', $r{dht} ? sprintf('%.3f s', $r{dht}{get_ms} / 1000) : '?'],
	['hosts with a full mesh after the rename', "$r{mesh_full_after_rename} of $n"],
	['run', "$r{run_s} s"],
);
printf "  %-40s %10s\n", @$_ for @rows;
printf "  (busiest daemon %s at %.2f %%, largest %s at %d kB)\n",
    $idle->{cpu_pct}{max_host}, $idle->{cpu_pct}{max},
    $idle->{rss_kb}{max_host}, $idle->{rss_kb}{max};
print "\nBENCH ", JSON::PP->new->canonical->encode(\%r), "\n";
