#!/bin/sh
# mmdebstrap customize hook: $1 is the root being built. Makes the image boot straight to the
# test driver with no network and nothing else running.
set -eu
r=$1
echo camwarden-vm > "$r/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 camwarden-vm\n' > "$r/etc/hosts"
mkdir -p "$r/mnt/cw"
cp "$(dirname "$0")/fstab" "$r/etc/fstab"
cp "$(dirname "$0")/cw-vmtest.service" "$(dirname "$0")/cw-vmcheck.service" "$r/etc/systemd/system/"
ln -sf /etc/systemd/system/cw-vmtest.service "$r/etc/systemd/system/sysinit.target.wants/cw-vmtest.service"
mkdir -p "$r/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/cw-vmcheck.service "$r/etc/systemd/system/multi-user.target.wants/cw-vmcheck.service"
# The broker starts only when a test asks for it (it binds loopback then, see guest/).
rm -f "$r/etc/systemd/system/multi-user.target.wants/mosquitto.service"
# Root logs in on the serial console without a password (a throwaway test machine).
chroot "$r" passwd -d root >/dev/null
# Boot time matters: timers and services with no use in a disposable VM are masked.
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer dpkg-db-backup.timer \
  e2scrub_reap.service systemd-timesyncd.service; do
  ln -sf /dev/null "$r/etc/systemd/system/$u"
done
# Journal kept on disk so a watchdog reset or a power cut leaves the previous boot readable.
mkdir -p "$r/var/log/journal"
