package nvr

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/xmltree"
)

// ISAPI paths a Hikvision (or OEM) recorder answers.
const (
	isapiDeviceInfo    = "/ISAPI/System/deviceInfo"
	isapiProxyChannels = "/ISAPI/ContentMgmt/InputProxy/channels"
	isapiProxyStatus   = "/ISAPI/ContentMgmt/InputProxy/channels/status"
	isapiVideoInputs   = "/ISAPI/System/Video/inputs/channels"
)

// xmlLimits bounds one ISAPI document read under a cap of maxBytes: a
// channel entry is about 25 elements, so 16384 elements hold 256 channels
// with room to spare.
func xmlLimits(maxBytes int64) xmltree.Limits {
	return xmltree.Limits{MaxBytes: int(min(maxBytes, math.MaxInt32)), MaxDepth: 24, MaxElements: 16384, MaxText: 4 << 10}
}

// deviceInfo is the part of /ISAPI/System/deviceInfo we keep.
type deviceInfo struct {
	DeviceType, Model, Serial, Firmware, MAC string
}

// parseHikDeviceInfo reads a DeviceInfo document. deviceType is what tells
// an NVR ("NVR", "DVR", "HybirdNVR") from a camera ("IPCamera").
func parseHikDeviceInfo(b []byte, maxBytes int64) (deviceInfo, error) {
	root, err := xmltree.Parse(b, xmlLimits(maxBytes))
	if err != nil {
		return deviceInfo{}, err
	}
	if root.Name().Local != "DeviceInfo" {
		return deviceInfo{}, fmt.Errorf("root element %q, want DeviceInfo", root.Name().Local)
	}
	fw := root.Child("firmwareVersion").Text()
	if d := root.Child("firmwareReleasedDate").Text(); fw != "" && d != "" {
		fw += " " + d
	}
	return deviceInfo{
		DeviceType: probes.Clean(root.Child("deviceType").Text()),
		Model:      probes.Clean(root.Child("model").Text()),
		Serial:     probes.Clean(root.Child("serialNumber").Text()),
		Firmware:   probes.Clean(fw),
		MAC:        cleanMAC(root.Child("macAddress").Text()),
	}, nil
}

// parseHikChannels reads an InputProxyChannelList. Entries without a
// usable id are dropped; entries naming no camera at all (no address,
// model or serial) count as empty slots. At most maxCh channels are kept.
func parseHikChannels(b []byte, maxBytes int64, maxCh int) (chans []Channel, empty int, truncated bool, err error) {
	root, err := xmltree.Parse(b, xmlLimits(maxBytes))
	if err != nil {
		return nil, 0, false, err
	}
	if root.Name().Local != "InputProxyChannelList" {
		return nil, 0, false, fmt.Errorf("root element %q, want InputProxyChannelList", root.Name().Local)
	}
	seen := map[int]bool{}
	for _, n := range root.Children("InputProxyChannel") {
		id, err := strconv.Atoi(strings.TrimSpace(n.Child("id").Text()))
		if err != nil || id < 1 || id > 4096 || seen[id] {
			continue
		}
		seen[id] = true
		src := n.Child("sourceInputPortDescriptor")
		c := Channel{
			Via:      KindHikvision,
			Number:   id,
			Name:     probes.Clean(n.Child("name").Text()),
			Protocol: probes.Clean(src.Child("proxyProtocol").Text()),
			IP:       cleanIP(src.Child("ipAddress").Text()),
			Port:     port(src.Child("managePortNo").Text()),
			Model:    probes.Clean(src.Child("model").Text()),
			Serial:   probes.Clean(src.Child("serialNumber").Text()),
			Firmware: probes.Clean(src.Child("firmwareVersion").Text()),
		}
		if c.IP == "" {
			// Hostname addressing (addressingFormatType hostname).
			c.IP = probes.Clean(src.Child("hostName").Text())
		}
		if c.IP == "" && c.Model == "" && c.Serial == "" {
			empty++
			continue
		}
		if len(chans) == maxCh {
			truncated = true
			continue
		}
		chans = append(chans, c)
	}
	return chans, empty, truncated, nil
}

// parseHikStatus reads an InputProxyChannelStatusList into id -> online.
func parseHikStatus(b []byte, maxBytes int64) (map[int]bool, error) {
	root, err := xmltree.Parse(b, xmlLimits(maxBytes))
	if err != nil {
		return nil, err
	}
	if root.Name().Local != "InputProxyChannelStatusList" {
		return nil, fmt.Errorf("root element %q, want InputProxyChannelStatusList", root.Name().Local)
	}
	out := map[int]bool{}
	for _, n := range root.Children("InputProxyChannelStatus") {
		id, err := strconv.Atoi(strings.TrimSpace(n.Child("id").Text()))
		on := strings.TrimSpace(n.Child("online").Text())
		if err != nil || id < 1 || on == "" || len(out) == 4096 {
			continue
		}
		out[id] = strings.EqualFold(on, "true")
	}
	return out, nil
}

// parseHikVideoInputs counts a VideoInputChannelList's analogue inputs.
func parseHikVideoInputs(b []byte, maxBytes int64) (int, error) {
	root, err := xmltree.Parse(b, xmlLimits(maxBytes))
	if err != nil {
		return 0, err
	}
	if root.Name().Local != "VideoInputChannelList" {
		return 0, fmt.Errorf("root element %q, want VideoInputChannelList", root.Name().Local)
	}
	return min(len(root.Children("VideoInputChannel")), DefaultMaxChannels), nil
}

func port(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 65535 {
		return 0
	}
	return n
}

// cleanIP keeps a literal address that can name a camera; the unspecified
// and placeholder addresses recorders leave in empty slots become "".
func cleanIP(s string) string {
	s = strings.TrimSpace(s)
	ip := net.ParseIP(s)
	if ip == nil || ip.IsUnspecified() {
		return ""
	}
	if s == "192.168.0.0" {
		// Dahua recorders fill unused RemoteDevice slots with it.
		return ""
	}
	return ip.String()
}

// cleanMAC normalises a MAC and drops the all-zero and broadcast
// placeholders recorders report for cameras they do not know.
func cleanMAC(s string) string {
	hw, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil || len(hw) != 6 {
		return ""
	}
	str := hw.String()
	if str == "00:00:00:00:00:00" || str == "ff:ff:ff:ff:ff:ff" {
		return ""
	}
	return str
}
