#!/bin/sh
# mmdebstrap essential hook, before the kernel is installed: the initramfs gets only what this VM
# needs to mount its root. Debian's default (MODULES=most) walks every module under qemu-user
# emulation, which alone took over ten minutes of the cold build.
set -eu
r=$1
mkdir -p "$r/etc/initramfs-tools/conf.d" "$r/usr/share/initramfs-tools/modules.d"
echo MODULES=list > "$r/etc/initramfs-tools/conf.d/camwarden-vm"
printf '%s\n' virtio_pci virtio_mmio virtio_blk ext4 crc32c_generic > "$r/usr/share/initramfs-tools/modules.d/camwarden-vm"
