#!/usr/bin/env bash
# Installs every Debian package that the build, the tests, the fuzzers, the lab
# and the benchmarks need. Idempotent: when everything is present it only
# checks; otherwise it runs apt-get update first, then installs what is missing.
set -euo pipefail

PACKAGES=(
  # toolchain and build
  build-essential pkg-config meson ninja-build clang libclang-rt-14-dev
  # libraries (see docs/ARCHITECTURE.md and shared DESIGN.md)
  libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev libsodium-dev
  libopendht-c-dev libopendht-dev libuv1-dev libmsgpack-dev libjansson-dev
  libyaml-dev libldns-dev libmnl-dev libqrencode-dev libminiupnpc-dev
  libnatpmp-dev libcmocka-dev
  # lab, tests and benchmarks
  dhtnode coturn miniupnpd iproute2 nftables iputils-ping iperf3 dnsutils
  b3sum procps psmisc strace wireguard-tools tinc
)

# bench/peers compares with wireguard-go 0.0.20231211 (TUN offloads), which
# only bookworm-backports has: this block adds that source when no file
# names it and installs from there, on its own and before the list above
# (whose check ends the script once it is complete). An installed version
# that is not a backports one counts as missing, so bookworm's older build
# is upgraded.
BACKPORTS_PACKAGES=(wireguard-go)
BACKPORTS_SOURCES=/etc/apt/sources.list.d/rayfish-backports.sources
bp_missing=()
for p in "${BACKPORTS_PACKAGES[@]}"; do
  case "$(dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null)" in
    'install ok installed '*'~bpo'*) ;;
    *) bp_missing+=("$p") ;;
  esac
done
if [ ${#bp_missing[@]} -gt 0 ]; then
  bp_sudo=""
  [ "$(id -u)" -eq 0 ] || bp_sudo="sudo"
  if [ ! -e "$BACKPORTS_SOURCES" ] &&
    ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deps: adding bookworm-backports ($BACKPORTS_SOURCES)"
    printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' \
      'Suites: bookworm-backports' 'Components: main' \
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
      $bp_sudo tee "$BACKPORTS_SOURCES" >/dev/null
  fi
  echo "deps: installing ${bp_missing[*]} from bookworm-backports"
  $bp_sudo apt-get update -qq
  $bp_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends -t bookworm-backports "${bp_missing[@]}" >/dev/null
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# coturn and miniupnpd ship system services; the lab runs its own instances.
for svc in coturn miniupnpd; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done
echo "deps: done"
