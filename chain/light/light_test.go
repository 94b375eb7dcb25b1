package light

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
)

const testChain = "light-1"

// testChainData is a chain of signed headers: real keys, real commits.
type testChainData struct {
	c      *chain.Codec
	keys   map[chain.Address]chain.PrivKey
	sets   map[uint64]*chain.ValidatorSet // set signing height h
	blocks map[uint64]*LightBlock
	start  time.Time
}

func newKeys(t testing.TB, n int) []chain.PrivKey {
	t.Helper()
	out := make([]chain.PrivKey, n)
	for i := range out {
		seed := make([]byte, chain.SeedLen)
		seed[0], seed[1] = byte(i), byte(i>>8)
		seed[2] = 0x5a
		k, err := chain.PrivKeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = k
	}
	return out
}

func setOf(t testing.TB, keys []chain.PrivKey) *chain.ValidatorSet {
	t.Helper()
	vals := make([]chain.Validator, len(keys))
	for i, k := range keys {
		vals[i] = chain.Validator{Address: k.PubKey().Address(), PubKey: k.PubKey(), Power: 10}
	}
	vs, err := chain.NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// buildChain makes heights 1..top; setAt(h) names the keys signing h.
func buildChain(t testing.TB, top uint64, setAt func(h uint64) []chain.PrivKey, signers func(h uint64, keys []chain.PrivKey) []chain.PrivKey) *testChainData {
	t.Helper()
	d := &testChainData{c: chain.MustCodec(), keys: map[chain.Address]chain.PrivKey{}, sets: map[uint64]*chain.ValidatorSet{},
		blocks: map[uint64]*LightBlock{}, start: time.Unix(1_800_000_000, 0)}
	for h := uint64(1); h <= top+1; h++ {
		ks := setAt(h)
		for _, k := range ks {
			d.keys[k.PubKey().Address()] = k
		}
		d.sets[h] = setOf(t, ks)
	}
	var parent chain.ID
	for h := uint64(1); h <= top; h++ {
		hd := chain.Header{ChainID: testChain, Height: h, Time: chain.TimeOf(d.start.Add(time.Duration(h) * time.Second)), Parent: parent,
			ValidatorsHash: d.sets[h].Hash(d.c), NextValidatorsHash: d.sets[h+1].Hash(d.c), StateRoot: chain.Sum256([]byte(fmt.Sprint(h)))}
		id := hd.ID(d.c)
		ks := setAt(h)
		if signers != nil {
			ks = signers(h, ks)
		}
		d.blocks[h] = &LightBlock{Header: hd, Commit: commitFor(d.c, d.sets[h], ks, h, id), Validators: d.sets[h]}
		parent = id
	}
	return d
}

func commitFor(c *chain.Codec, vs *chain.ValidatorSet, ks []chain.PrivKey, h uint64, id chain.ID) *chain.Commit {
	msg := chain.VoteSignBytes(c, testChain, chain.Precommit, h, 0, id)
	cm := &chain.Commit{Height: h, BlockID: id}
	for _, k := range ks {
		if _, _, ok := vs.ByAddress(k.PubKey().Address()); ok {
			cm.Sigs = append(cm.Sigs, chain.CommitSig{Validator: k.PubKey().Address(), Sig: k.Sign(msg)})
		}
	}
	return cm
}

// memProvider serves a testChainData, counting fetches.
type memProvider struct {
	d       *testChainData
	fetches int
}

func (p *memProvider) LightBlock(_ context.Context, h uint64) (*LightBlock, error) {
	p.fetches++
	lb, ok := p.d.blocks[h]
	if !ok {
		return nil, fmt.Errorf("no block %d", h)
	}
	cp := *lb
	return &cp, nil
}

func (p *memProvider) ValidatorSet(_ context.Context, h uint64) (*chain.ValidatorSet, error) {
	vs, ok := p.d.sets[h]
	if !ok {
		return nil, fmt.Errorf("no set %d", h)
	}
	return vs, nil
}

func newClient(t *testing.T, d *testChainData, primary Provider, witnesses ...Provider) *Client {
	t.Helper()
	c, err := New(Config{ChainID: testChain, Codec: d.c, Primary: primary, Witnesses: witnesses,
		Store: NewFileStore(filepath.Join(t.TempDir(), "trusted.json")),
		Now:   func() time.Time { return d.start.Add(time.Hour) }})
	if !errors.Is(err, ErrNoTrust) {
		t.Fatalf("new client on an empty store: %v, want ErrNoTrust", err)
	}
	if err := c.TrustGenesis(d.sets[1].Validators, chain.TimeOf(d.start)); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerifySequentialAndSkipping(t *testing.T) {
	ks := newKeys(t, 12)
	for _, tc := range []struct {
		name   string
		setAt  func(h uint64) []chain.PrivKey
		target uint64
		// maxFetches bounds the work: a skip is one fetch, not target.
		maxFetches int
	}{
		{"static set, one skip", func(uint64) []chain.PrivKey { return ks[:4] }, 50, 1},
		{"one validator rotates every 10 heights", func(h uint64) []chain.PrivKey {
			r := int(h / 10)
			return ks[r%4 : r%4+4]
		}, 40, 8},
		{"whole set replaced at 21 and 41: bisection", func(h uint64) []chain.PrivKey {
			switch {
			case h <= 20:
				return ks[:4]
			case h <= 40:
				return ks[4:8]
			default:
				return ks[8:12]
			}
		}, 60, 24},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := buildChain(t, tc.target+1, tc.setAt, nil)
			p := &memProvider{d: d}
			c := newClient(t, d, p)
			lb, err := c.Verify(context.Background(), tc.target)
			if err != nil {
				t.Fatalf("verify %d: %v", tc.target, err)
			}
			if lb.Header.ID(d.c) != d.blocks[tc.target].Header.ID(d.c) {
				t.Fatal("verified a different header")
			}
			st, _ := c.Trusted()
			if st.Height != tc.target {
				t.Fatalf("trusted height %d, want %d", st.Height, tc.target)
			}
			if p.fetches > tc.maxFetches {
				t.Errorf("%d fetches to reach %d, want at most %d", p.fetches, tc.target, tc.maxFetches)
			}
			// One step further is sequential.
			if _, err := c.Verify(context.Background(), tc.target+1); err != nil {
				t.Fatalf("sequential step: %v", err)
			}
			// Back down by parent links.
			back, err := c.Verify(context.Background(), tc.target-5)
			if err != nil || back.Header.Height != tc.target-5 {
				t.Fatalf("backwards: %v", err)
			}
		})
	}
}

