package packaging

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/config"
)

// testVersion is fixed so that repeated runs hit the build cache.
const (
	testVersion    = "v1.2.3-4-gabcdef0"
	testDebVersion = "1.2.3+git4.gabcdef0"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func TestDebVersion(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"v1.2.3", "1.2.3"},
		{"1.2.3", "1.2.3"},
		{"v1.2.3-rc1", "1.2.3~rc1"},
		{"v1.2.3-rc.1-dirty", "1.2.3~rc.1+dirty"},
		{"v1.2.3-4-gabcdef0", "1.2.3+git4.gabcdef0"},
		{"v1.2.3-4-gabcdef0-dirty", "1.2.3+git4.gabcdef0.dirty"},
		{"v1.2.3-rc1-4-gabcdef0", "1.2.3~rc1+git4.gabcdef0"},
		{"abcdef0", "0~git.abcdef0"},
		{"3ed640a", "0~git.3ed640a"}, // a hash that starts with a digit is not a version
		{"3ed640a-dirty", "0~git.3ed640a+dirty"},
		{"dev", "0~dev"},
		{"v2_0 beta", "2.0.beta"},
	} {
		got, err := DebVersion(c.in)
		if err != nil || got != c.want {
			t.Errorf("DebVersion(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "v", "-dirty", strings.Repeat("1", 200)} {
		if got, err := DebVersion(bad); err == nil {
			t.Errorf("DebVersion(%q) = %q, want an error", bad, got)
		}
	}
}

// TestDebVersionOrder checks with dpkg itself that the mapping sorts
// snapshots before releases and pre-releases before their release.
func TestDebVersionOrder(t *testing.T) {
	needTool(t, "dpkg")
	for _, hash := range []string{"abcdef0", "9abcdef", "9abcdef-dirty"} {
		a, _ := DebVersion(hash)
		b, _ := DebVersion("v0.0.1-rc1")
		if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg does not sort snapshot %s (%s) before the first release %s", a, hash, b)
		}
	}
	order := []string{"dev", "abcdef0", "v1.2.3-rc1", "v1.2.3-rc2", "v1.2.3", "v1.2.3-dirty",
		"v1.2.3-4-gabcdef0", "v1.2.3-12-gabcdef0", "v1.10.0"}
	for i := 1; i < len(order); i++ {
		a, _ := DebVersion(order[i-1])
		b, _ := DebVersion(order[i])
		if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg does not sort %s (%s) before %s (%s)", a, order[i-1], b, order[i])
		}
	}
}

