#!/usr/bin/env bash
# Installs the Debian packages the lab, the real-peer tests and the benchmarks need.
# Usage: scripts/deps.sh [test|bench|arm|vm|all]   (default: test)
#
# Package installs must never start a daemon on this machine's real interfaces (dnsmasq, avahi,
# lldpd, miniupnpd, mosquitto and snmpd all would): while installing, a policy-rc.d that refuses every
# service start is put in place unless one already exists, and removed afterwards.
set -euo pipefail

want=${1:-test}
test_pkgs=(iproute2 iputils-ping mosquitto mosquitto-clients wsdd wsdd2 dnsmasq udhcpc lldpd avahi-daemon avahi-utils
  miniupnpd python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  systemd dpkg-dev qemu-user-static tshark snmpd postgresql chromium poppler-utils fonts-dejavu-core)
bench_pkgs=(nmap arp-scan tshark)
# make test-vm: the emulated arm64 machine, its root file system, and the gpio-sim module build.
vm_pkgs=(qemu-system-arm mmdebstrap arch-test qemu-user-static e2fsprogs openssl xz-utils kmod make gcc-aarch64-linux-gnu)
case "$want" in
  test) pkgs=("${test_pkgs[@]}") ;;
  bench) pkgs=("${bench_pkgs[@]}") ;;
  arm) pkgs=(qemu-user-static) ;;
  vm) pkgs=("${vm_pkgs[@]}") ;;
  all) pkgs=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [test|bench|arm|vm|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: not root, so not installing them; the tests that need them will skip (run 'sudo make test' to install and run everything)." >&2
  exit 0
fi

echo "deps: installing ${missing[*]}"
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi
cleanup() { [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d; return 0; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
# The package lists may be old or absent on a fresh machine.
apt-get update -qq || true
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/camwarden-apt.log 2>&1 || {
  echo "deps: apt-get install failed; see /tmp/camwarden-apt.log" >&2; tail -20 /tmp/camwarden-apt.log >&2; exit 1; }
# Packaged services must not be running on the real network (systemd-less images ignore this).
for svc in dnsmasq avahi-daemon lldpd miniupnpd mosquitto wsdd snmpd postgresql; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
echo "deps: done"
