package node

import (
	"errors"
	"fmt"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/p2p"
)

// Block sync has one path, used at start-up and whenever peers are ahead
// (a proposal or vote for a later height, a commit of one, no progress for
// longer than a heartbeat and a round, a decided block that never came).
// The fetch runs on its own goroutine, since one slow or frozen peer can
// hold it for seconds and consensus must keep running meanwhile. Each
// fetched block comes back to the driver as a syncedItem and is verified
// by its commit against the validator set of its height and applied there,
// on the driver goroutine; when the run ends (syncFinished) consensus
// restarts at the new head. One run at a time, at most one every
// syncEvery: gossip from nodes ahead asks for it often.

// syncEvery is the least time between the starts of two catch-up runs.
const syncEvery = 2 * time.Second

// Start-up: a node with bootstrap peers catches up as soon as the first
// one is connected, checking every startSyncPoll for up to startSyncWait.
// Consensus does not wait for it (a validator that is not behind must not
// wait on a slow peer); a height reached meanwhile is left when the run
// ends. Past startSyncWait, gossip from nodes ahead and the stall
// backstop start the catch-up as at any other time.
const (
	startSyncPoll = 100 * time.Millisecond
	startSyncWait = 3 * time.Second
)

// startSync starts the start-up catch-up, or polls again for a first peer.
func (d *driver) startSync() {
	if len(d.n.cfg.P2P.BootstrapPeers) == 0 {
		return
	}
	if d.startSyncUntil.IsZero() {
		d.startSyncUntil = d.now().Add(startSyncWait)
	}
	if d.n.tr.PeerCount() > 0 {
		d.catchUp("startup")
		return
	}
	if d.now().Before(d.startSyncUntil) {
		d.n.clock.AfterFunc(startSyncPoll, func() { d.n.post(d.ctx, syncAtStart{}) })
	}
}

// catchUp starts a catch-up run unless one is running, one started less
// than syncEvery ago, or no peer is connected.
func (d *driver) catchUp(why string) {
	if d.syncBusy || (!d.lastSync.IsZero() && d.now().Sub(d.lastSync) < syncEvery) || d.n.tr.PeerCount() == 0 {
		return
	}
	d.lastSync = d.now()
	d.syncBusy = true
	d.n.setSyncing(true)
	from := d.n.head.Height + 1
	ctx := d.ctx
	go func() {
		rep, err := d.n.tr.Sync(ctx, from, func(it p2p.SyncItem) error {
			reply := make(chan error, 1)
			select {
			case d.n.inbox <- syncedItem{it: it, reply: reply}:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case err := <-reply:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		select {
		case d.n.inbox <- syncFinished{why: why, from: from, rep: rep, err: err}:
		case <-ctx.Done():
		}
	}()
}

func (d *driver) onSyncFinished(e syncFinished) {
	d.syncBusy = false
	d.n.setSyncing(false)
	if d.n.head.Height >= e.from {
		d.n.log.Info("synced from peers", "why", e.why, "from", e.from, "to", d.n.head.Height, "report", e.rep)
	} else if e.err != nil && !errors.Is(e.err, p2p.ErrNoPeers) && d.ctx.Err() == nil {
		d.n.log.Debug("sync", "why", e.why, "err", e.err)
	}
	if d.cons.Height() <= d.n.head.Height {
		if err := d.newMachine(); err != nil {
			d.n.log.Error("restart consensus after sync", "err", err)
		}
	}
}

func (n *Node) setSyncing(v bool) {
	n.mu.Lock()
	n.syncing = v
	n.mu.Unlock()
}

// applySynced verifies a fetched block by its commit against the set of
// its height (the node's next set: blocks come in height order), executes
// it against the head and applies it. It runs on the driver goroutine.
func (n *Node) applySynced(it p2p.SyncItem) error {
	if err := n.disk.check(); err != nil {
		return err // before any work: nothing can be committed
	}
	if it.Height != n.head.Height+1 {
		return fmt.Errorf("sync item %d, want %d", it.Height, n.head.Height+1)
	}
	b, err := chain.DecodeBlock(n.codec, it.Block)
	if err != nil {
		return fmt.Errorf("sync block %d: %w", it.Height, err)
	}
	var cm chain.Commit
	if err := n.codec.UnmarshalCanonical(it.Commit, &cm); err != nil {
		return fmt.Errorf("%w: sync commit: %v", chain.ErrInvalidCommit, err)
	}
	id := b.Header.ID(n.codec)
	if err := chain.VerifyCommit(n.codec, n.gen.ChainID, n.nextVals, &cm, it.Height, id); err != nil {
		return err
	}
	c := &candidate{id: id, block: b, raw: it.Block, txRoot: checkedRoot(b)} // DecodeBlock checked the root
	if c.out, err = n.checkBlock(c, false); err != nil {
		return err
	}
	return n.applyBlock(c, &cm)
}