func TestVerifyRefusesForgeries(t *testing.T) {
	ks := newKeys(t, 8)
	honest := func(uint64) []chain.PrivKey { return ks[:4] }
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		mutate func(d *testChainData)
		want   error
	}{
		{"commit signed by 2 of 4", func(d *testChainData) {
			lb := d.blocks[10]
			lb.Commit = commitFor(d.c, d.sets[10], ks[:2], 10, lb.Header.ID(d.c))
		}, ErrInvalidHeader},
		// Too little trusted power to skip, so the client bisects down to
		// the adjacent step, where the set is plainly not the trusted one.
		{"strangers' set and commit, honestly hashed", func(d *testChainData) {
			lb := d.blocks[10]
			fake := setOf(t, ks[4:8])
			lb.Header.ValidatorsHash = fake.Hash(d.c)
			lb.Validators = fake
			lb.Commit = commitFor(d.c, fake, ks[4:8], 10, lb.Header.ID(d.c))
		}, ErrInvalidHeader},
		{"served set does not hash to the header", func(d *testChainData) {
			d.blocks[10].Validators = setOf(t, ks[1:5])
		}, ErrInvalidHeader},
		{"state root changed after signing", func(d *testChainData) {
			d.blocks[10].Header.StateRoot = chain.Sum256([]byte("lie"))
		}, ErrInvalidHeader},
		{"other chain", func(d *testChainData) {
			d.blocks[10].Header.ChainID = "other-1"
		}, ErrInvalidHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := buildChain(t, 12, honest, nil)
			tc.mutate(d)
			c := newClient(t, d, &memProvider{d: d})
			if _, err := c.Verify(ctx, 10); !errors.Is(err, tc.want) {
				t.Fatalf("verify forged 10: %v, want %v", err, tc.want)
			}
			if st, _ := c.Trusted(); st.Height != 0 {
				t.Fatalf("trusted state moved to %d on a forgery", st.Height)
			}
		})
	}
}

