package load

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/api"
)

type sseEvent struct{ event, data string }

func TestReadSSE(t *testing.T) {
	long := strings.Repeat("x", 3<<20) // longer than the reader's buffer
	for _, tc := range []struct {
		name    string
		in      string
		want    []sseEvent
		wantErr error
	}{
		{"one block", "id: 3\nevent: block\ndata: {\"height\":3}\n\n", []sseEvent{{"block", `{"height":3}`}}, io.ErrUnexpectedEOF},
		{"keepalive and crlf", ": keepalive\r\n\r\nevent: block\r\ndata: a\r\n\r\n", []sseEvent{{"block", "a"}}, io.ErrUnexpectedEOF},
		{"multi-line data", "data: a\ndata: b\n\n", []sseEvent{{"message", "a\nb"}}, io.ErrUnexpectedEOF},
		{"long line", "event: block\ndata: " + long + "\n\n", []sseEvent{{"block", long}}, io.ErrUnexpectedEOF},
		{"unterminated event is not delivered", "event: block\ndata: a\n", nil, io.ErrUnexpectedEOF},
		{"bad id", "id: x\n\n", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []sseEvent
			err := readSSE(strings.NewReader(tc.in), func(e string, d []byte) error {
				got = append(got, sseEvent{e, string(d)})
				return nil
			})
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) || tc.wantErr == nil && err == nil {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("events %.200v, want %.200v", got, tc.want)
			}
		})
	}
}

func FuzzReadSSE(f *testing.F) {
	f.Add([]byte("id: 1\nevent: block\ndata: {}\n\n"))
	f.Add([]byte(": keepalive\n\nevent: error\ndata: \"boom\"\n\n"))
	f.Add([]byte("data: a\r\ndata: b\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		n := 0
		err := readSSE(strings.NewReader(string(in)), func(string, []byte) error { n++; return nil })
		if err == nil {
			t.Fatal("a finite stream must end with an error")
		}
	})
}

func ids(n int) []chain.ID {
	out := make([]chain.ID, n)
	for i := range out {
		out[i] = chain.IDOf([]byte{byte(i), 1})
	}
	return out
}

// TestTrackerAccounting walks txs through every path a run produces and
// checks each lands in exactly one bucket of the report.
func TestTrackerAccounting(t *testing.T) {
	tr := newTracker(time.Now().Add(-time.Hour))
	id := ids(6)
	// 0: accepted, then committed.
	tr.register(id[0], false)
	tr.accept(id[0])
	// 1: committed before its POST was answered, then accepted.
	tr.register(id[1], false)
	// 2: accepted, never committed: lost.
	tr.register(id[2], false)
	tr.accept(id[2])
	// 3: rejected, resent, accepted, committed.
	tr.register(id[3], false)
	tr.settle(id[3], stRejected)
	tr.register(id[3], false)
	tr.accept(id[3])
	// 4: rejected for good.
	tr.register(id[4], false)
	tr.settle(id[4], stRejected)
	// 5: no node answered.
	tr.register(id[5], false)
	tr.settle(id[5], stUnanswered)
	fund := chain.IDOf([]byte("funding"))
	tr.register(fund, true)
	tr.accept(fund)

	if out, left, _, _ := tr.snapshot(); out != 3 || left != 1 {
		t.Fatalf("outstanding %d funding %d, want 3 and 1", out, left)
	}
	tr.onBlock(api.BlockEvents{Height: 7, Txs: []api.TxEvents{{ID: id[0]}, {ID: id[1], Code: 5}, {ID: fund}, {ID: chain.IDOf([]byte("someone else's"))}}}, time.Now())
	tr.accept(id[1])
	tr.onBlock(api.BlockEvents{Height: 8, Txs: []api.TxEvents{{ID: id[3]}, {ID: id[0]}}}, time.Now())
	if out, left, head, _ := tr.snapshot(); out != 1 || left != 0 || head != 8 {
		t.Fatalf("outstanding %d funding %d head %d, want 1, 0, 8", out, left, head)
	}

	var rep Report
	tr.summarize(&rep, 0, 2*time.Hour)
	want := Report{Accepted: 4, Committed: 3, CommittedFailed: 1, Lost: 1, Unanswered: 1, BlocksSeen: 2,
		BlocksInWindow: 2, FirstHeight: 7, LastHeight: 8, MaxBlockTxs: 4}
	got := rep
	got.LostIDs, got.Latency, got.TPS, got.BlockInterval, got.TxsPerBlock = nil, Latency{}, 0, 0, 0
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("report\n got %+v\nwant %+v", got, want)
	}
	if len(rep.LostIDs) != 1 || rep.LostIDs[0] != id[2] {
		t.Fatalf("lost ids %v, want [%s]", rep.LostIDs, id[2])
	}
	if rep.Latency.Samples != 3 {
		t.Fatalf("latency samples %d, want 3", rep.Latency.Samples)
	}
}

