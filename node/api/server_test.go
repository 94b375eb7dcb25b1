package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
)

// chainBackend is a Backend over a tiny in-memory chain: SubmitTx runs the
// real decoder and signature check, blocks are added by the test. It is
// what the HTTP layer needs, and nothing more; the node's real backend is
// tested in package node.
type chainBackend struct {
	codec   *chain.Codec
	chainID string

	mu     sync.Mutex
	head   uint64
	headCh chan struct{}
	txs    map[chain.ID]uint64 // committed tx → height
	failAt uint64              // EventsAt fails at this height (0: never)
}

func newChainBackend() *chainBackend {
	return &chainBackend{codec: chain.MustCodec(), chainID: "api-1", headCh: make(chan struct{}), txs: map[chain.ID]uint64{}}
}

// commit adds a block holding ids.
func (b *chainBackend) commit(ids ...chain.ID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.head++
	for _, id := range ids {
		b.txs[id] = b.head
	}
	close(b.headCh)
	b.headCh = make(chan struct{})
}

func (b *chainBackend) Status(ctx context.Context) (Status, error) {
	return Status{ChainID: b.chainID, Height: b.Head()}, nil
}

func (b *chainBackend) SubmitTx(ctx context.Context, raw []byte) (chain.ID, error) {
	tx, err := chain.DecodeTx(b.codec, raw)
	if err != nil {
		return "", err
	}
	if tx.ChainID != b.chainID {
		return "", fmt.Errorf("%w: %q", chain.ErrWrongChain, tx.ChainID)
	}
	if err := tx.VerifySignature(b.codec); err != nil {
		return "", err
	}
	return chain.IDOf(raw), nil
}

func (b *chainBackend) WaitTx(ctx context.Context, id chain.ID) (TxInfo, error) {
	for {
		ch := b.HeadChanged()
		if info, err := b.Tx(ctx, id, false); err == nil {
			return info, nil
		}
		select {
		case <-ctx.Done():
			return TxInfo{}, ctx.Err()
		case <-ch:
		}
	}
}

func (b *chainBackend) Tx(ctx context.Context, id chain.ID, prove bool) (TxInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h, ok := b.txs[id]
	if !ok {
		return TxInfo{}, fmt.Errorf("tx %s: %w", id, chain.ErrNotFound)
	}
	return TxInfo{ID: id, Height: h, Result: &chain.TxResult{}}, nil
}

func (b *chainBackend) Block(ctx context.Context, h uint64) (BlockInfo, error) {
	if h > b.Head() {
		return BlockInfo{}, fmt.Errorf("block %d: %w", h, chain.ErrNotFound)
	}
	return BlockInfo{Header: chain.Header{Height: h}}, nil
}

func (b *chainBackend) Account(ctx context.Context, a chain.Address, prove bool) (Account, error) {
	return Account{Address: a}, nil
}

func (b *chainBackend) Validators(ctx context.Context, h uint64) (Validators, error) {
	return Validators{Height: h}, nil
}

func (b *chainBackend) Query(ctx context.Context, module, path string, args map[string]string, prove bool) (QueryResult, error) {
	return QueryResult{Result: args}, nil
}

func (b *chainBackend) Peers(ctx context.Context) (any, error) { return []string{}, nil }

func (b *chainBackend) DenyPeer(ctx context.Context, id string, deny bool) error { return nil }

func (b *chainBackend) Head() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.head
}

func (b *chainBackend) HeadChanged() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.headCh
}

func (b *chainBackend) EventsAt(ctx context.Context, h uint64) (BlockEvents, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if h == b.failAt {
		return BlockEvents{}, fmt.Errorf("events of block %d: %w", h, ErrPruned)
	}
	return BlockEvents{Height: h}, nil
}

