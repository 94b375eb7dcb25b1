package moduletest_test

import (
	"testing"
	"time"

	"github.com/dure-network/dure/apps/notes"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

func newNotes(t *testing.T) *moduletest.Harness {
	key := chain.NewStoreKey(notes.ModuleName)
	return moduletest.New(t, moduletest.Config{Modules: []chain.Module{notes.New(key, chain.MustCodec())}, Keys: []*chain.StoreKey{key}})
}

// The direct mode: a failed message leaves nothing, a good one is visible
// in the open block and committed by EndBlock, and the block's time moves
// as set.
func TestDirectMode(t *testing.T) {
	h := newNotes(t)
	c := h.Codec()
	bad, _ := notes.MsgPost(c, "Not A Topic", "x", 0)
	good, _ := notes.MsgPost(c, "town", "hello", 60)
	root := h.StateRoot()
	if _, err := h.DeliverAs(chain.Address{7}, bad); err == nil {
		t.Fatal("bad post accepted")
	}
	evs, err := h.DeliverAs(chain.Address{7}, good)
	if err != nil || len(evs) != 1 {
		t.Fatalf("good post: %v %v", evs, err)
	}
	if v, err := h.QueryOpen(notes.ModuleName, "count", nil); err != nil || v.(map[string]uint64)["next_id"] != 1 {
		t.Fatalf("open block: %v %v", v, err)
	}
	if h.StateRoot() != root {
		t.Fatal("committed before EndBlock")
	}
	if evs, _ := h.EndBlock(2 * time.Minute); len(evs) != 0 || h.Height() != 1 || h.StateRoot() == root {
		t.Fatalf("end block 1: %v, height %d", evs, h.Height())
	}
	if evs, _ := h.EndBlock(0); len(evs) != 1 || evs[0].Type != "notes.expire" {
		t.Fatalf("end block 2 (two minutes later): %v", evs)
	}
}

// Query proves what it read and recomputes the answer over the proofs.
func TestQueryProves(t *testing.T) {
	h := newNotes(t)
	m, _ := notes.MsgPost(h.Codec(), "town", "hello", 0)
	h.MustDeliver(h.Key(0), m)
	got := h.MustQuery(notes.ModuleName, "notes", map[string]string{"topic": "town"}).([]any)
	if len(got) != 1 || got[0].(map[string]any)["author"] != h.Addr(0).String() {
		t.Fatalf("notes: %v", got)
	}
	h.CheckExport()
}
