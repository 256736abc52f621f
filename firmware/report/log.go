package report

import (
	"context"
	"log/slog"
)

// Log is a Reporter that writes everything to a slog.Logger.
type Log struct{ L *slog.Logger }

func (r Log) Device(_ context.Context, d Device) error {
	r.L.Info("device", "mac", d.MAC, "ip", d.IP, "maker", d.Maker, "brand", d.Brand, "model", d.Model,
		"confidence", d.Confidence, "flagged", d.Flagged, "action", d.Action)
	return nil
}

func (r Log) Forget(_ context.Context, mac string) error {
	r.L.Info("device forgotten", "mac", mac)
	return nil
}

func (r Log) Event(_ context.Context, e Event) error {
	r.L.Info("event", "type", e.Type, "mac", e.MAC, "data", e.Data)
	return nil
}

func (r Log) Status(_ context.Context, s Status) error {
	r.L.Info("status", "online", s.Online, "devices", s.Devices, "flagged", s.Flagged, "uplink_cut", s.UplinkCut,
		"policy", s.PolicyVersion)
	return nil
}

func (r Log) Close() error { return nil }
