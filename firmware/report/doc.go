// Package report publishes what the appliance knows: retained device state,
// ordered events and appliance status. Reporter is the interface the app
// uses; Log writes to slog (the default, and the demo's); report/mqtt speaks
// to the central broker with a durable outbox.
//
// Reporters never decide anything: they carry state built elsewhere.
package report
