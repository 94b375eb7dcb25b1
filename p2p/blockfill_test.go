package p2p

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/libp2p/go-libp2p/core/network"
)

// mapFill serves values by key, as the node does from its mempool.
type mapFill struct {
	txs    map[string][]byte
	blocks map[string][]byte
	delay  time.Duration
}

func (m *mapFill) Txs(keys [][]byte) [][]byte {
	time.Sleep(m.delay)
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = m.txs[string(k)]
	}
	return out
}

func (m *mapFill) Block(id []byte) []byte { time.Sleep(m.delay); return m.blocks[string(id)] }

func withFill(f FillSource) nodeOpt { return func(_ *Config, d *Deps) { d.Fill = f } }

func fillPair(t *testing.T, f FillSource) (client, server *testNode) {
	t.Helper()
	server = newTestNode(t, "dure-fill", withFill(f))
	client = newTestNode(t, "dure-fill")
	if err := client.Connect(context.Background(), server.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	return client, server
}

func TestFetchFillTxsAndBlock(t *testing.T) {
	src := &mapFill{txs: map[string][]byte{}, blocks: map[string][]byte{"blk": bytes.Repeat([]byte{7}, 3<<20)}}
	var keys [][]byte
	for i := range 300 {
		v := bytes.Repeat([]byte{byte(i)}, 200+i)
		k := sha256.Sum256(v)
		keys = append(keys, k[:])
		if i%3 != 0 {
			src.txs[string(k[:])] = v
		}
	}
	client, server := fillPair(t, src)
	ctx := context.Background()
	got, err := client.FetchFill(ctx, server.ID(), FillRequest{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(keys) {
		t.Fatalf("%d values for %d keys", len(got), len(keys))
	}
	for i, v := range got {
		if want := src.txs[string(keys[i])]; !bytes.Equal(v, want) {
			t.Fatalf("value %d: %d bytes, want %d", i, len(v), len(want))
		}
	}
	blk, err := client.FetchFill(ctx, server.ID(), FillRequest{Block: true, Keys: [][]byte{[]byte("blk")}})
	if err != nil || !bytes.Equal(blk[0], src.blocks["blk"]) {
		t.Fatalf("block: %v", err)
	}
	if _, err := client.FetchFill(ctx, server.ID(), FillRequest{Block: true, Keys: [][]byte{[]byte("none")}}); !errors.Is(err, ErrFillUnavailable) {
		t.Fatalf("unknown block: err = %v, want ErrFillUnavailable", err)
	}
	// A node without a fill source does not speak the protocol.
	if _, err := server.FetchFill(ctx, client.ID(), FillRequest{Keys: keys[:1]}); err == nil {
		t.Fatal("fill from a node without a source succeeded")
	}
}

// liarServer answers every fill request on a raw stream with write.
func liarServer(t *testing.T, write func(s network.Stream, req FillRequest)) (client, liar *testNode) {
	t.Helper()
	liar = newTestNode(t, "dure-fill")
	liar.Host().SetStreamHandler(BlockFillProtocol("dure-fill"), func(s network.Stream) {
		defer s.Close()
		frame, err := readFrame(bufio.NewReader(s), maxFillRequestFrame)
		if err != nil {
			_ = s.Reset()
			return
		}
		req, err := DecodeFillRequest(frame)
		if err != nil {
			_ = s.Reset()
			return
		}
		write(s, req)
	})
	client = newTestNode(t, "dure-fill")
	if err := client.Connect(context.Background(), liar.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	return client, liar
}

func TestFetchFillRefusesBadAnswers(t *testing.T) {
	keys := [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}
	tests := []struct {
		name  string
		block bool
		write func(s network.Stream, req FillRequest)
		want  error
	}{
		{"oversize tx", false, func(s network.Stream, _ FillRequest) {
			_ = writeFrame(s, make([]byte, chain.MaxTxBytes+1))
		}, ErrMessageTooLarge},
		{"too few values", false, func(s network.Stream, _ FillRequest) {
			_ = writeFrame(s, []byte("one"))
		}, ErrMalformed},
		{"values after the last", false, func(s network.Stream, req FillRequest) {
			for range len(req.Keys) + 1 {
				_ = writeFrame(s, []byte("v"))
			}
		}, ErrMalformed},
		{"oversize block", true, func(s network.Stream, _ FillRequest) {
			_ = writeFrame(s, make([]byte, chain.MaxBlockBytes+1))
		}, ErrMessageTooLarge},
		{"slow", false, func(s network.Stream, req FillRequest) {
			time.Sleep(3 * time.Second)
			for range req.Keys {
				_ = writeFrame(s, []byte("late"))
			}
		}, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, liar := liarServer(t, tc.write)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			req := FillRequest{Keys: keys}
			if tc.block {
				req = FillRequest{Block: true, Keys: keys[:1]}
			}
			start := time.Now()
			_, err := client.FetchFill(ctx, liar.ID(), req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("took %s with a 1 s deadline", took)
			}
		})
	}
}

func TestServeFillResetsBadRequests(t *testing.T) {
	src := &mapFill{txs: map[string][]byte{"k": []byte("v")}}
	client, server := fillPair(t, src)
	for _, req := range [][]byte{
		{},                                 // empty
		{9, 1, 1, 'k'},                     // unknown kind
		{fillKindTxs, 0},                   // no keys
		{fillKindBlock, 2, 1, 'a', 1, 'b'}, // a block asked twice
		{fillKindTxs, 1, 1, 'k', 0},        // trailing byte
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := client.Host().NewStream(ctx, server.ID(), BlockFillProtocol("dure-fill"))
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		_ = writeFrame(s, req)
		_ = s.CloseWrite()
		_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
		var buf [16]byte
		n, err := s.Read(buf[:])
		if err == nil || n > 0 {
			t.Fatalf("request %x: answered %q, err %v; want a reset", req, buf[:n], err)
		}
		cancel()
	}
	// The well-formed one is answered.
	got, err := client.FetchFill(context.Background(), server.ID(), FillRequest{Keys: [][]byte{[]byte("k")}})
	if err != nil || string(got[0]) != "v" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestFillRequestRoundTrip(t *testing.T) {
	for _, r := range []FillRequest{
		{Keys: [][]byte{[]byte("a"), bytes.Repeat([]byte{1}, MaxFillKeyBytes)}},
		{Block: true, Keys: [][]byte{[]byte("block-id")}},
	} {
		got, err := DecodeFillRequest(encodeFillRequest(r))
		if err != nil || got.Block != r.Block || len(got.Keys) != len(r.Keys) {
			t.Fatalf("round trip of %+v: %+v, %v", r, got, err)
		}
		for i := range r.Keys {
			if !bytes.Equal(got.Keys[i], r.Keys[i]) {
				t.Fatalf("key %d differs", i)
			}
		}
	}
	if _, err := DecodeFillRequest(encodeFillRequest(FillRequest{Keys: [][]byte{make([]byte, MaxFillKeyBytes+1)}})); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversize key: %v", err)
	}
}

// FuzzDecodeFillRequest: any input decodes to a request within the limits
// whose encoding decodes to it again, or is ErrMalformed.
func FuzzDecodeFillRequest(f *testing.F) {
	f.Add(encodeFillRequest(FillRequest{Keys: [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}}))
	f.Add(encodeFillRequest(FillRequest{Block: true, Keys: [][]byte{[]byte("id")}}))
	f.Add([]byte{fillKindTxs, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := DecodeFillRequest(p)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if len(r.Keys) == 0 || len(r.Keys) > MaxFillKeys || (r.Block && len(r.Keys) != 1) {
			t.Fatalf("decoded %d keys", len(r.Keys))
		}
		for _, k := range r.Keys {
			if len(k) == 0 || len(k) > MaxFillKeyBytes {
				t.Fatalf("key of %d bytes", len(k))
			}
		}
		again, err := DecodeFillRequest(encodeFillRequest(r))
		if err != nil || again.Block != r.Block || len(again.Keys) != len(r.Keys) {
			t.Fatalf("re-encoded request does not decode the same: %v", err)
		}
		for i := range r.Keys {
			if !bytes.Equal(again.Keys[i], r.Keys[i]) {
				t.Fatalf("key %d differs after re-encoding", i)
			}
		}
	})
}

// countFill holds nothing and counts the keys it was asked to look up.
type countFill struct{ looked atomic.Int64 }

func (c *countFill) Txs(keys [][]byte) [][]byte {
	c.looked.Add(int64(len(keys)))
	return make([][]byte, len(keys))
}

func (c *countFill) Block([]byte) []byte { c.looked.Add(1); return nil }

// TestFillLookupsAreCharged: requests naming MaxFillKeys keys the server
// does not hold answer nothing, so a flooder pays for the lookups: the
// keys a server looks up for one peer stay within its budget (burst plus
// rate × time, fillKeysPerUnit keys a unit), whatever it asks.
func TestFillLookupsAreCharged(t *testing.T) {
	const rate = 1000
	src := &countFill{}
	server := newTestNode(t, "dure-fill", withFill(src), func(c *Config, _ *Deps) { c.SyncServeRate = rate })
	client := newTestNode(t, "dure-fill")
	if err := client.Connect(context.Background(), server.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	keys := make([][]byte, MaxFillKeys)
	for i := range keys {
		k := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		keys[i] = k[:]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	asked := 0
	for ctx.Err() == nil && asked < 40 {
		if _, err := client.FetchFill(ctx, server.ID(), FillRequest{Keys: keys}); err != nil {
			break
		}
		asked++
	}
	took := time.Since(start).Seconds()
	burst := 2.0 * (MaxSyncRange + 1)
	limit := (burst + rate*took) * fillKeysPerUnit
	t.Logf("%d requests of %d keys in %.2fs: %d lookups, budget %.0f", asked, MaxFillKeys, took, src.looked.Load(), limit)
	if got := float64(src.looked.Load()); got > limit+MaxFillKeys {
		t.Fatalf("server looked up %.0f keys in %.2fs, budget allows %.0f", got, took, limit)
	}
}

// TestWholeBlockPeers: a peer that subscribes to the block topic and not
// to the compact one (a version without compact proposals, here a node
// without ValidateCompact) is counted, so the proposer publishes whole
// blocks too; peers on both topics are not. A node off the compact topic
// cannot publish on it.
func TestWholeBlockPeers(t *testing.T) {
	noCompact := func(_ *Config, d *Deps) { d.ValidateCompact = nil }
	a := newTestNode(t, "dure-mixed", permissive())
	b := newTestNode(t, "dure-mixed", permissive(), withBootstrap(a))
	old := newTestNode(t, "dure-mixed", permissive(), noCompact, withBootstrap(a))
	deadline := time.Now().Add(10 * time.Second)
	for a.WholeBlockPeers() != 1 || len(a.Topics()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("whole-block peers: %d, want 1 (the old node); topics %v", a.WholeBlockPeers(), a.Topics())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if k := b.WholeBlockPeers(); k > 1 {
		t.Errorf("b counts %d whole-block peers, at most the old node", k)
	}
	if k := old.WholeBlockPeers(); k != 0 {
		t.Errorf("a node off the compact topic counts %d whole-block peers, want 0 (it publishes only blocks)", k)
	}
	if err := old.PublishCompact(context.Background(), []byte("x")); err == nil {
		t.Error("a node off the compact topic published on it")
	}
}
