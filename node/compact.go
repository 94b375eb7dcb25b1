package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/consensus"
	"github.com/dure-network/dure/p2p"
)

// Compact proposals. The proposer gossips, on the compact topic, its
// signed proposal with the block's header, parent commit, evidence and the
// SHA-256 of each tx in block order: 32 bytes a tx instead of the tx
// (≈ 200 bytes for a transfer). Every tx was gossiped to every mempool
// already, so a receiver rebuilds the block from its mempool, checks the
// rebuilt tx root against the signed header, and asks the publisher, then
// the peer that forwarded it, then its other peers, for what it lacks
// (p2p.BlockFillProtocol), and for the whole block by ID if that fails.
// The block, its ID, header and stored bytes are exactly the proposer's:
// the canonical encoding of the same header, txs, commit and evidence.
//
// What a liar can do: the ID list is not signed (only the proposal, which
// names the header), so a host may republish a real proposal with a wrong
// list. The rebuilt root then differs from the header's; that list is
// dropped, the block is not installed (so not voted for on its account)
// and is fetched whole from the other peers, and the list's author (the
// host that signed the gossip message) is penalised; once the block is
// held, such a list is rejected by the gossip validator. A server whose
// tx does not hash to the asked ID (penalised), answers too much or too
// slowly is skipped for the block; one that does not answer within
// fillHedge has the next peer asked too. All of it runs off the driver goroutine, bounded by fillDeadline,
// so nothing a peer sends stalls the driver: at worst the round times out
// and the next proposer's block is tried, as when a block is lost.

// compactVersion is the compact message's version; a decoder refuses any
// other (a new layout is a new version and topic).
const compactVersion = 1

// txIDPrefix is what chain.IDOf puts before the SHA-256 of a tx: CIDv1,
// dag-cbor, sha2-256, 32 bytes. The compact form carries only the digest.
const txIDPrefix = "\x01\x71\x12\x20"

// compactBlock is a compact-topic message.
type compactBlock struct {
	_          struct{}         `cbor:",toarray"`
	Version    uint64           `json:"version"`
	Proposal   chain.Proposal   `json:"proposal"`
	Header     chain.Header     `json:"header"`
	LastCommit *chain.Commit    `json:"last_commit"`
	Evidence   []chain.Evidence `json:"evidence"`
	// TxHashes is the SHA-256 of each tx, in block order, concatenated.
	TxHashes []byte `json:"tx_hashes"`
}

// digests splits TxHashes.
func (cb *compactBlock) count() int { return len(cb.TxHashes) / 32 }

func (cb *compactBlock) digest(i int) []byte { return cb.TxHashes[i*32 : i*32+32 : i*32+32] }

func txIDOfDigest(d []byte) chain.ID { return chain.ID(txIDPrefix + string(d)) }

// encodeCompact is the compact form of a block and its signed proposal.
func encodeCompact(c *chain.Codec, p *chain.Proposal, b *chain.Block, txs []*chain.DecodedTx) ([]byte, error) {
	hs := make([]byte, 0, 32*len(b.Txs))
	for i, raw := range b.Txs {
		if i < len(txs) && txs[i] != nil && len(txs[i].ID) == len(txIDPrefix)+32 && string(txs[i].ID[:len(txIDPrefix)]) == txIDPrefix {
			hs = append(hs, txs[i].ID[len(txIDPrefix):]...)
			continue
		}
		sum := chain.Sum256(raw)
		hs = append(hs, sum[:]...)
	}
	return c.Marshal(compactBlock{Version: compactVersion, Proposal: *p, Header: b.Header, LastCommit: b.LastCommit,
		Evidence: b.Evidence, TxHashes: hs})
}

