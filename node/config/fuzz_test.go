package config

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse feeds arbitrary documents to the loader: it must never panic,
// anything it accepts must validate, and must survive Write → Load
// unchanged. The corpus lives in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("moniker = \"x\"\n[consensus]\ntimeout_propose = \"2s\"\n"))
	f.Add([]byte("[mempool]\nmax_bytes = \"64MB\"\n[p2p]\nlisten_addrs = [\"/ip4/127.0.0.1/tcp/1\"]\n"))
	f.Add([]byte("[p2p]\nlow_wter = 3\n[rpc]\nx = 1\n"))
	f.Add([]byte("[api]\nmax_body_bytes = 1\ncors_allowed_origins = [\"*\"]\n"))
	f.Add([]byte("[[subnets]]\nid = \"g\"\nhome = \"s/g\"\nrelay = true\nlisten_addrs = []\n[[subnets]]\nid = \"h\"\nhome = \"h\"\nfee = 0\ninterval = \"2s\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		home := t.TempDir()
		c, err := parse(filepath.Join(home, FileName), data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parse accepted an invalid config: %v", err)
		}
		path := filepath.Join(home, "again", FileName)
		if err := Write(path, c); err != nil {
			t.Fatalf("Write: %v", err)
		}
		back, err := Load(path)
		if err != nil {
			var fe *FieldError
			errors.As(err, &fe)
			t.Fatalf("written config does not load: %v", err)
		}
		back.Home = c.Home
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, c)
		}
	})
}

// FuzzParseByteSize: no panic, and every accepted size prints back to itself.
func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"64MiB", "64MB", "1000", "0", "1TiB", " 3 kb", "-1", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseByteSize(s)
		if err != nil {
			return
		}
		if b < 0 {
			t.Fatalf("%q parsed negative: %d", s, b)
		}
		if back, err := ParseByteSize(b.String()); err != nil || back != b {
			t.Fatalf("%q → %d → %q → %d, %v", s, b, b.String(), back, err)
		}
	})
}
