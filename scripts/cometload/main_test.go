package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// TestMakeTxIsAValidUniqueKVStoreTx: every tx is exactly the asked size
// and of the form kvstore's CheckTx accepts (one '=', not at either end),
// and no two are alike.
func TestMakeTxIsAValidUniqueKVStoreTx(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range []struct {
		prefix string
		seq    int
		size   int
	}{{"kr1-0-0-", 0, 250}, {"kr1-0-0-", 1, 250}, {"kr1-0-1-", 0, 250}, {"kr1-3-15-", 123456789, 250}, {"kr1-0-0-", 2, 32}} {
		tx := makeTx(c.prefix, c.seq, c.size)
		if len(tx) != c.size {
			t.Errorf("%s%d: %d bytes, want %d", c.prefix, c.seq, len(tx), c.size)
		}
		if bytes.Count(tx, []byte("=")) != 1 || bytes.Count(tx, []byte(":")) != 0 || tx[0] == '=' || tx[len(tx)-1] == '=' {
			t.Errorf("%q is not a kvstore key=value tx", tx)
		}
		key := string(tx[:bytes.IndexByte(tx, '=')])
		if seen[key] {
			t.Errorf("key %q repeated", key)
		}
		seen[key] = true
	}
}

// TestCountTxsSumsTheWindowsBlocks: the committed count is num_txs of the
// blocks after the window's first height up to its last, read 20 metas at
// a time from /blockchain, whatever order the node lists them in.
func TestCountTxsSumsTheWindowsBlocks(t *testing.T) {
	base := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lo, _ := strconv.Atoi(r.URL.Query().Get("minHeight"))
		hi, _ := strconv.Atoi(r.URL.Query().Get("maxHeight"))
		if hi-lo+1 > 20 {
			http.Error(w, "too many", http.StatusBadRequest)
			return
		}
		var metas []string
		for h := hi; h >= lo; h-- { // newest first, as CometBFT answers
			metas = append(metas, fmt.Sprintf(`{"num_txs":"%d","header":{"height":"%d","time":%q}}`,
				h*10, h, base.Add(time.Duration(h)*time.Second).Format(time.RFC3339Nano)))
		}
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":-1,"result":{"last_height":"100","block_metas":[%s]}}`, join(metas))
	}))
	defer srv.Close()
	cases := []struct{ from, to, want int64 }{
		{5, 5, 0},
		{5, 6, 60},
		{10, 45, 10 * (45*46/2 - 10*11/2)}, // crosses two 20-block pages
	}
	for _, c := range cases {
		got, t0, t1, err := countTxs(context.Background(), srv.Client(), srv.URL, c.from, c.to)
		if err != nil {
			t.Fatalf("%d..%d: %v", c.from, c.to, err)
		}
		if got != c.want {
			t.Errorf("%d..%d: %d txs, want %d", c.from, c.to, got, c.want)
		}
		if span := t1.Sub(t0); span != time.Duration(c.to-c.from)*time.Second {
			t.Errorf("%d..%d: block-time span %s", c.from, c.to, span)
		}
	}
}

func join(parts []string) string {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p)
	}
	return b.String()
}