func TestTrustExpires(t *testing.T) {
	ks := newKeys(t, 4)
	d := buildChain(t, 5, func(uint64) []chain.PrivKey { return ks }, nil)
	c, _ := New(Config{ChainID: testChain, Codec: d.c, Primary: &memProvider{d: d},
		Store: NewFileStore(filepath.Join(t.TempDir(), "t.json")), TrustingPeriod: time.Hour,
		Now: func() time.Time { return d.start.Add(2 * time.Hour) }})
	if err := c.TrustGenesis(d.sets[1].Validators, chain.TimeOf(d.start)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(context.Background(), 3); !errors.Is(err, ErrTrustExpired) {
		t.Fatalf("verify with expired trust: %v", err)
	}
}

// A witness serving a different header for the same height, signed by the
// same validators (they equivocated), is fork evidence; the trusted state
// does not move.
func TestConflictingWitnessIsFork(t *testing.T) {
	ks := newKeys(t, 4)
	set := func(uint64) []chain.PrivKey { return ks }
	d := buildChain(t, 12, set, nil)
	fork := buildChain(t, 12, set, nil)
	for h := uint64(8); h <= 12; h++ { // diverges at 8
		lb := fork.blocks[h]
		lb.Header.StateRoot = chain.Sum256([]byte(fmt.Sprint("fork", h)))
		if h > 8 {
			lb.Header.Parent = fork.blocks[h-1].Header.ID(fork.c)
		}
		lb.Commit = commitFor(fork.c, fork.sets[h], ks, h, lb.Header.ID(fork.c))
	}
	c := newClient(t, d, &memProvider{d: d}, &memProvider{d: fork})
	_, err := c.Verify(context.Background(), 10)
	var ce *ConflictError
	if !errors.Is(err, ErrConflictingHeaders) || !errors.As(err, &ce) || ce.Height != 10 {
		t.Fatalf("verify with a forked witness: %v", err)
	}
	if st, _ := c.Trusted(); st.Height != 0 {
		t.Fatalf("trusted state moved to %d despite the fork", st.Height)
	}
	// A witness that merely lies (unsigned header) is ignored.
	liar := buildChain(t, 12, set, nil)
	liar.blocks[10].Header.StateRoot = chain.Sum256([]byte("lie"))
	c2 := newClient(t, d, &memProvider{d: d}, &memProvider{d: liar})
	if _, err := c2.Verify(context.Background(), 10); err != nil {
		t.Fatalf("a lying witness broke verification: %v", err)
	}
}

func TestTrustedStatePersists(t *testing.T) {
	ks := newKeys(t, 4)
	d := buildChain(t, 20, func(uint64) []chain.PrivKey { return ks }, nil)
	path := filepath.Join(t.TempDir(), "light", "trusted.json")
	now := func() time.Time { return d.start.Add(time.Hour) }
	c, err := New(Config{ChainID: testChain, Codec: d.c, Primary: &memProvider{d: d}, Store: NewFileStore(path), Now: now})
	if !errors.Is(err, ErrNoTrust) {
		t.Fatal(err)
	}
	id := d.blocks[5].Header.ID(d.c)
	if err := c.TrustCheckpoint(context.Background(), 5, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(context.Background(), 15); err != nil {
		t.Fatal(err)
	}
	again, err := New(Config{ChainID: testChain, Codec: d.c, Primary: &memProvider{d: d}, Store: NewFileStore(path), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := again.Trusted(); st.Height != 15 || st.BlockID != d.blocks[15].Header.ID(d.c) {
		t.Fatalf("reopened trusted state %d/%s, want 15", st.Height, st.BlockID)
	}
	// A wrong checkpoint ID is refused.
	if err := again.TrustCheckpoint(context.Background(), 6, id); !errors.Is(err, ErrInvalidHeader) {
		t.Fatalf("checkpoint with the wrong ID: %v", err)
	}
	if _, err := New(Config{ChainID: "other-1", Codec: d.c, Primary: &memProvider{d: d}, Store: NewFileStore(path), Now: now}); !errors.Is(err, ErrNoTrust) {
		t.Fatalf("trusted state of another chain: %v", err)
	}
}

func TestSkipNeedsTrustedOverlap(t *testing.T) {
	ks := newKeys(t, 8)
	d := buildChain(t, 12, func(uint64) []chain.PrivKey { return ks[:4] }, nil)
	c := newClient(t, d, &memProvider{d: d})
	st, _ := c.Trusted()
	for _, tc := range []struct {
		name    string
		signers []chain.PrivKey
		want    error
	}{
		{"all four trusted sign", ks[:4], nil},
		{"three sign: 3/4 of trusted power", ks[1:4], nil},
	} {
		lb := *d.blocks[10]
		lb.Commit = commitFor(d.c, d.sets[10], tc.signers, 10, lb.Header.ID(d.c))
		if err := c.verifyStep(st, &lb); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A header whose own set is all strangers: valid on its own, but no
	// trusted validator vouches for it.
	lb := *d.blocks[10]
	fake := setOf(t, ks[4:8])
	lb.Header.ValidatorsHash, lb.Validators = fake.Hash(d.c), fake
	lb.Commit = commitFor(d.c, fake, ks[4:8], 10, lb.Header.ID(d.c))
	if err := c.verifyStep(st, &lb); !errors.Is(err, ErrNotEnoughTrust) {
		t.Fatalf("strangers' header: %v, want ErrNotEnoughTrust", err)
	}
}
