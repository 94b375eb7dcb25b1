package mempool

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/dure-network/dure/chain"
)

func TestAddRejects(t *testing.T) {
	c := chain.MustCodec()
	alice, bob := key(t, 1), key(t, 2)
	good := func(n uint64) []byte { return signTx(t, c, alice, n, txOpt{}) }
	cases := []struct {
		name  string
		cfg   Config
		next  uint64           // alice's account nonce
		setup func(m *Mempool) // txs already in the pool
		raw   []byte
		want  error
	}{
		{name: "garbage", raw: []byte{0xde, 0xad, 0xbe, 0xef}, want: chain.ErrTxMalformed},
		{name: "empty", raw: nil, want: chain.ErrTxMalformed},
		{name: "too large", raw: make([]byte, chain.MaxTxBytes+1), want: chain.ErrTxTooLarge},
		{name: "wrong chain", raw: signTx(t, c, alice, 0, txOpt{chainID: "other-chain"}), want: chain.ErrWrongChain},
		{name: "fee too low", cfg: Config{MinFee: 11}, raw: good(0), want: ErrFeeTooLow},
		{name: "nonce too low", next: 5, raw: good(4), want: ErrNonceTooLow},
		{name: "nonce too high", cfg: Config{MaxPerSender: 10}, next: 5, raw: good(16), want: ErrNonceTooHigh},
		{name: "bad signature", raw: corruptSig(t, c, good(0)), want: chain.ErrBadSignature},
		{name: "duplicate", setup: func(m *Mempool) { mustAdd(t, m, good(0)) }, raw: good(0), want: ErrDuplicate},
		{name: "same nonce, other tx", setup: func(m *Mempool) { mustAdd(t, m, good(0)) },
			raw: signTx(t, c, alice, 0, txOpt{fee: 99}), want: ErrDuplicate},
		{name: "full by count", cfg: Config{MaxTxs: 2}, setup: func(m *Mempool) {
			mustAdd(t, m, signTx(t, c, bob, 0, txOpt{}))
			mustAdd(t, m, signTx(t, c, bob, 1, txOpt{}))
		}, raw: good(0), want: ErrFull},
		{name: "full by bytes", cfg: Config{MaxBytes: 400}, setup: func(m *Mempool) {
			mustAdd(t, m, signTx(t, c, bob, 0, txOpt{}))
		}, raw: good(0), want: ErrFull},
		{name: "sender full", cfg: Config{MaxPerSender: 2}, setup: func(m *Mempool) {
			mustAdd(t, m, good(0))
			mustAdd(t, m, good(1))
		}, raw: good(2), want: ErrSenderFull},
	}
	for _, tc := range cases {
		for _, path := range []string{"Add", "AddBatch"} {
			t.Run(tc.name+"/"+path, func(t *testing.T) {
				acct := newAccounts()
				acct.set(alice.PubKey().Address(), tc.next)
				m := newPool(tc.cfg, acct)
				if tc.setup != nil {
					tc.setup(m)
				}
				n0, b0 := m.Size()
				var err error
				if path == "Add" {
					_, err = m.Add(tc.raw)
				} else {
					_, errs := m.AddBatch([][]byte{tc.raw})
					err = errs[0]
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
				if err.Error() == tc.want.Error() {
					t.Fatalf("error %q carries no detail", err)
				}
				if n, b := m.Size(); n != n0 || b != b0 {
					t.Fatalf("a rejected tx changed the size: %d/%d -> %d/%d", n0, b0, n, b)
				}
			})
		}
	}
}

func mustAdd(t testing.TB, m *Mempool, raw []byte) chain.ID {
	t.Helper()
	id, err := m.Add(raw)
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	return id
}

func TestSeenCacheSkipsRework(t *testing.T) {
	c := chain.MustCodec()
	k := key(t, 1)
	m := newPool(Config{}, newAccounts())
	bad := corruptSig(t, c, signTx(t, c, k, 0, txOpt{}))
	for i := range 2 { // the second answer comes from the seen cache
		if _, err := m.Add(bad); !errors.Is(err, chain.ErrBadSignature) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	id := mustAdd(t, m, signTx(t, c, k, 0, txOpt{}))
	if !m.Verified(id) || m.Verified(chain.IDOf(bad)) {
		t.Fatal("Verified disagrees with what was checked")
	}
	// A committed tx gossiped again is a cheap duplicate, but not "verified".
	other := signTx(t, c, key(t, 3), 0, txOpt{})
	if err := m.Update(1, []chain.ID{chain.IDOf(other)}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Add(other); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("re-gossiped committed tx: %v", err)
	}
	if m.Verified(chain.IDOf(other)) {
		t.Fatal("a tx this mempool never verified reports Verified")
	}
}

func TestSeenCacheIsBounded(t *testing.T) {
	c := newSeenCache(3)
	ids := []chain.ID{"a", "b", "c", "d"}
	for _, id := range ids {
		c.put(id, seenVerified)
	}
	if c.get("a") != seenNone || c.get("d") != seenVerified || len(c.m) != 3 {
		t.Fatalf("FIFO eviction broken: %v", c.m)
	}
}

func ids(txs []*chain.DecodedTx) []chain.ID {
	out := make([]chain.ID, len(txs))
	for i, d := range txs {
		out[i] = d.ID
	}
	return out
}

func TestReapOrderAndGaps(t *testing.T) {
	c := chain.MustCodec()
	a, b, cc, d := key(t, 1), key(t, 2), key(t, 3), key(t, 4)
	acct := newAccounts()
	acct.set(b.PubKey().Address(), 10)
	m := newPool(Config{}, acct)
	add := func(k chain.PrivKey, n uint64) chain.ID { return mustAdd(t, m, signTx(t, c, k, n, txOpt{})) }
	a0, b10, a2, c0, a1, b11, c1 := add(a, 0), add(b, 10), add(a, 2), add(cc, 0), add(a, 1), add(b, 11), add(cc, 1)
	d1 := add(d, 1) // gap: d's account is at 0

	// Runs interleave by arrival of each sender's next tx; a2 arrived
	// early, so it follows a1 at once.
	want := []chain.ID{a0, b10, c0, a1, a2, b11, c1}
	if got := ids(m.Reap(0, 0)); !slices.Equal(got, want) {
		t.Fatalf("reap order\n got %v\nwant %v", got, want)
	}
	if got := ids(m.Reap(0, 0)); !slices.Equal(got, want) {
		t.Fatal("reap is not deterministic")
	}
	if got := ids(m.Reap(3, 0)); !slices.Equal(got, want[:3]) {
		t.Fatalf("reap(3) = %v", got)
	}
	one, _ := m.Get(a0)
	if got := m.Reap(0, 2*len(one.Raw)+1); len(got) != 2 {
		t.Fatalf("reap by bytes gave %d txs, want 2", len(got))
	}
	// Filling d's gap makes both of d's txs executable, in nonce order.
	d0 := add(d, 0)
	got := ids(m.Reap(0, 0))
	if len(got) != 9 || slices.Index(got, d0) > slices.Index(got, d1) || slices.Index(got, d0) < 0 {
		t.Fatalf("after filling the gap: %v", got)
	}
}

func TestUpdate(t *testing.T) {
	c := chain.MustCodec()
	a, b := key(t, 1), key(t, 2)
	acct := newAccounts()
	m := newPool(Config{}, acct)
	var as, bs []chain.ID
	for n := range uint64(5) {
		as = append(as, mustAdd(t, m, signTx(t, c, a, n, txOpt{})))
	}
	for n := range uint64(3) {
		bs = append(bs, mustAdd(t, m, signTx(t, c, b, n, txOpt{})))
	}
	// Block 1 commits a0, a1 from this pool and two txs of b's that came
	// through another node (so not in this pool, and b0, b1 are now stale).
	acct.set(a.PubKey().Address(), 2)
	acct.set(b.PubKey().Address(), 2)
	elsewhere := chain.IDOf([]byte("b's nonce 0 via another node"))
	if err := m.Update(1, []chain.ID{as[0], as[1], elsewhere}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []chain.ID{as[0], as[1], bs[0], bs[1]} {
		if m.Has(id) {
			t.Fatalf("%s still pending after update", id)
		}
	}
	for _, id := range []chain.ID{as[2], as[3], as[4], bs[2]} {
		if !m.Has(id) {
			t.Fatalf("%s dropped by update", id)
		}
	}
	if n, bytes := m.Size(); n != 4 || bytes <= 0 {
		t.Fatalf("size %d/%d after update", n, bytes)
	}
	want := []chain.ID{as[2], as[3], as[4], bs[2]}
	if got := ids(m.Reap(0, 0)); !slices.Equal(got, want) {
		t.Fatalf("reap after update\n got %v\nwant %v", got, want)
	}
	if _, err := m.Add(signTx(t, c, a, 0, txOpt{})); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("re-adding a committed tx: %v", err)
	}
	if _, err := m.Add(signTx(t, c, a, 1, txOpt{fee: 50})); !errors.Is(err, ErrNonceTooLow) {
		t.Fatalf("new tx with a used nonce: %v", err)
	}
	// Everything committed: the pool empties completely.
	acct.set(a.PubKey().Address(), 5)
	acct.set(b.PubKey().Address(), 3)
	if err := m.Update(2, want); err != nil {
		t.Fatal(err)
	}
	if n, bytes := m.Size(); n != 0 || bytes != 0 || len(m.senders) != 0 {
		t.Fatalf("pool not empty: %d txs, %d bytes, %d senders", n, bytes, len(m.senders))
	}
}

func TestAddBatchMixed(t *testing.T) {
	c := chain.MustCodec()
	acct := newAccounts()
	m := newPool(Config{}, acct)
	var raws [][]byte
	want := map[int]error{}
	for s := range 20 {
		k := key(t, 10+s)
		for n := range uint64(20) {
			raws = append(raws, signTx(t, c, k, n, txOpt{}))
		}
	}
	raws[7] = corruptSig(t, c, raws[7])
	want[7] = chain.ErrBadSignature
	raws[50] = raws[49]
	want[50] = ErrDuplicate
	raws[100] = signTx(t, c, key(t, 99), 0, txOpt{chainID: "elsewhere"})
	want[100] = chain.ErrWrongChain
	raws[200] = []byte("junk")
	want[200] = chain.ErrTxMalformed
	gotIDs, errs := m.AddBatch(raws)
	accepted := 0
	for i, err := range errs {
		if w, bad := want[i]; bad {
			if !errors.Is(err, w) {
				t.Fatalf("tx %d: got %v, want %v", i, err, w)
			}
			continue
		}
		if err != nil {
			t.Fatalf("tx %d rejected: %v", i, err)
		}
		if gotIDs[i] != chain.IDOf(raws[i]) || !m.Has(gotIDs[i]) || !m.Verified(gotIDs[i]) {
			t.Fatalf("tx %d not pending and verified", i)
		}
		accepted++
	}
	if n, _ := m.Size(); n != accepted || accepted != len(raws)-len(want) {
		t.Fatalf("size %d, accepted %d of %d", n, accepted, len(raws))
	}
}

func TestConcurrentUse(t *testing.T) {
	c := chain.MustCodec()
	acct := newAccounts()
	m := newPool(Config{}, acct)
	const senders, per = 8, 40
	raws := make([][][]byte, senders)
	for s := range senders {
		for n := range uint64(per) {
			raws[s] = append(raws[s], signTx(t, c, key(t, s), n, txOpt{}))
		}
	}
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s%2 == 0 {
				for _, r := range raws[s] {
					if _, err := m.Add(r); err != nil {
						t.Errorf("add: %v", err)
					}
				}
				return
			}
			for lo := 0; lo < per; lo += 10 {
				_, errs := m.AddBatch(raws[s][lo : lo+10])
				for _, err := range errs {
					if err != nil {
						t.Errorf("batch add: %v", err)
					}
				}
			}
		}()
	}
	stop := make(chan struct{})
	reaped := make(chan int, 1)
	go func() { // a proposer reaping while gossip adds
		max := 0
		for {
			select {
			case <-stop:
				reaped <- max
				return
			default:
			}
			got := m.Reap(0, 0)
			if len(got) > max {
				max = len(got)
			}
			if len(got) > 0 && (!m.Verified(got[0].ID) || !m.Has(got[0].ID)) {
				t.Error("reaped tx is not pending and verified")
			}
		}
	}()
	wg.Wait()
	close(stop)
	if mx := <-reaped; mx > senders*per {
		t.Fatalf("reaped %d txs from a pool of at most %d", mx, senders*per)
	}
	if n, _ := m.Size(); n != senders*per {
		t.Fatalf("size %d, want %d", n, senders*per)
	}
	// Commit the first half of every sender's txs while adding continues.
	var committed []chain.ID
	for s := range senders {
		acct.set(key(t, s).PubKey().Address(), per/2)
		for _, r := range raws[s][:per/2] {
			committed = append(committed, chain.IDOf(r))
		}
	}
	var wg2 sync.WaitGroup
	wg2.Add(2)
	go func() { defer wg2.Done(); _ = m.Update(1, committed) }()
	go func() {
		defer wg2.Done()
		for range 20 {
			m.Reap(100, 0)
		}
	}()
	wg2.Wait()
	if n, _ := m.Size(); n != senders*per/2 {
		t.Fatalf("size %d after update, want %d", n, senders*per/2)
	}
	if got := m.Reap(0, 0); len(got) != senders*per/2 {
		t.Fatalf("reap %d after update", len(got))
	}
}