// The unit must keep what the daemon and the hardware need; these are the
// settings a well-meant edit is most likely to break.
func TestUnitDirectives(t *testing.T) {
	u := readUnit(t)
	want := map[string][]string{
		"Type":                    {"notify"},
		"WatchdogSec":             {"30"},
		"Restart":                 {"on-failure"},
		"RestartSec":              {"2"},
		"ExecStart":               {"/usr/bin/camwarden run --config /etc/camwarden/camwarden.yaml"},
		"User":                    {"camwarden"},
		"Group":                   {"camwarden"},
		"AmbientCapabilities":     {"CAP_NET_RAW CAP_NET_ADMIN"},
		"CapabilityBoundingSet":   {"CAP_NET_RAW CAP_NET_ADMIN"},
		"NoNewPrivileges":         {"yes"},
		"ProtectSystem":           {"strict"},
		"ProtectHome":             {"yes"},
		"PrivateTmp":              {"yes"},
		"StateDirectory":          {"camwarden"},
		"ConfigurationDirectory":  {"camwarden"},
		"RestrictAddressFamilies": {"AF_UNIX AF_INET AF_INET6 AF_PACKET AF_NETLINK"},
		"MemoryDenyWriteExecute":  {"yes"},
		"SystemCallArchitectures": {"native"},
		"ProtectKernelTunables":   {"yes"},
		"ProtectControlGroups":    {"yes"},
		"LockPersonality":         {"yes"},
		"DevicePolicy":            {"closed"},
		"WantedBy":                {"multi-user.target"},
		"RestrictNamespaces":      {"yes"},
		"DeviceAllow":             {"char-gpiochip rw", "char-bcm2835-gpiomem rw", "char-rpi-gpiomem rw", "/dev/watchdog rw", "/dev/watchdog0 rw"},
		"SystemCallFilter":        {"@system-service", "~@privileged"},
		"SystemCallErrorNumber":   {"EPERM"},
		"StateDirectoryMode":      {"0750"},
		"ProtectKernelModules":    {"yes"},
		"RestrictSUIDSGID":        {"yes"},
		"ProtectProc":             {"invisible"},
		"ProtectClock":            {"yes"},
		"NotifyAccess":            {"main"},
		"RemoveIPC":               {"yes"},
		"UMask":                   {"0027"},
		"ProtectKernelLogs":       {"yes"},
		"ProtectHostname":         {"yes"},
		"RestrictRealtime":        {"yes"},
		"Description":             nil, // present, any value
		"After":                   nil,
		"Wants":                   nil,
		"Documentation":           nil,
		"Environment":             {"GOMEMLIMIT=28MiB"},
	}
	for k, v := range want {
		got, ok := u[k]
		if !ok {
			t.Errorf("unit has no %s=", k)
			continue
		}
		if v != nil && strings.Join(got, "|") != strings.Join(v, "|") {
			t.Errorf("unit %s = %q, want %q", k, got, v)
		}
	}
	for k := range u {
		if _, ok := want[k]; !ok {
			t.Errorf("unit sets %s=%q, which this test does not know: add it here with the reason it is safe", k, u[k])
		}
	}
	// Would fail every start with 216/GROUP where no gpio group exists; the
	// group comes from /etc/group membership instead (see the unit).
	if _, ok := u["SupplementaryGroups"]; ok {
		t.Error("unit sets SupplementaryGroups")
	}
	// These would cut the daemon off the camera VLAN or from its sockets.
	for _, k := range []string{"PrivateNetwork", "IPAddressDeny", "PrivateDevices", "ProcSubset", "DynamicUser"} {
		if _, ok := u[k]; ok {
			t.Errorf("unit sets %s, which breaks capture, GPIO or board detection", k)
		}
	}
}

// readUnit returns the unit's key → values (in file order), all sections.
func readUnit(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(unitPath(t))
	if err != nil {
		t.Fatal(err)
	}
	u := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("unit line %q is not key=value", line)
		}
		u[k] = append(u[k], v)
	}
	return u
}

func unitPath(t *testing.T) string {
	t.Helper()
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "scripts/systemd/camwarden.service")
}

