package state

import (
	"fmt"
	"slices"
	"testing"
)

// TestBranchLazyOrderUnderIterate: a top-level branch orders its new keys
// only when an Iterate needs them. Keys written before, during (from the
// callback, on the branch and on a child merged into it) and after an
// Iterate, some deleted again, and a nested Iterate from the callback:
// each iteration lists exactly the keys written before it began, in
// order, and the staged root equals that of a branch given the same
// final writes directly (on Badger, Reserve'd and not).
func TestBranchLazyOrderUnderIterate(t *testing.T) {
	db, st := newState(t)
	apply(t, db, st, op{"p/05", "c"}, op{"p/15", "c"}, op{"q/00", "c"})

	list := func(b *Branch, prefix string) []string {
		t.Helper()
		var out []string
		if err := b.Iterate([]byte(prefix), func(k, v []byte) (bool, error) {
			out = append(out, string(k)+"="+string(v))
			return false, nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	set := func(b *Branch, k, v string) {
		t.Helper()
		if err := b.Set([]byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	for _, reserve := range []bool{false, true} {
		b := st.Branch()
		if reserve {
			b.Reserve(64)
		}
		set(b, "p/20", "a")
		set(b, "p/01", "a")
		if got, want := list(b, "p/"), []string{"p/01=a", "p/05=c", "p/15=c", "p/20=a"}; !slices.Equal(got, want) {
			t.Fatalf("reserve %v: first iterate %v, want %v", reserve, got, want)
		}
		// Writes from the callback: not in this iteration, in the next.
		var outer, nested []string
		if err := b.Iterate([]byte("p/"), func(k, v []byte) (bool, error) {
			outer = append(outer, string(k))
			n := len(outer)
			set(b, fmt.Sprintf("p/%02d", 30-n), "i") // new keys, between and after the listed ones
			child := b.Branch()
			set(child, fmt.Sprintf("p/1%d", n), "ch")
			if err := child.Write(); err != nil {
				return true, err
			}
			if n == 2 {
				nested = list(b, "p/")
				if err := b.Delete([]byte("p/29")); err != nil {
					return true, err
				}
			}
			return false, nil
		}); err != nil {
			t.Fatal(err)
		}
		if want := []string{"p/01", "p/05", "p/15", "p/20"}; !slices.Equal(outer, want) {
			t.Fatalf("reserve %v: outer iterate saw %v, want %v (writes of the callback leaked in)", reserve, outer, want)
		}
		if want := []string{"p/01=a", "p/05=c", "p/11=ch", "p/12=ch", "p/15=c", "p/20=a", "p/28=i", "p/29=i"}; !slices.Equal(nested, want) {
			t.Fatalf("reserve %v: nested iterate %v, want %v", reserve, nested, want)
		}
		set(b, "p/00", "z")
		want := []string{"p/00=z", "p/01=a", "p/05=c", "p/11=ch", "p/12=ch", "p/13=ch", "p/14=ch", "p/15=c", "p/20=a", "p/26=i", "p/27=i", "p/28=i"}
		if got := list(b, "p/"); !slices.Equal(got, want) {
			t.Fatalf("reserve %v: last iterate %v, want %v", reserve, got, want)
		}

		direct := st.Branch()
		for _, kv := range want {
			set(direct, kv[:4], kv[5:])
		}
		if err := direct.Delete([]byte("p/29")); err != nil { // as b: a deleted key absent from the start
			t.Fatal(err)
		}
		pb, err := st.Stage(b)
		if err != nil {
			t.Fatal(err)
		}
		pd, err := st.Stage(direct)
		if err != nil {
			t.Fatal(err)
		}
		if pb.Root() != pd.Root() {
			t.Fatalf("reserve %v: staged root %s, the same writes made directly %s", reserve, pb.Root(), pd.Root())
		}
	}
}
