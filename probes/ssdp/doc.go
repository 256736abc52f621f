// Package ssdp speaks SSDP, the UPnP discovery protocol: HTTP-shaped
// datagrams (HTTPU) on UDP 1900 with the group 239.255.255.250. Devices answer
// M-SEARCH with their SERVER banner, LOCATION (the URL of a description XML
// naming manufacturer, model and serial), USN and ST, and announce themselves
// with NOTIFY.
//
// It owns the wire format both ways (Parse, BuildMSearch, BuildResponse,
// BuildNotify; ParseDescription, Description.Marshal), a passive Decoder for
// NOTIFYs and answers seen on the wire, an active Discoverer (multicast
// M-SEARCH on a Link) and Prober (unicast M-SEARCH to one host), both of which
// fetch the description only from the answering host's own address, bounded
// in size and time, and the Responder camsim uses to emulate a UPnP device.
//
// It reports what devices say (ssdp.*, upnp.* facts) and never decides. It
// must not follow a LOCATION to any other host (a device could point it at
// the core network) nor through a proxy or a redirect.
package ssdp
