package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/camwarden/camwarden/board"
	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/ota/update"
)

// RunOptions are what the daemon takes besides its configuration.
type RunOptions struct {
	Board    board.Board     // overrides cfg.Board (tests)
	BoardIO  BoardIO         // where a console board draws and reads presses
	Reporter report.Reporter // overrides the configured reporting (tests); no broker link
	// Uplink overrides the configured broker link (tests fake it): with
	// it, signed policies, commands, OTA and telemetry work as with a
	// broker. It takes precedence over Reporter.
	Uplink Uplink
	Log    *slog.Logger
	View   io.Writer // when set, the live inventory is redrawn here every second (demo)
	Now    func() time.Time
	// Update is what update.Boot decided at start (which slot, on trial?).
	Update update.Decision
}

// ErrRestart is returned by Run when it stopped so that main can relaunch
// the firmware slot an update switched to (update.Relaunch).
var ErrRestart = errors.New("app: restart requested to switch firmware slot")

// Run is the appliance daemon. It starts the stages in order (each in its
// own stage_*.go file), then runs until ctx ends (clean shutdown) or a
// component fails. The order is the safety argument: the relay's persisted
// state is re-applied (enforcer) and the stored signed policy is in force
// (policy) before anything is captured or probed.
func Run(ctx context.Context, cfg config.Config, o RunOptions) error {
	d, err := newDaemon(ctx, cfg, o)
	if err != nil {
		return err
	}
	defer d.close()
	for _, s := range []struct {
		name  string
		start func() error
	}{
		{"board", d.startBoard},
		{"reporting", d.startReporting},
		{"enforcer", d.startEnforcer},
		{"inventory", d.startInventory},
		{"policy", d.startPolicy},
		{"watchdog", d.startWatchdog},
		{"capture", d.startCapture},
		{"probing", d.startProbing},
		{"ota", d.startOTA},
	} {
		if err := s.start(); err != nil {
			return d.abort(err)
		}
	}
	return d.run()
}

// ApplianceIDFile holds the id the .deb's postinst generated.
const ApplianceIDFile = "/etc/camwarden/appliance-id"

// ApplianceID is the configured id, else the packaged one, else one derived from /etc/machine-id so
// that it is stable across reinstalls of the same card but not guessable
// from the machine id itself.
func ApplianceID(cfg config.Config) string {
	if cfg.ApplianceID != "" {
		return cfg.ApplianceID
	}
	// The package's postinst writes a random id here once.
	if b, err := os.ReadFile(ApplianceIDFile); err == nil {
		c := config.Default()
		c.ApplianceID = strings.TrimSpace(string(b))
		if c.ApplianceID != "" && c.Validate() == nil {
			return c.ApplianceID
		}
	}
	if b, err := os.ReadFile("/etc/machine-id"); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		sum := sha256.Sum256([]byte("camwarden:" + strings.TrimSpace(string(b))))
		return "cw-" + hex.EncodeToString(sum[:6])
	}
	h, _ := os.Hostname()
	return "cw-" + strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, h)
}
