package p2p

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
)

func TestChunkEncodingRoundTrip(t *testing.T) {
	for _, c := range []Chunk{
		{},
		{Pairs: []KV{{Key: []byte("a"), Value: []byte("1")}}, More: true},
		{Pairs: []KV{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: bytes.Repeat([]byte{7}, 5000)}}},
	} {
		got, err := DecodeChunk(EncodeChunk(c))
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if len(got.Pairs) != len(c.Pairs) || got.More != c.More {
			t.Fatalf("round trip %+v → %+v", c, got)
		}
		for i := range c.Pairs {
			if !bytes.Equal(got.Pairs[i].Key, c.Pairs[i].Key) || !bytes.Equal(got.Pairs[i].Value, c.Pairs[i].Value) {
				t.Fatalf("pair %d differs", i)
			}
		}
	}
	for name, raw := range map[string][]byte{
		"empty":          nil,
		"unsorted":       EncodeChunk(Chunk{Pairs: []KV{{Key: []byte("b"), Value: []byte("1")}, {Key: []byte("a"), Value: []byte("1")}}}),
		"duplicate":      EncodeChunk(Chunk{Pairs: []KV{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("a"), Value: []byte("2")}}}),
		"empty value":    EncodeChunk(Chunk{Pairs: []KV{{Key: []byte("a"), Value: nil}}}),
		"empty but more": EncodeChunk(Chunk{More: true}),
		"trailing":       append(EncodeChunk(Chunk{}), 0),
		"huge count":     {0xff, 0xff, 0xff, 0xff, 0x0f, 0},
		"long key":       EncodeChunk(Chunk{Pairs: []KV{{Key: bytes.Repeat([]byte{1}, MaxSnapshotKey+1), Value: []byte("1")}}}),
	} {
		if _, err := DecodeChunk(raw); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: DecodeChunk = %v, want ErrMalformed", name, err)
		}
	}
	for _, r := range []snapRequest{{kind: snapReqOffer}, {kind: snapReqValidators, height: 9},
		{kind: snapReqChunk, height: 5, max: 100}, {kind: snapReqChunk, height: 5, max: 100, hasAfter: true, after: []byte("k")}} {
		got, err := decodeSnapRequest(encodeSnapRequest(r))
		if err != nil || got.kind != r.kind || got.height != r.height || got.max != r.max || got.hasAfter != r.hasAfter || !bytes.Equal(got.after, r.after) {
			t.Fatalf("request %+v → %+v, %v", r, got, err)
		}
	}
}

// FuzzDecodeChunk: the decoder never panics, and whatever it accepts
// re-encodes to a chunk that decodes to the same pairs (varints may be
// non-minimal on the wire: nothing in a chunk is hashed or signed).
func FuzzDecodeChunk(f *testing.F) {
	f.Add(EncodeChunk(Chunk{}))
	f.Add(EncodeChunk(Chunk{Pairs: []KV{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}}, More: true}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := DecodeChunk(raw)
		if err != nil {
			return
		}
		if len(c.Pairs) > len(raw) {
			t.Fatalf("%d pairs from %d bytes", len(c.Pairs), len(raw))
		}
		again, err := DecodeChunk(EncodeChunk(c))
		if err != nil || len(again.Pairs) != len(c.Pairs) || again.More != c.More {
			t.Fatalf("accepted %x does not round-trip: %v", raw, err)
		}
		for i := range c.Pairs {
			if !bytes.Equal(again.Pairs[i].Key, c.Pairs[i].Key) || !bytes.Equal(again.Pairs[i].Value, c.Pairs[i].Value) {
				t.Fatalf("pair %d differs after re-encoding", i)
			}
		}
	})
}

func FuzzDecodeSnapRequest(f *testing.F) {
	f.Add(encodeSnapRequest(snapRequest{kind: snapReqChunk, height: 5, max: 100, hasAfter: true, after: []byte("k")}))
	f.Add(encodeSnapRequest(snapRequest{kind: snapReqOffer}))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := decodeSnapRequest(raw)
		if err != nil {
			return
		}
		got, err := decodeSnapRequest(encodeSnapRequest(r))
		if err != nil || got.kind != r.kind || got.height != r.height || got.max != r.max || got.hasAfter != r.hasAfter || !bytes.Equal(got.after, r.after) {
			t.Fatalf("accepted %x does not round-trip: %+v, %v", raw, got, err)
		}
	})
}

