#!/usr/bin/env bash
# The test machine: a Debian 12 arm64 root file system built with mmdebstrap, cached by the hash of
# what goes into it, turned into an ext4 disk image, and booted under qemu-system-aarch64 -M virt.
# Sourced by test-vm.sh; `scripts/vm/machine.sh build` builds (or finds) the cache and prints its path.
set -euo pipefail

VM_DIR=${VM_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
VM_CACHE=${VM_CACHE:-/var/cache/camwarden-vm}
VM_SUITE=bookworm
VM_MIRROR=${VM_MIRROR:-http://deb.debian.org/debian}
VM_DISK_MB=${VM_DISK_MB:-2048}

vm_log() { printf '[vm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Host tools, installed from Debian when missing. binfmt_misc must run arm64 maintainer scripts while
# mmdebstrap builds the foreign root, so the qemu-aarch64 handler is registered with the F flag
# (the interpreter is opened now, so it works inside the chroot).
vm_host_deps() {
  "$VM_DIR/../deps.sh" vm
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    # Debian's own registration line (qemu-user-static ships it for systemd-binfmt).
    local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [ -r "$conf" ] || { vm_log "no $conf: is qemu-user-static installed?"; return 1; }
    grep -v '^#' "$conf" | head -1 > /proc/sys/fs/binfmt_misc/register
  fi
}

# The cache key: the package list, the hooks and every file they copy in, the gpio-sim build.
vm_hash() {
  cat "$VM_DIR/packages.txt" "$VM_DIR"/image/* "$VM_DIR/gpio-sim.sh" <(echo "$VM_SUITE $VM_DISK_MB") | sha256sum | cut -c1-16
}

# Builds the cache entry when absent: rootfs.tar, base.img (ext4), vmlinuz, initrd.img.
# Prints the entry's directory. A half-built entry (no .done) is rebuilt.
vm_build() {
  local h dir pkgs t0
  h=$(vm_hash); dir=$VM_CACHE/$h
  if [ -e "$dir/.done" ]; then
    vm_log "machine cached: $dir"
    echo "$dir"; return 0
  fi
  vm_host_deps
  rm -rf "$dir"; mkdir -p "$dir"
  pkgs=$(grep -v '^#' "$VM_DIR/packages.txt" | grep . | paste -sd, -)
  t0=$(date +%s)
  vm_log "building Debian $VM_SUITE arm64 root (cold; several minutes): $pkgs"
  mmdebstrap --arch=arm64 --variant=apt --include="$pkgs" \
    --essential-hook="$VM_DIR/image/essential-hook.sh \"\$1\"" \
    --customize-hook="$VM_DIR/image/customize.sh \"\$1\"" \
    --customize-hook='copy-out /boot '"$dir" \
    "$VM_SUITE" "$dir/rootfs.tar" "$VM_MIRROR" >"$dir/mmdebstrap.log" 2>&1 ||
    { tail -30 "$dir/mmdebstrap.log" >&2; return 1; }
  local t1; t1=$(date +%s)
  # download copies /boot as a tree; keep the kernel and initrd under fixed names.
  cp "$(ls "$dir"/boot/vmlinuz-* | head -1)" "$dir/vmlinuz"
  cp "$(ls "$dir"/boot/initrd.img-* | head -1)" "$dir/initrd.img"
  local tree=$dir/tree
  mkdir -p "$tree"; tar -C "$tree" -xf "$dir/rootfs.tar"
  VM_SUITE=$VM_SUITE VM_MIRROR=$VM_MIRROR "$VM_DIR/gpio-sim.sh" "$tree" >"$dir/gpio-sim.log" 2>&1 ||
    { tail -30 "$dir/gpio-sim.log" >&2; return 1; }
  truncate -s "${VM_DISK_MB}M" "$dir/base.img"
  mke2fs -q -t ext4 -L cwroot -d "$tree" "$dir/base.img"
  rm -rf "$tree" "$dir/boot"
  echo "$((t1 - t0)) $(($(date +%s) - t1))" > "$dir/build-seconds"
  touch "$dir/.done"
  vm_log "machine built in $(($(date +%s) - t0)) s (mmdebstrap $((t1 - t0)) s): $dir"
  echo "$dir"
}

# vm_boot RUNDIR LOGNAME [extra qemu args...]: boots the run's disk with the run directory shared
# over 9p; returns when qemu exits (power-off, reset under -no-reboot, or killed). The serial console
# goes to RUNDIR/LOGNAME. qemu's pid is written to RUNDIR/qemu.pid so a test can cut the power.
vm_boot() {
  local run=$1 log=$2; shift 2
  local accel=tcg,thread=multi cpu=cortex-a72
  if [ -w /dev/kvm ] && [ "$(uname -m)" = aarch64 ]; then accel=kvm; cpu=host; fi
  qemu-system-aarch64 -M virt -accel "$accel" -cpu "$cpu" -smp 2 -m 1024 \
    -display none -no-reboot -serial "file:$run/$log" -monitor none \
    -kernel "$VM_MACHINE/vmlinuz" -initrd "$VM_MACHINE/initrd.img" \
    -append "root=/dev/vda rw console=ttyAMA0 panic=-1 systemd.show_status=1 ${VM_APPEND:-}" \
    -drive "file=$run/disk.img,format=raw,if=virtio,cache=unsafe" \
    -virtfs "local,path=$run/share,mount_tag=cw,security_model=none,id=cw" \
    -device i6300esb -action watchdog=reset \
    -nic none \
    -pidfile "$run/qemu.pid" "$@" </dev/null &
  local pid=$!
  echo "$pid" > "$run/qemu.pid"
  wait "$pid" 2>/dev/null || true
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    build) vm_build ;;
    hash) vm_hash ;;
    deps) vm_host_deps ;;
    *) echo "usage: $0 build|hash|deps" >&2; exit 2 ;;
  esac
fi
