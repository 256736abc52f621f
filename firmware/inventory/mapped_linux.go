package inventory

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// releaseMapped drops this process's mappings of the database file's pages
// (madvise MADV_DONTNEED on bbolt's read-only shared mmap). bbolt reads
// every page through the mmap, so after loading or flushing 5,000 devices
// about 10 MB of the file counted in the daemon's RSS for good. The pages
// stay in the page cache, where the kernel can reclaim them; a later read
// maps them again from there (a minor fault), and as the mapping is
// shared, file-backed and read-only nothing is lost.
func releaseMapped(path string) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// start-end perms offset dev inode path
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[5] != abs || !strings.HasPrefix(f[1], "r") || strings.Contains(f[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}