// memSnapshots serves a sorted in-memory state at one height; lie
// corrupts what it serves.
type memSnapshots struct {
	height uint64
	keys   []string
	vals   map[string]string
	lie    string // "": honest; "unsorted": keys out of order; "rewind": keys before the requested one
}

func newMemSnapshots(n int) *memSnapshots {
	m := &memSnapshots{height: 40, vals: map[string]string{}}
	for i := range n {
		k := fmt.Sprintf("key/%04d", i)
		m.keys = append(m.keys, k)
		m.vals[k] = fmt.Sprintf("value-%d", i)
	}
	sort.Strings(m.keys)
	return m
}

func (m *memSnapshots) SnapshotHeight() uint64            { return m.height }
func (m *memSnapshots) Serves(h uint64) bool              { return h == m.height }
func (m *memSnapshots) Validators(uint64) ([]byte, error) { return []byte("vals"), nil }
func (m *memSnapshots) Chunk(h uint64, after []byte, hasAfter bool, max int) (Chunk, error) {
	i := 0
	if hasAfter {
		i = sort.SearchStrings(m.keys, string(after)+"\x00")
	}
	var c Chunk
	size := 0
	for ; i < len(m.keys) && (size < max || len(c.Pairs) == 0); i++ {
		k := m.keys[i]
		c.Pairs = append(c.Pairs, KV{Key: []byte(k), Value: []byte(m.vals[k])})
		size += len(k) + len(m.vals[k])
	}
	c.More = i < len(m.keys)
	switch m.lie {
	case "unsorted":
		if len(c.Pairs) > 1 {
			c.Pairs[0], c.Pairs[1] = c.Pairs[1], c.Pairs[0]
		}
	case "rewind":
		c.Pairs = append([]KV{{Key: []byte("a"), Value: []byte("x")}}, c.Pairs...)
	}
	return c, nil
}

// Real hosts: a client downloads the whole state in bounded chunks from
// an honest server; a server whose chunks are out of order, or restart
// before the requested key, is refused with ErrMalformed; heights the
// server does not keep are refused.
func TestSnapshotProtocol(t *testing.T) {
	honest := newMemSnapshots(300)
	srv := newTestNode(t, "snap", func(_ *Config, d *Deps) { d.Snapshots = honest })
	cli := newTestNode(t, "snap", withBootstrap(srv))
	eventually(t, 10e9, "client connects", func() bool { return cli.connected(srv.ID()) })
	ctx := context.Background()

	h, err := cli.SnapshotOffer(ctx, srv.ID())
	if err != nil || h != 40 {
		t.Fatalf("offer = %d, %v; want 40", h, err)
	}
	if v, err := cli.SnapshotValidators(ctx, srv.ID(), 40); err != nil || string(v) != "vals" {
		t.Fatalf("validators = %q, %v", v, err)
	}
	var got []KV
	var after []byte
	chunks := 0
	for {
		c, err := cli.SnapshotChunk(ctx, srv.ID(), 40, after, after != nil, 500)
		if err != nil {
			t.Fatal(err)
		}
		chunks++
		got = append(got, c.Pairs...)
		if !c.More {
			break
		}
		after = c.Pairs[len(c.Pairs)-1].Key
	}
	if len(got) != 300 || chunks < 10 {
		t.Fatalf("downloaded %d pairs in %d chunks", len(got), chunks)
	}
	if _, err := cli.SnapshotChunk(ctx, srv.ID(), 39, nil, false, 500); !errors.Is(err, ErrSnapshotUnavailable) {
		t.Fatalf("chunk of an unserved height: %v, want ErrSnapshotUnavailable", err)
	}

	for _, lie := range []string{"unsorted", "rewind"} {
		liar := newMemSnapshots(300)
		liar.lie = lie
		bad := newTestNode(t, "snap", func(_ *Config, d *Deps) { d.Snapshots = liar })
		c2 := newTestNode(t, "snap", withBootstrap(bad))
		eventually(t, 10e9, "client connects", func() bool { return c2.connected(bad.ID()) })
		_, err := c2.SnapshotChunk(ctx, bad.ID(), 40, []byte("key/0100"), true, 500)
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s chunk: %v, want ErrMalformed", lie, err)
		}
	}
}
