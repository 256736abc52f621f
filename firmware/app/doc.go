// Package app wires the appliance together: capture and probes feed
// observations into the inventory, classify turns each device's facts into a
// verdict, enforce applies the policy to the board, and report publishes the
// result. It owns lifecycles (errgroup, signals, shutdown order) and the
// scheduling of active probes, and nothing else: every decision lives in the
// package that owns it.
//
// The daemon (Run, run.go) is built in named stages, one file each, started
// in this order:
//
//	stage_board.go      board and the start-up LED sweep
//	stage_reporting.go  broker link (Uplink) or log reporter; status, telemetry, broker LED
//	stage_enforcer.go   enforcer with the local policy; re-applies a persisted cut first
//	stage_inventory.go  persisted inventory and the pipeline (pipeline.go, identity.go)
//	stage_policy.go     the policy snapshot (Settings) and signed policies and commands (policy.go)
//	stage_watchdog.go   systemd/hardware watchdog over the enforcer and pipeline loops
//	stage_capture.go    one capture per configured interface
//	stage_probing.go    the scheduler (scheduler.go), built as a survey builds it (survey.go)
//	stage_ota.go        signed firmware updates (ota.go)
//
// daemon.go holds what the stages build; a later stage may use what an
// earlier one built, never the reverse. Everything a signed policy changes
// (rules, signatures, probe settings, version) is one Settings snapshot
// swapped at once. The broker link is an interface (Uplink) that
// *mqtt.Client implements and reporttest.Uplink fakes, so policies,
// commands, OTA and telemetry are tested through Run.
package app
