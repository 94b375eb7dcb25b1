package node

import "time"

// clock is how the driver reaches time: heights gated by the commit pause
// and the heartbeat, consensus timeouts, the rebroadcast tick, catch-up
// rate limits, the clock bound on proposals and the time of the blocks it
// proposes, and the sign-state hold (signstate.go). The consensus machine
// itself has no clock (it asks for timeouts in its Ready batch). Execution
// and commit costs measured for metrics and block sizing stay on package
// time: they are durations of work, not the chain's time. Production uses systemClock; tests inject
// a clock they move by hand (fakeClock in clock_fake_test.go), so a
// heartbeat of an hour passes in no time and no test waits on the wall clock.
type clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) timer
	// NewTicker sends on its channel every d, dropping ticks a slow
	// reader misses, like time.Ticker.
	NewTicker(d time.Duration) ticker
}

// timer is a pending AfterFunc.
type timer interface {
	// Stop prevents the call if it has not happened yet.
	Stop() bool
}

// ticker is a running NewTicker.
type ticker interface {
	C() <-chan time.Time
	Stop()
}

// systemClock is the wall clock (package time).
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }

func (systemClock) NewTicker(d time.Duration) ticker { return stdTicker{time.NewTicker(d)} }

type stdTicker struct{ t *time.Ticker }

func (s stdTicker) C() <-chan time.Time { return s.t.C }
func (s stdTicker) Stop()               { s.t.Stop() }
