// Package snmp asks a device's SNMP v2c agent (UDP 161) for sysDescr.0 and
// sysObjectID.0. The enterprise number inside sysObjectID is assigned by
// IANA to one organisation (Hikvision 39165, Dahua 37496, Huawei 2011, ZTE
// 3902, Hytera 40297), which names the maker of the firmware even when its
// web pages are blank. It also holds the small v2c agent camsim emulates
// devices with.
//
// SNMP is only spoken with a community the installer configured: the
// prober never guesses one (not even "public"), and with none configured it
// sends nothing. A community is a password: it never appears in a log line,
// an error or a fact. The prober sends one GET per configured community,
// reads a bounded number of bounded datagrams from the target only, and
// never sends SET, GETNEXT or a walk. Deciding a maker is probes/classify's
// job.
package snmp