// decodeCompact decodes a compact message canonically and checks what
// needs no state: version, size, that the proposal names this header,
// and the header's commit and evidence hashes. The tx list is checked
// against the header's tx root only once the txs are at hand.
func decodeCompact(c *chain.Codec, data []byte) (*compactBlock, error) {
	if len(data) > p2p.MaxCompactBytes {
		return nil, fmt.Errorf("%w: compact proposal of %d bytes", chain.ErrBlockMalformed, len(data))
	}
	var cb compactBlock
	if err := c.UnmarshalCanonical(data, &cb); err != nil {
		return nil, fmt.Errorf("%w: compact proposal: %w", chain.ErrBlockMalformed, err)
	}
	h := &cb.Header
	switch {
	case cb.Version != compactVersion:
		return nil, fmt.Errorf("%w: compact proposal version %d", chain.ErrBlockMalformed, cb.Version)
	case len(cb.TxHashes)%32 != 0 || cb.count() > chain.MaxTxsPerBlock:
		return nil, fmt.Errorf("%w: compact proposal tx hashes of %d bytes", chain.ErrBlockMalformed, len(cb.TxHashes))
	case h.ChainID == "" || len(h.ChainID) > chain.MaxChainIDLen || h.Height == 0:
		return nil, fmt.Errorf("%w: compact proposal header", chain.ErrBlockMalformed)
	case cb.Proposal.Height != h.Height || cb.Proposal.BlockID != h.ID(c):
		return nil, fmt.Errorf("%w: proposal for %d/%s carries header %d/%s", chain.ErrBlockMalformed,
			cb.Proposal.Height, cb.Proposal.BlockID, h.Height, h.ID(c))
	case chain.CommitHash(c, cb.LastCommit) != h.LastCommitHash:
		return nil, fmt.Errorf("%w: last commit hash mismatch", chain.ErrBlockMalformed)
	case chain.EvidenceHash(c, cb.Evidence) != h.EvidenceHash:
		return nil, fmt.Errorf("%w: evidence hash mismatch", chain.ErrBlockMalformed)
	}
	return &cb, nil
}

// assemble builds the block from txs (one raw per hash, all present) and
// checks it against the header: tx root, then everything ValidateBasic
// checks. It returns the block, its canonical encoding and decoded txs;
// a root that differs is errListMismatch (the list, not the block, is
// bad), a tx that does not decode is a bad block.
func assemble(c *chain.Codec, cb *compactBlock, raws [][]byte) (*chain.Block, []byte, error) {
	b := &chain.Block{Header: cb.Header, Txs: raws, LastCommit: cb.LastCommit, Evidence: cb.Evidence}
	if chain.TxRoot(raws) != cb.Header.TxRoot {
		return nil, nil, errListMismatch
	}
	raw, err := b.Encode(c)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: encode: %w", chain.ErrBlockMalformed, err)
	}
	if len(raw) > chain.MaxBlockBytes {
		return nil, nil, fmt.Errorf("%w: %d bytes", chain.ErrBlockMalformed, len(raw))
	}
	return b, raw, nil
}

// checkedRoot is the tx root of a block whose txs were just checked
// against its header (by assemble, or by chain.DecodeBlock's
// ValidateBasic): the header's. A candidate carries it so that validation
// compares against it instead of hashing the txs again.
func checkedRoot(b *chain.Block) *chain.Hash {
	r := b.Header.TxRoot
	return &r
}

// errListMismatch: the txs a compact message lists do not give the
// header's tx root.
var errListMismatch = errors.New("compact proposal: tx list does not match the header's tx root")

// validateCompactGossip admits a compact proposal only as the scheduled
// proposer's signed proposal of its header, as validateBlockGossip does
// for a whole block, and, for a block this node holds (recentBlocks),
// only with the block's own tx list and at most maxCompactCopies times.
func (n *Node) validateCompactGossip(_ peer.ID, data []byte) p2p.Verdict {
	cb, err := decodeCompact(n.codec, data)
	if err != nil || cb.Header.ChainID != n.gen.ChainID {
		return p2p.Reject
	}
	// A block at hand gives the true list: another one is a proven lie
	// (the header's tx root names the txs), and past a few copies of the
	// true one (the proposer's rebroadcasts) a copy is not relayed.
	if list, copies, ok := n.recent.seen(cb.Proposal.BlockID); ok {
		if list != chain.Sum256(cb.TxHashes) {
			return p2p.Reject
		}
		if copies > maxCompactCopies {
			return p2p.Ignore
		}
	}
	return n.checkProposalAt(&cb.Proposal, cb.Header.Height)
}