func TestPercentiles(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // reversed: percentiles must sort
	}
	for _, tc := range []struct {
		name          string
		in            []time.Duration
		p50, p95, p99 time.Duration
	}{
		{"empty", nil, 0, 0, 0},
		{"one", ms(7), 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond},
		{"1..100", ms(hundred...), 50 * time.Millisecond, 95 * time.Millisecond, 99 * time.Millisecond},
		{"four", ms(4, 1, 3, 2), 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := percentiles(tc.in)
			if l.P50 != tc.p50 || l.P95 != tc.p95 || l.P99 != tc.p99 {
				t.Fatalf("got p50 %s p95 %s p99 %s, want %s %s %s", l.P50, l.P95, l.P99, tc.p50, tc.p95, tc.p99)
			}
		})
	}
}

// TestDecodeBlockEvent: the follower's light decoding of a block event
// keeps what the full api.BlockEvents decoding gives the tracker.
func TestDecodeBlockEvent(t *testing.T) {
	full := api.BlockEvents{Height: 9, BlockID: chain.IDOf([]byte("block")), Txs: []api.TxEvents{
		{ID: chain.IDOf([]byte("a")), Code: 0, Events: []chain.Event{{Type: "transfer", Attrs: []chain.Attr{{Key: "amount", Value: "1"}}}}},
		{ID: chain.IDOf([]byte("b")), Code: 5},
	}}
	data, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var want api.BlockEvents
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	got, err := decodeBlockEvent(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Height != want.Height || len(got.Txs) != len(want.Txs) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want.Txs {
		if got.Txs[i].ID != want.Txs[i].ID || got.Txs[i].Code != want.Txs[i].Code {
			t.Errorf("tx %d: %s/%d, want %s/%d", i, got.Txs[i].ID, got.Txs[i].Code, want.Txs[i].ID, want.Txs[i].Code)
		}
	}
	if _, err := decodeBlockEvent([]byte(`{"height":1,"txs":[{"id":"not-a-cid"}]}`)); err == nil {
		t.Error("a bad tx id was accepted")
	}
}

// TestSignAheadKeepsNoncesInOrder: txs taken from an account while the
// refiller signs ahead for it carry consecutive nonces, whichever of the
// two signed them, and every tx the refiller dropped is uncounted.
func TestSignAheadKeepsNoncesInOrder(t *testing.T) {
	keys := DeriveKeys("sign-ahead", 3)
	r := &runner{cfg: Config{ChainID: "load-1", Fee: 10, Denom: "dure", Logf: t.Logf}, codec: chain.MustCodec(),
		lowq: make(chan *account, 3), low: 8}
	for _, k := range keys {
		a := &account{key: k, addr: k.PubKey().Address()}
		r.accts, r.addrs = append(r.accts, a), append(r.addrs, a.addr)
	}
	a := r.accts[0]
	a.nonce = 5
	for range 3 { // as presign leaves it: a short queue
		raw, err := r.sign(a, a.nonce)
		if err != nil {
			t.Fatal(err)
		}
		a.queue = append(a.queue, raw)
		a.nonce++
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { r.refill(stop); close(done) }()
	const n = 200
	for i := range n {
		raw, err := r.next(a)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := chain.DecodeTx(r.codec, raw)
		if err != nil {
			t.Fatal(err)
		}
		if tx.Nonce != uint64(5+i) || tx.Sender() != a.addr {
			t.Fatalf("tx %d: nonce %d from %s, want %d from %s", i, tx.Nonce, tx.Sender(), 5+i, a.addr)
		}
		a.pending = nil // answered
	}
	close(stop)
	<-done
	a.mu.Lock()
	queued := len(a.queue)
	a.mu.Unlock()
	if got, want := r.signed.Load(), int64(n+queued); got != want {
		t.Errorf("signed %d, want %d (%d taken, 3 of them presigned, + %d still queued)", got, want, n, queued)
	}
}
