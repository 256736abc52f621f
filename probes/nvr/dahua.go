package nvr

import (
	"bufio"
	"bytes"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/camwarden/camwarden/probes"
)

// Dahua CGI paths.
const (
	dahuaSystemInfo   = "/cgi-bin/magicBox.cgi?action=getSystemInfo"
	dahuaDeviceType   = "/cgi-bin/magicBox.cgi?action=getDeviceType"
	dahuaVendor       = "/cgi-bin/magicBox.cgi?action=getVendor"
	dahuaSoftware     = "/cgi-bin/magicBox.cgi?action=getSoftwareVersion"
	dahuaRemoteDevice = "/cgi-bin/configManager.cgi?action=getConfig&name=RemoteDevice"
)

// Bounds on one key=value answer.
const (
	maxKVLines = 8192
	maxKVKey   = 256
)

// parseKV reads Dahua's "key=value" lines (CRLF or LF). Lines without '='
// (the "OK" or "Error" some firmwares add) are skipped, and so is a last
// line the answer stops inside.
func parseKV(b []byte) map[string]string {
	out := map[string]string{}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 && i < len(b)-1 && len(bytes.TrimSpace(b[i+1:])) > 0 {
		// The answer stops inside a line: its value may be cut short,
		// and a cut serial or model is worse than none.
		b = b[:i+1]
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 0; sc.Scan() && n < maxKVLines; n++ {
		k, v, ok := strings.Cut(sc.Text(), "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || len(k) > maxKVKey {
			continue
		}
		out[k] = strings.TrimSpace(strings.TrimRight(v, "\r"))
	}
	return out
}

// genericDeviceTypes are RemoteDevice DeviceType values that name a class
// of device rather than a model (rroller/dahua measured "IP Camera" and
// "IPC" on a DHI-NVR5464-16P-EI).
var genericDeviceTypes = map[string]bool{"": true, "ip camera": true, "ipc": true, "camera": true, "ip dome": true, "unknown": true, "ipcamera": true}

var remoteKeyRE = regexp.MustCompile(`^table\.RemoteDevice(?:\.uuid:System_CONFIG_NETCAMERA_INFO_(\d{1,4})|\[(\d{1,4})\])\.(.+)$`)

// parseRemoteDevices reads a RemoteDevice table into channels. Slot n
// (0-based) is channel n+1, as the recorder's interface numbers them; a
// slot that is switched off or names no camera counts as empty.
func parseRemoteDevices(b []byte, maxCh int) (chans []Channel, empty int, truncated bool) {
	slots := map[int]map[string]string{}
	for k, v := range parseKV(b) {
		m := remoteKeyRE.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		idx := m[1]
		if idx == "" {
			idx = m[2]
		}
		n, _ := strconv.Atoi(idx)
		if n > 4095 {
			continue
		}
		if slots[n] == nil {
			if len(slots) >= 4096 {
				continue
			}
			slots[n] = map[string]string{}
		}
		slots[n][m[3]] = v
	}
	idx := make([]int, 0, len(slots))
	for n := range slots {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	for _, n := range idx {
		s := slots[n]
		c := Channel{
			Via:      KindDahua,
			Number:   n + 1,
			Name:     probes.Clean(first(s["VideoInputs[0].Name"], s["Name"])),
			Protocol: probes.Clean(s["ProtocolType"]),
			IP:       cleanIP(s["Address"]),
			Port:     port(s["Port"]),
			MAC:      cleanMAC(s["Mac"]),
			Serial:   probes.Clean(s["SerialNo"]),
			Firmware: probes.Clean(s["Version"]),
			Maker:    probes.Clean(s["Vendor"]),
		}
		if dt := probes.Clean(s["DeviceType"]); !genericDeviceTypes[strings.ToLower(dt)] {
			c.Model = dt
		}
		if strings.EqualFold(s["Enable"], "false") || (c.IP == "" && c.Model == "" && c.Serial == "") {
			empty++
			continue
		}
		if len(chans) == maxCh {
			truncated = true
			continue
		}
		chans = append(chans, c)
	}
	return chans, empty, truncated
}

func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
