package p2p

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Syncer catches a node up from its peers. It asks every peer for its head
// (status protocol), splits the missing heights into ranges of at most
// MaxSyncRange, fetches ranges from several peers in parallel, and hands
// items to Apply strictly in height order on the caller's goroutine. A peer
// that fails a fetch, or serves an item Apply rejects, is dropped for the
// rest of the run and its range is fetched from another peer.
type Syncer struct {
	n     *Node
	apply func(SyncItem) error
	// lookahead bounds how many ranges per peer may be fetched ahead of
	// the next height to apply (memory bound: ranges × 64 blocks).
	lookahead int
}

// NewSyncer returns a Syncer whose Apply callback verifies and commits one
// item (decode block, verify commit, execute, store). A non-nil error marks
// the serving peer bad.
func (n *Node) NewSyncer(apply func(SyncItem) error) *Syncer {
	return &Syncer{n: n, apply: apply, lookahead: 2}
}

// SyncReport says how far a run got.
type SyncReport struct {
	Next     uint64    // the next height to apply (from + applied)
	Target   uint64    // the highest head any peer reported
	Applied  uint64    // items applied in this run
	BadPeers []peer.ID // peers dropped for errors or bad items
}

// syncProgressEvery is how often a long sync logs its progress.
const syncProgressEvery = 5 * time.Second

// Run syncs from height from up to the highest head reported by the
// connected peers.
func (s *Syncer) Run(ctx context.Context, from uint64) (SyncReport, error) {
	return s.RunPeers(ctx, from, s.n.host.Network().Peers())
}

type syncRange struct{ from, to uint64 }

type fetchResult struct {
	r     syncRange
	p     peer.ID
	items []SyncItem
	err   error
}

// badSyncFor is how long a peer that failed a fetch or served a rejected
// item is left out of later runs (while other peers remain): one that
// claims a high head and then never answers otherwise held every run
// for the whole sync timeout, and the catch-ups that gossip from nodes
// ahead trigger every few seconds.
const badSyncFor = 2 * time.Minute

// syncBadBook remembers the peers dropped by recent runs.
type syncBadBook struct {
	mu sync.Mutex
	m  map[peer.ID]time.Time
}

func (b *syncBadBook) mark(p peer.ID, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[peer.ID]time.Time{}
	}
	for q, t := range b.m {
		if now.Sub(t) > badSyncFor {
			delete(b.m, q)
		}
	}
	b.m[p] = now
}

