package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dure-network/dure/chain"
)

// batchCases are txs a batch may hold, each refused or admitted by the
// test backend as a single submission would be.
func batchCases(t *testing.T) [][]byte {
	good := signedTx(t, "api-1", 0, 10)
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 1 // last signature byte: still canonical, signature wrong
	return [][]byte{
		good,
		signedTx(t, "other-chain", 0, 10),
		bad,
		[]byte("not cbor"),
		signedTx(t, "api-1", 7, 10),
	}
}

// TestSubmitBatchAnswersEachTxAsASingleSubmission posts the same txs one by
// one and as a batch, in both body forms, and wants the same ID, status and
// code for each, in order.
func TestSubmitBatchAnswersEachTxAsASingleSubmission(t *testing.T) {
	srv := httptest.NewServer(New(newChainBackend(), Config{}))
	defer srv.Close()
	raws := batchCases(t)
	cl := NewClient(srv.URL)
	var want []BatchResult
	for _, raw := range raws {
		r, err := cl.Submit(t.Context(), raw, false)
		var ae *APIError
		switch {
		case err == nil:
			want = append(want, BatchResult{ID: r.ID})
		case errors.As(err, &ae):
			want = append(want, BatchResult{Status: ae.Status, Error: &ErrorDetail{Code: ae.Code}})
		default:
			t.Fatal(err)
		}
	}
	if want[0].Error != nil || want[1].Error.Code != "wrong_chain" || want[2].Error.Code != "bad_signature" ||
		want[3].Error.Code != "tx_malformed" || want[4].Error != nil {
		t.Fatalf("single submissions: %+v", want)
	}
	check := func(form string, got BatchResponse) {
		t.Helper()
		if got.Accepted != 2 || len(got.Results) != len(raws) {
			t.Fatalf("%s: accepted %d of %d results, want 2 of %d", form, got.Accepted, len(got.Results), len(raws))
		}
		for i, g := range got.Results {
			w := want[i]
			if w.Error == nil {
				if g.Error != nil || g.ID != w.ID || g.ID != chain.IDOf(raws[i]) {
					t.Errorf("%s: tx %d: got %+v, want admitted %s", form, i, g, w.ID)
				}
				continue
			}
			if g.Error == nil || g.Error.Code != w.Error.Code || g.Status != w.Status || g.Error.Message == "" {
				t.Errorf("%s: tx %d: got %+v %+v, want %d %s", form, i, g, g.Error, w.Status, w.Error.Code)
			}
		}
	}
	got, err := cl.SubmitBatch(t.Context(), raws)
	if err != nil {
		t.Fatal(err)
	}
	check("cbor", got)

	body, _ := json.Marshal(BatchRequest{Txs: raws})
	resp, err := http.Post(srv.URL+"/v1/txs/batch", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var jr BatchResponse
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&jr) != nil {
		t.Fatalf("json batch: %s", resp.Status)
	}
	check("json", jr)
}

