package state

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// TestBranchOverlayModel drives nested branches over committed state with
// random writes, deletes, reverts and merges, and checks every Get and
// Iterate against a plain map model. Children cross smallWrites (a slice
// of writes) into a map, so both representations and the move between
// them are covered.
func TestBranchOverlayModel(t *testing.T) {
	db, st := newState(t)
	var ops []op
	committed := map[string]string{}
	for i := 0; i < 40; i += 2 {
		k, v := fmt.Sprintf("k%02d", i), fmt.Sprintf("c%d", i)
		ops = append(ops, op{k, v})
		committed[k] = v
	}
	apply(t, db, st, ops...)

	rng := rand.New(rand.NewPCG(1, 2))
	check := func(b *Branch, model map[string]string) {
		t.Helper()
		for i := 0; i < 44; i++ {
			k := fmt.Sprintf("k%02d", i)
			if got, want := get(t, b, k), model[k]; got != want {
				t.Fatalf("Get(%s) = %q, model %q", k, got, want)
			}
		}
		for _, prefix := range []string{"", "k1", "k2", "k0"} {
			var got, want []string
			if err := b.Iterate([]byte(prefix), func(k, v []byte) (bool, error) {
				got = append(got, string(k)+"="+string(v))
				return false, nil
			}); err != nil {
				t.Fatal(err)
			}
			for k, v := range model {
				if strings.HasPrefix(k, prefix) {
					want = append(want, k+"="+v)
				}
			}
			sort.Strings(want)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("Iterate(%q) = %v, model %v", prefix, got, want)
			}
		}
	}
	clone := func(m map[string]string) map[string]string {
		c := make(map[string]string, len(m))
		for k, v := range m {
			c[k] = v
		}
		return c
	}
	top := st.Branch()
	topModel := clone(committed)
	for round := 0; round < 300; round++ {
		child := top.Branch()
		childModel := clone(topModel)
		var grand *Branch
		var grandModel map[string]string
		n := rng.IntN(3 * smallWrites)
		for i := 0; i < n; i++ {
			b, m := child, childModel
			if grand == nil && rng.IntN(8) == 0 {
				grand, grandModel = child.Branch(), clone(childModel)
			}
			if grand != nil { // the child is not written while its child is open
				b, m = grand, grandModel
			}
			k := fmt.Sprintf("k%02d", rng.IntN(44))
			if rng.IntN(4) == 0 {
				must(t, b.Delete([]byte(k)))
				delete(m, k)
			} else {
				v := fmt.Sprintf("r%d.%d", round, i)
				must(t, b.Set([]byte(k), []byte(v)))
				m[k] = v
			}
			check(b, m)
		}
		if grand != nil {
			if rng.IntN(2) == 0 {
				must(t, grand.Write())
				childModel = grandModel
			}
			check(child, childModel)
		}
		if rng.IntN(3) != 0 {
			must(t, child.Write())
			topModel = childModel
		}
		check(top, topModel)
	}
}
