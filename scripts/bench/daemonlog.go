package bench

import (
	"strings"
)

// MaxLogLine bounds one daemon log line the benchmark looks at.
const MaxLogLine = 64 << 10

// DeviceLine is the daemon's "msg=device" log record: a device's verdict as
// the inventory reports it.
type DeviceLine struct {
	MAC, Maker, Confidence, Action string
	Flagged                        bool
}

// CutLine is the daemon's "uplink cut" warning with the devices that caused it.
type CutLine struct{ MACs []string }

// logfmt splits a slog text record into key/value pairs, honouring quoted
// values. It reads at most MaxLogLine bytes.
func logfmt(line string) map[string]string {
	if len(line) > MaxLogLine {
		line = line[:MaxLogLine]
	}
	kv := map[string]string{}
	for i := 0; i < len(line); {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		eq := strings.IndexByte(line[i:], '=')
		if eq < 0 {
			break
		}
		key := line[i : i+eq]
		if strings.ContainsRune(key, ' ') { // not a key=value token: skip the word
			sp := strings.IndexByte(line[i:], ' ')
			if sp < 0 {
				break
			}
			i += sp
			continue
		}
		i += eq + 1
		var val string
		if i < len(line) && line[i] == '"' {
			j := i + 1
			var b strings.Builder
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' && j+1 < len(line) {
					j++
				}
				b.WriteByte(line[j])
				j++
			}
			val = b.String()
			i = j + 1
		} else {
			j := strings.IndexByte(line[i:], ' ')
			if j < 0 {
				j = len(line) - i
			}
			val = line[i : i+j]
			i += j
		}
		if _, dup := kv[key]; !dup {
			kv[key] = val
		}
	}
	return kv
}

// ParseDeviceLine recognises a "msg=device" record.
func ParseDeviceLine(line string) (DeviceLine, bool) {
	if !strings.Contains(line, "msg=device ") {
		return DeviceLine{}, false
	}
	kv := logfmt(line)
	if kv["msg"] != "device" || kv["mac"] == "" {
		return DeviceLine{}, false
	}
	return DeviceLine{MAC: kv["mac"], Maker: kv["maker"], Confidence: kv["confidence"], Action: kv["action"],
		Flagged: kv["flagged"] == "true"}, true
}

// ParseCutLine recognises the "uplink cut" record ("macs=[a b]").
func ParseCutLine(line string) (CutLine, bool) {
	if !strings.Contains(line, `msg="uplink cut"`) {
		return CutLine{}, false
	}
	kv := logfmt(line)
	if kv["msg"] != "uplink cut" {
		return CutLine{}, false
	}
	return CutLine{MACs: strings.Fields(strings.Trim(kv["macs"], "[]"))}, true
}