// TestSubmitBatchLimits: the whole request is refused, with a code saying
// why, when it is over its count or bytes, empty, unreadable or asks to wait.
func TestSubmitBatchLimits(t *testing.T) {
	srv := httptest.NewServer(New(newChainBackend(), Config{MaxBatchTxs: 3, MaxBodyBytes: 2000}))
	defer srv.Close()
	tx := signedTx(t, "api-1", 0, 10)
	four := [][]byte{tx, tx, tx, tx}
	big := bytes.Repeat([]byte{1}, 2100)
	j := func(v any) []byte { b, _ := json.Marshal(v); return b }
	cases := []struct {
		name, ctype, query string
		body               []byte
		status             int
		code               string
	}{
		{"cbor over count", "application/cbor", "", EncodeTxArray(four), 413, "batch_too_large"},
		{"json over count", "application/json", "", j(BatchRequest{Txs: four}), 413, "batch_too_large"},
		{"over bytes", "application/cbor", "", EncodeTxArray([][]byte{big}), 413, "batch_too_large"},
		{"cbor empty", "application/cbor", "", EncodeTxArray(nil), 400, "bad_request"},
		{"json empty", "application/json", "", []byte(`{"txs":[]}`), 400, "bad_request"},
		{"json not base64", "application/json", "", []byte(`{"txs":["%%%"]}`), 400, "bad_request"},
		{"json not an object", "application/json", "", []byte(`[1,2]`), 400, "bad_request"},
		{"cbor a map", "application/cbor", "", []byte{0xa0}, 400, "bad_request"},
		{"cbor item not bytes", "application/cbor", "", []byte{0x81, 0x01}, 400, "bad_request"},
		{"cbor truncated", "application/cbor", "", EncodeTxArray([][]byte{tx})[:50], 400, "bad_request"},
		{"cbor trailing", "application/cbor", "", append(EncodeTxArray([][]byte{tx}), 0), 400, "bad_request"},
		{"cbor indefinite", "application/cbor", "", []byte{0x9f, 0x41, 0x00, 0xff}, 400, "bad_request"},
		{"wait", "application/cbor", "?wait=commit", EncodeTxArray([][]byte{tx}), 400, "bad_request"},
	}
	for _, c := range cases {
		resp, err := http.Post(srv.URL+"/v1/txs/batch"+c.query, c.ctype, bytes.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		var eb ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != c.status || eb.Error.Code != c.code || eb.Error.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s", c.name, resp.StatusCode, eb.Error, c.status, c.code)
		}
	}
	// At the limits exactly, the batch is read and answered per tx.
	got, err := NewClient(srv.URL).SubmitBatch(t.Context(), [][]byte{tx, tx, []byte{0x80}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Accepted != 2 || got.Results[2].Error == nil || got.Results[2].Error.Code != "tx_malformed" {
		t.Errorf("batch at its count limit: %+v", got)
	}
}

func TestTxArrayRoundTrip(t *testing.T) {
	raws := [][]byte{{}, {1}, bytes.Repeat([]byte{2}, 23), bytes.Repeat([]byte{3}, 24), bytes.Repeat([]byte{4}, 300),
		bytes.Repeat([]byte{5}, 70000)}
	enc := EncodeTxArray(raws)
	got, err := DecodeTxArray(enc, len(raws))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(raws) {
		t.Fatalf("%d items, want %d", len(got), len(raws))
	}
	for i := range raws {
		if !bytes.Equal(got[i], raws[i]) {
			t.Errorf("item %d differs", i)
		}
	}
	// The encoding is the one the codec writes for [][]byte.
	std, err := chain.MustCodec().Marshal(raws)
	if err != nil || !bytes.Equal(std, enc) {
		t.Errorf("EncodeTxArray differs from the codec's encoding (err %v)", err)
	}
	if _, err := DecodeTxArray(enc, len(raws)-1); !errors.Is(err, ErrBatchTooLarge) {
		t.Errorf("over max: %v", err)
	}
	// A claimed count far past the bytes is refused without allocating for it.
	if _, err := DecodeTxArray([]byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1000); !errors.Is(err, ErrBatchTooLarge) {
		t.Errorf("huge count: %v", err)
	}
	if _, err := DecodeTxArray([]byte{0x81, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1000); !errors.Is(err, ErrBadRequest) ||
		!strings.Contains(err.Error(), "left") {
		t.Errorf("huge length: %v", err)
	}
}

// FuzzDecodeTxArray: any input is refused with an error or decoded into at
// most max items that encode back to an array decoding to the same items.
func FuzzDecodeTxArray(f *testing.F) {
	f.Add(EncodeTxArray([][]byte{{1, 2, 3}, {}}))
	f.Add([]byte{0x98, 0x02, 0x41, 0x00, 0x59, 0x00, 0x01, 0x07})
	f.Add([]byte{0x9f, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 16
		txs, err := DecodeTxArray(data, max)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrBatchTooLarge) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		if len(txs) == 0 || len(txs) > max {
			t.Fatalf("%d items", len(txs))
		}
		again, err := DecodeTxArray(EncodeTxArray(txs), max)
		if err != nil || len(again) != len(txs) {
			t.Fatalf("re-encoded: %v", err)
		}
		for i := range txs {
			if !bytes.Equal(again[i], txs[i]) {
				t.Fatalf("item %d differs after re-encoding", i)
			}
		}
	})
}
