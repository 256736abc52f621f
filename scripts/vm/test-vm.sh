#!/usr/bin/env bash
# make test-vm: the real arm64 package on a real Debian 12 arm64 system under qemu-system-aarch64.
# Boots the machine several times from one disk; each boot is a stage whose ending is the test:
#   install   dpkg -i, systemd checks, lab verdicts, GPIO, caps, restart on failure  → power-off
#   watchdog  latch re-applied at boot, then SIGSTOP the daemon                      → i6300esb reset
#   powercut  the reset left the cut latched; power is killed while cut              → qemu SIGKILL
#   ota       the cut survived; A/B update over mosquitto + wardenctl serve (throttled);
#             power is killed while the new slot's binary is half downloaded        → qemu SIGKILL
#   ota-resume the A/B state is sane; the download resumes from the partial file, the
#             slot is written, the new release starts on trial; power is killed      → qemu SIGKILL
#             during the trial's minimum healthy period
#   ota-commit the trial resumes (attempt 2) and commits after its minimum period;
#             a bad release rolls back                                              → power-off
#   vlan      the committed slot still runs; camsim on eth0.20 / eth0.30 in the camera
#             namespaces: strong verdicts and the cut over 802.1Q; upgrade; purge   → power-off
# Prints a pass/fail table with timings. Env: VM_DEB (arm64 .deb; default the newest in dist/),
# VM_UPGRADE_DEB (the upgrade .deb, version 99.0.0~vmupgrade; default built here), VM_KEEP=1 (keep the run's disk),
# VM_STAGES (default all), VM_CACHE (machine cache), VM_RUN (a run directory kept with VM_KEEP=1: its disk and
# state are reused, so single stages can be re-run where the previous run left off, e.g.
# VM_KEEP=1 VM_STAGES="install watchdog powercut ota" then VM_RUN=/tmp/camwarden-vm.X VM_KEEP=1 VM_STAGES=ota-resume),
# VM_SAVE=1 (keep a copy of the disk after each stage) and VM_FROM=STAGE (with VM_RUN: start from that copy).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/vm/machine.sh"

[ "$(id -u)" = 0 ] || { echo "test-vm needs root (mmdebstrap, binfmt_misc, namespaces in the guest): sudo make test-vm" >&2; exit 2; }
T_ALL=$(date +%s.%N)
el() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

vm_host_deps
t=$(date +%s.%N)
cached=yes; [ -e "$VM_CACHE/$(vm_hash)/.done" ] || cached=no
VM_MACHINE=$(vm_build)
T_MACHINE=$(el "$t")

if [ -n "${VM_RUN:-}" ]; then
  [ -f "$VM_RUN/disk.img" ] || { echo "test-vm: VM_RUN=$VM_RUN has no disk.img" >&2; exit 1; }
  RUN=$VM_RUN
  rm -rf "$RUN/share/bin" "$RUN/share/debs" "$RUN/share/guest" "$RUN/share/results/table.tsv" "$RUN/share/results/timings.txt"
  LAST_END=$(cat "$RUN/share/last-end" 2>/dev/null || echo none)
  # VM_FROM=STAGE: start again from the disk as that stage left it (saved with VM_SAVE=1).
  if [ -n "${VM_FROM:-}" ]; then
    cp --sparse=always "$RUN/disk-after-$VM_FROM.img" "$RUN/disk.img"
    LAST_END=$(cat "$RUN/end-after-$VM_FROM")
  fi
else
  RUN=$(mktemp -d /tmp/camwarden-vm.XXXXXX)
