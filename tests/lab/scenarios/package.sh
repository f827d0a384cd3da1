#!/usr/bin/env bash
# timeout: 900
# The Debian package (`make deb`, lintian clean): installed with dpkg -i
# into a fresh root (an overlay of this machine's files with an empty dpkg
# database, in a private mount namespace, so the machine itself is not
# touched), it holds the binary, the enabled unit, the man page and the
# completions; the installed daemon starts there (inside a lab host's
# network namespace) and answers; dpkg --purge removes it all.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_init package

repo=$(cd "$(dirname "$0")/../../.." && pwd)
deb=$(ls "$repo"/build-deb/rayfish_*_amd64.deb 2>/dev/null | head -1 || true)
if [[ -z "$deb" ]]; then
	step "building the package (make deb: dpkg-buildpackage, then lintian)"
	make -C "$repo" deb >"$LAB_WORK/deb.log" 2>&1 || { tail -40 "$LAB_WORK/deb.log"; fail "make deb failed"; }
	deb=$(ls "$repo"/build-deb/rayfish_*_amd64.deb | head -1)
fi
[[ -f "$deb" ]] || fail "no package"
lintian --fail-on error,warning "$deb" 2>/dev/null || fail "lintian reports $deb"

lab_add_host a --direct
ns=$(lab_ns a)

step "install into a fresh root, start the daemon there, purge"
cat >"$LAB_WORK/inroot.sh" <<'EOF'
# Runs in a private mount namespace: the mounts end with it.
set -euo pipefail
W=$1 DEB=$2 NS=$3
R=$W/root
mkdir -p "$W/upper" "$W/work" "$R"
mount -t overlay overlay -o "lowerdir=/,upperdir=$W/upper,workdir=$W/work" "$R"
mount -t tmpfs tmpfs "$R/var/lib/dpkg"
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers"
: >"$R/var/lib/dpkg/status"
: >"$R/var/lib/dpkg/available"
rm -rf "$R/var/lib/rayfish" "$R/run/rayfish"
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
mount -t tmpfs tmpfs "$R/tmp"
cp "$DEB" "$R/tmp/rayfish.deb"
# The libraries it needs are there (the overlay's), just not in this fresh
# dpkg database.
chroot "$R" dpkg --force-depends -i /tmp/rayfish.deb >"$W/dpkg.log" 2>&1
chroot "$R" dpkg -s rayfish | grep -q '^Status: install ok installed'
chroot "$R" /usr/bin/ray version
[ -d "$R/var/lib/rayfish" ] || { echo "no /var/lib/rayfish"; exit 1; }
for f in /usr/bin/ray /lib/systemd/system/rayfish.service /usr/share/man/man1/ray.1.gz \
	/usr/share/bash-completion/completions/ray /usr/share/zsh/vendor-completions/_ray \
	/usr/share/fish/vendor_completions.d/ray.fish; do
	[ -e "$R$f" ] || { echo "missing $f"; exit 1; }
done
[ -L "$R/etc/systemd/system/multi-user.target.wants/rayfish.service" ] || { echo "not enabled"; exit 1; }
grep -q '^ExecStart="/usr/bin/ray" daemon$' "$R/lib/systemd/system/rayfish.service"
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify --man=no --root="$R" /lib/systemd/system/rayfish.service
fi
# The service's own command, as its unit says, in the lab host's network.
mkdir -p "$R/run/rayfish"
ip netns exec "$NS" chroot "$R" env RAYFISH_HOME=/var/lib/rayfish \
	RAYFISH_SOCKET=/run/rayfish/rayfish.sock RAYFISH_DHT_BOOTSTRAP=198.51.100.1:4222 \
	/usr/bin/ray daemon >"$W/daemon.log" 2>&1 &
pid=$!
ok=0
for _ in $(seq 1 100); do
	if ip netns exec "$NS" chroot "$R" env RAYFISH_SOCKET=/run/rayfish/rayfish.sock \
		/usr/bin/ray --json status >"$W/status.json" 2>/dev/null; then ok=1; break; fi
	sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || { echo "the daemon did not exit cleanly"; exit 1; }
[ "$ok" = 1 ] || { echo "the installed daemon never answered"; tail -20 "$W/daemon.log"; exit 1; }
grep -q '"endpoint_id"' "$W/status.json"
chroot "$R" dpkg --purge rayfish >>"$W/dpkg.log" 2>&1
for f in /usr/bin/ray /lib/systemd/system/rayfish.service /usr/share/man/man1/ray.1.gz \
	/var/lib/rayfish; do
	[ ! -e "$R$f" ] || { echo "purge left $f"; exit 1; }
done
echo "installed, ran and purged"
EOF
out=$(unshare -m --propagation private bash "$LAB_WORK/inroot.sh" "$LAB_WORK/froot" "$deb" "$ns" 2>&1) ||
	{ echo "$out"; fail "the package did not install, run or purge in a fresh root"; }
assert_contains "$out" "ray 0.1.0" "the installed ray runs"
assert_contains "$out" "installed, ran and purged" "the whole round"
[[ ! -e /usr/bin/ray ]] || echo "note: /usr/bin/ray exists on this machine (not ours)"

lab_teardown
