#!/usr/bin/env bash
# Runs the unit tests cross-compiled for linux/arm64 and linux/arm (GOARM=6, the Pi Zero/1
# target) under Debian's qemu-user-static, to catch what only 32-bit or ARM shows: unaligned
# 64-bit atomics, int overflow, endianness or struct-size assumptions.
#
# Usage: scripts/test-arm.sh [arm64|armv6|all] [go test flags/packages...]   (default: all ./...)
#
# Under emulation the lab, namespace and real-peer tests are not wanted (qemu-user does not
# emulate namespaces, and they would measure qemu, not our code): the test binaries run with
# -short, with CI unset, and, when this script runs as root, as the unprivileged user nobody,
# so every test that needs root skips by the repository's normal rule. Only the machine code
# is emulated; the system calls are the host kernel's.
set -euo pipefail

# -exec hook: go test runs "$0 --exec QEMU BINARY ARGS..." for each test binary.
if [ "${1:-}" = --exec ]; then
	qemu=$2
	bin=$3
	shift 3
	if [ "$(id -u)" -eq 0 ]; then
		# The binary sits in go's private 0700 work directory; nobody needs its own copy.
		dir=$(mktemp -d /tmp/camwarden-arm-XXXXXX)
		trap 'rm -rf "$dir"' EXIT
		cp "$bin" "$dir/test"
		mkdir "$dir/home" "$dir/tmp"
		chmod 755 "$dir" "$dir/test"
		chown 65534:65534 "$dir/home" "$dir/tmp"
		rc=0
		HOME=$dir/home TMPDIR=$dir/tmp setpriv --reuid=65534 --regid=65534 --clear-groups \
			--inh-caps=-all --bounding-set=-all "$qemu" "$dir/test" "$@" || rc=$?
		exit $rc
	fi
	exec "$qemu" "$bin" "$@"
fi

cd "$(dirname "$0")/.."
# As root the tests run as nobody, from their package directories. The
# checkout's parents may be private (a clone under /root): the tests only
# look upwards relatively (../..) and never through the absolute path. The
# checkout itself must be readable, which is checked here, relatively too.
if [ "$(id -u)" -eq 0 ] && ! setpriv --reuid=65534 --regid=65534 --clear-groups test -r go.mod -a -x scripts 2>/dev/null; then
	echo "test-arm: the tests run as nobody, who cannot read this checkout ($(pwd));" \
		"make it readable (chmod -R o+rX $(pwd)); its parent directories may stay private" >&2
	exit 1
fi
which=${1:-all}
[ $# -gt 0 ] && shift
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(./...)

targets=()
case "$which" in
arm64) targets=(arm64) ;;
armv6) targets=(armv6) ;;
all) targets=(arm64 armv6) ;;
*) echo "usage: $0 [arm64|armv6|all] [go test args...]" >&2; exit 2 ;;
esac

for q in qemu-aarch64-static qemu-arm-static; do
	if ! command -v "$q" >/dev/null; then
		if [ "${CI:-}" = true ]; then
			echo "test-arm: $q missing (apt-get install qemu-user-static); required under CI" >&2
			exit 1
		fi
		echo "test-arm: $q missing; skipping (install qemu-user-static, or run scripts/deps.sh arm as root)" >&2
		exit 0
	fi
done

# Tests that cannot pass under qemu-user as nobody, for reasons outside the code under test.
# Better as guards in the tests themselves (CAMWARDEN_EMULATED=1 is set for that); until then:
skip=(
	# re-exec os.Args[0], an ARM binary the host kernel cannot run without binfmt_misc
	TestWillOnSIGKILL TestNothingLostAcrossPublisherSIGKILL TestNothingAckedLostOnKill
	TestIngestExactlyOnceAcrossFailures
	# run "go build" for a host binary from inside the test (inherits GOARCH, needs the module cache)
	TestRunBinaryOnLoopback TestEndToEnd
	# qemu-user answers setsockopt(IP_MULTICAST_IF) with ENOPROTOOPT
	TestDiscovererLoopbackTwiceAndEphemeral TestDiscovererIgnoresUnrelatedAndOutsiders
	TestDiscovererRespectsContext TestWSDThenONVIFLoopback TestServeWSDProfiles
	# binds the privileged SADP/DHIP ports (480, 33), which nobody may not
	TestServeHTTPProfiles
	# a 1 s wall-clock bound: 0.1 s natively, 1.3 s under qemu (timers are on time under qemu;
	# the time goes before the first request)
	TestSweepStopsWithContext
)
skipre="^($(IFS='|'; echo "${skip[*]}"))\$"

self=$(pwd)/scripts/test-arm.sh
status=0
for t in "${targets[@]}"; do
	case "$t" in
	arm64) env=(GOARCH=arm64) qemu=$(command -v qemu-aarch64-static) ;;
	armv6) env=(GOARCH=arm GOARM=6) qemu=$(command -v qemu-arm-static) ;;
	esac
	echo "test-arm: $t under $(basename "$qemu")"
	start=$(date +%s)
	# Timeouts are generous: emulation runs CPU-bound code roughly 5-20x slower.
	if ! env "${env[@]}" CGO_ENABLED=0 GOOS=linux CI= CAMWARDEN_EMULATED=1 \
		go test -short -count=1 -timeout 30m -skip "$skipre" -exec "$self --exec $qemu" "${args[@]}"; then
		status=1
		echo "test-arm: $t FAILED" >&2
	fi
	echo "test-arm: $t took $(($(date +%s) - start))s"
done
exit $status
