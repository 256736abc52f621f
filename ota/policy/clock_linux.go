package policy

import "golang.org/x/sys/unix"

// SystemClockSynced reports whether the kernel considers the clock
// synchronised (NTP or chrony has set it and keeps it): adjtimex returns
// TIME_ERROR while STA_UNSYNC is set, which is the state a board without a
// real-time clock boots in.
func SystemClockSynced() bool {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	return err == nil && state != unix.TIME_ERROR
}
