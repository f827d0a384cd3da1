#!/usr/bin/env bash
# Installs every Debian package that the build, the tests, the fuzzers, the lab
# and the benchmarks need. Idempotent: when everything is present it only
# checks; otherwise it runs apt-get update first, then installs what is missing.
# ngtcp2 must be 1.x: on Debian 12 (bookworm) it comes from bookworm-backports,
# whose apt source this adds when none is configured.
set -euo pipefail

PACKAGES=(
  # toolchain and build
  build-essential pkg-config meson ninja-build clang libclang-rt-14-dev
  # libraries (see docs/ARCHITECTURE.md and shared DESIGN.md)
  libgnutls28-dev libsodium-dev
  libopendht-c-dev libopendht-dev libuv1-dev libmsgpack-dev libjansson-dev
  libyaml-dev libldns-dev libmnl-dev libqrencode-dev libminiupnpc-dev
  libnatpmp-dev libcmocka-dev
  # lab, tests and benchmarks
  dhtnode coturn miniupnpd iproute2 nftables iputils-ping iperf3 dnsutils
  b3sum procps psmisc strace
)

# src/transport/quic.c speaks the ngtcp2 1.x API; bookworm itself has 0.12.
NGTCP2_PACKAGES=(libngtcp2-dev libngtcp2-crypto-gnutls-dev)
NGTCP2_MIN=1.0
BACKPORTS=bookworm-backports
BACKPORTS_SOURCE=/etc/apt/sources.list.d/rayfish-backports.sources

installed() { # PACKAGE
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

new_enough() { # PACKAGE: installed at NGTCP2_MIN or later
  local v
  v=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null) || return 1
  dpkg --compare-versions "$v" ge "$NGTCP2_MIN"
}

missing=()
for p in "${PACKAGES[@]}"; do
  if ! installed "$p"; then
    missing+=("$p")
  fi
done
old_ngtcp2=()
for p in "${NGTCP2_PACKAGES[@]}"; do
  if ! installed "$p" || ! new_enough "$p"; then
    old_ngtcp2+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ] && [ ${#old_ngtcp2[@]} -eq 0 ]; then
  echo "deps: all $((${#PACKAGES[@]} + ${#NGTCP2_PACKAGES[@]})) packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

# Debian 12 carries ngtcp2 1.x in backports only (later releases in main).
target=()
# shellcheck disable=SC1091
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [ ${#old_ngtcp2[@]} -gt 0 ] && [ "$codename" = bookworm ]; then
  target=(-t "$BACKPORTS")
  if ! grep -Eqs "^[^#]*[[:space:]]$BACKPORTS([[:space:]]|\$)" \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
      /etc/apt/sources.list.d/*.sources; then
    echo "deps: adding the $BACKPORTS apt source ($BACKPORTS_SOURCE)"
    printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' \
      "Suites: $BACKPORTS" 'Components: main' \
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
      $SUDO tee "$BACKPORTS_SOURCE" >/dev/null
  fi
fi

$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ${#old_ngtcp2[@]} -gt 0 ]; then
  echo "deps: installing ${old_ngtcp2[*]} ${target[*]:+(${target[*]})}"
  $SUDO apt-get install -y -qq --no-install-recommends "${target[@]}" \
    "${old_ngtcp2[@]}" >/dev/null
  for p in "${NGTCP2_PACKAGES[@]}"; do
    if ! new_enough "$p"; then
      echo "deps: $p is still older than $NGTCP2_MIN" >&2
      exit 1
    fi
  done
fi
# coturn and miniupnpd ship system services; the lab runs its own instances.
for svc in coturn miniupnpd; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done
echo "deps: done"
