package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"io"
	"strings"
	"testing"
)

func TestVerify(t *testing.T) {
	b := []byte("tarball bytes")
	sum := sha512.Sum512(b)
	good := "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
	if err := verify(b, good); err != nil {
		t.Fatalf("verify(good) = %v", err)
	}
	if err := verify(append(b, '!'), good); err == nil || !strings.Contains(err.Error(), "mismatch") {
		t.Errorf("verify(tampered) = %v, want mismatch", err)
	}
	if err := verify(b, "sha1-abc"); err == nil {
		t.Error("verify accepted a sha1 pin")
	}
}

func TestConvertAndEncode(t *testing.T) {
	index := []byte(`{
 "4419b6": "Hangzhou Hikvision Digital Technology Co.,Ltd.\nNo.555 Qianmo Road\nHangzhou\nCN",
 "B0B353": "IEEE Registration Authority\n445 Hoes Lane\nPiscataway\nUS",
 "B0B3536": "Hangzhou Hikrobot Technology Co., Ltd.\nHangzhou\nCN",
 "70B3D5001": "SOREDI touch\tsystems  GmbH\nsomewhere"
}`)
	rows, c, err := convert(index)
	if err != nil {
		t.Fatal(err)
	}
	if c.mal != 1 || c.mam != 1 || c.mas != 1 || c.placeholders != 1 {
		t.Errorf("counts = %+v", c)
	}
	gz, err := encode(rows)
	if err != nil {
		t.Fatal(err)
	}
	gz2, _ := encode(rows)
	if !bytes.Equal(gz, gz2) {
		t.Error("encode is not deterministic")
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(zr)
	want := "4419B6\t24\tHangzhou Hikvision Digital Technology Co.,Ltd.\n" +
		"70B3D5001\t36\tSOREDI touch systems GmbH\n" +
		"B0B3536\t28\tHangzhou Hikrobot Technology Co., Ltd.\n"
	if string(out) != want {
		t.Errorf("table =\n%s\nwant\n%s", out, want)
	}
	for _, bad := range []string{`{"44G9B6":"X"}`, `{"4419B61A":"X"}`, `{"4419B6":""}`, `[1]`} {
		if _, _, err := convert([]byte(bad)); err == nil {
			t.Errorf("convert(%s) accepted it", bad)
		}
	}
}
