# Helpers shared by the in-VM scripts (bash). Everything the test leaves behind goes to /mnt/cw.
CW=/mnt/cw
STAGE=$(cat "$CW/stage")
RES=$CW/results
mkdir -p "$RES"
PREFIX=cwvm                       # lab namespace prefix, unique to this test
SIMCFG=/sys/kernel/config/gpio-sim/cwboard
# Board wiring (BCM names given to the gpio-sim lines, so the config reads as on a Pi).
RELAY=5 BUTTON=6 LED_POWER=17 LED_ACT=27 LED_ALERT=22 LED_UPLINK=23 LED_BROKER=24

up() { cut -d' ' -f1 /proc/uptime; }             # seconds since the kernel started
log() { echo "[cw-vm $STAGE $(up)] $*" | tee -a "$RES/$STAGE.log" >&2; }
# result NAME PASS|FAIL SECONDS DETAIL: one row of the final table.
result() {
  printf '%s\t%s\t%s\t%s\t%s\n' "$STAGE" "$1" "$2" "$3" "$4" >> "$RES/table.tsv"
  log "RESULT $1 $2 ($3 s) $4"
}
check() { # check NAME DETAIL CMD...: PASS when CMD succeeds
  local name=$1 detail=$2 t0 t1; shift 2
  t0=$(up)
  if "$@" >>"$RES/$STAGE.log" 2>&1; then t1=$(up); result "$name" PASS "$(echo "$t1 - $t0" | awk '{print $1-$3}')" "$detail"
  else t1=$(up); result "$name" FAIL "$(echo "$t1 - $t0" | awk '{print $1-$3}')" "$detail"; fi
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a-b}'; }
# wait_for SECONDS CMD...: polls CMD every 0.2 s; returns its success.
wait_for() {
  local end; end=$(awk -v u="$(up)" -v s="$1" 'BEGIN{print u+s}'); shift
  while ! "$@" >/dev/null 2>&1; do
    awk -v u="$(up)" -v e="$end" 'BEGIN{exit !(u>e)}' && return 1
    sleep 0.2
  done
}
simdev() { echo "/sys/devices/platform/$(cat $SIMCFG/dev_name)/$(cat $SIMCFG/bank0/chip_name)"; }
line() { cat "$(simdev)/sim_gpio$1/value"; }
# The button is wired to ground: pressing pulls the line low against the pull-up.
button() { echo "$1" > "$(simdev)/sim_gpio$BUTTON/pull"; }
svc_pid() { systemctl show -p MainPID --value camwarden; }
svc_prop() { systemctl show -p "$1" --value camwarden; }
usec_s() { awk -v u="$1" 'BEGIN{printf "%.2f", u/1e6}'; }
# jmono PATTERN [BOOT]: monotonic seconds of the first camwarden journal line matching PATTERN.
jmono() { journalctl -b "${2:-0}" -u camwarden -o short-monotonic --no-pager 2>/dev/null | grep -m1 -- "$1" | sed 's/^\[ *\([0-9.]*\)\].*/\1/' | awk '{printf "%.2f", $1}'; }
# first_high LINE: uptime at which the line watcher first saw the line high this boot.
first_high() { awk -v l="$1" '$2==l && $3==1 {print $1; exit}' /run/cw-lines.log; }
done_stage() {
  journalctl -b 0 -u camwarden -o short-monotonic --no-pager > "$RES/$STAGE-camwarden.journal" 2>&1
  cp /run/cw-lines.log "$RES/$STAGE-lines.log" 2>/dev/null
  log "stage done"; sync; touch "$CW/done-$STAGE"
}