// gossipCompact is a compact proposal the gossip validator admitted.
type gossipCompact struct {
	from, author peer.ID
	data         []byte
}

// compactFilled is the end of a fill run (fill) for the driver: the
// candidate, or why there is none.
type compactFilled struct {
	id   chain.ID
	list chain.Hash
	c    *candidate
	err  error
}

// fillState is what the driver knows of a block ID it has seen only in
// compact form: its height, and the tx lists tried for it.
type fillState struct {
	height uint64
	lists  map[chain.Hash]bool
}

// maxListsPerBlock bounds the distinct tx lists tried for one block ID
// (one is the proposer's; others come from hosts republishing its
// proposal with a list of their own).
const maxListsPerBlock = 3

// onCompact takes a compact proposal: the block from the mempool at once
// if every tx is there and the root matches, else a fill run in the
// background. The proposal is stepped either way, as with a whole block.
func (d *driver) onCompact(e gossipCompact) {
	n := d.n
	cb, err := decodeCompact(n.codec, e.data)
	if err != nil {
		return
	}
	h, r := cb.Header.Height, cb.Proposal.Round
	if h <= n.head.Height || h > n.head.Height+2 {
		return
	}
	if h == d.cons.Height() && r > d.cons.Status().Round+maxRoundsAhead {
		return
	}
	id := cb.Proposal.BlockID
	_, known := d.cands[id]
	f := d.filling[id]
	if !known && f == nil && d.perRound[roundKey{h, r}] >= maxBlocksPerRound {
		return // an equivocating proposer's extra blocks
	}
	// The proposal travels with the block, as on the block topic.
	defer func() {
		d.noteHeight(h)
		if h == d.cons.Height() {
			d.step(consensusProposal(cb))
		}
	}()
	if known {
		return
	}
	list := chain.Sum256(cb.TxHashes)
	if f != nil && (f.lists[list] || len(f.lists) >= maxListsPerBlock) {
		return
	}
	if f == nil {
		d.perRound[roundKey{h, r}]++
		f = &fillState{height: h, lists: map[chain.Hash]bool{}}
		d.filling[id] = f
	}
	f.lists[list] = true
	start := time.Now()
	raws, txs, missing := n.fromMempool(cb)
	lied := false
	if len(missing) == 0 {
		c, err := candidateOf(n.codec, cb, raws, txs)
		n.m.compactFills.WithLabelValues(fillOutcome(err, true)).Inc()
		if err == nil {
			n.m.compactFillSecs.Observe(time.Since(start).Seconds())
			d.addCandidate(c)
			return
		}
		n.log.Warn("compact proposal does not rebuild; fetching the block", "height", h, "id", id, "author", e.author, "err", err)
		if c != nil {
			d.addCandidate(c) // a bad block the header commits to: found invalid
			return
		}
		if !errors.Is(err, errListMismatch) {
			return // the header's own parts do not make a block
		}
		lied = true // fetch the whole block, not from the list's author
		n.penalize(e.author)
	}
	ctx, cancel := context.WithTimeout(d.ctx, d.fillDeadline())
	peers := d.fillPeers(e.author, e.from)
	go func() {
		defer cancel()
		c, err := n.fill(ctx, cb, raws, txs, missing, peers, e.author, lied)
		n.post(d.ctx, compactFilled{id: id, list: list, c: c, err: err})
	}()
}

// fromMempool looks up the listed txs; missing are the indexes not there.
func (n *Node) fromMempool(cb *compactBlock) (raws [][]byte, txs []*chain.DecodedTx, missing []int) {
	k := cb.count()
	raws, txs = make([][]byte, k), make([]*chain.DecodedTx, k)
	for i := range k {
		id := txIDOfDigest(cb.digest(i))
		if tx, ok := n.pool.Get(id); ok {
			raws[i], txs[i] = tx.Raw, tx
		} else if raw, ok := n.recent.tx(id); ok {
			raws[i] = raw // decoded by candidateOf
		} else {
			missing = append(missing, i)
		}
	}
	return raws, txs, missing
}

