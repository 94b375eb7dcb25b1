package notes

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

func newHarness(t *testing.T, gen json.RawMessage) (*moduletest.Harness, *Module) {
	t.Helper()
	key := chain.NewStoreKey(ModuleName)
	m := New(key, chain.MustCodec())
	cfg := moduletest.Config{Modules: []chain.Module{m}, Keys: []*chain.StoreKey{key}}
	if gen != nil {
		cfg.Genesis = map[string]json.RawMessage{ModuleName: gen}
	}
	return moduletest.New(t, cfg), m
}

func post(t *testing.T, h *moduletest.Harness, topic, text string, ttl time.Duration) chain.Msg {
	t.Helper()
	m, err := MsgPost(h.Codec(), topic, text, int64(ttl/time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPostDeleteAndQueries(t *testing.T) {
	h, _ := newHarness(t, nil)
	res := h.MustDeliver(h.Key(0), post(t, h, "garden", "Tomato seedlings free", 0))
	if len(res.Events) != 1 || res.Events[0].Type != "notes.post" || moduletest.Attr(res.Events[0], "id") != "0" {
		t.Fatalf("events %+v", res.Events)
	}
	h.MustDeliver(h.Key(1), post(t, h, "lost-found", "Blue scarf", 0))
	h.MustDeliver(h.Key(1), post(t, h, "garden", "Spare rake", 0))

	garden := h.MustQuery(ModuleName, "notes", map[string]string{"topic": "garden"}).([]any)
	if len(garden) != 2 || garden[0].(map[string]any)["text"] != "Tomato seedlings free" {
		t.Fatalf("garden notes: %v", garden)
	}
	one := h.MustQuery(ModuleName, "note", map[string]string{"id": "1"}).(map[string]any)
	if one["author"] != h.Addr(1).String() || one["height"] != float64(2) {
		t.Fatalf("note 1: %v", one)
	}

	del := func(i int, id uint64) chain.TxResult {
		m, err := MsgDelete(h.Codec(), id)
		if err != nil {
			t.Fatal(err)
		}
		return h.Deliver(h.Key(i), m)
	}
	cases := []struct {
		name   string
		sender int
		id     uint64
		code   uint32
	}{
		{"not the author", 0, 1, chain.CodeUnauthorized},
		{"no such note", 0, 9, chain.CodeInvalidMsg},
		{"author deletes", 1, 1, chain.CodeOK},
		{"already deleted", 1, 1, chain.CodeInvalidMsg},
	}
	for _, c := range cases {
		if res := del(c.sender, c.id); res.Code != c.code {
			t.Errorf("%s: code %d (%s), want %d", c.name, res.Code, res.Log, c.code)
		}
	}
	if _, err := h.Query(ModuleName, "note", map[string]string{"id": "1"}); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("deleted note: %v", err)
	}
	if all := h.MustQuery(ModuleName, "notes", nil).([]any); len(all) != 2 {
		t.Fatalf("all notes after delete: %v", all)
	}
}

func TestInvalidPosts(t *testing.T) {
	h, _ := newHarness(t, nil)
	for _, c := range []struct{ name, topic, text string }{
		{"empty topic", "", "x"},
		{"upper case topic", "Garden", "x"},
		{"long topic", strings.Repeat("a", MaxTopicLen+1), "x"},
		{"empty text", "garden", ""},
		{"long text", "garden", strings.Repeat("x", MaxTextLen+1)},
	} {
		if res := h.Deliver(h.Key(0), post(t, h, c.topic, c.text, 0)); res.Code != chain.CodeInvalidMsg {
			t.Errorf("%s: code %d, want %d", c.name, res.Code, chain.CodeInvalidMsg)
		}
	}
}

func TestEndBlockExpires(t *testing.T) {
	h, _ := newHarness(t, nil)
	h.MustDeliver(h.Key(0), post(t, h, "market", "Apples today", time.Hour))
	h.MustDeliver(h.Key(0), post(t, h, "market", "Stall for rent", 0))
	if out := h.Block(); len(moduletest.Events(out, "notes.expire")) != 0 {
		t.Fatal("expired early")
	}
	h.Advance(time.Hour)
	out := h.Block()
	if ev := moduletest.Events(out, "notes.expire"); len(ev) != 1 || moduletest.Attr(ev[0], "id") != "0" {
		t.Fatalf("expire events %+v", out.EndBlockEvents)
	}
	if left := h.MustQuery(ModuleName, "notes", map[string]string{"topic": "market"}).([]any); len(left) != 1 {
		t.Fatalf("left: %v", left)
	}
}

// A chain restarted from an export has the same notes and state root,
// nonces included.
func TestGenesisExportReimports(t *testing.T) {
	h, _ := newHarness(t, json.RawMessage(`{"next_id": 2, "notes": [{"id": 1, "author": "`+
		moduletest.KeyFromIndex(5).PubKey().Address().String()+`", "topic": "town", "text": "Welcome", "height": 0, "time": 0}]}`))
	h.MustDeliver(h.Key(0), post(t, h, "garden", "Seedlings", 0))
	h.MustDeliver(h.Key(1), post(t, h, "market", "Apples", 24*time.Hour))
	gen := h.CheckExport()
	var g Genesis
	if err := json.Unmarshal(gen[ModuleName], &g); err != nil {
		t.Fatal(err)
	}
	if g.NextID != 4 || len(g.Notes) != 3 || g.Notes[2].Expires == 0 {
		t.Fatalf("exported %s", gen[ModuleName])
	}
	if _, ok := gen["auth"]; !ok {
		t.Fatal("export has no nonces")
	}
}

func TestGenesisRefused(t *testing.T) {
	for _, raw := range []string{
		`{"next_id": 1, "notes": [{"id": 1, "topic": "a", "text": "x"}]}`, // id not below next_id
		`{"next_id": 2, "notes": [{"id": 0, "topic": "A", "text": "x"}]}`, // bad topic
		`{"nextid": 1}`, // unknown field
	} {
		key := chain.NewStoreKey(ModuleName)
		_, err := moduletest.TryNew(t, moduletest.Config{Modules: []chain.Module{New(key, chain.MustCodec())},
			Keys: []*chain.StoreKey{key}, Genesis: map[string]json.RawMessage{ModuleName: json.RawMessage(raw)}})
		if err == nil {
			t.Errorf("%s: accepted", raw)
		}
	}
}

// Every message the description builds from valid flags is one Deliver
// accepts, and the local checks refuse what the chain would.
func TestDescriptionBuildsDeliverableMessages(t *testing.T) {
	h, m := newHarness(t, nil)
	d := m.Describe()
	build := func(typ string, raw map[string]string) (chain.Msg, error) {
		md, ok := d.FindMsg(typ)
		if !ok {
			t.Fatalf("no %s", typ)
		}
		v, err := chain.ParseValues(md.Fields, raw, h.Key(0).PubKey())
		if err != nil {
			return chain.Msg{}, err
		}
		return md.Build(h.Codec(), v)
	}
	msg, err := build(TypePost, map[string]string{"topic": "garden", "text": "hi", "ttl": "1h"})
	if err != nil {
		t.Fatal(err)
	}
	h.MustDeliver(h.Key(0), msg)
	if msg, err = build(TypeDelete, map[string]string{"id": "0"}); err != nil {
		t.Fatal(err)
	}
	h.MustDeliver(h.Key(0), msg)
	for _, raw := range []map[string]string{
		{"text": "no topic"},
		{"topic": "garden", "text": strings.Repeat("x", MaxTextLen+1)},
		{"topic": "garden", "text": "x", "ttl": "a week"},
		{"topic": "garden", "txt": "typo"},
	} {
		if _, err := build(TypePost, raw); !errors.Is(err, chain.ErrBadField) {
			t.Errorf("%v: %v, want ErrBadField", raw, err)
		}
	}
	for _, q := range d.Queries {
		if len(q.Examples) == 0 || q.Short == "" {
			t.Errorf("query %s undocumented", q.Path)
		}
	}
}
