package packaging

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/camwarden/camwarden/firmware/config"
)

// Arch is one Debian architecture we ship and the Go target that builds it.
type Arch struct {
	Deb    string // Debian architecture name: arm64, armhf
	GOARCH string
	GOARM  string // "" unless GOARCH is arm
}

// Arches are the packages `make deb` builds. armhf carries a GOARM=6 binary:
// Raspberry Pi OS calls its ARMv6 userland armhf, and an ARMv6 binary also
// runs on every ARMv7 armhf system, so one package covers Pi Zero/1 to 3.
var Arches = []Arch{
	{Deb: "arm64", GOARCH: "arm64"},
	{Deb: "armhf", GOARCH: "arm", GOARM: "6"},
}

// ModulePath is the module the firmware binary is built from; Build refuses
// any other root.
const ModulePath = "github.com/camwarden/camwarden"

// Options says what to build and where.
type Options struct {
	Root       string    // repository root; "" = the enclosing module of the working directory
	Version    string    // stamped into buildinfo.Version (git describe output); required
	OutDir     string    // where the .deb files go; created if missing
	Arches     []string  // Debian architecture names; nil = all of Arches
	Go         string    // go command; "" = "go"
	Maintainer string    // "" = DefaultMaintainer
	MTime      time.Time // file times inside the package; zero = SOURCE_DATE_EPOCH, else the last commit, else now
	Log        io.Writer // progress and the tools' output; nil = discarded
}

// DefaultMaintainer fills the control file's Maintainer field.
const DefaultMaintainer = "camwarden maintainers <camwarden@example.invalid>"

// Deb is one built package.
type Deb struct {
	Arch    Arch
	Version string // the Debian version in the control file
	Path    string
	Size    int64
}

//go:embed nfpm.yaml.tmpl
var nfpmTemplate string

var tmpl = template.Must(template.New("nfpm").Funcs(template.FuncMap{
	// A JSON string is a valid YAML scalar whatever the path or version holds.
	"q": func(s string) (string, error) { b, err := json.Marshal(s); return string(b), err },
}).Parse(nfpmTemplate))

// Build cross-compiles the firmware and writes one .deb per architecture.
func Build(ctx context.Context, o Options) ([]Deb, error) {
	if o.Version == "" {
		return nil, errors.New("package: no version")
	}
	debVersion, err := DebVersion(o.Version)
	if err != nil {
		return nil, err
	}
	if o.Go == "" {
		o.Go = "go"
	}
	if o.Maintainer == "" {
		o.Maintainer = DefaultMaintainer
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Root == "" {
		if o.Root, err = FindRoot("."); err != nil {
			return nil, err
		}
	}
	// Tools run from other directories get the root's paths.
	if o.Root, err = filepath.Abs(o.Root); err != nil {
		return nil, err
	}
	arches, err := selectArches(o.Arches)
	if err != nil {
		return nil, err
	}
	if o.MTime.IsZero() {
		o.MTime = defaultMTime(ctx, o.Root)
	}
	if o.OutDir == "" {
		o.OutDir = filepath.Join(o.Root, "dist")
	}
	if o.OutDir, err = filepath.Abs(o.OutDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("package: %w", err)
	}
	work, err := os.MkdirTemp("", "camwarden-deb-")
	if err != nil {
		return nil, fmt.Errorf("package: %w", err)
	}
	defer os.RemoveAll(work)

	// The same tree's sample is what `camwarden config sample` prints.
	confPath := filepath.Join(work, "camwarden.yaml")
	if err := os.WriteFile(confPath, config.Sample(), 0o644); err != nil {
		return nil, fmt.Errorf("package: %w", err)
	}
	tool := filepath.Join(work, "nfpmdeb")
	if err := run(ctx, o, filepath.Join(o.Root, "scripts/package/nfpmdeb"), hostEnv(),
		o.Go, "build", "-o", tool, "."); err != nil {
		return nil, fmt.Errorf("package: build nfpmdeb: %w", err)
	}

	var debs []Deb
	for _, a := range arches {
		dir := filepath.Join(work, a.Deb)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("package: %w", err)
		}
		bin := filepath.Join(dir, "camwarden")
		env := append(hostEnv(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+a.GOARCH, "GOARM="+a.GOARM)
		fmt.Fprintf(o.Log, "package: building camwarden %s for %s\n", o.Version, a.Deb)
		// nethttpomithttp2 as in the Makefile's APPLIANCE_TAGS: camwarden
		// never speaks HTTP/2 but would link it (327 KB on arm64).
		if err := run(ctx, o, o.Root, env, o.Go, "build", "-trimpath", "-tags", "nethttpomithttp2",
			"-ldflags", "-s -w -X "+ModulePath+"/firmware/buildinfo.Version="+o.Version,
			"-o", bin, "./firmware/cmd/camwarden"); err != nil {
			return nil, fmt.Errorf("package: build camwarden for %s: %w", a.Deb, err)
		}
		var cfg bytes.Buffer
		err := tmpl.Execute(&cfg, map[string]string{
			"Arch":       a.Deb,
			"Version":    debVersion,
			"Maintainer": o.Maintainer,
			"MTime":      o.MTime.UTC().Format(time.RFC3339),
			"Binary":     bin,
			"Unit":       filepath.Join(o.Root, "scripts/systemd/camwarden.service"),
			"Config":     confPath,
			"Postinst":   filepath.Join(o.Root, "scripts/package/debian/postinst"),
			"Prerm":      filepath.Join(o.Root, "scripts/package/debian/prerm"),
			"Postrm":     filepath.Join(o.Root, "scripts/package/debian/postrm"),
		})
		if err != nil {
			return nil, fmt.Errorf("package: nfpm config for %s: %w", a.Deb, err)
		}
		cfgPath := filepath.Join(dir, "nfpm.yaml")
		if err := os.WriteFile(cfgPath, cfg.Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("package: %w", err)
		}
		target := filepath.Join(o.OutDir, fmt.Sprintf("camwarden_%s_%s.deb", debVersion, a.Deb))
		if err := run(ctx, o, dir, hostEnv(), tool, "-config", cfgPath, "-target", target); err != nil {
			return nil, fmt.Errorf("package: nfpm for %s: %w", a.Deb, err)
		}
		st, err := os.Stat(target)
		if err != nil {
			return nil, fmt.Errorf("package: %w", err)
		}
		fmt.Fprintf(o.Log, "package: %s (%.2f MiB)\n", target, float64(st.Size())/(1<<20))
		debs = append(debs, Deb{Arch: a, Version: debVersion, Path: target, Size: st.Size()})
	}
	return debs, nil
}

func selectArches(names []string) ([]Arch, error) {
	if len(names) == 0 {
		return Arches, nil
	}
	var out []Arch
	for _, n := range names {
		found := false
		for _, a := range Arches {
			if a.Deb == n {
				out, found = append(out, a), true
			}
		}
		if !found {
			return nil, fmt.Errorf("package: unknown architecture %q (have arm64, armhf)", n)
		}
	}
	return out, nil
}

// hostEnv is the environment minus anything that would retarget a host
// build (the nfpmdeb tool must run here) or put it in a workspace.
func hostEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "GOOS", "GOARCH", "GOARM", "GOARM64", "CGO_ENABLED", "GOWORK":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GOWORK=off")
}

