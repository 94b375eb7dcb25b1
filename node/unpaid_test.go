package node

import (
	"fmt"
	"testing"
	"time"
)

// A peer is over its budget after unpaidLimit unpayable txs, decays back
// under it, and its count does not touch another peer's; a fresh peer ID
// from the same IP starts over the budget.
func TestUnpaidBudget(t *testing.T) {
	var b unpaidBudget
	now := time.Unix(1_000_000, 0)
	a := []string{"peer/a", "ip/10.0.0.1"}
	c := []string{"peer/c", "ip/10.0.0.2"}
	sameIP := []string{"peer/d", "ip/10.0.0.1"}
	loopback := []string{"peer/e"} // 127.0.0.1: counted per peer ID only
	b.add(a, unpaidLimit-1, now)
	if b.over(a, now) {
		t.Fatal("over before the limit")
	}
	b.add(a, 1, now)
	for _, tc := range []struct {
		name string
		keys []string
		want bool
	}{
		{"the flooder", a, true},
		{"another peer on another IP", c, false},
		{"a fresh peer ID on the flooder's IP", sameIP, true},
		{"a peer on the exempt loopback", loopback, false},
	} {
		if got := b.over(tc.keys, now); got != tc.want {
			t.Errorf("at the limit, %s (%v): over = %v, want %v", tc.name, tc.keys, got, tc.want)
		}
	}
	b.add(a, unpaidLimit, now) // twice the limit: still over after half a half-life
	if !b.over(a, now.Add(unpaidHalfLife/2)) || !b.over(sameIP, now.Add(unpaidHalfLife/2)) {
		t.Fatal("decayed under the limit too soon")
	}
	if b.over(a, now.Add(3*unpaidHalfLife)) || b.over(sameIP, now.Add(3*unpaidHalfLife)) {
		t.Fatal("still over three half-lives later")
	}
	// Peers that sent a few and left are forgotten once decayed.
	for i := range 4096 {
		b.add([]string{fmt.Sprintf("peer/%d", i)}, 1, now.Add(time.Hour))
	}
	for i := range 1000 {
		b.add([]string{fmt.Sprintf("peer/x%d", i)}, 1, now.Add(time.Hour+time.Minute))
	}
	if len(b.m) > 1000 {
		t.Fatalf("%d keys remembered", len(b.m))
	}
}
