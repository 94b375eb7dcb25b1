package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/blockexec"
	"github.com/dure-network/dure/chain/store"
	"github.com/dure-network/dure/consensus"
)

// Start-up checks of the block store against the consensus state (the WAL
// and the last-signed record in <data>/cs.wal). A damaged Badger memtable
// or value log can roll the store back without an error; a validator that
// then starts from the old head signs a second chain's blocks.
var (
	// ErrStoreBehind: the store's head is below a height the consensus
	// state shows this node reached. It is a damaged store (ErrCorrupt).
	ErrStoreBehind = fmt.Errorf("%w: the block store is behind this node's consensus state", store.ErrCorrupt)
	// ErrSignStateMissing: a validator's store has history but its
	// consensus state is gone, and the rest of the validators cannot commit
	// without it, so waiting to see them move on would never end.
	ErrSignStateMissing = errors.New("node: consensus state (last-signed record) is missing")
)

// FlagAllowMissingSignState is the `dure start` flag that lets a validator
// with history but no last-signed record sign at once.
const FlagAllowMissingSignState = "allow-missing-sign-state"

// holdMargin is how much later than this process's start a committed
// block's time must be before a validator without consensus state signs.
// Live proposals more than maxClockDrift ahead of a validator's clock are
// refused, so such a block was proposed after this process started, at a
// height above any the previous process can have signed (which signed at
// most one height above the network's head when it stopped); the second
// maxClockDrift covers this machine's clock being behind.
const holdMargin = 2 * blockexec.MaxClockDrift

// Option changes how Open sets up a node.
type Option func(*Node)

// AllowMissingSignState makes a validator whose consensus state is missing
// sign without waiting (`dure start --allow-missing-sign-state`). Safe only
// if this validator signed nothing above the store's head, e.g. on a chain
// it is the only validator of, after the record was lost with no crash.
func AllowMissingSignState() Option { return func(n *Node) { n.allowNoSignState = true } }

// signHold keeps a validator from signing until the network has committed
// a block made after this process started (consensus state missing), or
// until a re-synced store has caught up with the consensus state.
type signHold struct {
	mu       sync.Mutex
	held     bool
	after    time.Time // if set, a committed block with a later time releases the hold
	until    uint64    // if set, committing this height releases the hold
	fromHead uint64    // the store's head at start
}

func (s *signHold) waitingFor() string {
	if s.until > 0 {
		return fmt.Sprintf("the store to reach height %d from peers", s.until)
	}
	return "a committed block with time after " + s.after.UTC().Format(time.RFC3339)
}

func (s *signHold) holding() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// checkSignState compares the store head with the consensus state loaded
// in Open: a store below what the WAL or the last-signed record shows is
// refused; a validator with history and no last-signed record waits (or
// is refused where waiting cannot end).
func (n *Node) checkSignState(ls consensus.LastSigned, haveLS bool) error {
	head := n.head.Height
	walDir := filepath.Join(n.cfg.DataPath(), "cs.wal")
	if walH := n.wal.Height(); ls.Height > head+1 || walH > head+1 {
		reached := max(ls.Height, walH)
		if head == 0 {
			// A fresh store beside kept consensus state: the operator moved
			// the store aside to re-sync (what the error below advises).
			n.hold = &signHold{held: true, until: reached - 1}
			n.log.Warn("re-syncing: the store is empty but the consensus state shows this node at a later height; "+
				"not signing until the store has caught up from peers", "consensus_state", walDir,
				"consensus_height", reached, "waiting_for", n.hold.waitingFor())
			return nil
		}
		return setupErr(fmt.Errorf("%w: %s: the store's head is height %d, but %s shows this node at height %d "+
			"(last signed %d, newest WAL segment %d): committed blocks were lost (Badger rolls back past a damaged memtable "+
			"or value log without an error). Signing from here could sign a different block at a height already signed. "+
			"Restore the data directory from a backup, or move everything in it except cs.wal aside and start again: "+
			"the node re-syncs from peers and signs only once its store has reached height %d (keep cs.wal, it stops "+
			"this validator from signing twice)",
			ErrStoreBehind, n.cfg.DataPath(), head, walDir, reached, ls.Height, walH, reached-1))
	}
	if n.key.IsZero() || head == 0 || haveLS {
		return nil
	}
	lsPath := filepath.Join(walDir, "last_signed")
	if n.allowNoSignState {
		n.log.Warn("consensus state missing; signing anyway (--"+FlagAllowMissingSignState+")",
			"last_signed", lsPath, "store_head", head)
		return nil
	}
	total := n.nextVals.TotalPower()
	if v, _, ok := n.nextVals.ByAddress(n.self); ok && 3*(total-v.Power) <= 2*total {
		return setupErr(fmt.Errorf("%w: %s: the store has %d blocks but there is no last-signed record, so "+
			"this validator may already have signed above height %d; the other validators hold %d of %d power and cannot "+
			"commit without it, so waiting to see the network move on would never end. Restore cs.wal from a backup, or, "+
			"if you are sure this validator signed nothing above height %d (a lone validator whose cs.wal was lost "+
			"without a crash), start once with --%s",
			ErrSignStateMissing, lsPath, head, head, total-v.Power, total, head, FlagAllowMissingSignState))
	}
	n.hold = &signHold{held: true, after: n.clock.Now().Add(holdMargin), fromHead: head}
	n.log.Warn("consensus state missing: not signing until the network commits a block made after this start",
		"last_signed", lsPath, "store_head", head, "waiting_for", n.hold.waitingFor(),
		"override", "--"+FlagAllowMissingSignState)
	return nil
}

// observeCommitted releases the hold once a block made after this start
// (decided by the others: this process has signed nothing) is committed.
func (n *Node) observeCommitted(height uint64, blockTime chain.Time) {
	s := n.hold
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.held:
		return
	case s.until > 0:
		if height < s.until {
			return
		}
		n.log.Info("re-synced past the consensus state; signing from the next height", "height", height)
	default:
		if !blockTime.Std().After(s.after) {
			return
		}
		n.log.Info("consensus state missing: the network committed a block made after this start; signing from the next height",
			"height", height, "block_time", blockTime.Std(), "store_head_at_start", s.fromHead)
	}
	s.held = false
}

// remindHold repeats what a held validator waits for, until released.
func (n *Node) remindHold(ctx context.Context) {
	t := n.clock.NewTicker(15 * time.Second)
	defer t.Stop()
	for n.hold.holding() {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		if n.hold.holding() {
			n.log.Warn("still not signing: waiting for "+n.hold.waitingFor(), "height", n.headHeight(), "peers", n.tr.PeerCount())
		}
	}
}

// resumeSigning rebuilds a machine that was built without the signer once
// the hold is released, keeping the blocks already received for the next
// heights. It reports whether it rebuilt (the new machine starts itself).
func (d *driver) resumeSigning() bool {
	if !d.observing || d.n.hold.holding() {
		return false
	}
	keep, keepRounds := d.cands, d.perRound
	if err := d.newMachine(); err != nil {
		d.n.log.Error("resume signing", "err", err)
		return false
	}
	for id, c := range keep {
		if _, ok := d.cands[id]; !ok && c.block.Header.Height > d.n.head.Height {
			d.cands[id] = c
		}
	}
	for k, v := range keepRounds {
		if k.height > d.n.head.Height {
			d.perRound[k] = max(d.perRound[k], v)
		}
	}
	return true
}
