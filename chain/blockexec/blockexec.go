package blockexec

import (
	"fmt"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/execution"
	"github.com/dure-network/dure/chain/state"
	"github.com/dure-network/dure/chain/store"
)

// MaxClockDrift bounds how far in the future a live proposal's time may be
// compared with this node's clock.
const MaxClockDrift = 10 * time.Second

// MaxEvidenceAge is how many heights back evidence is still accepted.
const MaxEvidenceAge = 10_000

// Store is what the block lifecycle needs from the block store
// (*store.Store).
type Store interface {
	ValidatorsAt(height uint64) (*chain.ValidatorSet, error)
	SeenCommit(height uint64) (*chain.Commit, error)
	CommitBlock(b *chain.Block, commit *chain.Commit, results []chain.TxResult, nextVals *chain.ValidatorSet,
		extra func(w chain.KVWriter) error) error
	Head() store.Head
}

// Config is everything a BlockExec depends on.
type Config struct {
	Codec *chain.Codec
	Exec  *execution.Executor
	Store Store
	State *state.State
	// Archive keeps orphaned trie nodes (nothing is ever pruned).
	Archive bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// BlockExec builds, validates and applies blocks. It keeps no chain state
// of its own: every call takes the State it works on.
type BlockExec struct {
	cfg Config
}

// New builds a BlockExec.
func New(cfg Config) *BlockExec {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &BlockExec{cfg: cfg}
}

// Now is the configured clock.
func (x *BlockExec) Now() time.Time { return x.cfg.Now() }

// Block is a block with what executing it produced.
type Block struct {
	ID    chain.ID
	Block *chain.Block
	Raw   []byte
	// Txs are the decoded transactions (Validate fills them from Lookup
	// or by decoding); Out is the execution outcome once known.
	Txs []*chain.DecodedTx
	Out *execution.Outcome
	// TxRoot, when set, is chain.TxRoot(Block.Txs) as the caller already
	// computed it from these txs (a compact proposal's receiver does);
	// Validate then checks the header against it rather than hashing
	// every tx again. nil: Validate computes it.
	TxRoot *chain.Hash
	// StateWrite is how long Apply took to write the state into the
	// store's batch (for the commit log line).
	StateWrite time.Duration
}

// BlockInfo is what execution may know of a block.
func BlockInfo(b *chain.Block) chain.BlockInfo {
	h := &b.Header
	info := chain.BlockInfo{ChainID: h.ChainID, Height: h.Height, Time: h.Time, Proposer: h.Proposer, Evidence: b.Evidence}
	if b.LastCommit != nil {
		info.LastCommitSigners = make([]chain.Address, len(b.LastCommit.Sigs))
		for i, s := range b.LastCommit.Sigs {
			info.LastCommitSigners[i] = s.Validator
		}
	}
	return info
}

// Proposal is what the proposer puts into its block.
type Proposal struct {
	Proposer   chain.Address
	Evidence   []chain.Evidence
	Candidates []*chain.DecodedTx // in order; those that would make the block invalid are dropped
	MaxTxs     int
	// LastCommit, when set, is the head's commit to carry instead of the
	// stored one: the stored commit plus precommits that arrived after
	// the decision, so validators that signed are not counted as missing.
	LastCommit *chain.Commit
	// Stop, when set, ends the taking of candidates early once it returns
	// true (the node's build deadline; see execution.PrepareBlockUntil).
	Stop func() bool
}

// Build makes the proposer's block on st: the candidates executed in one
// pass (invalid ones dropped), roots filled in. Included are the
// transactions in the block.
func (x *BlockExec) Build(st State, p Proposal) (blk *Block, err error) {
	c, head := x.cfg.Codec, st.Head
	now := chain.TimeOf(x.cfg.Now())
	if now <= head.Time {
		now = head.Time + 1
	}
	lastCommit := p.LastCommit
	if lastCommit != nil && (lastCommit.Height != head.Height || lastCommit.BlockID != head.BlockID) {
		return nil, fmt.Errorf("build block %d: last commit is for %d/%s, head is %d/%s", head.Height+1,
			lastCommit.Height, lastCommit.BlockID, head.Height, head.BlockID)
	}
	if head.Height > 0 && lastCommit == nil {
		cm, err := x.cfg.Store.SeenCommit(head.Height)
		if err != nil {
			return nil, fmt.Errorf("load commit of %d: %w", head.Height, err)
		}
		lastCommit = cm
	}
	b := &chain.Block{LastCommit: lastCommit, Evidence: p.Evidence}
	b.Header = chain.Header{ChainID: st.ChainID, Height: head.Height + 1, Time: now, Parent: head.BlockID,
		ValidatorsHash: st.Validators.Hash(c), NextValidatorsHash: st.NextValidators.Hash(c),
		Proposer: p.Proposer, LastCommitHash: chain.CommitHash(c, lastCommit), EvidenceHash: chain.EvidenceHash(c, p.Evidence)}
	included, out, err := x.cfg.Exec.PrepareBlockUntil(x.cfg.State, BlockInfo(b), p.Candidates, p.MaxTxs, p.Stop)
	if err != nil {
		return nil, err
	}
	b.Txs = make([][]byte, len(included))
	for i, tx := range included {
		b.Txs[i] = tx.Raw
	}
	b.Header.TxRoot = chain.TxRoot(b.Txs)
	b.Header.StateRoot = out.StateRoot
	b.Header.ResultsRoot = out.ResultsRoot
	raw, err := b.Encode(c)
	if err != nil {
		return nil, err
	}
	return &Block{ID: b.Header.ID(c), Block: b, Raw: raw, Txs: included, Out: out}, nil
}

// Validate checks a block for the height after st's head and executes it.
// fresh applies the clock bound (for live proposals, not for blocks that
// already carry a commit). lookup may supply already decoded (and
// verified) transactions by ID, such as the mempool's; nil decodes all.
func (x *BlockExec) Validate(st State, blk *Block, fresh bool, lookup func(chain.ID) (*chain.DecodedTx, bool)) (*execution.Outcome, error) {
	c := x.cfg.Codec
	b, h, head := blk.Block, &blk.Block.Header, st.Head
	switch {
	case h.ChainID != st.ChainID:
		return nil, fmt.Errorf("%w: chain id %q", ErrBadBlock, h.ChainID)
	case h.Height != head.Height+1:
		return nil, fmt.Errorf("%w: height %d, want %d", ErrBadBlock, h.Height, head.Height+1)
	case h.Parent != head.BlockID:
		return nil, fmt.Errorf("%w: parent %s, want %s", ErrBadBlock, h.Parent, head.BlockID)
	case h.Time <= head.Time:
		return nil, fmt.Errorf("%w: time %s not after parent's %s", ErrBadBlock, h.Time, head.Time)
	case fresh && h.Time.Std().After(x.cfg.Now().Add(MaxClockDrift)):
		return nil, fmt.Errorf("%w: %s is more than %s ahead (check this machine's clock)", ErrClockAhead, h.Time, MaxClockDrift)
	case h.ValidatorsHash != st.Validators.Hash(c):
		return nil, fmt.Errorf("%w: validators hash", ErrBadBlock)
	case h.NextValidatorsHash != st.NextValidators.Hash(c):
		return nil, fmt.Errorf("%w: next validators hash", ErrBadBlock)
	}
	if _, _, ok := st.Validators.ByAddress(h.Proposer); !ok {
		return nil, fmt.Errorf("%w: proposer %s is not a validator", ErrBadBlock, h.Proposer)
	}
	root := blk.TxRoot
	if root == nil {
		r := chain.TxRoot(b.Txs)
		root = &r
	}
	if err := b.ValidateBasicWithTxRoot(c, *root); err != nil {
		return nil, err
	}
	if h.Height > 1 {
		vs, err := x.cfg.Store.ValidatorsAt(head.Height)
		if err != nil {
			return nil, err
		}
		if err := chain.VerifyCommit(c, st.ChainID, vs, b.LastCommit, head.Height, head.BlockID); err != nil {
			return nil, fmt.Errorf("%w: last commit: %w", ErrBadBlock, err)
		}
	}
	seen := map[chain.Hash]bool{}
	for i := range b.Evidence {
		ev := &b.Evidence[i]
		k := EvidenceKey(c, *ev)
		if seen[k] {
			return nil, fmt.Errorf("%w: evidence %d repeated", ErrBadBlock, i)
		}
		seen[k] = true
		if err := x.VerifyEvidence(st, ev); err != nil {
			return nil, fmt.Errorf("%w: evidence %d: %w", ErrBadBlock, i, err)
		}
	}
	if blk.Txs == nil {
		blk.Txs = make([]*chain.DecodedTx, len(b.Txs))
		for i, raw := range b.Txs {
			if lookup != nil {
				if tx, ok := lookup(chain.IDOf(raw)); ok {
					blk.Txs[i] = tx
					continue
				}
			}
			tx, err := chain.NewDecodedTx(c, raw)
			if err != nil {
				return nil, fmt.Errorf("%w: tx %d: %w", ErrBadBlock, i, err)
			}
			blk.Txs[i] = tx
		}
	}
	out, err := x.cfg.Exec.ExecuteBlock(x.cfg.State, BlockInfo(b), blk.Txs)
	if err != nil {
		return nil, err
	}
	if out.StateRoot != h.StateRoot {
		return nil, fmt.Errorf("%w: state root %s, header says %s", ErrBadBlock, out.StateRoot, h.StateRoot)
	}
	if out.ResultsRoot != h.ResultsRoot {
		return nil, fmt.Errorf("%w: results root mismatch", ErrBadBlock)
	}
	return out, nil
}

// VerifyEvidence checks double-sign evidence against the validator set of
// its height, which must be recent enough for st.
func (x *BlockExec) VerifyEvidence(st State, ev *chain.Evidence) error {
	h := ev.VoteA.Height
	if h == 0 || h > st.Head.Height+1 || h+MaxEvidenceAge < st.Head.Height+1 {
		return fmt.Errorf("%w: height %d out of range", chain.ErrInvalidEvidence, h)
	}
	vs, err := x.cfg.Store.ValidatorsAt(h)
	if err != nil {
		return err
	}
	return ev.Verify(x.cfg.Codec, st.ChainID, vs)
}

// Apply writes a decided block (validated, so blk.Out is set), its
// commit, results, block events, the rotated validator set and the state
// atomically, and returns the State after it with the block's results.
func (x *BlockExec) Apply(st State, blk *Block, commit *chain.Commit) (State, []chain.TxResult, error) {
	c := x.cfg.Codec
	b, out := blk.Block, blk.Out
	if out == nil {
		return st, nil, fmt.Errorf("apply block %d: not executed", b.Header.Height)
	}
	after := NextValidatorSet(st.NextValidators, out.ValidatorUpdates)
	err := x.cfg.Store.CommitBlock(b, commit, out.Results, st.NextValidators, func(w chain.KVWriter) error {
		t0 := time.Now()
		defer func() { blk.StateWrite = time.Since(t0) }()
		write := out.Pending.WriteTo
		if x.cfg.Archive {
			write = out.Pending.WriteToArchive
		}
		if err := write(w); err != nil {
			return err
		}
		if err := store.PutBlockEvents(w, c, out.EndBlockEvents); err != nil {
			return err
		}
		return store.PutAfterValidators(w, c, after)
	})
	if err != nil {
		return st, nil, fmt.Errorf("commit block %d: %w", b.Header.Height, err)
	}
	if err := x.cfg.State.Committed(out.Pending, store.TS(b.Header.Height)); err != nil {
		return st, nil, fmt.Errorf("commit state %d: %w", b.Header.Height, err)
	}
	next := State{ChainID: st.ChainID, Head: x.cfg.Store.Head(), Validators: st.NextValidators, NextValidators: after}
	return next, out.Results, nil
}
