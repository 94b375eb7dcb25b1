package node

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/light"
	"github.com/dure-network/dure/chain/state"
	"github.com/dure-network/dure/chain/store"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/p2p"
)

// State sync: a node with an empty data directory joins from the state at
// a recent height H instead of replaying every block. It asks its
// bootstrap peers which height they serve, verifies headers H and H+1 with
// the light client from its trusted genesis (or [statesync]
// trust_checkpoint), downloads the state at H in bounded chunks over
// p2p.SnapshotProtocol, and installs it only if the rebuilt root equals
// header H's state root; a peer whose chunks or root are wrong is denied
// and the next one tried. The store then starts at base H, and normal
// block sync carries on from H+1. It runs inside Open, on a short-lived
// p2p host of its own, so the node's startup path is unchanged.

// Errors of state sync.
var (
	ErrNoSnapshot      = errors.New("state sync: no peer offers a snapshot")
	ErrStateSyncFailed = errors.New("state sync: every peer failed")
)

const (
	stateSyncPeerWait  = 20 * time.Second // for the bootstrap peers to connect
	stateSyncProgress  = 2 * time.Second  // progress log period
	stateSyncOfferSlop = 16               // peers within this many heights of the best offer serve H too
)

// stateSyncMode decides whether Open runs state sync: the reason is for the log.
func (n *Node) stateSyncMode() (run, required bool, why string) {
	c := n.cfg.StateSync
	switch {
	case n.store.Initialized():
		return false, false, "data directory already holds the chain"
	case c.Enable == "off":
		return false, false, "[statesync] enable = \"off\""
	case len(n.cfg.P2P.BootstrapPeers) == 0:
		return false, c.Enable == "on", "no [p2p] bootstrap_peers to ask"
	case c.Enable == "auto" && !n.key.IsZero():
		return false, false, "a validator replays from genesis unless [statesync] enable = \"on\""
	}
	return true, c.Enable == "on", ""
}

// stateSync runs state sync when stateSyncMode says so. With enable =
// "auto" any failure falls back to replaying from genesis (logged); with
// "on" it is an error.
func (n *Node) stateSync(ctx context.Context) error {
	run, required, why := n.stateSyncMode()
	if !run {
		if required {
			return setupErr(fmt.Errorf("%w: [statesync] enable = \"on\" but %s", ErrNoSnapshot, why))
		}
		if !n.store.Initialized() {
			n.log.Info("state sync: off, replaying blocks from genesis", "reason", why)
		}
		return nil
	}
	t0 := time.Now()
	err := n.runStateSync(ctx)
	if err == nil {
		n.log.Info("state sync: done", "height", n.store.Head().Height, "took", time.Since(t0).Round(time.Millisecond))
		return nil
	}
	if required || ctx.Err() != nil {
		return fmt.Errorf("state sync: %w", err)
	}
	n.log.Warn("state sync: not possible, replaying blocks from genesis", "err", err)
	return nil
}

func (n *Node) runStateSync(ctx context.Context) error {
	pcfg, err := n.p2pConfig()
	if err != nil {
		return err
	}
	// Outbound only: no listening ports of its own, no discovery beyond the
	// bootstrap peers, gossip ignored.
	pcfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	pcfg.EnableDHT, pcfg.EnableMDNS, pcfg.EnableNATPortMap, pcfg.EnableRelayService = false, false, false, false
	ignore := func(peer.ID, []byte) p2p.Verdict { return p2p.Ignore }
	net, err := p2p.New(ctx, pcfg, p2p.Deps{
		ValidateTxs:       func(peer.ID, [][]byte) ([][]byte, p2p.Verdict) { return nil, p2p.Ignore },
		ValidateConsensus: ignore, ValidateBlock: ignore, ValidateEvidence: ignore,
		Logger: n.log,
	})
	if err != nil {
		return fmt.Errorf("p2p for state sync: %w", err)
	}
	defer net.Close()
	peers := n.waitPeers(ctx, net)
	if len(peers) == 0 {
		return fmt.Errorf("%w: no bootstrap peer connected within %s", ErrNoSnapshot, stateSyncPeerWait)
	}
	H, servers := n.pickSnapshot(ctx, net, peers)
	if H == 0 {
		return fmt.Errorf("%w: none of %d peers serves one", ErrNoSnapshot, len(peers))
	}
	if H < n.cfg.StateSync.MinHeight && n.cfg.StateSync.Enable == "auto" {
		return fmt.Errorf("%w: best offer is height %d, below [statesync] min_height %d", ErrNoSnapshot, H, n.cfg.StateSync.MinHeight)
	}
	n.log.Info("state sync: starting", "height", H, "peers", len(peers), "serving", len(servers))
	var errs []error
	for i, p := range servers {
		witnesses := make([]peer.ID, 0, 2)
		for _, w := range servers {
			if w != p && len(witnesses) < 2 {
				witnesses = append(witnesses, w)
			}
		}
		err := n.syncSnapshot(ctx, net, p, witnesses, H)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs = append(errs, fmt.Errorf("peer %s: %w", p, err))
		if isLie(err) {
			n.log.Warn("state sync: peer served a bad snapshot; denied", "peer", p, "err", err, "next", i+1 < len(servers))
			net.Deny(p)
			// The node's own host refuses it too, for this run.
			n.cfg.P2P.DenyPeers = append(n.cfg.P2P.DenyPeers, p.String())
		} else {
			n.log.Warn("state sync: peer failed", "peer", p, "err", err, "next", i+1 < len(servers))
		}
	}
	return fmt.Errorf("%w: %w", ErrStateSyncFailed, errors.Join(errs...))
}

