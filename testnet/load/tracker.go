package load

import (
	"sort"
	"sync"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/api"
)

// txState is what the generator knows from the node's answers.
type txState uint8

const (
	stSent       txState = iota // POSTed, no answer yet
	stAccepted                  // a node answered 202
	stRejected                  // a node refused it with an error code
	stUnanswered                // every attempt failed in transport
)

// rec is one tx's history. Times are monotonic offsets from the tracker's
// start, so they are cheap and immune to wall-clock steps.
type rec struct {
	submitted time.Duration // first POST
	committed time.Duration // event arrival; valid when inBlock
	height    uint64
	code      uint32
	state     txState
	inBlock   bool
	funding   bool
}

// blockSeen is one block event as the generator saw it.
type blockSeen struct {
	height uint64
	at     time.Duration
	ours   int // txs of this run in the block
	all    int
}

// tracker holds every tx of a run, keyed by ID. Workers register and mark
// answers; the event follower marks commits. A commit may arrive before
// the POST's answer: the tx is registered before it is sent.
type tracker struct {
	start time.Time

	mu          sync.Mutex
	recs        map[chain.ID]*rec
	blocks      []blockSeen
	outstanding int // accepted, not yet seen in a block
	fundingLeft int // funding txs not yet seen in a block
	head        uint64
	changed     chan struct{}
}

func newTracker(start time.Time) *tracker {
	return &tracker{start: start, recs: make(map[chain.ID]*rec, 1<<16), changed: make(chan struct{})}
}

func (t *tracker) now() time.Duration { return time.Since(t.start) }

// notify wakes waiters; called with mu held.
func (t *tracker) notify() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// register records a POST about to be made; a resend of a known tx keeps
// its first submit time.
func (t *tracker) register(id chain.ID, funding bool) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.recs[id]
	if !ok {
		t.recs[id] = &rec{submitted: now, state: stSent, funding: funding}
		if funding {
			t.fundingLeft++
		}
		return
	}
	if r.state == stRejected || r.state == stUnanswered {
		r.state = stSent
	}
}

// accept marks a node's 202 for id.
func (t *tracker) accept(id chain.ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.recs[id]
	if r == nil || r.state == stAccepted {
		return
	}
	r.state = stAccepted
	if !r.inBlock && !r.funding {
		t.outstanding++
	}
}

// settle marks a final non-acceptance (rejected or unanswered) of id,
// unless it was already accepted or committed.
func (t *tracker) settle(id chain.ID, s txState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.recs[id]; r != nil && r.state != stAccepted {
		r.state = s
	}
}

// onBlock marks the block's txs committed.
func (t *tracker) onBlock(ev api.BlockEvents, at time.Time) {
	off := at.Sub(t.start)
	t.mu.Lock()
	defer t.mu.Unlock()
	b := blockSeen{height: ev.Height, at: off, all: len(ev.Txs)}
	for _, tx := range ev.Txs {
		r := t.recs[tx.ID]
		if r == nil || r.inBlock {
			continue
		}
		r.inBlock, r.committed, r.height, r.code = true, off, ev.Height, tx.Code
		if r.funding {
			t.fundingLeft--
			continue
		}
		b.ours++
		if r.state == stAccepted {
			t.outstanding--
		}
	}
	t.blocks = append(t.blocks, b)
	t.head = ev.Height
	t.notify()
}

// snapshot returns the counters a waiter polls.
func (t *tracker) snapshot() (outstanding, fundingLeft int, head uint64, changed <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.outstanding, t.fundingLeft, t.head, t.changed
}

// fundingFailures lists funding txs that were committed with a failure code.
func (t *tracker) fundingFailures() []chain.ID {
	t.mu.Lock()
	defer t.mu.Unlock()
	var bad []chain.ID
	for id, r := range t.recs {
		if r.funding && r.inBlock && r.code != chain.CodeOK {
			bad = append(bad, id)
		}
	}
	return bad
}

// summarize fills the report's tx and block figures. The measured window
// is [from, to) as offsets from the tracker's start.
func (t *tracker) summarize(rep *Report, from, to time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lat []time.Duration
	for id, r := range t.recs {
		if r.funding {
			continue
		}
		accepted := r.state == stAccepted || r.inBlock
		if accepted {
			rep.Accepted++
		}
		switch {
		case r.inBlock:
			rep.Committed++
			if r.code != chain.CodeOK {
				rep.CommittedFailed++
			}
			if r.submitted >= from && r.submitted < to {
				lat = append(lat, r.committed-r.submitted)
			}
		case accepted:
			rep.Lost++
			if len(rep.LostIDs) < 20 {
				rep.LostIDs = append(rep.LostIDs, id)
			}
		case r.state == stUnanswered:
			rep.Unanswered++
		}
	}
	rep.Latency = percentiles(lat)

	var inWin []blockSeen
	var committedInWin int
	for _, b := range t.blocks {
		rep.BlocksSeen++
		if b.all > rep.MaxBlockTxs {
			rep.MaxBlockTxs = b.all
		}
		if b.at >= from && b.at < to {
			inWin = append(inWin, b)
			committedInWin += b.ours
		}
	}
	if len(t.blocks) > 0 {
		rep.FirstHeight, rep.LastHeight = t.blocks[0].height, t.blocks[len(t.blocks)-1].height
	}
	if w := to - from; w > 0 {
		rep.TPS = float64(committedInWin) / w.Seconds()
	}
	rep.BlocksInWindow = len(inWin)
	if n := len(inWin); n >= 2 {
		rep.BlockInterval = (inWin[n-1].at - inWin[0].at) / time.Duration(n-1)
		rep.TxsPerBlock = float64(committedInWin) / float64(n)
	}
}

// percentiles uses the nearest-rank method over the sorted samples.
func percentiles(lat []time.Duration) Latency {
	if len(lat) == 0 {
		return Latency{}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(p int) time.Duration {
		k := (len(lat)*p + 99) / 100 // ceil(n·p/100), 1-based
		if k < 1 {
			k = 1
		}
		return lat[k-1]
	}
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	return Latency{Samples: len(lat), P50: at(50), P95: at(95), P99: at(99), Max: lat[len(lat)-1], Mean: sum / time.Duration(len(lat))}
}
