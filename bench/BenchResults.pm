# BenchResults: the results-file format the bench scripts share.
#
# A benchmark gathers its figures as flat "a.b.c VALUE" lines; results_parse
# turns them into one nested hash (numbers stay numbers, so the BENCH JSON
# line has them unquoted) and ratio divides two figures safely.
package BenchResults;
use strict;
use warnings;
use Exporter 'import';
our @EXPORT_OK = qw(results_parse ratio);

sub results_parse {
	my ($text) = @_;
	my %r;
	for my $line (split /\n/, $text) {
		next unless $line =~ /^(\S+) (.*)$/;
		my ($key, $val) = ($1, $2);
		my @k = split /\./, $key;
		my $h = \%r;
		$h = $h->{shift @k} //= {} while @k > 1;
		$h->{$k[0]} = $val =~ /^-?\d+(\.\d+)?$/ ? $val + 0 : $val;
	}
	return \%r;
}

# a / b to three decimals, or undef when either is missing or b is not > 0.
sub ratio {
	my ($a, $b) = @_;
	return undef unless defined $a && defined $b && $b > 0;
	return 0 + sprintf '%.3f', $a / $b;
}

1;