// candidateOf assembles the block; a block whose txs the header commits
// to but that do not decode is returned as a candidate found invalid.
func candidateOf(c *chain.Codec, cb *compactBlock, raws [][]byte, txs []*chain.DecodedTx) (*candidate, error) {
	b, raw, err := assemble(c, cb, raws)
	if err != nil {
		return nil, err
	}
	cand := &candidate{id: cb.Proposal.BlockID, block: b, raw: raw, txs: txs, via: "mempool", txRoot: checkedRoot(b)}
	for i, tx := range txs {
		if tx != nil {
			continue
		}
		if txs[i], err = chain.NewDecodedTx(c, raws[i]); err != nil {
			cand.err = fmt.Errorf("%w: tx %d: %w", errBadBlock, i, err)
			cand.txs = nil
			return cand, cand.err
		}
	}
	return cand, nil
}

// onCompactFilled installs what a fill run got.
func (d *driver) onCompactFilled(e compactFilled) {
	if _, ok := d.cands[e.id]; ok || d.filling[e.id] == nil {
		return // another list or the whole block came first, or the height is over
	}
	if e.c == nil {
		d.n.m.compactFills.WithLabelValues("failed").Inc()
		d.n.log.Warn("compact proposal: could not get the block", "id", e.id, "err", e.err)
		delete(d.filling[e.id].lists, e.list) // a rebroadcast may try again
		return
	}
	d.n.m.compactFills.WithLabelValues(fillOutcome(e.c.err, false)).Inc()
	d.addCandidate(e.c)
}

func fillOutcome(err error, local bool) string {
	switch {
	case errors.Is(err, errListMismatch):
		return "list_mismatch"
	case err != nil:
		return "bad_block"
	case local:
		return "mempool"
	}
	return "fetched"
}

// addCandidate installs a block received by gossip (whole or compact) and
// answers what waited for it.
func (d *driver) addCandidate(c *candidate) {
	id := c.id
	d.cands[id] = c
	d.n.recent.put(c)
	if c.block.Header.Height == d.trace.height {
		mark(&d.trace.blockIn, time.Now())
	}
	if d.pendingValidate[id] {
		delete(d.pendingValidate, id)
		d.validate(id)
	}
	if pd := d.pendingDecision; pd != nil && pd.BlockID == id {
		d.pendingDecision = nil
		if err := d.decide(*pd); err != nil {
			d.n.log.Error("apply decided block", "err", err)
		}
	}
}

// fillDeadline bounds one fill run: past the propose timeout the round
// has moved on without this block.
func (d *driver) fillDeadline() time.Duration {
	return max(d.n.cfg.Consensus.TimeoutPropose.Duration(), 2*time.Second)
}

// fillPeers is the order peers are asked: the publisher (the proposer's
// host for its own message), the forwarder, then the other peers by
// gossip score.
func (d *driver) fillPeers(author, from peer.ID) []peer.ID {
	var out []peer.ID
	seen := map[peer.ID]bool{"": true}
	if d.n.net != nil {
		seen[d.n.net.ID()] = true
	}
	add := func(p peer.ID) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	add(author)
	add(from)
	if d.n.net != nil {
		// Best gossip score first: a peer that relays well and was never
		// caught lying before one that connected to listen.
		ps := d.n.net.Peers()
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Score > ps[j].Score })
		for _, pi := range ps {
			add(pi.ID)
		}
	}
	return out
}

// fillPeerTimeout bounds one peer's answer in a fill run, so a slow peer
// leaves time to ask the next.
const fillPeerTimeout = 1500 * time.Millisecond

// fillHedge is how long a fill run waits on the peers it asked before it
// asks the next one as well (an honest answer on loopback or a LAN takes
// a few ms, a block over a slow uplink a few hundred): a peer that never
// answers costs the run fillHedge, not fillPeerTimeout. At most
// fillInFlight peers are asked at once.
const (
	fillHedge    = 250 * time.Millisecond
	fillInFlight = 8
)

