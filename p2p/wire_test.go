package p2p

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/dure-network/dure/chain"
)

func TestTxBatchRoundTripAndLimits(t *testing.T) {
	big := bytes.Repeat([]byte{1}, chain.MaxTxBytes)
	tests := []struct {
		name string
		txs  [][]byte
		err  error
	}{
		{"one", [][]byte{{1, 2, 3}}, nil},
		{"mixed sizes", [][]byte{{1}, bytes.Repeat([]byte{2}, 300), bytes.Repeat([]byte{3}, 70000%chain.MaxTxBytes)}, nil},
		{"max tx", [][]byte{big}, nil},
		{"empty batch", nil, ErrMalformed},
		{"empty tx", [][]byte{{}}, ErrMessageTooLarge},
		{"tx too large", [][]byte{append(big, 1)}, ErrMessageTooLarge},
		{"too many", make([][]byte, MaxTxBatchLen+1), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := EncodeTxBatch(tc.txs)
			if !errors.Is(err, tc.err) {
				t.Fatalf("encode err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			dec, err := DecodeTxBatch(enc)
			if err != nil {
				t.Fatal(err)
			}
			if len(dec) != len(tc.txs) {
				t.Fatalf("decoded %d txs, want %d", len(dec), len(tc.txs))
			}
			for i := range dec {
				if !bytes.Equal(dec[i], tc.txs[i]) {
					t.Fatalf("tx %d differs", i)
				}
			}
		})
	}
}

func TestDecodeTxBatchRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty input", nil},
		{"not an array", []byte{0x41, 0x01}},
		{"empty array", []byte{0x80}},
		{"indefinite array", []byte{0x9f, 0x41, 0x01, 0xff}},
		{"non-shortest length", []byte{0x98, 0x01, 0x41, 0x01}},
		{"text instead of bytes", []byte{0x81, 0x61, 'a'}},
		{"truncated tx", []byte{0x81, 0x45, 1, 2}},
		{"trailing bytes", []byte{0x81, 0x41, 0x01, 0x00}},
		{"count larger than content", []byte{0x82, 0x41, 0x01}},
		{"huge count", []byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"oversized message", make([]byte, MaxTxBatchBytes+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeTxBatch(tc.in); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestSyncWireRoundTrip(t *testing.T) {
	f, to, err := decodeSyncRequest(encodeSyncRequest(5, 68))
	if err != nil || f != 5 || to != 68 {
		t.Fatalf("request: %d %d %v", f, to, err)
	}
	if _, _, err := decodeSyncRequest(encodeSyncRequest(5, 69)); !errors.Is(err, ErrSyncRange) {
		t.Fatalf("65-block request: %v", err)
	}
	it := SyncItem{Height: 9, Block: []byte("blk"), Commit: []byte("c")}
	got, err := decodeSyncItem(encodeSyncItem(it))
	if err != nil || got.Height != 9 || string(got.Block) != "blk" || string(got.Commit) != "c" {
		t.Fatalf("item: %+v %v", got, err)
	}
	if _, err := decodeSyncItem(append(encodeSyncItem(it), 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	if _, err := decodeSyncItem(encodeSyncItem(SyncItem{Height: 0, Block: []byte("x")})); err == nil {
		t.Fatal("height 0 accepted")
	}
	if h, err := decodeStatus(encodeStatus(1 << 40)); err != nil || h != 1<<40 {
		t.Fatalf("status: %d %v", h, err)
	}
}

func FuzzDecodeTxBatch(f *testing.F) {
	seed, _ := EncodeTxBatch([][]byte{{1, 2, 3}, bytes.Repeat([]byte{9}, 300)})
	f.Add(seed)
	f.Add([]byte{0x81, 0x41, 0x01})
	f.Add([]byte{0x9f, 0x41, 0x01, 0xff})
	f.Add([]byte{0x98, 0x01, 0x41, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		txs, err := DecodeTxBatch(data)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes: one form per batch.
		again, err := EncodeTxBatch(txs)
		if err != nil {
			t.Fatalf("decoded batch does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("non-canonical batch accepted: %x", data)
		}
	})
}

func FuzzDecodeSyncRequest(f *testing.F) {
	f.Add(encodeSyncRequest(1, 64))
	f.Add(encodeSyncRequest(0, 0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		from, to, err := decodeSyncRequest(data)
		if err != nil {
			return
		}
		if from == 0 || to < from || to-from >= MaxSyncRange {
			t.Fatalf("out-of-bounds range accepted: %d-%d", from, to)
		}
	})
}

func FuzzDecodeSyncItem(f *testing.F) {
	f.Add(encodeSyncItem(SyncItem{Height: 1, Block: []byte("block"), Commit: []byte("commit")}))
	f.Add(encodeSyncItem(SyncItem{Height: 1 << 50, Block: []byte{0}}))
	f.Add([]byte{0x01, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		it, err := decodeSyncItem(data)
		if err != nil {
			return
		}
		if len(it.Block) > chain.MaxBlockBytes || len(it.Commit) > MaxCommitBytes || it.Height == 0 {
			t.Fatalf("limits not enforced: %d %d %d", it.Height, len(it.Block), len(it.Commit))
		}
		if !bytes.Equal(encodeSyncItem(it), data) {
			// Non-minimal varints may decode; they must still mean the same item.
			again, err := decodeSyncItem(encodeSyncItem(it))
			if err != nil || again.Height != it.Height || !bytes.Equal(again.Block, it.Block) {
				t.Fatalf("item does not round-trip")
			}
		}
	})
}

func FuzzDecodeStatus(f *testing.F) {
	f.Add(encodeStatus(0))
	f.Add(encodeStatus(12345))
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := decodeStatus(data)
		if err != nil {
			return
		}
		if got, err := decodeStatus(encodeStatus(h)); err != nil || got != h {
			t.Fatalf("status %d does not round-trip", h)
		}
	})
}

func TestLoadOrCreateKeyIsStable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config", "p2p_key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equals(k2) {
		t.Fatal("second load gave a different key")
	}
	if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil {
		t.Fatal("corrupt key file accepted")
	}
}

func TestConfigErrors(t *testing.T) {
	psk := bytes.Repeat([]byte{1}, 32)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no chain id", Config{}},
		{"slash in chain id", Config{ChainID: "a/b"}},
		{"short psk", Config{ChainID: "c", PrivateNetworkPSK: []byte{1}}},
		{"psk with quic", Config{ChainID: "c", PrivateNetworkPSK: psk, ListenAddrs: []string{"/ip4/127.0.0.1/udp/0/quic-v1"}}},
		{"water marks", Config{ChainID: "c", LowWater: 50, HighWater: 10}},
		{"bad deny peer", Config{ChainID: "c", DenyPeers: []string{"nope"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.cfg.withDefaults(); !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
	cfg, err := Config{ChainID: "c", PrivateNetworkPSK: psk}.withDefaults()
	if err != nil || len(cfg.ListenAddrs) != 1 {
		t.Fatalf("psk default listen addrs %v, err %v; want TCP only", cfg.ListenAddrs, err)
	}
	// Resource limits admit what the connection manager keeps.
	lim := resourceLimits("c", 400)
	if got := lim.ToPartialLimitConfig().System.ConnsInbound; int(got) < 400 {
		t.Fatalf("system inbound conns %d below high water 400", got)
	}
	// The node budgets its file descriptors around FDLimit: libp2p must
	// not take more (its default is half the process's limit).
	if got := lim.ToPartialLimitConfig().System.FD; int(got) != FDLimit(400) {
		t.Fatalf("system FD limit %d, want FDLimit(400) = %d", got, FDLimit(400))
	}
}

func TestNewRejectsMissingValidators(t *testing.T) {
	ctx := t.Context()
	cfg := Config{ChainID: "c", ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}}
	if _, err := New(ctx, cfg, Deps{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("missing validators: %v", err)
	}
}

// mDNS itself multicasts on the LAN, which tests here may not do; the
// per-chain service name is what keeps chains apart, so it is tested.
func TestMDNSServiceName(t *testing.T) {
	for _, tc := range []struct{ chain, want string }{
		{"dure-testnet-1", "dure-dure-testnet-1"},
		{"my.town_1", "dure-my-town-1"},
		{strings.Repeat("a", 64), "dure-" + strings.Repeat("a", 58)},
	} {
		if got := mdnsServiceName(tc.chain); got != tc.want {
			t.Errorf("mdnsServiceName(%q) = %q, want %q", tc.chain, got, tc.want)
		}
	}
	if mdnsServiceName("a-1") == mdnsServiceName("a-2") {
		t.Fatal("two chains share a service name")
	}
}

// TestDecodeTxBatchCopiesOut: a decoded tx does not alias the message, so
// keeping one tx of a 1 MiB message (as the mempool keeps an admitted tx)
// retains about that tx's bytes, not the message.
func TestDecodeTxBatchCopiesOut(t *testing.T) {
	txs := make([][]byte, MaxTxBatchLen)
	for i := range txs {
		txs[i] = bytes.Repeat([]byte{byte(i)}, 1000)
	}
	msg, err := EncodeTxBatch(txs)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := DecodeTxBatch(msg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range msg {
		msg[i] = 0xff // the caller (gossipsub) may reuse or drop the message
	}
	for i, tx := range dec {
		if !bytes.Equal(tx, txs[i]) || cap(tx) != len(tx) {
			t.Fatalf("tx %d changed with the message or has spare capacity (%d of %d)", i, cap(tx), len(tx))
		}
	}

	perTx := retainedPerKeptTx(t, txs)
	t.Logf("retained %d bytes per kept 1,000-byte tx (messages of %d bytes)", perTx, len(msg))
	if perTx > 64<<10 { // a sixteenth of the message: heap noise, not a pinned message
		t.Fatalf("a kept tx retains %d bytes: it pins its message", perTx)
	}
}

// retainedPerKeptTx is the heap growth per message when 40 messages of
// txs are decoded and one tx of each is kept.
func retainedPerKeptTx(t *testing.T, txs [][]byte) int64 {
	const msgs = 40
	kept := make([][]byte, 0, msgs)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range msgs {
		m, _ := EncodeTxBatch(txs)
		d, err := DecodeTxBatch(m)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, d[7])
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(kept)
	return (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / msgs
}
