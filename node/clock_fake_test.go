package node

import (
	"sort"
	"sync"
	"time"
)

// fakeClock is a clock that moves only when the test calls Advance: timers
// and tickers due by then fire, in deadline order. Like time.AfterFunc, a
// timer's function runs in its own goroutine (driver timers post to the
// inbox, which may block).
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	seq     int
	waiting []*fakeTimer
}

func newFakeClock(start time.Time) *fakeClock { return &fakeClock{now: start} }

// withClock makes Open use c for the driver's time.
func withClock(c clock) Option { return func(n *Node) { n.clock = c } }

type fakeTimer struct {
	c      *fakeClock
	seq    int
	at     time.Time
	every  time.Duration // a ticker's period; 0 for a timer
	f      func()
	ch     chan time.Time
	active bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(t *fakeTimer, d time.Duration) {
	c.mu.Lock()
	c.seq++
	t.seq, t.at, t.active = c.seq, c.now.Add(d), true
	c.waiting = append(c.waiting, t)
	c.mu.Unlock()
	if d <= 0 {
		c.Advance(0) // due now
	}
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) timer {
	t := &fakeTimer{c: c, f: f}
	c.add(t, d)
	return t
}

func (c *fakeClock) NewTicker(d time.Duration) ticker {
	if d <= 0 {
		panic("fakeClock: non-positive ticker period")
	}
	t := &fakeTimer{c: c, every: d, ch: make(chan time.Time, 1)}
	c.add(t, d)
	return fakeTicker{t}
}

type fakeTicker struct{ t *fakeTimer }

func (k fakeTicker) C() <-chan time.Time { return k.t.ch }
func (k fakeTicker) Stop()               { k.t.Stop() }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

// Advance moves the clock forward by d and fires what falls due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		var due []*fakeTimer
		keep := c.waiting[:0]
		for _, t := range c.waiting {
			switch {
			case !t.active:
			case !t.at.After(end):
				due = append(due, t)
				keep = append(keep, t)
			default:
				keep = append(keep, t)
			}
		}
		c.waiting = keep
		if len(due) == 0 {
			break
		}
		sort.Slice(due, func(i, j int) bool {
			if !due[i].at.Equal(due[j].at) {
				return due[i].at.Before(due[j].at)
			}
			return due[i].seq < due[j].seq
		})
		t := due[0]
		if t.at.After(c.now) {
			c.now = t.at
		}
		if t.every > 0 {
			t.at = t.at.Add(t.every)
			select {
			case t.ch <- c.now:
			default: // a slow reader misses ticks, as with time.Ticker
			}
		} else {
			t.active = false
			go t.f()
		}
	}
	c.now = end
	c.mu.Unlock()
}