// penalize counts a proven fault of p (a compact list that does not match
// its header, a fill answer that is not what was asked) against its
// gossip score, as a rejected message.
func (n *Node) penalize(p peer.ID) {
	if n.net != nil && p != "" {
		n.m.compactPenalties.Inc()
		n.net.Penalize(p)
	}
}

// hedged asks peers in order, try for each, starting the next one when
// fillHedge passes or an answer fails, with at most fillInFlight asked at
// once, until done (called on the caller's goroutine, one answer at a
// time) says the run is over, every peer answered or ctx ends. Answers
// still running are cancelled.
func hedged[T any](ctx context.Context, peers []peer.ID, try func(context.Context, peer.ID) (T, error), done func(p peer.ID, v T, err error) bool) {
	if len(peers) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		p   peer.ID
		v   T
		err error
	}
	answers := make(chan answer, len(peers)) // no sender blocks after we return
	next, running := 0, 0
	hedge := time.NewTimer(fillHedge)
	defer hedge.Stop()
	ask := func() {
		p := peers[next]
		next++
		running++
		go func() {
			v, err := try(ctx, p)
			answers <- answer{p, v, err}
		}()
		hedge.Reset(fillHedge)
	}
	ask()
	for running > 0 {
		select {
		case a := <-answers:
			running--
			if done(a.p, a.v, a.err) {
				return
			}
			if next < len(peers) && ctx.Err() == nil {
				ask()
			}
		case <-hedge.C:
			if next < len(peers) && running < fillInFlight {
				ask()
			}
		case <-ctx.Done():
			return
		}
	}
}

// fill gets the missing txs (or, with missing nil, the whole block) from
// peers in order. A peer whose answer does not check out is not asked
// again in this run. A list that turns out not to match the header (lied
// set by the caller, or found here) sends the run to the whole block, not
// asked of author, whose list it is. It runs off the driver goroutine.
func (n *Node) fill(ctx context.Context, cb *compactBlock, raws [][]byte, txs []*chain.DecodedTx, missing []int, peers []peer.ID, author peer.ID, lied bool) (*candidate, error) {
	if n.net == nil {
		return nil, errors.New("no network to fill from")
	}
	var errs []error
	// assembled is the end of the txs path: the candidate, or nil to go on
	// to the whole block.
	assembled := func(via string) *candidate {
		c, err := candidateOf(n.codec, cb, raws, txs)
		switch {
		case errors.Is(err, errListMismatch):
			lied = true
			errs = append(errs, err)
			return nil
		case c == nil:
			errs = append(errs, err)
			return nil
		}
		c.via = via // c.err set: a bad block the header commits to
		return c
	}
	if !lied && missing != nil {
		missing = n.awaitGossip(ctx, cb, raws, txs, missing)
		if len(missing) == 0 {
			if c := assembled("mempool"); c != nil {
				return c, nil
			}
		}
	}
	fetched := len(missing)
	// Txs first, when some are missing and not most: a block's worth of
	// txs costs the same as the block.
	if !lied && fetched > 0 && fetched*2 <= cb.count() {
		var out *candidate
		hedged(ctx, peers, func(ctx context.Context, p peer.ID) (map[int][]byte, error) {
			return n.fetchTxs(ctx, p, cb, missing)
		}, func(_ peer.ID, got map[int][]byte, err error) bool {
			if err != nil {
				errs = append(errs, err)
				return false
			}
			for _, i := range missing {
				raws[i] = got[i]
			}
			out = assembled(fmt.Sprintf("txs+%d", fetched))
			if lied {
				n.penalize(author) // every listed tx is genuine: the list is the lie
			}
			return true
		})
		if out != nil {
			return out, nil
		}
	}
	var out *candidate
	var asked []peer.ID
	for _, p := range peers {
		if !lied || p != author { // a liar is not trusted for this block
			asked = append(asked, p)
		}
	}
	hedged(ctx, asked, func(ctx context.Context, p peer.ID) (*candidate, error) {
		return n.fetchBlock(ctx, p, cb.Proposal.BlockID)
	}, func(_ peer.ID, c *candidate, err error) bool {
		if err != nil {
			errs = append(errs, err)
			return false
		}
		out = c
		return true
	})
	if out != nil {
		return out, nil
	}
	errs = append(errs, ctx.Err())
	return nil, fmt.Errorf("fill block %s: %d peers tried: %w", cb.Proposal.BlockID, len(peers), errors.Join(errs...))
}