fi
SHARE=$RUN/share
mkdir -p "$SHARE/bin" "$SHARE/debs" "$SHARE/results"
QPID=
LOGS=${VM_LOGS:-/tmp/camwarden-vm-logs}
# Teardown: qemu by its pid, the logs kept in LOGS, the run directory (disk, share) removed unless VM_KEEP=1.
cleanup() {
  if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then kill -KILL "$QPID" 2>/dev/null || true; fi
  rm -rf "$LOGS"; mkdir -p "$LOGS"
  cp "$RUN"/console-*.log "$SHARE"/results/* "$LOGS/" 2>/dev/null || true
  if [ "${VM_KEEP:-0}" != 1 ]; then rm -rf "$RUN"; fi
}
trap cleanup EXIT

# The package under test and what the guest needs besides it, all arm64.
deb=${VM_DEB:-$(ls -t "$ROOT"/dist/camwarden_*_arm64.deb 2>/dev/null | head -1 || true)}
[ -n "$deb" ] && [ -f "$deb" ] || { echo "test-vm: no arm64 .deb: run make deb first (or set VM_DEB)" >&2; exit 1; }
cp "$deb" "$SHARE/debs/"
t=$(date +%s.%N)
( cd "$ROOT"
  for c in cwlab=./scripts/lab/cmd/cwlab camsim=./probes/camsim/cmd/camsim wardenctl=./ota/cmd/wardenctl; do
    CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -ldflags '-s -w' -o "$SHARE/bin/${c%%=*}" "${c#*=}"
  done
  # The upgrade: the same tree packaged under a version that sorts above any real one.
  if [ -n "${VM_UPGRADE_DEB:-}" ]; then cp "$VM_UPGRADE_DEB" "$SHARE/debs/"
  else go run ./scripts/package/cmd/mkdeb -version v99.0.0-vmupgrade -arch arm64 -out "$SHARE/debs" >/dev/null; fi )
T_ARTIFACTS=$(el "$t")
cp -r "$VM_DIR/guest" "$SHARE/guest"
# The A/B update's material: the upgrade's binary as the new firmware, and a CA + certificate for
# the release repository that wardenctl serves inside the VM on 127.0.0.1.
mkdir -p "$SHARE/ota" "$RUN/x"
if [ ! -f "$SHARE/ota/repo-ca.pem" ]; then   # a reused run keeps the CA its disk already trusts
dpkg-deb -x "$(ls "$SHARE"/debs/camwarden_*vmupgrade*_arm64.deb | head -1)" "$RUN/x"
cp "$RUN/x/usr/bin/camwarden" "$SHARE/ota/camwarden-new"
( cd "$SHARE/ota"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=camwarden-vm-ca \
    -keyout ca-key.pem -out repo-ca.pem 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 -keyout repo-key.pem -out repo.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > ext.cnf
  openssl x509 -req -in repo.csr -CA repo-ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 -extfile ext.cnf -out repo.pem 2>/dev/null
  rm -f repo.csr ext.cnf ca-key.pem )
fi
[ -f "$RUN/disk.img" ] || cp --sparse=always "$VM_MACHINE/base.img" "$RUN/disk.img"
vm_log "run directory $RUN; package $(basename "$deb")"

# stage NAME TIMEOUT ENDING: boots once; ENDING says how the boot is meant to end.
declare -A STAGE_TIME STAGE_END
stage() {
  local name=$1 limit=$2 ending=$3 t0 end=clean
  echo "$name" > "$SHARE/stage"
  echo "${LAST_END:-none}" > "$SHARE/prev-end"
  rm -f "$SHARE/done-$name" "$SHARE/stopped" "$SHARE/killme"
  vm_log "stage $name: booting"
  t0=$(date +%s.%N)
  VM_APPEND="i6300esb.heartbeat=${VM_WDT_HEARTBEAT:-30}" vm_boot "$RUN" "console-$name.log" &
  local bootpid=$! t_stop= waited=0
  sleep 1; QPID=$(cat "$RUN/qemu.pid" 2>/dev/null || true)
  while kill -0 "$bootpid" 2>/dev/null; do
    if [ "$ending" = killpower ] && [ -e "$SHARE/killme" ]; then
      vm_log "stage $name: cutting the power (SIGKILL qemu): $(cat "$SHARE/killme")"
      kill -KILL "$QPID" 2>/dev/null || true; end=power-cut; break
    fi
    if [ "$ending" = watchdog ] && [ -z "$t_stop" ] && [ -e "$SHARE/stopped" ]; then
      t_stop=$(date +%s.%N); vm_log "stage $name: daemon stopped; waiting for the hardware watchdog"
    fi
    if awk -v a="$t0" -v b="$(date +%s.%N)" -v l="$limit" 'BEGIN{exit !(b-a>l)}'; then
      vm_log "stage $name: timed out after $limit s"; kill -KILL "$QPID" 2>/dev/null || true; end=timeout; break
    fi
    sleep 0.2
  done
  wait "$bootpid" 2>/dev/null || true
  QPID=
  STAGE_TIME[$name]=$(el "$t0")
  if [ "$ending" = watchdog ]; then
    if [ -n "$t_stop" ] && [ ! -e "$SHARE/done-$name" ]; then
      end=watchdog-reset
      printf '%s\t%s\t%s\t%s\t%s\n' "$name" "hardware watchdog resets a hung daemon" PASS "$(el "$t_stop")" \
        "SIGSTOP → i6300esb reset (heartbeat ${VM_WDT_HEARTBEAT:-30} s)" >> "$SHARE/results/table.tsv"
    else
      printf '%s\t%s\t%s\t%s\t%s\n' "$name" "hardware watchdog resets a hung daemon" FAIL 0 "no reset ($end)" >> "$SHARE/results/table.tsv"
    fi
  fi
  if [ "$ending" = poweroff ] && [ ! -e "$SHARE/done-$name" ]; then
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "stage completed" FAIL "${STAGE_TIME[$name]}" "ended: $end" >> "$SHARE/results/table.tsv"
  fi
  if [ "$ending" = killpower ] && [ "$end" != power-cut ]; then
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "reached the point of its power cut" FAIL 0 "never reached ($end)" >> "$SHARE/results/table.tsv"
  fi
  STAGE_END[$name]=$end; LAST_END=$end; echo "$end" > "$SHARE/last-end"
  if [ "${VM_SAVE:-0}" = 1 ]; then cp --sparse=always "$RUN/disk.img" "$RUN/disk-after-$name.img"; echo "$end" > "$RUN/end-after-$name"; fi
  vm_log "stage $name: ended ($end) after ${STAGE_TIME[$name]} s"
}

STAGES=${VM_STAGES:-install watchdog powercut ota ota-resume ota-commit vlan}
for s in $STAGES; do
  case $s in
    install) stage install 900 poweroff ;;
    watchdog) stage watchdog 600 watchdog ;;
    powercut) stage powercut 600 killpower ;;
    ota) stage ota 900 killpower ;;
    ota-resume) stage ota-resume 900 killpower ;;
    ota-commit) stage ota-commit 900 poweroff ;;
    vlan) stage vlan 900 poweroff ;;
  esac
done

# The table, and the verdict.
echo
echo "camwarden on Debian 12 arm64 (qemu-system-aarch64 -M virt, $( [ -w /dev/kvm ] && [ "$(uname -m)" = aarch64 ] && echo KVM || echo TCG))"
printf '  machine: %s s (%s; cache %s)   artifacts: %s s\n' "$T_MACHINE" "$([ $cached = yes ] && echo warm || echo cold build)" "$VM_MACHINE" "$T_ARTIFACTS"
for s in $STAGES; do printf '  boot %-9s %6s s  ended: %s\n' "$s" "${STAGE_TIME[$s]:-?}" "${STAGE_END[$s]:-?}"; done
echo
fail=0
printf '  %-9s %-52s %-4s %8s  %s\n' stage check "" seconds detail
while IFS=$'\t' read -r st name res secs detail; do
  printf '  %-9s %-52s %-4s %8s  %s\n' "$st" "$name" "$res" "$secs" "$detail"
  [ "$res" = PASS ] || fail=$((fail + 1))
done < <(cat "$SHARE/results/table.tsv" 2>/dev/null)
n=$(cat "$SHARE/results/table.tsv" 2>/dev/null | wc -l)
echo
[ -f "$SHARE/results/timings.txt" ] && sed 's/^/  timings: /' "$SHARE/results/timings.txt"
echo "  total $(el "$T_ALL") s; $((n - fail))/$n passed; logs in $LOGS"
[ "$n" -gt 0 ] && [ "$fail" = 0 ]
