package nattest_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/p2p/nattest"
)

// TestBedNAT checks the bed itself: a home host reaches the public segment
// through its router; a cone router shows one private port as the same
// public port to two servers, a symmetric router as two different ones;
// nothing on the public segment can reach into a LAN unasked; and no
// namespace has a default route.
func TestBedNAT(t *testing.T) {
	bed := nattest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s1, s2 := bed.PublicHost("s1"), bed.PublicHost("s2")
	cone, sym := bed.Router("rc", nattest.Cone), bed.Router("rs", nattest.Symmetric)
	hc, hs := cone.Host("hc"), sym.Host("hs")

	for _, s := range []*nattest.Host{s1, s2} {
		p := startHelper(t, s, "udp-echo", s.IP+":4000")
		if l, err := readLine(ctx, p); err != nil || l != "ready" {
			t.Fatalf("echo on %s: %q %v", s.Name, l, err)
		}
	}
	for _, h := range []*nattest.Host{hc, hs} {
		out, err := h.Exec(ctx, "ip", "route", "show")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "default") {
			t.Fatalf("%s has a default route: %s", h.Name, out)
		}
	}

	probe := func(h *nattest.Host) []string {
		p := startHelper(t, h, "udp-probe", h.IP+":5000 "+s1.IP+":4000 "+s2.IP+":4000")
		var seen []string
		for range 2 {
			l, err := readLine(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			var r struct{ Target, Seen string }
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("%s: %q: %v", h.Name, l, err)
			}
			seen = append(seen, r.Seen)
		}
		return seen
	}
	c := probe(hc)
	t.Logf("cone: %s:5000 seen as %v", hc.IP, c)
	if c[0] != cone.WANIP+":5000" || c[1] != c[0] {
		t.Errorf("cone NAT: want %s:5000 at both servers, got %v", cone.WANIP, c)
	}
	s := probe(hs)
	t.Logf("symmetric: %s:5000 seen as %v", hs.IP, s)
	if !strings.HasPrefix(s[0], sym.WANIP+":") || !strings.HasPrefix(s[1], sym.WANIP+":") || s[0] == s[1] {
		t.Errorf("symmetric NAT: want two different ports of %s, got %v", sym.WANIP, s)
	}

	// Unsolicited: a public host sends to the cone router's mapped port
	// from a server address the home host never talked to.
	p := startHelper(t, hc, "udp-echo", hc.IP+":6000")
	if l, err := readLine(ctx, p); err != nil || l != "ready" {
		t.Fatalf("echo on %s: %q %v", hc.Name, l, err)
	}
	for _, target := range []string{hc.IP + ":6000", cone.WANIP + ":6000"} {
		pr := startHelper(t, s1, "udp-probe", s1.IP+":5001 "+target)
		l, err := readLine(ctx, pr)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(l, `"seen":"-"`) && !strings.Contains(l, `"seen":"unreachable`) {
			t.Errorf("public host reached the LAN at %s unasked: %s", target, l)
		}
		t.Logf("unsolicited to %s: %s", target, l)
	}
}
