package node

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A peer is over its budget after unpaidLimit unpayable txs, decays back
// under it, and its count does not touch another peer's.
func TestUnpaidBudget(t *testing.T) {
	var b unpaidBudget
	now := time.Unix(1_000_000, 0)
	a, c := peer.ID("a"), peer.ID("c")
	b.add(a, unpaidLimit-1, now)
	if b.over(a, now) {
		t.Fatal("over before the limit")
	}
	b.add(a, 1, now)
	if !b.over(a, now) || b.over(c, now) {
		t.Fatalf("at the limit: a over %v, c over %v; want true, false", b.over(a, now), b.over(c, now))
	}
	b.add(a, unpaidLimit, now) // twice the limit: still over after half a half-life
	if !b.over(a, now.Add(unpaidHalfLife/2)) {
		t.Fatal("decayed under the limit too soon")
	}
	if b.over(a, now.Add(3*unpaidHalfLife)) {
		t.Fatal("still over three half-lives later")
	}
	// Peer IDs that sent a few and left are forgotten once decayed.
	for i := range 4096 {
		b.add(peer.ID(rune(i)), 1, now.Add(time.Hour))
	}
	for i := range 1000 {
		b.add(peer.ID(rune(10_000+i)), 1, now.Add(time.Hour+time.Minute))
	}
	if len(b.m) > 1000 {
		t.Fatalf("%d peers remembered", len(b.m))
	}
}
