// Package lab builds camera-VLAN labs out of Linux network namespaces: a
// bridge namespace standing for the camera switch, one namespace per host
// attached to it by a veth pair, and helpers to run commands or Go code inside
// a host. The full lab (spec file, emulated cameras, core network, uplink,
// appliance) is built on these pieces by Up.
//
// Everything it creates is named with the caller's prefix and removed by
// Close, which is safe to call twice. It must never touch an interface it did
// not create: all commands are scoped with `ip -n`, and addresses come from
// 198.18.0.0/15.
package lab