// TestUnitVerify runs systemd-analyze verify on the unit. verify insists
// that ExecStart's program exists and is executable, and the unit names
// /usr/bin/camwarden, which is not installed here; so it checks a copy whose
// ExecStart points at this test binary instead. That is all verify learns
// from the path (it never runs it); the packaged /usr/bin/camwarden is
// checked by TestDebContents. verify exits 0 even for unknown keys and
// unparsable values, so any output at all is a failure.
func TestUnitVerify(t *testing.T) {
	needTool(t, "systemd-analyze")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(unitPath(t))
	if err != nil {
		t.Fatal(err)
	}
	verify := func(unit []byte) string {
		dir := t.TempDir()
		p := filepath.Join(dir, "camwarden.service")
		if err := os.WriteFile(p, bytes.ReplaceAll(unit, []byte("/usr/bin/camwarden"), []byte(self)), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("systemd-analyze", "verify", p)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Sprintf("%v: %s", err, out)
		}
		return string(out)
	}
	if out := verify(orig); out != "" {
		t.Errorf("systemd-analyze verify complains:\n%s", out)
	}
	// The check above must be able to fail: a misspelt key has to show.
	if out := verify(bytes.Replace(orig, []byte("ProtectHome=yes"), []byte("ProtectHomme=yes"), 1)); !strings.Contains(out, "ProtectHomme") {
		t.Errorf("verify did not report a misspelt key; output %q", out)
	}

	// systemd's own exposure score (0 = locked down, 10 = none); the
	// capture needs raw sockets, so it cannot be perfect.
	dir := t.TempDir()
	p := filepath.Join(dir, "camwarden.service")
	if err := os.WriteFile(p, bytes.ReplaceAll(orig, []byte("/usr/bin/camwarden"), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("systemd-analyze", "security", "--offline=yes", p).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for camwarden.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in systemd-analyze security output:\n%s", out)
	}
	if x, _ := strconv.ParseFloat(string(m[1]), 64); x > 3.0 {
		t.Errorf("exposure level %.1f, want at most 3.0:\n%s", x, out)
	}
	t.Logf("systemd-analyze security: exposure %s", m[1])
}

var built struct {
	once sync.Once
	dir  string
	debs []Deb
	err  error
}

// buildDebs builds both packages once per test binary.
func buildDebs(t *testing.T) []Deb {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not cross-compiling the packages")
	}
	needTool(t, "dpkg-deb")
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "camwarden-debtest-")
		if built.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		var log bytes.Buffer
		start := time.Now()
		built.debs, built.err = Build(ctx, Options{Version: testVersion, OutDir: built.dir, Log: &log,
			MTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
		t.Logf("built %d packages in %v", len(built.debs), time.Since(start).Round(time.Millisecond))
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	if len(built.debs) != len(Arches) {
		t.Fatalf("built %d packages, want %d", len(built.debs), len(Arches))
	}
	return built.debs
}

func TestDebInfo(t *testing.T) {
	for _, d := range buildDebs(t) {
		t.Logf("%s: %d bytes (%.2f MiB)", filepath.Base(d.Path), d.Size, float64(d.Size)/(1<<20))
		if want := fmt.Sprintf("camwarden_%s_%s.deb", testDebVersion, d.Arch.Deb); filepath.Base(d.Path) != want {
			t.Errorf("package file %s, want %s", filepath.Base(d.Path), want)
		}
		fields := map[string]string{
			"Package":      "camwarden",
			"Architecture": d.Arch.Deb,
			"Version":      testDebVersion,
			"Depends":      "adduser",
			"Pre-Depends":  "",
			"Recommends":   "systemd",
			"Maintainer":   DefaultMaintainer,
			"Section":      "net",
			"Priority":     "optional",
		}
		for f, want := range fields {
			if got := dpkgDeb(t, "--field", d.Path, f); got != want {
				t.Errorf("%s: %s = %q, want %q", d.Arch.Deb, f, got, want)
			}
		}
		ctrl := t.TempDir()
		dpkgDeb(t, "--control", d.Path, ctrl)
		b, err := os.ReadFile(filepath.Join(ctrl, "conffiles"))
		if err != nil || strings.TrimSpace(string(b)) != "/etc/camwarden/camwarden.yaml" {
			t.Errorf("%s: conffiles = %q, %v; want exactly /etc/camwarden/camwarden.yaml", d.Arch.Deb, b, err)
		}
		root, _ := FindRoot(".")
		for _, s := range []string{"postinst", "prerm", "postrm"} {
			got, err := os.ReadFile(filepath.Join(ctrl, s))
			if err != nil {
				t.Errorf("%s: no %s: %v", d.Arch.Deb, s, err)
				continue
			}
			want, _ := os.ReadFile(filepath.Join(root, "scripts/package/debian", s))
			if !bytes.Equal(got, want) {
				t.Errorf("%s: %s differs from scripts/package/debian/%s", d.Arch.Deb, s, s)
			}
			if st, _ := os.Stat(filepath.Join(ctrl, s)); st.Mode().Perm() != 0o755 {
				t.Errorf("%s: %s mode %v, want 0755", d.Arch.Deb, s, st.Mode().Perm())
			}
		}
		if _, err := os.Stat(filepath.Join(ctrl, "preinst")); err == nil {
			t.Errorf("%s: unexpected preinst", d.Arch.Deb)
		}
	}
}

func TestDebContents(t *testing.T) {
	for _, d := range buildDebs(t) {
		// dpkg-deb --contents is tar -tv: "mode owner/group size date time path".
		var got []string
		for _, line := range strings.Split(dpkgDeb(t, "--contents", d.Path), "\n") {
			f := strings.Fields(line)
			if len(f) < 6 {
				continue
			}
			got = append(got, f[0]+" "+f[1]+" "+f[5])
		}
		sort.Strings(got)
		want := []string{
			"-rw-r----- root/root ./etc/camwarden/camwarden.yaml",
			"-rw-r--r-- root/root ./lib/systemd/system/camwarden.service",
			"-rwxr-xr-x root/root ./usr/bin/camwarden",
			"drwxr-xr-x root/root ./etc/",
			"drwxr-xr-x root/root ./etc/camwarden/",
			"drwxr-xr-x root/root ./lib/",
			"drwxr-xr-x root/root ./lib/systemd/",
			"drwxr-xr-x root/root ./lib/systemd/system/",
			"drwxr-xr-x root/root ./usr/",
			"drwxr-xr-x root/root ./usr/bin/",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s contents:\n%s\nwant:\n%s", d.Arch.Deb, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}

		x := t.TempDir()
		dpkgDeb(t, "-x", d.Path, x)
		conf, _ := os.ReadFile(filepath.Join(x, "etc/camwarden/camwarden.yaml"))
		if !bytes.Equal(conf, config.Sample()) {
			t.Errorf("%s: packaged config is not the sample", d.Arch.Deb)
		}
		unit, _ := os.ReadFile(filepath.Join(x, "lib/systemd/system/camwarden.service"))
		if orig, _ := os.ReadFile(unitPath(t)); !bytes.Equal(unit, orig) {
			t.Errorf("%s: packaged unit differs from scripts/systemd/camwarden.service", d.Arch.Deb)
		}
		checkBinary(t, d.Arch, filepath.Join(x, "usr/bin/camwarden"))
	}
}

// checkBinary reads the packaged binary's ELF header and Go build info: the
// right machine, static, stripped, GOARM=6 on armhf, and the version stamp.
func checkBinary(t *testing.T, a Arch, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", a.Deb, err)
	}
	defer f.Close()
	machine, class := elf.EM_AARCH64, elf.ELFCLASS64
	if a.GOARCH == "arm" {
		machine, class = elf.EM_ARM, elf.ELFCLASS32
	}
	if f.Machine != machine || f.Class != class || f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		t.Errorf("%s: binary is %v %v %v, want %v %v", a.Deb, f.Machine, f.Class, f.OSABI, machine, class)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: binary is dynamically linked (%v)", a.Deb, p.Type)
		}
	}
	if f.Section(".symtab") != nil {
		t.Errorf("%s: binary has a symbol table; -s -w did not apply", a.Deb)
	}
	if a.GOARCH == "arm" {
		// e_flags (offset 36 in a 32-bit header) carries the ARM EABI version.
		hdr := make([]byte, 52)
		r, err := os.Open(path)
		if err == nil {
			_, err = io.ReadFull(r, hdr)
			r.Close()
		}
		if flags := binary.LittleEndian.Uint32(hdr[36:]); err != nil || flags&0xff000000 != 0x05000000 {
			t.Errorf("%s: ELF flags %#x (%v), want EABI5", a.Deb, flags, err)
		}
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: build info: %v", a.Deb, err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	// -ldflags is not recorded under -trimpath; the stamp is looked for
	// below and printed by `camwarden version` in runEmulated.
	want := map[string]string{"GOOS": "linux", "GOARCH": a.GOARCH, "CGO_ENABLED": "0", "-trimpath": "true",
		"-tags": "nethttpomithttp2"} // the Makefile's APPLIANCE_TAGS
	if a.GOARM != "" {
		want["GOARM"] = a.GOARM
	}
	for k, v := range want {
		if settings[k] != v {
			t.Errorf("%s: build setting %s = %q, want %q", a.Deb, k, settings[k], v)
		}
	}
	if bi.Path != ModulePath+"/firmware/cmd/camwarden" {
		t.Errorf("%s: binary is %s", a.Deb, bi.Path)
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Contains(b, []byte(testVersion)) {
		t.Errorf("%s: version %q is not stamped into the binary (%v)", a.Deb, testVersion, err)
	}
	runEmulated(t, a, path)
}

// runEmulated runs the packaged binary under qemu-user when it is installed:
// it must start on the target core, print the stamped version, and print the
// same sample that the package installs.
func runEmulated(t *testing.T, a Arch, path string) {
	t.Helper()
	qemu, args := "qemu-aarch64-static", []string{}
	if a.GOARCH == "arm" {
		// The Pi Zero/1 core: an ARMv7-only instruction faults here.
		qemu, args = "qemu-arm-static", []string{"-cpu", "arm1176"}
	}
	if _, err := exec.LookPath(qemu); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (qemu-user-static); required under CI", qemu)
		}
		t.Logf("%s not installed; not running the %s binary", qemu, a.Deb)
		return
	}
	out, err := exec.Command(qemu, append(args, path, "version")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), testVersion) {
		t.Errorf("%s: camwarden version under %s: %v\n%s", a.Deb, qemu, err, out)
	}
	out, err = exec.Command(qemu, append(args, path, "config", "sample")...).Output()
	if err != nil || !bytes.Equal(out, config.Sample()) {
		t.Errorf("%s: camwarden config sample under %s differs from the packaged config (err %v)", a.Deb, qemu, err)
	}
	conf := filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(path))), "etc/camwarden/camwarden.yaml")
	out, err = exec.Command(qemu, append(args, path, "config", "check", "-config", conf)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "valid") {
		t.Errorf("%s: camwarden config check of the packaged config: %v\n%s", a.Deb, err, out)
	}
}

