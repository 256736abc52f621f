#!/usr/bin/env bash
# gpio-sim.sh TREE: builds the kernel's configfs GPIO simulator (drivers/gpio/gpio-sim.c) as a module
# for the Debian kernel installed in TREE and installs it there.
#
# Debian's arm64 kernels (bookworm 6.1, and 6.12 in bookworm-backports) are built without
# CONFIG_GPIO_SIM and CONFIG_GPIO_MOCKUP, so neither module ships. Both sources come from Debian:
# linux-source-X.Y for the driver (and kernel/irq/irq_sim.c, which it needs and which this kernel
# also leaves out), linux-headers for the build, compiled on this host with gcc-aarch64-linux-gnu.
# One adaptation: irq_sim.c calls irq_to_desc(), which a module may not use in 6.1; it calls the
# exported generic_handle_irq() instead, which looks up the same descriptor and runs its handler.
set -euo pipefail
tree=$1
work=$(mktemp -d /tmp/camwarden-gpiosim.XXXXXX)
trap 'rm -rf "$work"' EXIT
kver=$(ls "$tree/lib/modules" | head -1)
ipkg=linux-image-$kver
ver=$(dpkg-query --admindir="$tree/var/lib/dpkg" -W -f='${Version}' "$ipkg")
series=$(echo "$kver" | cut -d. -f1,2)            # 6.1
flavourless=${kver%-arm64}                           # 6.1.0-50
echo "gpio-sim: kernel $kver ($ipkg $ver)" >&2

# arm64 packages through a private apt state for this one mirror, so the host's apt is untouched.
mirror=${VM_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial"
echo "deb $mirror ${VM_SUITE:-bookworm} main" > "$work/apt/sources.list"
A=(-o Dir::Etc::sourcelist="$work/apt/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$work/apt/lists"
  -o Dir::Cache="$work/apt/cache" -o APT::Architecture=arm64 -o APT::Architectures=arm64 -o APT::Sandbox::User=root)
apt-get "${A[@]}" update -qq
cd "$work"
apt-get "${A[@]}" download -qq "linux-source-$series=$ver" "linux-headers-$kver=$ver" "linux-headers-$flavourless-common=$ver"
# The build tools run here, so the host's own architecture of linux-kbuild, same version if it can be had.
apt-get download -qq -o APT::Sandbox::User=root "linux-kbuild-$series=$ver" 2>/dev/null || apt-get download -qq -o APT::Sandbox::User=root "linux-kbuild-$series"
mkdir k mod
for d in linux-headers-*.deb linux-kbuild-*.deb; do dpkg-deb -x "$d" k; done
hdr=$work/k/usr/src/linux-headers-$kver
sed -i "s|include /usr/src/|include $work/k/usr/src/|" "$hdr/Makefile"
dpkg-deb --fsys-tarfile linux-source-*.deb | tar -xO "./usr/src/linux-source-$series.tar.xz" |
  tar -xJ -C "$work" "linux-source-$series/drivers/gpio/gpio-sim.c" "linux-source-$series/drivers/gpio/gpiolib.h" \
    "linux-source-$series/kernel/irq/irq_sim.c"
s=$work/linux-source-$series
cp "$s/drivers/gpio/gpio-sim.c" mod/gpio-sim-main.c
cp "$s/drivers/gpio/gpiolib.h" "$s/kernel/irq/irq_sim.c" mod/
sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' mod/irq_sim.c
printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-main.o irq_sim.o\n' > mod/Kbuild
make -s -C "$hdr" M="$work/mod" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- modules >&2
install -D -m 0644 mod/gpio-sim.ko "$tree/lib/modules/$kver/updates/gpio-sim.ko"
depmod -b "$tree" "$kver"
echo "gpio-sim: installed $tree/lib/modules/$kver/updates/gpio-sim.ko" >&2