func signedTx(t testing.TB, chainID string, nonce, fee uint64) []byte {
	t.Helper()
	key, err := chain.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	tx := chain.Tx{ChainID: chainID, Nonce: nonce, MaxFee: fee,
		Msgs: []chain.Msg{{Module: "currency", Type: "send", Body: []byte{0xa0}}}}
	raw, err := tx.Sign(chain.MustCodec(), key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestClassify(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{chain.ErrTxTooLarge, 413, "tx_too_large"},
		{chain.ErrTxMalformed, 400, "tx_malformed"},
		{chain.ErrBadSignature, 400, "bad_signature"},
		{chain.ErrWrongChain, 400, "wrong_chain"},
		{chain.ErrBadAddress, 400, "bad_address"},
		{chain.ErrNonceTooLow, 409, "nonce_too_low"},
		{chain.ErrNonceTooHigh, 409, "nonce_too_high"},
		{ErrDuplicate, 409, "duplicate_tx"},
		{chain.ErrFeeTooLow, 422, "fee_too_low"},
		{chain.ErrInsufficient, 422, "insufficient_funds"},
		{chain.ErrUnknownMsg, 422, "unknown_message"},
		{chain.ErrInvalidMsg, 422, "invalid_message"},
		{chain.ErrUnauthorized, 422, "unauthorized"},
		{ErrMempoolFull, 503, "mempool_full"},
		{ErrNotReady, 503, "not_ready"},
		{ErrTimeout, 504, "commit_timeout"},
		{ErrPruned, 410, "pruned"},
		{chain.ErrNotFound, 404, "not_found"},
		{ErrBadRequest, 400, "bad_request"},
		{errors.New("disk on fire"), 500, "internal"},
	}
	for _, c := range cases {
		// Wrapped with context, as backends return them.
		err := fmt.Errorf("tx abc: %w", c.err)
		if st, code := classify(err); st != c.status || code != c.code {
			t.Errorf("%v: got %d %s, want %d %s", c.err, st, code, c.status, c.code)
		}
		rec := httptest.NewRecorder()
		writeError(rec, err)
		var eb ErrorBody
		if json.Unmarshal(rec.Body.Bytes(), &eb) != nil || rec.Code != c.status || eb.Error.Code != c.code ||
			eb.Error.Message != err.Error() || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%v: response %d %q", c.err, rec.Code, rec.Body.String())
		}
	}
	// The most specific sentinel wins when an error wraps two.
	both := fmt.Errorf("%w: %w", ErrBadRequest, chain.ErrUnknownMsg)
	if _, code := classify(both); code != "unknown_message" {
		t.Errorf("bad request wrapping unknown message classified %s", code)
	}
}

