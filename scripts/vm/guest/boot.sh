#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec /bin/bash "$0" "$@"   # the unit starts it with sh
# Runs early in every boot, before camwarden.service: the kernel GPIO chip, the namespace lab and
# the relay wiring, which on a real board exist before any unit starts.
set -u
. /mnt/cw/guest/lib.sh
log "boot: kernel $(uname -r), stage $STAGE"
# What the previous boot left of a firmware download and of the A/B state, read before camwarden
# starts and touches either (the power-cut stages compare it with what the daemon does next).
part=/var/lib/camwarden/update/download.part
echo "$(stat -c %s $part 2>/dev/null || echo none)" > /run/cw-part-at-boot
cp /var/lib/camwarden/update/state.json /run/cw-ab-at-boot.json 2>/dev/null || echo '{}' > /run/cw-ab-at-boot.json
log "at boot: download.part $(cat /run/cw-part-at-boot) bytes; A/B state $(tr -d ' \n' < /run/cw-ab-at-boot.json | head -c 400)"
# The whole journal of this boot, live on the host (what a stage that hangs was doing).
systemd-run --unit cw-journal --quiet /bin/sh -c "exec journalctl -f -b 0 -o short-monotonic > $RES/$STAGE-journal.log 2>&1"
# Pi OS convention: gpiochips belong to group gpio (postinst puts camwarden in it).
getent group gpio >/dev/null || groupadd --system gpio
cat > /etc/udev/rules.d/60-cw-gpio.rules <<'R'
SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"
R
udevadm control --reload || true

# gpio-sim: one bank of 32 lines named GPIO0..GPIO31 like the Pi's BCM lines.
modprobe gpio-sim || log "no gpio-sim module"
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
if [ ! -d $SIMCFG ]; then
  mkdir $SIMCFG $SIMCFG/bank0
  echo 32 > $SIMCFG/bank0/num_lines
  echo cw-board > $SIMCFG/bank0/label
  for i in $(seq 0 31); do mkdir $SIMCFG/bank0/line$i; echo GPIO$i > $SIMCFG/bank0/line$i/name; done
  echo 1 > $SIMCFG/live
fi
# The button's idle level: released, held high by its pull-up.
echo pull-up > "$(simdev)/sim_gpio$BUTTON/pull"
chip=$(cat $SIMCFG/bank0/chip_name)
udevadm trigger --subsystem-match=gpio --action=change; udevadm settle -t 10 || true
log "gpio-sim $chip: $(ls -l /dev/$chip)"

# Line watcher: every change of the relay and LED lines, stamped with the uptime (20 ms polling);
# the relay line also drives the lab uplink, as the relay's contacts would (NC contacts, active high:
# a high line cuts).
d=$(simdev)
cat > /run/cw-lines.sh <<W
#!/bin/bash
declare -A last
uplink=""
while :; do
  for l in $RELAY $LED_POWER $LED_ACT $LED_ALERT $LED_UPLINK $LED_BROKER $BUTTON; do
    read -r v < $d/sim_gpio\$l/value
    if [ "\${last[\$l]:-x}" != "\$v" ]; then
      last[\$l]=\$v; read -r u _ < /proc/uptime; echo "\$u \$l \$v" >> /run/cw-lines.log
    fi
  done
  want=up; [ "\${last[$RELAY]}" = 1 ] && want=down
  if [ "\$want" != "\$uplink" ] && [ -e /run/netns/$PREFIX-gw ]; then
    ip -n $PREFIX-gw link set uplink \$want && uplink=\$want
  fi
  sleep 0.02
done
W
chmod +x /run/cw-lines.sh
: > /run/cw-lines.log
systemd-run --unit cw-lines --quiet /bin/bash /run/cw-lines.sh  # /run is noexec

# The namespace lab: a Hikvision and an Axis camera behind a switch namespace; the appliance's end
# of the switch link is moved into the root namespace as eth0, the port the config names.
cat > /run/cw-lab.yaml <<'S'
name: vm
devices:
  - profile: hikvision
  - profile: axis
S
t0=$(up)
# On the VLAN stage the cameras live on their VLANs only: the lab comes up without emulators, which
# are then started on the tagged sub-interfaces below.
emu=(--camsim $CW/bin/camsim); [ "$STAGE" = vlan ] && emu=(--no-camsim)
if $CW/bin/cwlab up --prefix $PREFIX --spec /run/cw-lab.yaml "${emu[@]}" >>"$RES/$STAGE.log" 2>&1; then
  ip -n $PREFIX-app link set eth0 netns 1
  ip addr add 198.18.1.2/24 dev eth0; ip link set eth0 up
  ip route add 224.0.0.0/4 dev eth0
  log "lab up in $(sub "$(up)" "$t0") s"
else
  log "lab up FAILED"
fi
# VLAN stage: tagged sub-interfaces on both ends of the switch (the bridge passes tags through).
if [ "$STAGE" = vlan ]; then
  modprobe 8021q
  ip link add link eth0 name eth0.20 type vlan id 20; ip addr add 198.18.20.2/24 dev eth0.20; ip link set eth0.20 up
  ip link add link eth0 name eth0.30 type vlan id 30; ip addr add 198.18.30.2/24 dev eth0.30; ip link set eth0.30 up
  ip -n $PREFIX-hikvision link add link eth0 name eth0.20 type vlan id 20
  ip -n $PREFIX-hikvision addr add 198.18.20.10/24 dev eth0.20; ip -n $PREFIX-hikvision link set eth0.20 up
  ip -n $PREFIX-axis link add link eth0 name eth0.30 type vlan id 30
  ip -n $PREFIX-axis addr add 198.18.30.11/24 dev eth0.30; ip -n $PREFIX-axis link set eth0.30 up
  ip -n $PREFIX-hikvision route add 224.0.0.0/4 dev eth0.20 metric 10 2>/dev/null || true
  ip -n $PREFIX-axis route add 224.0.0.0/4 dev eth0.30 metric 10 2>/dev/null || true
  # One camsim per camera, bound to its VLAN sub-interface (its address and the MAC the tag rides on),
  # so SADP, ISAPI, ONVIF and VAPIX answer over 802.1Q only.
  for cam in hikvision:eth0.20:198.18.20.10 axis:eth0.30:198.18.30.11; do
    IFS=: read -r prof ifc addr <<<"$cam"
    mac=$(ip -n $PREFIX-$prof -br link show eth0 | awk '{print $3}')
    rm -f /run/cw-camsim-$prof.pid
    systemd-run --unit cw-camsim-$prof --quiet -p StandardOutput=append:$RES/$STAGE-camsim-$prof.log \
      -p StandardError=append:$RES/$STAGE-camsim-$prof.log ip netns exec $PREFIX-$prof $CW/bin/camsim run \
      --profile $prof --iface $ifc --ip $addr --mac $mac --pidfile /run/cw-camsim-$prof.pid
  done
  for prof in hikvision axis; do   # camsim writes its pidfile once its services listen
    for _ in $(seq 150); do [ -s /run/cw-camsim-$prof.pid ] && break; sleep 0.2; done
    log "camsim $prof on its VLAN: pid $(cat /run/cw-camsim-$prof.pid 2>/dev/null || echo 'NOT STARTED')"
  done
  log "vlans: $(ip -br link | grep eth0 | tr '\n' ' ')"
fi
exit 0
