// Package labrelay is a board.Relay for the namespace lab: Cut(true) sets a
// named link down inside a named network namespace, Cut(false) sets it up.
// With the appliance's uplink veth as that link, a cut is provable by
// traffic: hosts on the camera VLAN really lose the core network.
//
// It must only ever touch links inside namespaces the lab created; it never
// switches a link in the caller's own namespace, so it cannot take down the
// machine's real interfaces. Linux only; elsewhere Open returns
// ErrUnsupported.
package labrelay

import "errors"

// ErrUnsupported is returned by Open on systems without network namespaces.
var ErrUnsupported = errors.New("labrelay: network namespaces are only supported on Linux")
