// Package watchdog tells systemd, and optionally the hardware watchdog, that
// the appliance is alive, but only while it really is: registered health
// checks (capture still delivering, enforcement loop still turning) must all
// pass before each keepalive. A hung loop therefore stops the keepalives and
// systemd (WatchdogSec=) or the SoC watchdog restarts the appliance.
//
// It must not paper over failures: there is no "ping anyway" mode, and it
// never restarts anything itself.
package watchdog
