package nvr

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
)

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGoldenHikDeviceInfo(t *testing.T) {
	info, err := parseHikDeviceInfo(golden(t, "hik_deviceinfo_nvr.xml"), DefaultMaxBody)
	if err != nil {
		t.Fatal(err)
	}
	want := deviceInfo{DeviceType: "NVR", Model: "DS-7608NXI-I2/8P/S", Serial: "DS-7608NXI-I0/0P/S0000000000CCRRJ00000000WCVU", Firmware: "V4.62.210 build 230619", MAC: "e0:44:cf:0b:a7:98"}
	if info != want {
		t.Errorf("got %+v\nwant %+v", info, want)
	}
	if _, err := parseHikDeviceInfo(golden(t, "hik_usercheck_401.xml"), DefaultMaxBody); err == nil {
		t.Error("a userCheck document read as DeviceInfo")
	}
}

func TestGoldenHikChannels(t *testing.T) {
	chans, empty, trunc, err := parseHikChannels(golden(t, "hik_channels.xml"), DefaultMaxBody, DefaultMaxChannels)
	if err != nil {
		t.Fatal(err)
	}
	if len(chans) != 3 || empty != 1 || trunc {
		t.Fatalf("chans %+v empty %d trunc %v; want 3 cameras and the 0.0.0.0 slot empty (size=\"0\" ignored)", chans, empty, trunc)
	}
	c := chans[0]
	if c.Number != 1 || c.Name != "MainGate" || c.Protocol != "HIKVISION" || c.IP != "192.168.254.2" || c.Port != 8000 ||
		c.Model != "DS-2CD1023G2-LIU" || c.Serial != "DS-2CD1023G2-LIU20220101AAWRJ12345678" || c.Firmware != "V5.7.10 build 220720" {
		t.Errorf("channel 1 = %+v", c)
	}
	if c := chans[1]; c.Number != 2 || c.Protocol != "ONVIF" || c.Port != 2020 || c.Model != "" {
		t.Errorf("channel 2 = %+v", c)
	}
	// Numbering is the NVR's own id, not the position in the list.
	if c := chans[2]; c.Number != 12 || c.IP != "192.168.254.13" || c.Protocol != "" {
		t.Errorf("channel 12 = %+v", c)
	}
	old, _, _, err := parseHikChannels(golden(t, "hik_channels_old.xml"), DefaultMaxBody, DefaultMaxChannels)
	if err != nil || len(old) != 1 || old[0].Model != "" || old[0].IP != "10.18.176.10" || old[0].Protocol != "HIKVISION" {
		t.Errorf("old NVR: %+v %v", old, err)
	}
	capped, _, trunc, _ := parseHikChannels(golden(t, "hik_channels.xml"), DefaultMaxBody, 2)
	if len(capped) != 2 || !trunc {
		t.Errorf("cap 2: %d channels, truncated %v", len(capped), trunc)
	}
}

func TestGoldenHikStatus(t *testing.T) {
	st, err := parseHikStatus(golden(t, "hik_status.xml"), DefaultMaxBody)
	if err != nil {
		t.Fatal(err)
	}
	if on, ok := st[1]; !ok || !on {
		t.Errorf("channel 1 online = %v %v", on, ok)
	}
	if on, ok := st[2]; !ok || on {
		t.Errorf("channel 2 online = %v %v", on, ok)
	}
	if _, ok := st[3]; ok {
		t.Error("a channel whose firmware does not say is reported offline")
	}
}

