// Package lab builds camera-VLAN labs out of Linux network namespaces, for
// the integration tests and `make demo`.
//
// The pieces: Net is a bridge namespace standing for the camera switch, and
// Host a namespace attached to it by a veth pair, with helpers to run commands
// or Go code inside (NSCommand, InNS). Up builds a whole lab from a Spec
// (lab.yaml, lab50.yaml, or any file of the same shape):
//
//	<prefix>-sw    bridge br0 (IGMP snooping off unless asked, LLDP forwarded)
//	<prefix>-gw    gateway: eth0 198.18.1.1/24 on the bridge, "uplink" 198.18.2.1/24, forwarding on
//	<prefix>-core  the core network host 198.18.2.10/24, reachable only through the uplink
//	<prefix>-app   where the appliance runs: 198.18.1.2/24 on the bridge
//	<prefix>-<dev> one per emulated device: 198.18.1.10 upwards, MAC from its
//	               profile's OUI, default route via the gateway, one camsim process
//
// Setting the gateway's uplink down (what board/labrelay does) cuts every
// camera off from the core network. Up records namespaces, PIDs and the
// expected verdict of every device in a state file under
// /run/camwarden-lab/<prefix>/ before it creates anything, so Down works from
// a fresh process after a crash and is safe to run twice. Lab.Devices is the
// ground truth tests compare the appliance's verdicts against.
//
// It must never touch what it did not create: links are made inside lab
// namespaces (never the machine's own), processes are stopped by recorded PID
// and start time or because they run in a lab namespace (never by name), and
// every address is in 198.18.0.0/15; Ping refuses any other.
package lab