// fetchTxs asks p for the txs at missing; every one must come back and
// hash to its listed digest.
func (n *Node) fetchTxs(ctx context.Context, p peer.ID, cb *compactBlock, missing []int) (map[int][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, fillPeerTimeout)
	defer cancel()
	keys := make([][]byte, len(missing))
	for j, i := range missing {
		keys[j] = cb.digest(i)
	}
	vals, err := n.net.FetchFill(ctx, p, p2p.FillRequest{Keys: keys})
	if err != nil {
		return nil, err
	}
	got := make(map[int][]byte, len(missing))
	for j, i := range missing {
		if vals[j] == nil {
			return nil, fmt.Errorf("fill from %s: %w: lacks tx %d", p, p2p.ErrFillUnavailable, i)
		}
		if sum := chain.Sum256(vals[j]); !bytes.Equal(sum[:], keys[j]) {
			n.m.compactFills.WithLabelValues("wrong_tx").Inc()
			n.penalize(p)
			return nil, fmt.Errorf("fill from %s: tx %d does not hash to its ID", p, i)
		}
		got[i] = vals[j]
	}
	return got, nil
}

// fetchBlock asks p for the whole block; it must decode and be the block
// with this ID.
func (n *Node) fetchBlock(ctx context.Context, p peer.ID, id chain.ID) (*candidate, error) {
	ctx, cancel := context.WithTimeout(ctx, fillPeerTimeout)
	defer cancel()
	vals, err := n.net.FetchFill(ctx, p, p2p.FillRequest{Block: true, Keys: [][]byte{[]byte(id)}})
	if err != nil {
		return nil, err
	}
	b, err := chain.DecodeBlock(n.codec, vals[0])
	if err != nil {
		n.penalize(p) // a server without the block answers nothing
		return nil, fmt.Errorf("fill from %s: %w", p, err)
	}
	if b.Header.ID(n.codec) != id {
		n.penalize(p)
		return nil, fmt.Errorf("fill from %s: block %s, asked for %s", p, b.Header.ID(n.codec), id)
	}
	return &candidate{id: id, block: b, raw: vals[0], via: "fetched", txRoot: checkedRoot(b)}, nil
}

// fillGrace is how long a fill run waits for missing txs to come by tx
// gossip before asking for them: the proposer reaps txs its API took a
// moment ago, whose batches may still be on their way (the tx topic is on
// another router than the compact topic), and fetching them would carry
// them twice.
const fillGrace = 40 * time.Millisecond

// awaitGossip looks for the missing txs in the mempool again for up to
// fillGrace and returns those still missing (nil stays nil: the whole
// block is wanted).
func (n *Node) awaitGossip(ctx context.Context, cb *compactBlock, raws [][]byte, txs []*chain.DecodedTx, missing []int) []int {
	if missing == nil {
		return nil
	}
	deadline := time.Now().Add(fillGrace)
	for step := 5 * time.Millisecond; ; step *= 2 {
		left := missing[:0]
		for _, i := range missing {
			if tx, ok := n.pool.Get(txIDOfDigest(cb.digest(i))); ok {
				raws[i], txs[i] = tx.Raw, tx
				continue
			}
			left = append(left, i)
		}
		missing = left
		if len(missing) == 0 || !time.Now().Add(step).Before(deadline) {
			return missing
		}
		select {
		case <-ctx.Done():
			return missing
		case <-time.After(step):
		}
	}
}

// recentBlocks are the blocks of the heights being decided, proposed here
// or received, for fill requests: a tx that left the mempool (committed,
// evicted) is still served from the block, and so is the whole block.
type recentBlocks struct {
	mu sync.Mutex
	m  map[chain.ID]*recentBlock
}

