#!/usr/bin/env bash
# Installs every Debian package that the build, the tests, the fuzzers, the lab
# and the benchmarks need. Idempotent: when everything is present it only
# checks; otherwise it runs apt-get update first, then installs what is missing.
#
# A few packages must be newer than Debian 12 (bookworm) ships: ngtcp2 1.x
# (src/transport/quic.c speaks its API) and wireguard-go with TUN offloads
# (bench/peers compares with it). On bookworm they come from
# bookworm-backports, whose apt source this adds when none is configured.
set -euo pipefail

PACKAGES=(
  # toolchain and build
  build-essential pkg-config meson ninja-build clang libclang-rt-14-dev clang-format
  # libraries (see docs/ARCHITECTURE.md)
  libgnutls28-dev libsodium-dev
  libopendht-c-dev libopendht-dev libuv1-dev libmsgpack-dev libjansson-dev
  libyaml-dev libldns-dev libmnl-dev libqrencode-dev libminiupnpc-dev
  libnatpmp-dev libcmocka-dev libmicrohttpd-dev libsystemd-dev
  libcurl4-gnutls-dev
  # lab, tests and benchmarks
  dhtnode coturn miniupnpd iproute2 nftables iputils-ping iperf3 dnsutils
  b3sum procps psmisc strace wireguard-tools tinc
  # promtool, which checks the metrics endpoint's exposition format
  prometheus
  # make deb and its check
  debhelper lintian dpkg-dev fakeroot
  # the dashboard test's browser
  chromium
)

# PACKAGE=MIN_VERSION: installed older than MIN counts as missing.
NEWER=(
  libngtcp2-dev=1.0
  libngtcp2-crypto-gnutls-dev=1.0
  wireguard-go=0.0.20231211
)
BACKPORTS=bookworm-backports
BACKPORTS_SOURCE=/etc/apt/sources.list.d/rayfish-backports.sources

installed() { # PACKAGE
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

new_enough() { # PACKAGE MIN
  local v
  installed "$1" || return 1
  v=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null) || return 1
  dpkg --compare-versions "$v" ge "$2"
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
old=()
for pv in "${NEWER[@]}"; do
  new_enough "${pv%%=*}" "${pv#*=}" || old+=("${pv%%=*}")
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

# The dashboard test drives Debian's chromium with puppeteer-core, from npm
# (a pinned version, into its own folder; nothing global).
PUPPETEER_DIR=/opt/rayfish-test
PUPPETEER=puppeteer-core@25.19.0
npm_deps() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "deps: installing nodejs npm"
    $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  if [ ! -f "$PUPPETEER_DIR/node_modules/puppeteer-core/package.json" ]; then
    echo "deps: installing $PUPPETEER (npm) into $PUPPETEER_DIR"
    $SUDO mkdir -p "$PUPPETEER_DIR"
    (cd "$PUPPETEER_DIR" && $SUDO npm install --no-audit --no-fund --silent "$PUPPETEER" >/dev/null)
  fi
}

if [ ${#missing[@]} -eq 0 ] && [ ${#old[@]} -eq 0 ]; then
  npm_deps
  echo "deps: all $((${#PACKAGES[@]} + ${#NEWER[@]})) packages present"
  exit 0
fi

# Debian 12 carries the newer ones in backports only (later releases in main).
target=()
# shellcheck disable=SC1091
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [ ${#old[@]} -gt 0 ] && [ "$codename" = bookworm ]; then
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
if [ ${#old[@]} -gt 0 ]; then
  echo "deps: installing ${old[*]} ${target[*]:+(${target[*]})}"
  $SUDO apt-get install -y -qq --no-install-recommends "${target[@]}" \
    "${old[@]}" >/dev/null
  for pv in "${NEWER[@]}"; do
    if ! new_enough "${pv%%=*}" "${pv#*=}"; then
      echo "deps: ${pv%%=*} is still older than ${pv#*=}" >&2
      exit 1
    fi
  done
fi
npm_deps
# coturn and miniupnpd ship system services; the lab runs its own instances.
for svc in coturn miniupnpd; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done
echo "deps: done"
