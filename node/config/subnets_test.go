package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSubnetsLoad(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(home, FileName)
	doc := `[[subnets]]
id = "garden-coop"
home = "subnets/garden-coop"
relay = true
private_network_psk_file = "garden.key"
listen_addrs = ["/ip4/127.0.0.1/tcp/27656"]

[[subnets]]
id = "solar"
home = "/srv/solar"
api_listen_addr = "127.0.0.1:27757"
parent_api = "http://127.0.0.1:26657"
interval = "250ms"
fee = 3
`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Subnets) != 2 {
		t.Fatalf("%d subnets, want 2", len(c.Subnets))
	}
	g, s := c.Subnets[0], c.Subnets[1]
	for _, tc := range []struct{ name, got, want string }{
		{"home resolved in the node's home", c.SubnetHome(g), filepath.Join(home, "subnets/garden-coop")},
		{"absolute home kept", c.SubnetHome(s), "/srv/solar"},
		{"psk resolved in the node's home", c.SubnetPSKPath(g), filepath.Join(home, "garden.key")},
		{"no psk override", c.SubnetPSKPath(s), ""},
		{"default interval", string(g.Interval), "1s"},
		{"interval given", string(s.Interval), "250ms"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if !g.Relay || s.Relay || g.Fee != DefaultSubnetFee || s.Fee != 3 || s.BootstrapPeers != nil {
		t.Errorf("entries %+v", c.Subnets)
	}
	// Write keeps every entry: written again, it loads to the same value.
	again := filepath.Join(t.TempDir(), FileName)
	if err := Write(again, c); err != nil {
		t.Fatal(err)
	}
	back, err := Load(again)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Subnets) != 2 || back.Subnets[1].ParentAPI != s.ParentAPI || back.Subnets[0].ListenAddrs[0] != g.ListenAddrs[0] {
		t.Fatalf("round trip: %+v", back.Subnets)
	}
	// No [[subnets]]: nil, and nothing written for them.
	plain := filepath.Join(t.TempDir(), FileName)
	if err := Write(plain, Default(filepath.Dir(plain))); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(plain)
	if strings.Contains(string(b), "[[subnets]]") {
		t.Fatalf("default config writes a [[subnets]] table:\n%s", b)
	}
}

func TestSubnetsInvalid(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string // fragments of the error, in order of appearance
	}{
		{"bad id", "[[subnets]]\nid = \"Garden Coop\"\nhome = \"g\"\n",
			[]string{`:2: [[subnets]] id = "Garden Coop": entry 1 (Garden Coop): must be the subnet's registered id`}},
		{"no home", "[[subnets]]\nid = \"g\"\n",
			[]string{`[[subnets]] home = "": entry 1 (g): must name the subnet node's home directory, such as "subnets/g"`}},
		{"own home", "[[subnets]]\nid = \"g\"\nhome = \".\"\n",
			[]string{`:3: [[subnets]] home = ".": entry 1 (g): is this node's own home`}},
		{"same subnet twice", "[[subnets]]\nid = \"g\"\nhome = \"a\"\n[[subnets]]\nid = \"g\"\nhome = \"b\"\n",
			[]string{`:5: [[subnets]] id = "g": entry 2 (g): the same subnet as entry 1`}},
		{"same home twice", "[[subnets]]\nid = \"g\"\nhome = \"a\"\n[[subnets]]\nid = \"h\"\nhome = \"a/\"\n",
			[]string{`:6: [[subnets]] home = "a/": entry 2 (h): the same home as entry 1`}},
		{"parent's api address", "[[subnets]]\nid = \"g\"\nhome = \"a\"\napi_listen_addr = \"127.0.0.1:26657\"\n",
			[]string{`:4: [[subnets]] api_listen_addr = "127.0.0.1:26657": entry 1 (g): is this node's [api] listen_addr`}},
		{"parent's p2p address", "[p2p]\nlisten_addrs = [\"/ip4/127.0.0.1/tcp/26656\"]\n[[subnets]]\nid = \"g\"\nhome = \"a\"\nlisten_addrs = [\"/ip4/127.0.0.1/tcp/26656\"]\n",
			[]string{`:6: [[subnets]] listen_addrs = ["/ip4/127.0.0.1/tcp/26656"]: entry 1 (g): "/ip4/127.0.0.1/tcp/26656" is also this node's [p2p] listen_addrs`}},
		{"bootstrap without peer id", "[[subnets]]\nid = \"g\"\nhome = \"a\"\nbootstrap_peers = [\"/ip4/127.0.0.1/tcp/1\"]\n",
			[]string{`entry 1 (g): "/ip4/127.0.0.1/tcp/1" is not a multiaddr ending in /p2p/<peer-id>`}},
		{"zero interval", "[[subnets]]\nid = \"g\"\nhome = \"a\"\ninterval = \"0s\"\n",
			[]string{`:4: [[subnets]] interval = "0s": entry 1 (g): must be a positive duration`}},
		{"no api to sign against", "[api]\nlisten_addr = \"\"\n[[subnets]]\nid = \"g\"\nhome = \"a\"\n",
			[]string{`[[subnets]] parent_api = "": entry 1 (g): this node's API is disabled`}},
		{"bad parent api", "[[subnets]]\nid = \"g\"\nhome = \"a\"\nparent_api = \"ftp://x\"\n",
			[]string{`entry 1 (g): must be host:port or an http(s) URL`}},
		{"misspelt key", "[[subnets]]\nid = \"g\"\nhome = \"a\"\nrelya = true\n",
			[]string{`:4: [[subnets]] relya: unknown key; did you mean relay?`}},
		{"misspelt table", "[[subnet]]\nid = \"g\"\n",
			[]string{`[subnet]: unknown section; the sections are [[subnets]], [api]`}},
		{"all problems at once", "[[subnets]]\nid = \"\"\n[[subnets]]\nid = \"x\"\nhome = \"x\"\ninterval = \"soon\"\n",
			[]string{`entry 1: must be the subnet's registered id`, `entry 1: must name the subnet node's home`, `:6: [[subnets]] interval = "soon": entry 2 (x)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			if err := os.WriteFile(path, []byte(tc.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil {
				t.Fatal("loaded")
			}
			msg := err.Error()
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error lacks %q (in order):\n%s", w, msg)
				}
				rest = rest[i+len(w):]
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("not ErrInvalid: %v", err)
			}
		})
	}
}