func TestNonceWindowEdges(t *testing.T) {
	c := chain.MustCodec()
	k := key(t, 1)
	acct := newAccounts()
	acct.set(k.PubKey().Address(), 5)
	m := newPool(Config{MaxPerSender: 10}, acct)
	for _, tc := range []struct {
		nonce uint64
		want  error
	}{{4, ErrNonceTooLow}, {5, nil}, {15, nil}, {16, ErrNonceTooHigh}, {1 << 63, ErrNonceTooHigh}} {
		if _, err := m.Add(signTx(t, c, k, tc.nonce, txOpt{})); !errors.Is(err, tc.want) {
			t.Errorf("nonce %d: got %v, want %v", tc.nonce, err, tc.want)
		}
	}
	// Only the contiguous run from the account's nonce is executable.
	if got := m.Reap(0, 0); len(got) != 1 || got[0].Tx.Nonce != 5 {
		t.Fatalf("reap gave %d txs", len(got))
	}
}

// Remove takes txs the proposer could not include out of the pool, and the
// same bytes can be submitted again afterwards.
func TestRemove(t *testing.T) {
	c := chain.MustCodec()
	a := key(t, 3)
	m := newPool(Config{}, newAccounts())
	raw0, raw1 := signTx(t, c, a, 0, txOpt{}), signTx(t, c, a, 1, txOpt{})
	id0, id1 := mustAdd(t, m, raw0), mustAdd(t, m, raw1)
	m.Remove([]chain.ID{id0, id1, chain.IDOf([]byte("never here"))})
	if m.Has(id0) || m.Has(id1) {
		t.Fatal("removed txs still pending")
	}
	if n, bytes := m.Size(); n != 0 || bytes != 0 || len(m.senders) != 0 {
		t.Fatalf("pool not empty: %d txs, %d bytes, %d senders", n, bytes, len(m.senders))
	}
	if len(m.Reap(0, 0)) != 0 {
		t.Fatal("reap returns removed txs")
	}
	if _, err := m.Add(raw0); err != nil {
		t.Fatalf("re-submitting a removed tx: %v", err)
	}
}

