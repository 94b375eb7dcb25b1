package p2p

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"
)

// An attacker graylisted for junk reconnects under a fresh peer ID from the
// same IP: it starts graylisted, before sending anything. On the exempt
// testnet address (127.0.0.1 by default) the fresh ID starts clean.
func TestFreshPeerIDInheritsIPPenalty(t *testing.T) {
	for _, tc := range []struct {
		name       string
		exempt     bool
		graylisted bool
	}{
		{"penalised IP", false, true},
		{"exempt IP", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const id = "ip-score-1"
			v := newTestNode(t, id)
			if !tc.exempt {
				v.ipBook.mu.Lock()
				v.ipBook.exempt = nil
				v.ipBook.mu.Unlock()
			}
			bad := newTestNode(t, id, withBootstrap(v), permissive())
			eventually(t, 10*time.Second, "attacker connected", func() bool { return v.connected(bad.ID()) })
			ctx := context.Background()
			deadline := time.Now().Add(15 * time.Second)
			for v.PeerScore(bad.ID()) >= GraylistThreshold {
				if time.Now().After(deadline) {
					t.Fatalf("attacker not graylisted: score %.0f", v.PeerScore(bad.ID()))
				}
				if err := bad.PublishConsensus(ctx, []byte("junk")); err != nil {
					t.Fatal(err)
				}
				time.Sleep(200 * time.Millisecond)
			}
			_ = bad.Close()

			again := newTestNode(t, id, withBootstrap(v))
			eventually(t, 10*time.Second, "fresh ID connected", func() bool { return v.connected(again.ID()) })
			if tc.graylisted {
				eventually(t, 10*time.Second, "fresh ID from the same IP graylisted", func() bool {
					return v.PeerScore(again.ID()) < GraylistThreshold
				})
				return
			}
			never(t, 2*time.Second, "fresh ID on the exempt IP penalised", func() bool {
				return v.PeerScore(again.ID()) < 0
			})
		})
	}
}

func TestIPBookDecays(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newIPBook(func() time.Time { return now }, nil)
	ip := []byte{10, 0, 0, 7}
	b.penalize("bad", []net.IP{ip})
	b.penalize("bad", []net.IP{ip})
	if s := b.score("fresh", []net.IP{ip}); s >= GraylistThreshold {
		t.Fatalf("two rejects score %.0f, want below graylist %d", s, GraylistThreshold)
	}
	if s := b.score("bad", []net.IP{{10, 0, 0, 9}}); s >= GraylistThreshold {
		t.Fatalf("the rejected peer from another IP scores %.0f, want below graylist", s)
	}
	now = now.Add(4 * ipPenaltyHalfLife)
	if s := b.score("fresh", []net.IP{ip}); s < GossipThreshold {
		t.Fatalf("after four half-lives score %.0f, want above gossip threshold %d", s, GossipThreshold)
	}
	if s := b.score("other", []net.IP{{10, 0, 0, 8}}); s != 0 {
		t.Fatalf("an unrelated IP scores %.0f", s)
	}
}

// BudgetIPs names the remote IP of a peer the node dialled on 127.0.0.2
// and leaves out the exempt 127.0.0.1 (real hosts).
func TestBudgetIPs(t *testing.T) {
	const id = "budget-ips"
	v := newTestNode(t, id)
	for _, tc := range []struct {
		listen string
		want   []string
	}{
		{"127.0.0.2", []string{"127.0.0.2"}},
		{"127.0.0.1", nil},
	} {
		c := newTestNode(t, id, func(c *Config, _ *Deps) { c.ListenAddrs = []string{"/ip4/" + tc.listen + "/tcp/0"} })
		if err := v.Connect(context.Background(), c.Addrs()[0]); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ip := range v.BudgetIPs(c.ID()) {
			got = append(got, ip.String())
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("peer on %s: BudgetIPs = %v, want %v", tc.listen, got, tc.want)
		}
	}
}
