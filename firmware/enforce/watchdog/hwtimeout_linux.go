package watchdog

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// hardwareTimeout asks the watchdog driver how long it waits for a
// keepalive before it resets the machine; 0 when it does not say.
func hardwareTimeout(f *os.File) time.Duration {
	s, err := unix.IoctlGetInt(int(f.Fd()), unix.WDIOC_GETTIMEOUT)
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}