func dpkgDeb(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("dpkg-deb %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimRight(string(out), "\n")
}

// needTool skips when a tool is missing, except under CI where every check
// must run.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed; required under CI (scripts/deps.sh installs it)", name)
		}
		t.Skipf("%s not installed (scripts/deps.sh installs it)", name)
	}
}

// overlayScript runs as root in a private mount namespace (unshare -m): it
// lays a throwaway overlay over / and chroots into it, so dpkg, adduser and
// the maintainer scripts run for real while every change lands in the
// overlay's upper directory and vanishes with the namespace.
const overlayScript = `set -eu
u=$1/upper w=$1/work m=$1/merged deb=$2
mkdir -p "$u" "$w" "$m"
mount -t overlay overlay -o "lowerdir=/,upperdir=$u,workdir=$w" "$m"
mount --rbind /dev "$m/dev"
mount -t proc proc "$m/proc"
mount -t tmpfs tmpfs "$m/run"
mount -t tmpfs tmpfs "$m/tmp"
cp "$deb" "$m/tmp/camwarden.deb"
exec chroot "$m" /bin/sh -s <<'INNER'
set -eu
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
state() {
	echo "step=$1"
	if e=$(getent passwd camwarden); then echo "user=$(echo "$e" | cut -d: -f6,7)"; echo "uid=$(echo "$e" | cut -d: -f3)"; else echo user=none; fi
	getent group camwarden >/dev/null && echo group=camwarden || echo group=none
	id -nG camwarden 2>/dev/null | tr ' ' '\n' | grep -qx gpio && echo gpio=yes || echo gpio=no
	for p in /usr/bin/camwarden /lib/systemd/system/camwarden.service /etc/camwarden /etc/camwarden/camwarden.yaml /var/lib/camwarden /etc/camwarden/appliance-id; do
		echo "stat:$p=$(stat -c '%A %U %G' "$p" 2>/dev/null || echo none)"
	done
	echo "id=$(cat /etc/camwarden/appliance-id 2>/dev/null || echo none)"
	echo "edited=$(grep -c '^# local edit' /etc/camwarden/camwarden.yaml 2>/dev/null || true)"
	echo "override=$(dpkg-statoverride --list /etc/camwarden/camwarden.yaml || echo none)"
	echo "wants=$(readlink /etc/systemd/system/multi-user.target.wants/camwarden.service || echo none)"
	echo "mask=$(readlink /etc/systemd/system/camwarden.service || echo none)"
	echo "status=$(dpkg-query -W -f='${Status}' camwarden 2>/dev/null || echo not-installed)"
}
getent group gpio >/dev/null || groupadd --system gpio
state before
dpkg --force-architecture -i /tmp/camwarden.deb >&2
state install
echo '# local edit' >>/etc/camwarden/camwarden.yaml
dpkg --force-architecture -i /tmp/camwarden.deb >&2
state upgrade
dpkg -r camwarden >&2
state remove
dpkg -P camwarden >&2
state purge
INNER
`

