#!/usr/bin/env bash
# sudo make demo: the appliance against the emulated camera lab.
# Builds everything, brings up 17 emulated devices on 198.18.1.0/24 in network namespaces, runs
# `camwarden run` in the appliance namespace with the console board and the lab relay, and shows the
# live inventory. Ctrl-C (or DEMO_SECONDS=N) stops it and tears the lab down.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  cat >&2 <<'MSG'
make demo needs root: it creates network namespaces (an emulated camera VLAN, a gateway and a
"core network") and runs the appliance inside one. Nothing is sent on this machine's real
interfaces: every lab address is in 198.18.0.0/15 inside namespaces the demo creates and removes.

    sudo make demo
MSG
  exit 1
fi

scripts/deps.sh test
make -s build
prefix=cw
state=$(mktemp -d /tmp/camwarden-demo.XXXXXX)
cleanup() {
  trap - EXIT INT TERM
  echo
  echo "demo: tearing the lab down"
  bin/cwlab down --prefix "$prefix" >/dev/null 2>&1 || true
  echo "demo: appliance log kept in $state/camwarden.log"
}
trap cleanup EXIT INT TERM

bin/cwlab down --prefix "$prefix" >/dev/null 2>&1 || true # leftovers of a killed demo
bin/cwlab up --prefix "$prefix" --spec scripts/lab/lab.yaml --camsim bin/camsim

cat >"$state/camwarden.yaml" <<YAML
appliance_id: demo
state_dir: $state
interfaces:
  - name: eth0
    subnets: [198.18.1.0/24]
probing:
  # The lab recorder's login (probes/camsim/profiles.yaml hikvision-nvr): its cameras are read and listed under it.
  # On a real site keep credentials in a separate 0600 file (probing.credentials_file).
  credentials:
    - {user: admin, password: "Nvr-Hik-8ch!", addresses: [198.18.1.27]}
policy:
  # Hikvision- and Dahua-made kit cuts the uplink; the rest of the restricted makers raise an alert.
  actions: {hikvision: isolate, dahua: isolate}
  hold_time: 30s
board:
  kind: console
  lab_relay: {netns: $prefix-gw, link: uplink}
YAML

cat <<MSG

The appliance now runs in namespace $prefix-app on the emulated camera VLAN.
  - The table below is its live inventory (Ctrl-C ends the demo).
  - Isolate policy for Hikvision and Dahua: the relay opens and the core network (198.18.2.10)
    becomes unreachable from the cameras. See it in another terminal:
        sudo bin/cwlab ping axis 198.18.2.10
  - Press Enter to acknowledge the cut (the board's button); the uplink stays cut while a
    flagged camera is present, so unplug them first:  sudo bin/cwlab exec hikvision -- ip link set eth0 down
  - Why was a camera flagged?   bin/camwarden explain --config $state/camwarden.yaml 198.18.1.10
  - The recorder at 198.18.1.27 hides eight PoE channels; its cameras are listed under it, e.g.
        bin/camwarden explain --config $state/camwarden.yaml bc:ad:28:c4:00:01/ch3
  - LED and relay changes are logged with the daemon's log: $state/camwarden.log

MSG
sleep 2
run=(ip netns exec "$prefix-app" bin/camwarden run --config "$state/camwarden.yaml" --view)
if [ -n "${DEMO_SECONDS:-}" ]; then
  timeout --foreground -s INT "$DEMO_SECONDS" "${run[@]}" 2>"$state/camwarden.log" || true
  bin/camwarden status --config "$state/camwarden.yaml" || true
  echo "core reachable from a camera: $(bin/cwlab ping --count 1 axis 198.18.2.10 2>&1 | tail -1)"
else
  "${run[@]}" 2>"$state/camwarden.log" || true
fi