func post(t testing.TB, h http.Handler, path, ctype string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestSubmitBodies(t *testing.T) {
	b := newChainBackend()
	s := New(b, Config{MaxBodyBytes: 4096, WaitTimeout: 200 * time.Millisecond})
	good := signedTx(t, "api-1", 0, 10)
	cases := []struct {
		name, ctype string
		body        []byte
		status      int
		code        string
	}{
		{"cbor", "application/cbor", good, 202, ""},
		{"cbor with params", "application/cbor; charset=binary", signedTx(t, "api-1", 1, 10), 202, ""},
		{"octet-stream", "application/octet-stream", signedTx(t, "api-1", 2, 10), 202, ""},
		{"json", "application/json", EncodeTxJSON(signedTx(t, "api-1", 3, 10)), 202, ""},
		{"no content type is json", "", EncodeTxJSON(signedTx(t, "api-1", 4, 10)), 202, ""},
		{"raw cbor sent as json", "application/json", good, 400, "tx_malformed"},
		{"json missing tx", "application/json", []byte(`{}`), 400, "tx_malformed"},
		{"json null tx", "application/json", []byte(`{"tx":null}`), 400, "tx_malformed"},
		{"json number", "application/json", []byte(`42`), 400, "tx_malformed"},
		{"body at the limit", "application/cbor", bytes.Repeat([]byte{0}, 4096), 400, "tx_malformed"},
		{"body over the limit", "application/cbor", bytes.Repeat([]byte{0}, 4097), 413, "tx_too_large"},
		{"json over the limit", "application/json", EncodeTxJSON(bytes.Repeat([]byte{0}, 4000)), 413, "tx_too_large"},
		{"wrong chain", "application/cbor", signedTx(t, "api-2", 0, 10), 400, "wrong_chain"},
	}
	for _, c := range cases {
		rec := post(t, s, "/v1/txs", c.ctype, c.body)
		var eb ErrorBody
		json.Unmarshal(rec.Body.Bytes(), &eb)
		if rec.Code != c.status || eb.Error.Code != c.code {
			t.Errorf("%s: %d %s, want %d %s (%s)", c.name, rec.Code, eb.Error.Code, c.status, c.code, rec.Body.String())
		}
		if c.status == 202 {
			var sr SubmitResponse
			if json.Unmarshal(rec.Body.Bytes(), &sr) != nil || sr.ID == "" {
				t.Errorf("%s: no id in %s", c.name, rec.Body.String())
			}
		}
	}
	// wait=commit: answered once the tx is in a block, 504 if it never is.
	raw := signedTx(t, "api-1", 9, 10)
	go func() {
		time.Sleep(30 * time.Millisecond)
		b.commit()
		b.commit(chain.IDOf(raw))
	}()
	rec := post(t, s, "/v1/txs?wait=commit", "application/cbor", raw)
	var sr SubmitResponse
	if json.Unmarshal(rec.Body.Bytes(), &sr); rec.Code != 200 || sr.Height != 2 || sr.ID != chain.IDOf(raw) {
		t.Errorf("wait=commit: %d %s", rec.Code, rec.Body.String())
	}
	rec = post(t, s, "/v1/txs?wait=commit", "application/cbor", signedTx(t, "api-1", 10, 10))
	var eb ErrorBody
	if json.Unmarshal(rec.Body.Bytes(), &eb); rec.Code != 504 || eb.Error.Code != "commit_timeout" {
		t.Errorf("wait=commit never committed: %d %s", rec.Code, rec.Body.String())
	}
}

// readSSE reads n block events from a live stream.
func readSSE(t *testing.T, url, lastID string, n int) []uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ids []uint64
	sc := bufio.NewScanner(resp.Body)
	var id uint64
	for sc.Scan() && len(ids) < n {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id, _ = strconv.ParseUint(line[4:], 10, 64)
		case strings.HasPrefix(line, "data: "):
			var ev BlockEvents
			if err := json.Unmarshal([]byte(line[6:]), &ev); err != nil || ev.Height != id {
				t.Fatalf("event %d data %q", id, line)
			}
			ids = append(ids, id)
		case strings.HasPrefix(line, "event: error"):
			return append(ids, 0)
		}
	}
	return ids
}

func TestEventStream(t *testing.T) {
	b := newChainBackend()
	for i := 0; i < 5; i++ {
		b.commit()
	}
	srv := httptest.NewServer(New(b, Config{}))
	defer srv.Close()
	go func() {
		time.Sleep(50 * time.Millisecond)
		b.commit() // 6 arrives while streams wait
	}()
	check := func(name string, got []uint64, want ...uint64) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: got ids %v, want %v", name, got, want)
		}
	}
	check("from 3", readSSE(t, srv.URL+"/v1/events?from_height=3", "", 4), 3, 4, 5, 6)
	check("last id 4", readSSE(t, srv.URL+"/v1/events", "4", 2), 5, 6)
	check("from_height wins over last id", readSSE(t, srv.URL+"/v1/events?from_height=2", "5", 1), 2)
	// Without a start, the stream begins after the current head.
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				b.commit()
			}
		}
	}()
	before := b.Head()
	got := readSSE(t, srv.URL+"/v1/events", "", 2)
	close(stop)
	if len(got) != 2 || got[0] <= before || got[1] != got[0]+1 {
		t.Errorf("default start: ids %v with head %d before the request", got, before)
	}
	// A height that cannot be served ends the stream with an error event,
	// never by skipping it.
	b.mu.Lock()
	b.failAt = 3
	b.mu.Unlock()
	check("failing height", readSSE(t, srv.URL+"/v1/events?from_height=2", "", 5), 2, 0)
	for _, q := range []string{"0", "-1", "x"} {
		resp, err := http.Get(srv.URL + "/v1/events?from_height=" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("from_height=%s: %d", q, resp.StatusCode)
		}
	}
}

func TestClientErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/status" {
			w.WriteHeader(502)
			io.WriteString(w, "bad gateway\n")
			return
		}
		writeError(w, fmt.Errorf("tx x: %w", chain.ErrNonceTooLow))
	}))
	defer srv.Close()
	cl := NewClient(strings.TrimPrefix(srv.URL, "http://"))
	_, err := cl.Submit(context.Background(), []byte{1}, false)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 409 || ae.Code != "nonce_too_low" || !strings.Contains(err.Error(), "tx x: nonce too low") {
		t.Errorf("Submit: %v", err)
	}
	_, err = cl.Status(context.Background())
	if !errors.As(err, &ae) || ae.Status != 502 || ae.Code != "http" || ae.Message != "bad gateway" {
		t.Errorf("Status: %#v", err)
	}
	_, err = NewClient("127.0.0.1:1").Status(context.Background())
	if err == nil || errors.As(err, &ae) {
		t.Errorf("unreachable node: %v (want a transport error, not an APIError)", err)
	}
}

// FuzzSubmitBody: any body, with any content type, gets a 2xx or a 4xx
// with a JSON error code — never a 5xx or a panic.
func FuzzSubmitBody(f *testing.F) {
	good := signedTx(f, "api-1", 0, 10)
	f.Add(good, uint8(0))
	f.Add(EncodeTxJSON(good), uint8(1))
	f.Add(signedTx(f, "api-2", 0, 10), uint8(0))
	f.Add([]byte(`{"tx":"AAAA"}`), uint8(1))
	f.Add([]byte(`{"tx":`), uint8(1))
	f.Add([]byte{0x86, 0x60, 0x40, 0x00, 0x00, 0x80, 0x40}, uint8(0))
	f.Add([]byte{}, uint8(2))
	b := newChainBackend()
	s := New(b, Config{MaxBodyBytes: 1 << 16, WaitTimeout: time.Millisecond})
	ctypes := []string{"application/cbor", "application/json", "", "application/octet-stream", "text/plain"}
	f.Fuzz(func(t *testing.T, body []byte, ct uint8) {
		for _, path := range []string{"/v1/txs", "/v1/txs?wait=commit"} {
			rec := post(t, s, path, ctypes[int(ct)%len(ctypes)], body)
			if rec.Code >= 500 && rec.Code != 504 {
				t.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
			}
			if rec.Code >= 400 && rec.Code != 504 {
				var eb ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" {
					t.Fatalf("%s: %d without a JSON error code: %q", path, rec.Code, rec.Body.String())
				}
			}
		}
	})
}

// The peer-deny routes answer only a client on the node's own machine,
// not one forwarded by a proxy there.
func TestDenyPeerOnlyFromOperator(t *testing.T) {
	h := New(newChainBackend(), Config{})
	cases := []struct {
		remote, fwd string
		want        int
	}{
		{"192.0.2.1:4000", "", http.StatusForbidden},
		{"127.0.0.2:4000", "", http.StatusForbidden},
		{"[2001:db8::1]:4000", "", http.StatusForbidden},
		{"127.0.0.1:4000", "192.0.2.1", http.StatusForbidden},
		{"127.0.0.1:4000", "", http.StatusOK},
		{"[::1]:4000", "", http.StatusOK},
	}
	for _, c := range cases {
		for _, m := range []string{"POST", "DELETE"} {
			req := httptest.NewRequest(m, "/v1/peers/12D3KooWL47VLUEMgsHXgbBajpAJzdUXD3hbTdG8yV2DQJSnptPL/deny", nil)
			req.RemoteAddr = c.remote
			if c.fwd != "" {
				req.Header.Set("X-Forwarded-For", c.fwd)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Errorf("%s from %s (forwarded %q): %d %s, want %d", m, c.remote, c.fwd, rec.Code, rec.Body, c.want)
			}
		}
	}
}