// TestInstallRemovePurge installs the arm64 package into a throwaway overlay
// of this machine's root and checks what the maintainer scripts did at each
// step: install, upgrade over a locally edited config, remove, purge. The
// binary is never run (the machine is not arm64) and systemd is not PID 1
// here, so starting, stopping and the unit's sandbox are not exercised;
// enabling (the wants symlink) and masking are.
func TestInstallRemovePurge(t *testing.T) {
	debs := buildDebs(t)
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (mount namespace, overlay, chroot); required under CI")
		}
		t.Skip("needs root: installs the package into an overlay of / in a private mount namespace")
	}
	needTool(t, "unshare")
	needTool(t, "dpkg")
	needTool(t, "adduser")
	dir := t.TempDir()
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", overlayScript, "sh", dir, debs[0].Path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("install in overlay: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	steps := map[string]map[string]string{}
	var cur map[string]string
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if k == "step" {
			cur = map[string]string{}
			steps[v] = cur
			continue
		}
		cur[k] = v
	}
	t.Logf("dpkg said:\n%s", stderr.String())
	expect := func(step, key, want string) {
		t.Helper()
		if got, ok := steps[step][key]; !ok || got != want {
			t.Errorf("after %s: %s = %q, want %q", step, key, got, want)
		}
	}
	for _, k := range []string{"user", "group"} {
		expect("before", k, "none")
	}
	expect("before", "status", "not-installed")

	for _, step := range []string{"install", "upgrade"} {
		expect(step, "status", "install ok installed")
		expect(step, "user", "/var/lib/camwarden:/usr/sbin/nologin")
		expect(step, "group", "camwarden")
		expect(step, "gpio", "yes")
		expect(step, "stat:/usr/bin/camwarden", "-rwxr-xr-x root root")
		expect(step, "stat:/lib/systemd/system/camwarden.service", "-rw-r--r-- root root")
		expect(step, "stat:/etc/camwarden", "drwxr-xr-x root root")
		expect(step, "stat:/etc/camwarden/camwarden.yaml", "-rw-r----- root camwarden")
		expect(step, "stat:/var/lib/camwarden", "drwxr-x--- camwarden camwarden")
		expect(step, "stat:/etc/camwarden/appliance-id", "-rw-r--r-- root root")
		expect(step, "override", "root camwarden 640 /etc/camwarden/camwarden.yaml")
		expect(step, "wants", "/lib/systemd/system/camwarden.service")
		expect(step, "mask", "none")
	}
	if uid, err := strconv.Atoi(steps["install"]["uid"]); err != nil || uid >= 1000 {
		t.Errorf("camwarden uid %q is not a system uid", steps["install"]["uid"])
	}
	id := steps["install"]["id"]
	if !regexp.MustCompile(`^cw-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("appliance-id %q, want cw- and 12 hex digits", id)
	}
	if len(id) > 63 || !regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`).MatchString(id) {
		t.Errorf("appliance-id %q would not pass config's appliance_id rule", id)
	}
	expect("upgrade", "id", id) // made once, kept
	expect("upgrade", "edited", "1")

	// remove: the program goes, configuration and state stay, the unit is masked.
	expect("remove", "status", "deinstall ok config-files")
	expect("remove", "stat:/usr/bin/camwarden", "none")
	expect("remove", "stat:/lib/systemd/system/camwarden.service", "none")
	expect("remove", "stat:/etc/camwarden/camwarden.yaml", "-rw-r----- root camwarden")
	expect("remove", "edited", "1")
	expect("remove", "stat:/var/lib/camwarden", "drwxr-x--- camwarden camwarden")
	expect("remove", "id", id)
	expect("remove", "user", "/var/lib/camwarden:/usr/sbin/nologin")
	expect("remove", "mask", "/dev/null")

	// purge: nothing of camwarden is left.
	expect("purge", "status", "not-installed")
	for _, k := range []string{"stat:/usr/bin/camwarden", "stat:/etc/camwarden", "stat:/etc/camwarden/camwarden.yaml",
		"stat:/var/lib/camwarden", "stat:/etc/camwarden/appliance-id", "id", "override", "wants", "mask", "user", "group"} {
		expect("purge", k, "none")
	}
}