// TestKeyCacheSharedAndBounded: the mempool verifies through the KeyCache
// it is given (each sender's key kept once, the bound held), and a bad
// signature from a cached key is still refused, single and batched.
func TestKeyCacheSharedAndBounded(t *testing.T) {
	c := chain.MustCodec()
	kc := chain.NewKeyCache(16)
	m := newPool(Config{KeyCache: kc}, newAccounts())
	var raws [][]byte
	for s := range 8 {
		for n := range uint64(10) {
			raws = append(raws, signTx(t, c, key(t, 300+s), n, txOpt{}))
		}
	}
	raws[33] = corruptSig(t, c, raws[33])
	_, errs := m.AddBatch(raws)
	for i, err := range errs {
		if (i == 33) != errors.Is(err, chain.ErrBadSignature) || i != 33 && err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
	}
	if n := kc.Len(); n != 8 {
		t.Fatalf("cache holds %d keys after 8 senders, want 8", n)
	}
	bad := corruptSig(t, c, signTx(t, c, key(t, 300), 10, txOpt{}))
	if _, err := m.Add(bad); !errors.Is(err, chain.ErrBadSignature) {
		t.Fatalf("bad signature from a cached key: %v", err)
	}
	mustAdd(t, m, signTx(t, c, key(t, 300), 10, txOpt{}))
	for s := range 40 {
		mustAdd(t, m, signTx(t, c, key(t, 400+s), 0, txOpt{}))
		if n := kc.Len(); n > 16 {
			t.Fatalf("cache holds %d keys, bound 16", n)
		}
	}
}