// usable returns the peers not dropped within badSyncFor, or all of them
// when that leaves none.
func (b *syncBadBook) usable(peers []peer.ID, now time.Time) []peer.ID {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []peer.ID
	for _, p := range peers {
		if t, ok := b.m[p]; !ok || now.Sub(t) > badSyncFor {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return peers
	}
	return out
}

// RunPeers is Run restricted to the given peers.
func (s *Syncer) RunPeers(ctx context.Context, from uint64, peers []peer.ID) (SyncReport, error) {
	if from == 0 {
		from = 1
	}
	rep := SyncReport{Next: from}
	heads := s.heads(ctx, s.n.syncBad.usable(peers, time.Now()))
	for _, h := range heads {
		rep.Target = max(rep.Target, h)
	}
	if rep.Target < from {
		return rep, nil
	}
	// Ranges are planned as they enter the lookahead window: a head is
	// only a peer's word, and planning all of from..Target up front let
	// one peer claiming 2^64-1 make the node allocate without end.
	var pending []syncRange
	planned, planDone := from, false // next height to plan; all planned
	order := make([]peer.ID, 0, len(heads))
	for p := range heads {
		order = append(order, p)
	}
	slices.Sort(order)
	// Tell the operator what is happening: a long sync at Info, with
	// progress every syncProgressEvery; a short catch-up only at Debug.
	logf := s.n.log.Debug
	if rep.Target-from >= MaxSyncRange {
		logf = s.n.log.Info
	}
	ahead := 0
	for _, h := range heads {
		if h >= from {
			ahead++
		}
	}
	logf("p2p: syncing", "from", from, "target", rep.Target, "blocks", rep.Target-from+1, "peers", ahead)
	started, lastLog := time.Now(), time.Now()
	bad := make(map[peer.ID]bool)
	busy := make(map[peer.ID]bool)
	done := make(map[uint64]fetchResult)
	results := make(chan fetchResult, len(order))
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	inflight := 0
	limit := uint64(s.lookahead*max(1, len(order))) * MaxSyncRange

	markBad := func(p peer.ID) {
		if !bad[p] {
			bad[p] = true
			rep.BadPeers = append(rep.BadPeers, p)
			s.n.syncBad.mark(p, time.Now())
		}
	}
	requeue := func(r syncRange) {
		i, _ := slices.BinarySearchFunc(pending, r.from, func(a syncRange, f uint64) int {
			return cmpU64(a.from, f)
		})
		pending = slices.Insert(pending, i, r)
	}

	for rep.Next <= rep.Target {
		for !planDone && planned-rep.Next < limit {
			to := rep.Target
			if rep.Target-planned >= MaxSyncRange {
				to = planned + MaxSyncRange - 1
			}
			pending = append(pending, syncRange{planned, to})
			planned, planDone = to+1, to == rep.Target
		}
		// Hand out ranges to idle peers that have them.
		for _, p := range order {
			if bad[p] || busy[p] {
				continue
			}
			i := slices.IndexFunc(pending, func(r syncRange) bool {
				return r.from <= heads[p] && r.from-rep.Next < limit
			})
			if i < 0 {
				continue
			}
			r := pending[i]
			if r.to > heads[p] {
				// The peer has the start of the range: fetch that, leave the
				// rest for peers further ahead. Otherwise a higher head (a
				// liar's, or a peer just a block ahead) kept everyone else
				// from serving the last blocks below their own heads.
				pending[i].from = heads[p] + 1
				r.to = heads[p]
			} else {
				pending = slices.Delete(pending, i, i+1)
			}
			busy[p] = true
			inflight++
			wg.Add(1)
			go func() {
				defer wg.Done()
				items, err := s.n.FetchBlocks(fctx, p, r.from, r.to)
				results <- fetchResult{r: r, p: p, items: items, err: err}
			}()
		}
		if inflight == 0 {
			return rep, fmt.Errorf("sync to %d stopped at %d: %w (%d bad of %d)", rep.Target, rep.Next, ErrNoPeers, len(rep.BadPeers), len(order))
		}
		var res fetchResult
		select {
		case <-ctx.Done():
			return rep, fmt.Errorf("sync stopped at %d: %w", rep.Next, ctx.Err())
		case res = <-results:
		}
		inflight--
		busy[res.p] = false
		if n := uint64(len(res.items)); res.err == nil && n == 0 {
			res.err = fmt.Errorf("%w: 0 of %d items", ErrMalformed, res.r.to-res.r.from+1)
		} else if res.err == nil && n < res.r.to-res.r.from+1 {
			// Cut short at MaxSyncResponseBytes: keep what came, ask
			// again for the rest.
			requeue(syncRange{res.r.from + n, res.r.to})
			res.r.to = res.r.from + n - 1
		}
		if res.err != nil {
			s.n.log.Debug("p2p: sync fetch failed", "peer", res.p, "from", res.r.from, "to", res.r.to, "err", res.err)
			markBad(res.p)
			requeue(res.r)
			continue
		}
		done[res.r.from] = res
		// Apply whatever is now contiguous.
		for {
			f, ok := done[rep.Next]
			if !ok {
				break
			}
			delete(done, rep.Next)
			for _, it := range f.items {
				if err := s.apply(it); err != nil {
					s.n.log.Debug("p2p: sync item rejected", "peer", f.p, "height", it.Height, "err", err)
					markBad(f.p)
					requeue(syncRange{it.Height, f.r.to})
					break
				}
				rep.Next = it.Height + 1
				rep.Applied++
			}
			if time.Since(lastLog) >= syncProgressEvery {
				lastLog = time.Now()
				logf("p2p: sync progress", "height", rep.Next-1, "target", rep.Target,
					"percent", fmt.Sprintf("%.1f", 100*float64(rep.Next-from)/float64(rep.Target-from+1)),
					"blocks_per_s", fmt.Sprintf("%.0f", float64(rep.Applied)/time.Since(started).Seconds()),
					"peers", len(order)-len(rep.BadPeers))
			}
			if rep.Next <= f.r.to {
				break
			}
		}
	}
	return rep, nil
}

// heads queries the peers' heads in parallel; peers that do not answer
// are left out.
func (s *Syncer) heads(ctx context.Context, peers []peer.ID) map[peer.ID]uint64 {
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := make(map[peer.ID]uint64, len(peers))
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := s.n.PeerHead(ctx, p)
			if err != nil {
				s.n.log.Debug("p2p: status failed", "peer", p, "err", err)
				return
			}
			mu.Lock()
			out[p] = h
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
