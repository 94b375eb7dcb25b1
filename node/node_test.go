package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/state"
	"github.com/dure-network/dure/node/api"
)

// TestSingleValidatorNode runs one in-process validator (real Badger,
// real libp2p host on 127.0.0.1, real HTTP API) and exercises it the way
// a wallet and an operator would. Subtests share the node and run in
// order: later ones use the transfers of earlier ones.
func TestSingleValidatorNode(t *testing.T) {
	home, _ := initHome(t, "t-1")
	tn := startNode(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	self := tn.Key.PubKey().Address()
	bob := newKey(t).PubKey().Address()
	var sent struct {
		id     chain.ID
		height uint64
	}

	t.Run("transfers commit", func(t *testing.T) {
		_, nonce0, _ := balanceOf(t, tn.Base, self)
		var lastHeight uint64
		for i := uint64(0); i < 3; i++ {
			raw := sendTx(t, tn.ChainID, tn.Key, nonce0+i, 10, bob, 1000)
			res, err := tn.Client.Submit(ctx, raw, true)
			if err != nil {
				t.Fatalf("transfer %d: %v", i, err)
			}
			if res.ID != chain.IDOf(raw) {
				t.Errorf("transfer %d: id %s, want %s", i, res.ID, chain.IDOf(raw))
			}
			if res.Height == 0 || res.Height < lastHeight {
				t.Errorf("transfer %d: committed at height %d after %d", i, res.Height, lastHeight)
			}
			if res.Result == nil || res.Result.Code != chain.CodeOK {
				t.Fatalf("transfer %d: result %+v, want code 0", i, res.Result)
			}
			if len(res.Result.Events) == 0 {
				t.Errorf("transfer %d: no events in result", i)
			}
			lastHeight = res.Height
			sent.id, sent.height = res.ID, res.Height
		}
		bal, _, h := balanceOf(t, tn.Base, bob)
		if bal != 3000 {
			t.Errorf("bob's balance %d at height %d, want 3000", bal, h)
		}
		if _, nonce, _ := balanceOf(t, tn.Base, self); nonce != nonce0+3 {
			t.Errorf("sender nonce %d, want %d", nonce, nonce0+3)
		}
	})
	if sent.id == "" {
		t.Fatal("no transfer committed; the rest cannot run")
	}

	t.Run("bad submissions are refused and the node keeps committing", func(t *testing.T) {
		_, next, _ := balanceOf(t, tn.Base, self)
		codec := chain.MustCodec()
		badSig := func() []byte {
			tx, err := chain.DecodeTx(codec, sendTx(t, tn.ChainID, tn.Key, next, 10, bob, 1))
			if err != nil {
				t.Fatal(err)
			}
			tx.Sig[0] ^= 1
			b, _ := codec.Marshal(tx)
			return b
		}
		otherSigner := func() []byte {
			other := newKey(t)
			tx := chain.Tx{ChainID: tn.ChainID, Nonce: next, MaxFee: 10}
			tx.Msgs = mustDecode(t, codec, sendTx(t, tn.ChainID, tn.Key, next, 10, bob, 1)).Msgs
			raw, _ := tx.Sign(codec, other)
			dec := mustDecode(t, codec, raw)
			dec.PubKey = tn.Key.PubKey() // claims to be the validator, signed by another key
			b, _ := codec.Marshal(dec)
			return b
		}
		nonCanonical := func() []byte {
			raw := sendTx(t, tn.ChainID, tn.Key, next, 10, bob, 2)
			// [0x86, chain id (text), pubkey (0x58 0x20 + 32), nonce, ...]:
			// re-encode the small nonce in two bytes.
			off := 1 + 1 + len(tn.ChainID) + 2 + 32
			if next >= 24 || raw[off] != byte(next) {
				t.Fatalf("unexpected tx layout at %d: %x", off, raw[:off+1])
			}
			return append(append(append([]byte{}, raw[:off]...), 0x18, byte(next)), raw[off+1:]...)
		}
		noMsgs := func() []byte {
			tx := chain.Tx{ChainID: tn.ChainID, Nonce: next, MaxFee: 10}
			raw, _ := tx.Sign(codec, tn.Key)
			return raw
		}
		committed, err := tn.Client.Tx(ctx, sent.id, false)
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name   string
			ctype  string
			body   []byte
			status int
			codes  []string // any of
		}{
			{"garbage cbor", "application/cbor", []byte{0xff, 0x00, 0x13}, 400, []string{"tx_malformed"}},
			{"empty cbor body", "application/cbor", nil, 400, []string{"tx_malformed"}},
			{"json not base64", "application/json", []byte(`{"tx":"!!!"}`), 400, []string{"tx_malformed"}},
			{"json empty tx", "application/json", []byte(`{"tx":""}`), 400, []string{"tx_malformed"}},
			{"json wrong shape", "application/json", []byte(`[1,2,3]`), 400, []string{"tx_malformed"}},
			{"json base64 of garbage", "application/json", api.EncodeTxJSON([]byte("hello")), 400, []string{"tx_malformed"}},
			{"non-canonical cbor", "application/cbor", nonCanonical(), 400, []string{"tx_malformed"}},
			{"no messages", "application/cbor", noMsgs(), 400, []string{"tx_malformed"}},
			{"body over max_body_bytes", "application/cbor", bytes.Repeat([]byte{0x80}, int(tn.Cfg.API.MaxBodyBytes)+1), 413, []string{"tx_too_large"}},
			{"tx over 64 KiB", "application/cbor", bytes.Repeat([]byte{0x80}, chain.MaxTxBytes+1), 413, []string{"tx_too_large"}},
			{"bad signature", "application/cbor", badSig(), 400, []string{"bad_signature"}},
			{"signed by another key", "application/cbor", otherSigner(), 400, []string{"bad_signature"}},
			{"wrong chain", "application/cbor", sendTx(t, "other-1", tn.Key, next, 10, bob, 1), 400, []string{"wrong_chain"}},
			{"nonce too low", "application/cbor", sendTx(t, tn.ChainID, tn.Key, next-1, 10, bob, 5), 409, []string{"nonce_too_low"}},
			{"replayed committed tx", "application/cbor", committed.Raw, 409, []string{"duplicate_tx", "nonce_too_low"}},
			{"nonce too high", "application/cbor", sendTx(t, tn.ChainID, tn.Key, next+uint64(tn.Cfg.Mempool.MaxPerSender)+1, 10, bob, 1), 409, []string{"nonce_too_high"}},
			{"fee too low", "application/cbor", sendTx(t, tn.ChainID, tn.Key, next, 9, bob, 1), 422, []string{"fee_too_low"}},
			{"fee too low as json", "application/json", api.EncodeTxJSON(sendTx(t, tn.ChainID, tn.Key, next, 1, bob, 1)), 422, []string{"fee_too_low"}},
		}
		for _, c := range cases {
			for _, wait := range []string{"", "?wait=commit"} {
				status, code := postRaw(t, tn.Base+"/v1/txs"+wait, c.ctype, c.body)
				if status != c.status || !contains(c.codes, code) {
					t.Errorf("%s%s: got %d %q, want %d %v", c.name, wait, status, code, c.status, c.codes)
				}
			}
		}
		// Nothing refused reached a block: the account is where it was.
		if _, n, _ := balanceOf(t, tn.Base, self); n != next {
			t.Errorf("nonce moved from %d to %d after refused txs", next, n)
		}
		st, err := tn.Client.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res, err := tn.Client.Submit(ctx, sendTx(t, tn.ChainID, tn.Key, next, 10, bob, 1), true)
		if err != nil {
			t.Fatalf("valid transfer after refused ones: %v", err)
		}
		if res.Height <= st.Height || res.Result == nil || res.Result.Code != chain.CodeOK {
			t.Errorf("valid transfer after refused ones: height %d (status was %d), result %+v", res.Height, st.Height, res.Result)
		}
		// JSON submission works too.
		resp, err := http.Post(tn.Base+"/v1/txs?wait=commit", "application/json",
			bytes.NewReader(api.EncodeTxJSON(sendTx(t, tn.ChainID, tn.Key, next+1, 10, bob, 1))))
		if err != nil {
			t.Fatal(err)
		}
		var sr api.SubmitResponse
		json.NewDecoder(resp.Body).Decode(&sr)
		resp.Body.Close()
		if resp.StatusCode != 200 || sr.Result == nil || sr.Result.Code != chain.CodeOK {
			t.Errorf("JSON submission: status %d, %+v", resp.StatusCode, sr)
		}
		// A tx accepted without waiting answers 202 with its ID.
		raw := sendTx(t, tn.ChainID, tn.Key, next+2, 10, bob, 1)
		resp, err = http.Post(tn.Base+"/v1/txs", "application/cbor", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&sr)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || sr.ID != chain.IDOf(raw) {
			t.Errorf("submit without wait: status %d id %s, want 202 %s", resp.StatusCode, sr.ID, chain.IDOf(raw))
		}
		// Submitting it again while pending is a duplicate.
		if status, code := postRaw(t, tn.Base+"/v1/txs", "application/cbor", raw); status != 409 || code != "duplicate_tx" {
			t.Errorf("resubmit pending tx: %d %q, want 409 duplicate_tx", status, code)
		}
		if err := waitTx(ctx, tn.Client, chain.IDOf(raw)); err != nil {
			t.Errorf("tx accepted with 202 never committed: %v", err)
		}
	})

	t.Run("tx inclusion proof verifies", func(t *testing.T) {
		info, err := tn.Client.Tx(ctx, sent.id, true)
		if err != nil {
			t.Fatal(err)
		}
		if chain.IDOf(info.Raw) != sent.id || info.Height != sent.height {
			t.Fatalf("tx %s: id of raw %s, height %d want %d", sent.id, chain.IDOf(info.Raw), info.Height, sent.height)
		}
		if info.Proof == nil || info.TxRoot == nil {
			t.Fatal("prove=true gave no proof")
		}
		hdr, _, err := tn.Client.HeaderTrustingNode(ctx, info.Height)
		if err != nil {
			t.Fatalf("block %d commit: %v", info.Height, err)
		}
		if hdr.TxRoot != *info.TxRoot {
			t.Fatalf("proof's tx root %s is not block %d's %s", *info.TxRoot, info.Height, hdr.TxRoot)
		}
		if err := info.Proof.Verify(hdr.TxRoot, info.Raw); err != nil {
			t.Fatalf("inclusion proof: %v", err)
		}
		tampered := append([]byte{}, info.Raw...)
		tampered[len(tampered)-1] ^= 1
		if info.Proof.Verify(hdr.TxRoot, tampered) == nil {
			t.Error("proof verifies for altered tx bytes")
		}
		blk, err := tn.Client.Block(ctx, info.Height)
		if err != nil {
			t.Fatal(err)
		}
		if info.Index >= len(blk.TxIDs) || blk.TxIDs[info.Index] != sent.id {
			t.Errorf("block %d tx_ids %v lack %s at %d", info.Height, blk.TxIDs, sent.id, info.Index)
		}
		// Without prove, no proof; an unknown ID is 404.
		if plain, err := tn.Client.Tx(ctx, sent.id, false); err != nil || plain.Proof != nil {
			t.Errorf("prove=false: proof %v, err %v", plain.Proof, err)
		}
		_, err = tn.Client.Tx(ctx, chain.IDOf([]byte("never sent")), true)
		if st, code := errCode(t, err); st != 404 || code != "not_found" {
			t.Errorf("unknown tx: %d %s, want 404 not_found", st, code)
		}
	})

	t.Run("account proofs verify against the header state root", func(t *testing.T) {
		for _, who := range []struct {
			name string
			addr chain.Address
		}{{"sender", self}, {"recipient", bob}, {"never seen", newKey(t).PubKey().Address()}} {
			acct, err := tn.Client.Account(ctx, who.addr, true)
			if err != nil {
				t.Fatalf("%s: %v", who.name, err)
			}
			if len(acct.Proofs) == 0 {
				t.Fatalf("%s: no proofs", who.name)
			}
			hdr, _, err := tn.Client.HeaderTrustingNode(ctx, acct.Height)
			if err != nil {
				t.Fatalf("%s: header %d: %v", who.name, acct.Height, err)
			}
			if hdr.StateRoot != acct.StateRoot {
				t.Fatalf("%s: account says state root %s, header %d says %s", who.name, acct.StateRoot, acct.Height, hdr.StateRoot)
			}
			for _, kp := range acct.Proofs {
				var p state.Proof
				if err := json.Unmarshal(kp.Proof, &p); err != nil {
					t.Fatalf("%s: proof of %q: %v", who.name, kp.Key, err)
				}
				if err := state.VerifyProof(hdr.StateRoot, kp.Key, kp.Value, &p); err != nil {
					t.Errorf("%s: proof of %q (value %x): %v", who.name, kp.Key, kp.Value, err)
				}
				forged := append(append([]byte{}, kp.Value...), 1)
				if state.VerifyProof(hdr.StateRoot, kp.Key, forged, &p) == nil {
					t.Errorf("%s: proof of %q verifies a forged value", who.name, kp.Key)
				}
			}
			if who.name == "never seen" {
				for _, kp := range acct.Proofs {
					if _, link := state.IsLinkKey(kp.Key); !link && kp.Value != nil {
						t.Errorf("fresh account has value %x at %q", kp.Value, kp.Key)
					}
				}
			}
		}
	})

	t.Run("event stream starts at 1 and resumes", func(t *testing.T) {
		evs := readEvents(t, ctx, tn.Base+"/v1/events?from_height=1", "", sent.height)
		for i, ev := range evs {
			if ev.id != uint64(i+1) || ev.data.Height != ev.id {
				t.Fatalf("event %d has id %d, height %d; want %d", i, ev.id, ev.data.Height, i+1)
			}
		}
		last := evs[len(evs)-1]
		if last.id != sent.height {
			t.Fatalf("stream ended at %d, want %d", last.id, sent.height)
		}
		found := false
		for _, tx := range last.data.Txs {
			if tx.ID == sent.id {
				found = tx.Code == chain.CodeOK && len(tx.Events) > 0
			}
		}
		if !found {
			t.Errorf("block %d events lack tx %s with code 0 and events: %+v", sent.height, sent.id, last.data.Txs)
		}
		// Resume from a later height, by query and by Last-Event-ID.
		mid := sent.height - 1
		if mid == 0 {
			mid = 1
		}
		if got := readEvents(t, ctx, tn.Base+"/v1/events?from_height="+strconv.FormatUint(mid, 10), "", mid); got[0].id != mid {
			t.Errorf("from_height=%d started at %d", mid, got[0].id)
		}
		if got := readEvents(t, ctx, tn.Base+"/v1/events", strconv.FormatUint(mid, 10), mid+1); got[0].id != mid+1 {
			t.Errorf("Last-Event-ID %d resumed at %d, want %d", mid, got[0].id, mid+1)
		}
		if status, code := getErr(t, tn.Base+"/v1/events?from_height=0"); status != 400 || code != "bad_request" {
			t.Errorf("from_height=0: %d %q", status, code)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get(tn.Base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h := metricValue(string(body), "dure_chain_height")
		if resp.StatusCode != 200 || h < float64(sent.height) {
			t.Errorf("/metrics: status %d, dure_chain_height %v (want >= %d)", resp.StatusCode, h, sent.height)
		}
		if v := metricValue(string(body), `dure_txs_rejected_total{reason="fee_too_low"}`); v < 1 {
			t.Errorf("fee_too_low rejections not counted: %v", v)
		}
		if v := metricValue(string(body), "dure_consensus_rounds_total"); v < 0 {
			t.Errorf("dure_consensus_rounds_total missing")
		}
		if v := metricValue(string(body), "dure_txs_committed_total"); v < 3 {
			t.Errorf("dure_txs_committed_total %v, want >= 3", v)
		}
	})

	t.Run("errors are JSON with stable codes", func(t *testing.T) {
		cases := []struct {
			method, path string
			status       int
			code         string
		}{
			{"GET", "/v1/nope", 404, "not_found"},
			{"GET", "/", 404, "not_found"},
			{"POST", "/v1/status", 404, "not_found"},
			{"DELETE", "/v1/txs", 404, "not_found"},
			{"GET", "/v1/blocks/99999999", 404, "not_found"},
			{"GET", "/v1/blocks/0", 400, "bad_request"},
			{"GET", "/v1/blocks/-1", 400, "bad_request"},
			{"GET", "/v1/txs/not-an-id", 400, "bad_request"},
			{"GET", "/v1/accounts/dure1nope", 400, "bad_address"},
			{"GET", "/v1/validators?height=x", 400, "bad_request"},
			{"GET", "/v1/query/nomodule/x", 404, "not_found"},
			{"GET", "/v1/query/currency/no-such-path", 422, "unknown_message"},
			{"POST", "/v1/peers/not-a-peer/deny", 400, "bad_request"},
		}
		for _, c := range cases {
			req, _ := http.NewRequest(c.method, tn.Base+c.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var eb api.ErrorBody
			err = json.NewDecoder(resp.Body).Decode(&eb)
			resp.Body.Close()
			if resp.StatusCode != c.status || err != nil || eb.Error.Code != c.code || eb.Error.Message == "" ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%s %s: %d %+v (decode %v), want %d %s", c.method, c.path, resp.StatusCode, eb, err, c.status, c.code)
			}
		}
	})

	t.Run("status, blocks, validators", func(t *testing.T) {
		st, err := tn.Client.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.ChainID != "t-1" || st.Validator == nil || st.Validator.Address != self || st.Validator.Power != 10 || st.PeerID == "" {
			t.Errorf("status %+v", st)
		}
		v, err := tn.Client.Validators(ctx, 0)
		if err != nil || len(v.Validators) != 1 || v.Validators[0].Address != self || v.Total != 10 {
			t.Errorf("validators %+v, %v", v, err)
		}
		b, err := tn.Client.Block(ctx, 0)
		if err != nil || b.Header.Height < sent.height || b.Commit == nil || b.ID != b.Header.ID(chain.MustCodec()) {
			t.Errorf("latest block %+v, %v", b.Header, err)
		}
	})

	t.Run("node still commits", func(t *testing.T) {
		st, err := tn.Client.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wctx, c := context.WithTimeout(ctx, 10*time.Second)
		defer c()
		if err := waitHeight(wctx, tn.Client, st.Height+2); err != nil {
			t.Fatal(err)
		}
	})
}

func mustDecode(t testing.TB, c *chain.Codec, raw []byte) *chain.Tx {
	t.Helper()
	tx, err := chain.DecodeTx(c, raw)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// postRaw posts body and returns the status and the error code (if any).
func postRaw(t testing.TB, url, ctype string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(url, ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var eb api.ErrorBody
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &eb)
	return resp.StatusCode, eb.Error.Code
}

func getErr(t testing.TB, url string) (int, string) {
	t.Helper()
	var eb api.ErrorBody
	status := getJSON(t, url, &eb)
	return status, eb.Error.Code
}

// waitTx polls until id is committed.
func waitTx(ctx context.Context, cl *api.Client, id chain.ID) error {
	for {
		if _, err := cl.Tx(ctx, id, false); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type sseEvent struct {
	id   uint64
	data api.BlockEvents
}

// readEvents reads "block" events from an SSE stream until one with id >=
// until arrives.
func readEvents(t testing.TB, ctx context.Context, url, lastEventID string, until uint64) []sseEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var out []sseEvent
	var cur sseEvent
	var kind string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			cur.id, err = strconv.ParseUint(line[4:], 10, 64)
			if err != nil {
				t.Fatalf("bad id line %q", line)
			}
		case strings.HasPrefix(line, "event: "):
			kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			if kind != "block" {
				t.Fatalf("stream sent %s event: %s", kind, line)
			}
			if err := json.Unmarshal([]byte(line[6:]), &cur.data); err != nil {
				t.Fatalf("event data %q: %v", line, err)
			}
		case line == "":
			if kind == "block" {
				out = append(out, cur)
				if cur.id >= until {
					return out
				}
			}
			cur, kind = sseEvent{}, ""
		}
	}
	t.Fatalf("stream %s ended after %d events without reaching %d: %v", url, len(out), until, sc.Err())
	return nil
}

// metricValue finds an unlabelled (or exactly labelled) sample's value.
func metricValue(body, name string) float64 {
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, name+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(l[len(name):]), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}
