#!/usr/bin/env bash
# check_man.sh RAY TEMPLATE PAGE: PAGE (docs/ray.1) must be what
# `RAY __man TEMPLATE` makes from the command table, so the manual page
# cannot drift from --help. `make man` rewrites it.
set -euo pipefail
if ! "$1" __man "$2" | cmp -s - "$3"; then
	echo "$3 is not what the command table makes: run 'make man' and commit it" >&2
	"$1" __man "$2" | diff -u "$3" - | head -40 >&2 || true
	exit 1
fi
