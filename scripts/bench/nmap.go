package bench

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// MaxToolOutput bounds what is read from a reference tool's output.
const MaxToolOutput = 32 << 20

// nmapRun is the part of nmap's XML output (-oX) the benchmark reads.
type nmapRun struct {
	PreScripts []nmapScript `xml:"prescript>script"`
	Hosts      []nmapHost   `xml:"host"`
}

type nmapHost struct {
	Status struct {
		State string `xml:"state,attr"`
	} `xml:"status"`
	Addresses []struct {
		Addr   string `xml:"addr,attr"`
		Type   string `xml:"addrtype,attr"`
		Vendor string `xml:"vendor,attr"`
	} `xml:"address"`
	Hostnames []struct {
		Name string `xml:"name,attr"`
	} `xml:"hostnames>hostname"`
	Ports []struct {
		ID    int `xml:"portid,attr"`
		State struct {
			State string `xml:"state,attr"`
		} `xml:"state"`
		Service struct {
			Name       string   `xml:"name,attr"`
			Product    string   `xml:"product,attr"`
			Version    string   `xml:"version,attr"`
			ExtraInfo  string   `xml:"extrainfo,attr"`
			OSType     string   `xml:"ostype,attr"`
			DeviceType string   `xml:"devicetype,attr"`
			Hostname   string   `xml:"hostname,attr"`
			CPEs       []string `xml:"cpe"`
		} `xml:"service"`
		Scripts []nmapScript `xml:"script"`
	} `xml:"ports>port"`
	HostScripts []nmapScript `xml:"hostscript>script"`
	OSMatches   []struct {
		Name string `xml:"name,attr"`
	} `xml:"os>osmatch"`
}

type nmapScript struct {
	ID     string `xml:"id,attr"`
	Output string `xml:"output,attr"`
}

// NmapHost is what nmap said about one host, flattened to text for
// JudgeText: MAC vendor, service banners, OS guesses and script output,
// including the lines of a broadcast script (broadcast-wsdd-discover) that
// belong to the host.
type NmapHost struct {
	IP   netip.Addr
	MAC  string
	Up   bool
	Text string
}

// ParseNmapXML reads nmap -oX output (at most MaxToolOutput bytes) and
// returns the hosts by IP.
func ParseNmapXML(r io.Reader) (map[netip.Addr]*NmapHost, error) {
	var run nmapRun
	dec := xml.NewDecoder(io.LimitReader(r, MaxToolOutput))
	dec.Strict = false
	if err := dec.Decode(&run); err != nil {
		return nil, fmt.Errorf("nmap xml: %w", err)
	}
	out := map[netip.Addr]*NmapHost{}
	for _, h := range run.Hosts {
		var nh NmapHost
		var b strings.Builder
		for _, a := range h.Addresses {
			switch a.Type {
			case "ipv4", "ipv6":
				nh.IP, _ = netip.ParseAddr(a.Addr)
			case "mac":
				nh.MAC = strings.ToLower(a.Addr)
				fmt.Fprintf(&b, "mac vendor: %s\n", a.Vendor)
			}
		}
		if !nh.IP.IsValid() {
			continue
		}
		nh.Up = h.Status.State == "up"
		for _, hn := range h.Hostnames {
			fmt.Fprintf(&b, "hostname: %s\n", hn.Name)
		}
		for _, p := range h.Ports {
			s := p.Service
			fmt.Fprintf(&b, "port %d %s: %s %s %s %s %s %s %s %s\n", p.ID, p.State.State, s.Name, s.Product,
				s.Version, s.ExtraInfo, s.OSType, s.DeviceType, s.Hostname, strings.Join(s.CPEs, " "))
			for _, sc := range p.Scripts {
				fmt.Fprintf(&b, "script %s: %s\n", sc.ID, sc.Output)
			}
		}
		for _, sc := range h.HostScripts {
			fmt.Fprintf(&b, "script %s: %s\n", sc.ID, sc.Output)
		}
		for _, o := range h.OSMatches {
			fmt.Fprintf(&b, "os: %s\n", o.Name)
		}
		nh.Text = b.String()
		out[nh.IP] = &nh
	}
	// Broadcast scripts report before any host; their output lists hosts
	// by address, each followed by indented lines about it.
	for _, sc := range run.PreScripts {
		for ip, block := range splitByAddress(sc.Output) {
			h, ok := out[ip]
			if !ok {
				h = &NmapHost{IP: ip, Up: true}
				out[ip] = h
			}
			h.Text += "script " + sc.ID + ": " + block + "\n"
		}
	}
	return out, nil
}

// splitByAddress cuts script output into blocks, each starting at a line
// that is just an IP address and running to the next such line.
func splitByAddress(out string) map[netip.Addr]string {
	blocks := map[netip.Addr]string{}
	var cur netip.Addr
	for _, line := range strings.Split(out, "\n") {
		t := strings.TrimSpace(line)
		if a, err := netip.ParseAddr(t); err == nil {
			cur = a
			continue
		}
		if cur.IsValid() && t != "" {
			blocks[cur] += t + "\n"
		}
	}
	return blocks
}

// ParseArpScan reads arp-scan output (--plain or not): lines of
// "IP<TAB>MAC<TAB>vendor". It returns vendor text by IP; duplicate answers
// (arp-scan marks them "(DUP: n)") keep the first.
func ParseArpScan(r io.Reader) (map[netip.Addr]string, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxToolOutput))
	if err != nil {
		return nil, fmt.Errorf("arp-scan output: %w", err)
	}
	out := map[netip.Addr]string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(strings.TrimRight(line, "\r"), "\t")
		if len(f) < 2 {
			continue
		}
		ip, err := netip.ParseAddr(strings.TrimSpace(f[0]))
		if err != nil {
			continue
		}
		if _, dup := out[ip]; dup {
			continue
		}
		vendor := ""
		if len(f) >= 3 {
			vendor = strings.TrimSpace(f[2])
		}
		out[ip] = "mac " + strings.ToLower(strings.TrimSpace(f[1])) + " vendor: " + vendor
	}
	return out, nil
}
