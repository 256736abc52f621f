// Package realworld is camwarden's corpus of identification strings seen on
// real devices: web server banners, login realms, page titles, RTSP servers,
// ONVIF and UPnP manufacturer strings, TLS subjects, mDNS names, DHCP vendor
// classes, telnet and FTP banners, each with the public place it was
// published. Load returns the embedded entries; the classify tests expect
// every entry to be named right on its own, and the lab replay serves each
// entry from an emulated device.
//
// # File format
//
// testdata/<family>.yaml, one file per family of makers (hikvision.yaml,
// dahua.yaml, huawei.yaml, zte.yaml, hytera.yaml, hisilicon.yaml,
// nonrestricted.yaml, generic.yaml ...):
//
//	# what this file covers
//	entries:
//	  - id: hikvision.http-server.app-webs   # unique across files: [a-z0-9][a-z0-9._-]{0,79}
//	    facts:                                # 1 to 4 facts of ONE reply, as the device sends them
//	      http.server: "App-webs/"
//	    maker: hikvision                      # expected maker id; "" when the strings name no maker
//	    brand: ""                             # expected brand, when it differs from the maker
//	    component: ""                         # expected component (hisilicon)
//	    source: "Debian nmap-common 7.93+dfsg1-1, nmap-service-probes: ..."
//
// Decoding is strict: an unknown key, a duplicate id, a fact key outside
// AllowedKeys or an entry without a source is an error.
//
// # Adding an entry
//
// Add a string only when it was published from a real device, and write it
// as the device sends it: a realm without its quotes, a Server header's
// value alone, a title without the tags. The source must let a reviewer find
// the string again:
//   - a Debian package with its version and the file and line that carry it
//     (for nmap-common: "nmap-service-probes, probe GetRequest, match http
//     m|...| p/Vendor camera httpd/"); where that line is a pattern, write a
//     realistic value it matches and say "literal made from the pattern";
//   - or a public repository path (rapid7/recog xml/http_servers.xml, with the
//     fingerprint's description), or an issue or pull request thread
//     (owner/repo#number) where a user pasted the device's reply.
//
// Where no repository path is known, a file found with the project's search
// tool may be cited by its id ("find_string id 123"): weaker, because a
// reviewer needs the same tool to check it, so prefer nmap or recog.
//
// Write telnet.banner and ftp.banner as the probers report them: printable
// text with white space collapsed to single spaces, and for FTP the text of
// the 220 reply without the code ("(vsFTPd 3.0.3)"). Realms go without
// quotes, titles without tags, Server values without "Server: ".
//
// A hearsay list of "brands that relabel X" is not a source for a string;
// it may support a weak OEM rule, never a corpus entry. Generic strings
// (Boa, lighttpd, GoAhead) go to generic.yaml with maker "" so that no rule
// can start flagging them unnoticed. Run `go test ./probes/classify/` after
// adding: the score table in the test log names every wrong entry.
package realworld