func run(ctx context.Context, o Options, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(o.Log, &out), io.MultiWriter(o.Log, &out)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, tail(out.String(), 4000))
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// defaultMTime makes rebuilds of one commit byte-identical where it can.
func defaultMTime(ctx context.Context, root string) time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0)
		}
	}
	cmd := exec.CommandContext(ctx, "git", "log", "-1", "--format=%ct")
	cmd.Dir = root
	if b, err := cmd.Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			return time.Unix(n, 0)
		}
	}
	return time.Now()
}

// FindRoot walks up from dir to the directory whose go.mod declares
// ModulePath. The answer is relative when dir is ("../.."): the walk goes
// through "..", never through the absolute path, so it works for a process
// that may not search the checkout's ancestors, such as the unprivileged
// user scripts/test-arm.sh runs the tests as, in a checkout under /root.
func FindRoot(dir string) (string, error) {
	d := filepath.Clean(dir)
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && modRE.Match(b) {
			return d, nil
		}
		parent := filepath.Join(d, "..")
		if filepath.IsAbs(d) {
			parent = filepath.Dir(d)
		}
		here, err1 := os.Stat(d)
		up, err2 := os.Stat(parent)
		if err1 != nil || err2 != nil || os.SameFile(here, up) {
			// the file system root, or a directory we may not look past
			return "", fmt.Errorf("package: no go.mod for %s above %s", ModulePath, dir)
		}
		d = parent
	}
}

var modRE = regexp.MustCompile(`(?m)^module\s+` + regexp.QuoteMeta(ModulePath) + `\s*$`)

var (
	describeRE = regexp.MustCompile(`^(.*)-([0-9]+)-g([0-9a-f]{4,40})$`)
	debVerRE   = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)
)

// DebVersion turns a `git describe --tags --always --dirty` string into a
// Debian version that sorts the way releases should:
//
//	v1.2.3                -> 1.2.3
//	v1.2.3-rc1            -> 1.2.3~rc1            (before 1.2.3)
//	v1.2.3-4-gabc1234     -> 1.2.3+git4.gabc1234  (after 1.2.3)
//	abc1234-dirty, dev    -> 0~git.abc1234+dirty, 0~dev (before any release)
//
// The result has no '-', so dpkg never reads a Debian revision into it.
func DebVersion(v string) (string, error) {
	s := strings.TrimPrefix(strings.TrimSpace(v), "v")
	var extra []string
	s, dirty := strings.CutSuffix(s, "-dirty")
	if m := describeRE.FindStringSubmatch(s); m != nil {
		s = m[1]
		extra = append(extra, "git"+m[2], "g"+m[3])
	}
	if dirty {
		extra = append(extra, "dirty")
	}
	if s == "" {
		return "", fmt.Errorf("package: version %q is empty", v)
	}
	switch {
	case isHash(s):
		// `--always` without a tag: a bare abbreviated commit, which may
		// start with a digit but must sort before every release.
		s = "0~git." + s
	case s[0] >= '0' && s[0] <= '9':
		// The first '-' of a tag starts a pre-release (semver), which must
		// sort before the release: '~' does that in Debian.
		s = strings.Replace(s, "-", "~", 1)
	default:
		s = "0~" + s
	}
	s = sanitize(s)
	if len(extra) > 0 {
		s += "+" + strings.Join(extra, ".")
	}
	if !debVerRE.MatchString(s) || len(s) > 128 {
		return "", fmt.Errorf("package: version %q does not make a Debian version (got %q)", v, s)
	}
	return s, nil
}

// isHash says whether s is an abbreviated commit id (git abbreviates to at
// least 7 hex digits); a release tag has dots.
func isHash(s string) bool {
	if len(s) < 7 || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '+', r == '~':
			return r
		}
		return '.'
	}, s)
}