func TestGoldenDahua(t *testing.T) {
	kv := parseKV(golden(t, "dahua_systeminfo.txt"))
	if kv["updateSerial"] != "NVR6XX-4KS2" || kv["serialNumber"] != "4C0048DPAJ8F3C9" || kv["deviceType"] != "31" {
		t.Errorf("getSystemInfo = %v", kv)
	}
	chans, empty, trunc := parseRemoteDevices(golden(t, "dahua_remotedevice.txt"), DefaultMaxChannels)
	if len(chans) != 4 || empty != 2 || trunc {
		t.Fatalf("chans %+v, empty %d; want 4 and 2 (slot 28 unused, slot 29 switched off)", chans, empty)
	}
	want := []Channel{
		{Via: KindDahua, Number: 1, Name: "stolb kamera", Protocol: "Private", IP: "192.168.23.11", Port: 37777, Model: "DH-IPC-HFW1431S1-A"},
		{Via: KindDahua, Number: 2, Protocol: "Onvif", IP: "192.168.252.26", Serial: "DS-2CD1143G0-I20211208AAWRJ21084253", Maker: "Onvif"},
		{Via: KindDahua, Number: 7, IP: "10.1.1.67", MAC: "b4:0b:44:12:ab:cd", Model: "B451AJ", Firmware: "V5.7.1 build 211102"},
		{Via: KindDahua, Number: 12, IP: "192.168.23.21", Model: "H32_VSIPP-6DIRMD-I3"},
	}
	for i, w := range want {
		if chans[i] != w {
			t.Errorf("channel %d:\n got %+v\nwant %+v", w.Number, chans[i], w)
		}
	}
}

func TestGoldenLockHints(t *testing.T) {
	h := readLockHint(401, http.Header{}, golden(t, "hik_usercheck_locked.xml"))
	if !h.locked || h.until != 1795*time.Second {
		t.Errorf("Hikvision locked: %+v", h)
	}
	if h := readLockHint(401, http.Header{}, golden(t, "hik_usercheck_401.xml")); h.locked || h.lastTry {
		t.Errorf("plain userCheck: %+v", h)
	}
	if h := readLockHint(401, http.Header{}, golden(t, "dahua_locked.txt")); !h.locked || h.until != 30*time.Minute {
		t.Errorf("Dahua text: %+v", h)
	}
	if h := readLockHint(401, http.Header{}, golden(t, "dahua_rpc2_refused.json")); h.locked || h.attempts != 2 || h.lastTry {
		t.Errorf("Dahua RPC2 refusal, 2 left: %+v", h)
	}
	if h := readLockHint(401, http.Header{}, []byte(`{"params":{"remainLockSecond":600,"remainLoginTimes":0}}`)); !h.locked || h.until != 10*time.Minute {
		t.Errorf("Dahua RPC2 locked: %+v", h)
	}
	if h := readLockHint(401, http.Header{}, []byte(`{"params":{"remainLockSecond":0,"remainLoginTimes":1}}`)); h.locked || !h.lastTry {
		t.Errorf("one try left: %+v", h)
	}
	if h := readLockHint(401, http.Header{}, []byte("account is unlocked")); h.locked {
		t.Errorf("\"unlocked\" read as locked: %+v", h)
	}
	hd := http.Header{}
	hd.Set("Retry-After", "99999999")
	if h := readLockHint(403, hd, nil); !h.locked || h.until != MaxLockout {
		t.Errorf("Retry-After is capped: %+v", h)
	}
	if h := readLockHint(200, hd, golden(t, "hik_usercheck_locked.xml")); h.locked {
		t.Errorf("a 200 is never a lock-out: %+v", h)
	}
}

func TestLooksLikeRecorder(t *testing.T) {
	for _, tc := range []struct {
		k, v string
		want bool
	}{
		{"sadp.model", "DS-7608NXI-I2/8P/S", true},
		{"sadp.model", "DS-2CD2385G1-I", false},
		{"dhip.class", "NVR", true},
		{"dhip.class", "IPC", false},
		{"dhip.model", "DHI-NVR5464-16P-EI", true},
		{"onvif.model", "XRN-810S", true},
		{"onvif.model", "XNV-6080R", false},
		{"http.title", "Network Video Recorder", true},
		{"dhcp.hostname", "NVR", false}, // a hostname proves nothing
	} {
		got := LooksLikeRecorder(probes.Target{Facts: []probes.Fact{{Key: tc.k, Value: tc.v}}})
		if got != tc.want {
			t.Errorf("%s=%s: %v, want %v", tc.k, tc.v, got, tc.want)
		}
	}
}