// isLie: the error proves the peer served data that does not verify (not
// merely a timeout or a refusal).
func isLie(err error) bool {
	return errors.Is(err, state.ErrRootMismatch) || errors.Is(err, state.ErrChunkOrder) ||
		errors.Is(err, p2p.ErrMalformed) || errors.Is(err, light.ErrInvalidHeader) ||
		errors.Is(err, errSnapshotMismatch) || errors.Is(err, chain.ErrInvalidCommit)
}

var errSnapshotMismatch = errors.New("state sync: snapshot data disagrees with the verified header")

func (n *Node) waitPeers(ctx context.Context, net *p2p.Node) []peer.ID {
	deadline := time.Now().Add(stateSyncPeerWait)
	want := min(len(n.cfg.P2P.BootstrapPeers), 3)
	var got []peer.ID
	for {
		got = got[:0]
		for _, pi := range net.Peers() {
			got = append(got, pi.ID)
		}
		if len(got) >= want || time.Now().After(deadline) || ctx.Err() != nil {
			return got
		}
		if len(got) > 0 && time.Until(deadline) < stateSyncPeerWait-5*time.Second {
			return got // some peers after 5s: go with them
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// pickSnapshot asks every peer for its offer and picks H: the lowest offer
// within stateSyncOfferSlop of the best, so that every peer near the top
// can serve it. servers are those peers, best first.
func (n *Node) pickSnapshot(ctx context.Context, net *p2p.Node, peers []peer.ID) (uint64, []peer.ID) {
	type offer struct {
		p peer.ID
		h uint64
	}
	var mu sync.Mutex
	var offers []offer
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := net.SnapshotOffer(ctx, p)
			if err != nil {
				n.log.Debug("state sync: offer", "peer", p, "err", err)
				return
			}
			mu.Lock()
			offers = append(offers, offer{p, h})
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(offers, func(i, j int) bool { return offers[i].h > offers[j].h })
	if len(offers) == 0 || offers[0].h == 0 {
		return 0, nil
	}
	best := offers[0].h
	H := best
	var servers []peer.ID
	for _, o := range offers {
		if o.h+stateSyncOfferSlop < best || o.h == 0 {
			break
		}
		H = min(H, o.h)
		servers = append(servers, o.p)
	}
	return H, servers
}

// syncSnapshot verifies headers H and H+1 through p (witnesses
// cross-checking), downloads the state at H from p and installs it.
func (n *Node) syncSnapshot(ctx context.Context, net *p2p.Node, p peer.ID, witnesses []peer.ID, H uint64) error {
	prim := &p2pProvider{net: net, p: p, codec: n.codec, blocks: map[uint64]*chain.Block{}}
	var ws []light.Provider
	for _, w := range witnesses {
		ws = append(ws, &p2pProvider{net: net, p: w, codec: n.codec, blocks: map[uint64]*chain.Block{}})
	}
	lc, err := light.New(light.Config{ChainID: n.gen.ChainID, Codec: n.codec, Primary: prim, Witnesses: ws,
		Store: &memTrust{}, Now: time.Now})
	if err != nil && !errors.Is(err, light.ErrNoTrust) {
		return err
	}
	if cp := n.cfg.StateSync.TrustCheckpoint; cp != "" {
		h, idStr, err := config.ParseCheckpoint(cp)
		if err != nil {
			return setupErr(err)
		}
		id, err := chain.ParseID(idStr)
		if err != nil {
			return setupErr(fmt.Errorf("[statesync] trust_checkpoint block id: %w", err))
		}
		if h > H {
			return fmt.Errorf("%w: trust_checkpoint %d is above the snapshot height %d", ErrNoSnapshot, h, H)
		}
		if err := lc.TrustCheckpoint(ctx, h, id); err != nil {
			return fmt.Errorf("trust checkpoint %d: %w", h, err)
		}
	} else {
		vals, err := n.gen.ValidatorSet()
		if err != nil {
			return err
		}
		if err := lc.TrustGenesis(vals.Validators, chain.TimeOf(n.gen.GenesisTime)); err != nil {
			return err
		}
	}
	lb1, err := lc.Verify(ctx, H+1)
	if err != nil {
		return fmt.Errorf("verify header %d: %w", H+1, err)
	}
	lb0, err := lc.Verify(ctx, H)
	if err != nil {
		return fmt.Errorf("verify header %d: %w", H, err)
	}
	blk := prim.blocks[H]
	if blk == nil || blk.Header.ID(n.codec) != lb0.Header.ID(n.codec) {
		blk, err = prim.block(ctx, H)
		if err != nil {
			return err
		}
	}
	if blk.Header.ID(n.codec) != lb0.Header.ID(n.codec) {
		return fmt.Errorf("%w: block %d is not the verified header", errSnapshotMismatch, H)
	}
	if err := blk.ValidateBasic(n.codec); err != nil {
		return fmt.Errorf("%w: block %d: %w", errSnapshotMismatch, H, err)
	}
	nextVals, err := prim.ValidatorSet(ctx, H+1)
	if err != nil {
		return err
	}
	if nextVals.Hash(n.codec) != lb0.Header.NextValidatorsHash {
		return fmt.Errorf("%w: validator set for %d", errSnapshotMismatch, H+1)
	}
	afterVals, err := prim.ValidatorSet(ctx, H+2)
	if err != nil {
		return err
	}
	if afterVals.Hash(n.codec) != lb1.Header.NextValidatorsHash {
		return fmt.Errorf("%w: validator set for %d", errSnapshotMismatch, H+2)
	}
	n.log.Info("state sync: header verified", "height", H, "block_id", lb0.Header.ID(n.codec),
		"state_root", lb0.Header.StateRoot, "peer", p, "trust", trustName(n.cfg.StateSync.TrustCheckpoint))

	im, err := state.NewImporter(n.store.DB(), state.Options{RangeProofs: n.gen.Params.RangeProofs})
	if err != nil {
		return err
	}
	t0, last := time.Now(), time.Now()
	chunks := 0
	for {
		c, err := net.SnapshotChunk(ctx, p, H, im.Last(), im.Last() != nil, p2p.DefaultChunkBytes)
		if err != nil {
			return fmt.Errorf("chunk %d: %w", chunks, err)
		}
		pairs := make([]state.Pair, len(c.Pairs))
		for i, kv := range c.Pairs {
			pairs[i] = state.Pair{Key: kv.Key, Value: kv.Value}
		}
		if err := im.Add(pairs); err != nil {
			return err
		}
		chunks++
		if time.Since(last) >= stateSyncProgress {
			np, nb := im.Size()
			n.log.Info("state sync: downloading", "height", H, "peer", p, "chunks", chunks, "pairs", np, "bytes", nb)
			last = time.Now()
		}
		if !c.More {
			break
		}
	}
	np, nb := im.Size()
	pend, err := im.Finish(lb0.Header.StateRoot)
	if err != nil {
		return err
	}
	n.log.Info("state sync: state root matches the verified header", "height", H, "chunks", chunks, "pairs", np,
		"bytes", nb, "download", time.Since(t0).Round(time.Millisecond))
	err = n.store.CommitSnapshot(n.genHash, blk, lb0.Commit, lb0.Validators, nextVals, func(w chain.KVWriter) error {
		if err := pend.WriteTo(w); err != nil {
			return err
		}
		return store.PutAfterValidators(w, n.codec, afterVals)
	})
	if err != nil {
		return fmt.Errorf("install snapshot %d: %w", H, err)
	}
	return nil
}

func trustName(cp string) string {
	if cp == "" {
		return "genesis"
	}
	return "checkpoint " + cp
}

// memTrust is the light client's trusted state for one state sync.
type memTrust struct {
	st *light.TrustedState
}

func (m *memTrust) Load() (light.TrustedState, error) {
	if m.st == nil {
		return light.TrustedState{}, light.ErrNoTrust
	}
	return *m.st, nil
}

func (m *memTrust) Save(st light.TrustedState) error { m.st = &st; return nil }

// p2pProvider serves the light client from one peer: blocks and commits
// over the sync protocol, validator sets over the snapshot protocol.
type p2pProvider struct {
	net    *p2p.Node
	p      peer.ID
	codec  *chain.Codec
	blocks map[uint64]*chain.Block
}

func (v *p2pProvider) block(ctx context.Context, h uint64) (*chain.Block, error) {
	lb, err := v.LightBlock(ctx, h)
	if err != nil {
		return nil, err
	}
	_ = lb
	return v.blocks[h], nil
}

func (v *p2pProvider) LightBlock(ctx context.Context, h uint64) (*light.LightBlock, error) {
	items, err := v.net.FetchBlocks(ctx, v.p, h, h)
	if err != nil {
		return nil, err
	}
	if len(items) != 1 {
		return nil, fmt.Errorf("%w: block %d from %s", store.ErrNotFound, h, v.p)
	}
	b, err := chain.DecodeBlock(v.codec, items[0].Block)
	if err != nil {
		return nil, fmt.Errorf("%w: block %d: %w", p2p.ErrMalformed, h, err)
	}
	var cm chain.Commit
	if err := v.codec.UnmarshalCanonical(items[0].Commit, &cm); err != nil {
		return nil, fmt.Errorf("%w: commit %d: %v", chain.ErrInvalidCommit, h, err)
	}
	vs, err := v.ValidatorSet(ctx, h)
	if err != nil {
		return nil, err
	}
	v.blocks[h] = b
	return &light.LightBlock{Header: b.Header, Commit: &cm, Validators: vs}, nil
}

func (v *p2pProvider) ValidatorSet(ctx context.Context, h uint64) (*chain.ValidatorSet, error) {
	raw, err := v.net.SnapshotValidators(ctx, v.p, h)
	if err != nil {
		return nil, err
	}
	var vals []chain.Validator
	if err := v.codec.Unmarshal(raw, &vals); err != nil {
		return nil, fmt.Errorf("%w: validator set %d: %v", p2p.ErrMalformed, h, err)
	}
	vs, err := chain.NewValidatorSet(vals)
	if err != nil {
		return nil, fmt.Errorf("%w: validator set %d: %w", p2p.ErrMalformed, h, err)
	}
	return vs, nil
}

// snapshotSource serves state sync to peers: heights whose block, the next
// block and state version this node still has. With pruning it serves
// only the newer half of its window, so a download of a few minutes does
// not race the pruning of the version it reads.
type snapshotSource struct {
	n   *Node
	lie bool // test hook: forged chunks (testhooks_on.go)
}

func newSnapshotSource(n *Node) snapshotSource {
	return snapshotSource{n: n, lie: testSnapshotLie(n.log)}
}

func (s snapshotSource) SnapshotHeight() uint64 {
	head := s.n.store.Head().Height
	if head < 2 || s.n.store.Base() > head-1 {
		return 0
	}
	if s.lie {
		return head + 8
	}
	return head - 1
}

func (s snapshotSource) Serves(h uint64) bool {
	head := s.n.store.Head().Height
	if h == 0 || h >= head || h < s.n.store.Base() {
		return false
	}
	keep := s.n.keepWindow()
	return keep == 0 || head-h <= keep/2
}

func (s snapshotSource) Validators(h uint64) ([]byte, error) {
	vs, err := s.n.store.ValidatorsAt(h)
	if err != nil {
		return nil, err
	}
	return s.n.codec.Marshal(vs.Validators)
}

func (s snapshotSource) Chunk(h uint64, after []byte, hasAfter bool, max int) (p2p.Chunk, error) {
	if hasAfter && after == nil {
		after = []byte{}
	}
	if !hasAfter {
		after = nil
	}
	pairs, more, err := s.n.state.Chunk(store.TS(h), after, max)
	if err != nil {
		return p2p.Chunk{}, err
	}
	c := p2p.Chunk{Pairs: make([]p2p.KV, len(pairs)), More: more}
	for i, kv := range pairs {
		c.Pairs[i] = p2p.KV{Key: kv.Key, Value: kv.Value}
	}
	if s.lie && len(c.Pairs) > 0 {
		c.Pairs[0].Value = append([]byte("forged"), c.Pairs[0].Value...)
	}
	return c, nil
}

// keepWindow is the store's retention (0: archive), as Open computes it.
func (n *Node) keepWindow() uint64 { return storageKeep(n.cfg, !n.key.IsZero()) }
