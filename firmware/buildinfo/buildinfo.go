// Package buildinfo carries the version stamped into binaries at link time
// (make build/cross pass -ldflags -X .../buildinfo.Version=...).
package buildinfo

// Version is the release or git description of the build; "dev" when not stamped.
var Version = "dev"
