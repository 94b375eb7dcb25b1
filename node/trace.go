package node

import (
	"log/slog"
	"time"
)

// heightTrace records where the wall time of one height goes on this
// node: from the start of the height to the block being in hand, executed,
// voted on, decided and committed, and the pause before the next height.
// It is for the "committed block" log line and dure_height_phase_seconds;
// nothing decides on it. Times are wall clock (costs, like execution time),
// not the driver's clock.
type heightTrace struct {
	height     uint64
	start      time.Time // the height started (NewHeight / Start)
	built      time.Duration
	blockIn    time.Time // the block of the decided proposal first in hand
	execStart  time.Time // its execution began (validate or build)
	execEnd    time.Time
	prevote    time.Time // our first prevote left
	precommit  time.Time // our first precommit left
	decided    time.Time
	applyStart time.Time
	applyEnd   time.Time
	commitFull time.Time // the last validator's precommit for the block came (signatures.go)
}

// phase names, in the order they happen.
const (
	phaseWaitBlock = "wait_block"     // start → block in hand (proposer: build)
	phaseExecute   = "execute"        // block in hand → executed (validate)
	phasePrevote   = "to_prevote"     // executed → our prevote sent
	phaseVotes     = "votes"          // our prevote → decision (prevote and precommit rounds)
	phaseApply     = "apply"          // decision → committed (store + state)
	phaseGap       = "gap"            // committed → next height starts (timeout_commit, gating)
	phaseLastVote  = "last_precommit" // decision → every validator's precommit in
)

func (t *heightTrace) reset(h uint64, now time.Time) {
	*t = heightTrace{height: h, start: now}
}

func mark(p *time.Time, now time.Time) {
	if p.IsZero() {
		*p = now
	}
}

func since(a, b time.Time) time.Duration {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return 0
	}
	return b.Sub(a)
}

// phases returns the durations of the height's phases, in order. Missing
// marks (a block synced, not voted on) give zero.
func (t *heightTrace) phases() []struct {
	name string
	d    time.Duration
} {
	in := t.blockIn
	if in.IsZero() || in.Before(t.start) {
		in = t.start // the block came before the height started
	}
	exStart := t.execStart
	if exStart.Before(in) {
		exStart = in
	}
	return []struct {
		name string
		d    time.Duration
	}{
		{phaseWaitBlock, since(t.start, exStart)},
		{phaseExecute, since(exStart, t.execEnd)},
		{phasePrevote, since(t.execEnd, t.prevote)},
		{phaseVotes, since(t.prevote, t.decided)},
		{phaseApply, since(t.decided, t.applyEnd)},
	}
}

// logAttrs are the phases as log attributes.
func (t *heightTrace) logAttrs() []any {
	var out []any
	for _, p := range t.phases() {
		if p.name == phaseApply {
			continue // the line's own total
		}
		out = append(out, slog.Duration(p.name, p.d.Round(100*time.Microsecond)))
	}
	return out
}

// observeTrace exports the phases of the height just committed.
func (d *driver) observeTrace() {
	for _, p := range d.trace.phases() {
		d.n.m.heightPhase.WithLabelValues(p.name).Observe(p.d.Seconds())
	}
}

// traceNext observes what is known of the previous height only once the
// next one starts (the pause after the commit, the last precommit) and
// starts tracing height h.
func (d *driver) traceNext(h uint64) {
	now := time.Now()
	if t := &d.trace; t.height+1 == h && !t.applyEnd.IsZero() {
		d.n.m.heightPhase.WithLabelValues(phaseGap).Observe(since(t.applyEnd, now).Seconds())
		if !t.commitFull.IsZero() {
			d.n.m.heightPhase.WithLabelValues(phaseLastVote).Observe(since(t.decided, t.commitFull).Seconds())
		}
		d.n.log.Debug("height pause", "height", t.height, "gap", since(t.applyEnd, now).Round(100*time.Microsecond),
			"last_precommit", since(t.decided, t.commitFull).Round(100*time.Microsecond))
	}
	d.trace.reset(h, now)
}
