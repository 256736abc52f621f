package httpprobe

import (
	"bytes"
	"strings"
	"testing"
)

// Bodies whose public source is named in testdata/SOURCE.md or in the
// profiles; the synthetic ones only exercise the grammar.
var shapeCases = []struct {
	name, body, want string
}{
	{"empty", "", "empty"},
	{"white space", " \r\n\t", "empty"},
	{"isapi namespace", `<?xml version="1.0" encoding="UTF-8"?><ActivateStatus xmlns="http://www.hikvision.com/ver20/XMLSchema"><Activated>true</Activated></ActivateStatus>`, "xml:http://www.hikvision.com/ver20/XMLSchema"},
	{"isapi userCheck", "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<userCheck>\n<statusValue>401</statusValue>\n<statusString>Unauthorized</statusString>\n</userCheck>\n", "xml:userCheck"},
	{"gb2312 declared", `<?xml version="1.0" encoding="GB2312"?><Root xmlns="urn:x"/>`, "xml:urn:x"},
	{"prefixed root keeps default ns", `<a:Root xmlns:a="urn:a" xmlns="urn:d"/>`, "xml:urn:d"},
	{"comment before root", `<?xml version="1.0"?><!-- c --><R/>`, "xml:R"},
	{"dahua rpc2 login", `{"error":{"code":268632079,"message":"Component error: login challenge!"},"id":0,"params":{"authorization":"0","encryption":"Default","random":"1234","realm":"Login to 6G0ABCD1234567"},"result":false,"session":"x"}`, "json:error,id,params,result,session"},
	{"lapi envelope", `{"Response":{"ResponseURL":"/LAPI/V1.0/System/DeviceInfo","StatusCode":401}}`, "json:Response"},
	{"json keys capped and sorted", `{"k":1,"j":1,"i":1,"h":1,"g":1,"f":1,"e":1,"d":1,"c":1,"b":1,"a":1}`, "json:a,b,c,d,e,f,g,h"},
	{"json duplicate key", `{"b":1,"a":2,"b":3}`, "json:a,b"},
	{"json key with space and comma", `{"a b,c":1}`, "json:abc"},
	{"json cut short", `{"result":true,"params":{"x":`, "json:params,result"},
	{"json empty object", `{}`, "json:"},
	{"json array", `[1,2]`, "json:array"},
	{"not json", `{nope`, "text"},
	{"hikvision 404 page", "<!DOCTYPE html>\n<html><head><title>Document Error: Not Found</title></head>\n<body><h2>Access Error: 404 -- Not Found</h2></body></html>", "html"},
	{"plain html", `<html><body>404 Not Found</body></html>`, "html"},
	{"html after text", `Error <b>x</b><script>1</script>`, "html"},
	{"bom", "\xef\xbb\xbf<html></html>", "html"},
	{"ico", "\x00\x00\x01\x00\x01\x00\x10\x10", "binary"},
	{"latin1 text", "caf\xe9 ok", "binary"},
	{"text", "Error Code : 600\r\n", "text"},
}

func TestBodyShape(t *testing.T) {
	for _, c := range shapeCases {
		if got := BodyShape([]byte(c.body)); got != c.want {
			t.Errorf("%s: BodyShape(%q) = %q, want %q", c.name, c.body, got, c.want)
		}
	}
}

// A long body keeps its shape even when MaxBody cut a rune in two.
func TestBodyShapeCutRune(t *testing.T) {
	b := append(bytes.Repeat([]byte("a"), 511), "é"...) // 'é' straddles byte 512
	if got := BodyShape(append(b, " more"...)); got != "text" {
		t.Errorf("shape = %q, want text", got)
	}
}

func FuzzBodyShape(f *testing.F) {
	for _, c := range shapeCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := BodyShape(b)
		if s != BodyShape(b) {
			t.Fatal("shape not stable")
		}
		// A shape is one word a rule matches: bounded, printable, no spaces.
		if len(s) > len("json:")+maxShapeKeys*(maxShapeKeyLen+1) || len(s) > len("xml:")+maxShapeNSLen {
			t.Fatalf("shape %d bytes long", len(s))
		}
		if strings.ContainsAny(s, " \t\r\n") || strings.IndexFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
			t.Fatalf("shape %q is not one printable word", s)
		}
		if len(bytes.TrimSpace(b)) == 0 && s != "empty" {
			t.Fatalf("blank body has shape %q", s)
		}
	})
}