type recentBlock struct {
	height uint64
	raw    []byte
	txs    [][]byte
	ids    []chain.ID          // the txs' IDs where known (a block built or filled here)
	byID   map[chain.ID][]byte // built on the first miss in the mempool
	// list is the SHA-256 of the block's compact tx list, built on the
	// first compact message for the block that comes after it; copies
	// counts those messages.
	list   *chain.Hash
	copies int
}

// maxCompactCopies is how many compact messages for a block this node
// holds are relayed: the proposer publishes one and rebroadcasts it every
// blockResend while the height lasts; a host copying it under its own
// authorship (a new message ID each time) is not relayed past these.
const maxCompactCopies = 4

// seen returns, for a block held here, the hash of its compact tx list
// and how many compact messages for it came before this one.
func (r *recentBlocks) seen(id chain.ID) (list chain.Hash, copies int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.m[id]
	if b == nil {
		return chain.Hash{}, 0, false
	}
	if b.list == nil {
		hs := make([]byte, 0, 32*len(b.txs))
		for i, raw := range b.txs {
			if b.ids != nil && len(b.ids[i]) == len(txIDPrefix)+32 {
				hs = append(hs, b.ids[i][len(txIDPrefix):]...)
				continue
			}
			sum := chain.Sum256(raw)
			hs = append(hs, sum[:]...)
		}
		l := chain.Sum256(hs)
		b.list = &l
	}
	b.copies++
	return *b.list, b.copies - 1, true
}

// maxRecentBlocks: a few heights' worth, with a retried round or two.
const maxRecentBlocks = 8

func (r *recentBlocks) put(c *candidate) {
	if c.err != nil || c.raw == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[chain.ID]*recentBlock{}
	}
	if _, ok := r.m[c.id]; ok {
		return
	}
	if len(r.m) >= maxRecentBlocks {
		ids := make([]chain.ID, 0, len(r.m))
		for id := range r.m {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return r.m[ids[i]].height < r.m[ids[j]].height })
		delete(r.m, ids[0])
	}
	rb := &recentBlock{height: c.block.Header.Height, raw: c.raw, txs: c.block.Txs}
	if len(c.txs) == len(c.block.Txs) {
		rb.ids = make([]chain.ID, len(c.txs))
		for i, tx := range c.txs {
			rb.ids[i] = tx.ID
		}
	}
	r.m[c.id] = rb
}

func (r *recentBlocks) block(id chain.ID) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b := r.m[id]; b != nil {
		return b.raw
	}
	return nil
}

// tx returns the raw tx with this ID from a recent block.
func (r *recentBlocks) tx(id chain.ID) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.m {
		if b.byID == nil {
			b.byID = make(map[chain.ID][]byte, len(b.txs))
			for i, raw := range b.txs {
				if b.ids != nil {
					b.byID[b.ids[i]] = raw
				} else {
					b.byID[chain.IDOf(raw)] = raw
				}
			}
		}
		if raw, ok := b.byID[id]; ok {
			return raw, true
		}
	}
	return nil, false
}

// fillSource serves p2p.BlockFillProtocol from the mempool and the recent
// blocks.
type fillSource struct{ n *Node }

func (f fillSource) Txs(keys [][]byte) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		if len(k) != 32 {
			continue
		}
		id := txIDOfDigest(k)
		if tx, ok := f.n.pool.Get(id); ok {
			out[i] = tx.Raw
		} else if raw, ok := f.n.recent.tx(id); ok {
			out[i] = raw
		}
	}
	return out
}

func (f fillSource) Block(id []byte) []byte { return f.n.recent.block(chain.ID(id)) }

// compactTransport is a transport that carries compact proposals (the
// libp2p one); on others the driver gossips whole blocks.
type compactTransport interface {
	PublishCompact(ctx context.Context, data []byte) error
}

// wholeBlockPeers is a transport that can tell whether some peers know
// only whole blocks (subscribe to the block topic and not the compact
// one): the proposer then publishes both forms.
type wholeBlockPeers interface {
	WholeBlockPeers() int
}

func consensusProposal(cb *compactBlock) consensus.ProposalEvent {
	return consensus.ProposalEvent{Proposal: cb.Proposal, Verified: true}
}
