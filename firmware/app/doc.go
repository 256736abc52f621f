// Package app wires the appliance together: capture and probes feed
// observations into the inventory, classify turns each device's facts into a
// verdict, enforce applies the policy to the board, and report publishes the
// result. It owns lifecycles (errgroup, signals, shutdown order) and the
// scheduling of active probes, and nothing else: every decision lives in the
// package that owns it.
package app
