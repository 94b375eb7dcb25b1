package load

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/api"
)

// ErrConfig is a Config that cannot run.
var ErrConfig = errors.New("load: bad config")

// Config describes one load run. Zero fields take the defaults noted.
type Config struct {
	// Nodes are API base URLs ("http://127.0.0.1:26600"); txs go to them
	// round-robin and commits are followed on Nodes[0].
	Nodes []string
	// Keys are funded keys that pay for the accounts (Phase 1).
	Keys []chain.PrivKey
	// Accounts is how many sender accounts to derive from Seed (default 2000).
	Accounts int
	// Seed derives the accounts deterministically (default "dure-load").
	Seed string
	// Rate is the offered load in tx/s; 0 runs closed loop: every worker
	// sends its next tx as soon as the previous one is answered.
	Rate int
	// MaxPending bounds accepted-but-uncommitted txs: a worker waits for
	// commits before sending more. It keeps a closed loop from filling the
	// mempool, so latency measures the chain rather than a queue (default
	// 5000 in closed loop, unbounded in open loop: an open loop must not
	// slow down for the system it measures).
	MaxPending int
	// Warmup is load before the measured window (default 0).
	Warmup time.Duration
	// Duration is the measured window (default 10s).
	Duration time.Duration
	// Concurrency is the number of submitting goroutines (default 64).
	Concurrency int
	// Batch is how many txs (of as many accounts) one POST carries: above
	// 1 they go as POST /v1/txs/batch, at most api.DefaultMaxBatchTxs; 0
	// or 1 sends each tx in its own POST /v1/txs. In open loop a batch
	// waits for as many rate tokens as it holds txs.
	Batch int
	// ChainID defaults to what Nodes[0] reports.
	ChainID string
	// Fee is each transfer's MaxFee (default 10, the default min fee).
	Fee uint64
	// Denom of the transfers (default "dure").
	Denom string
	// FundAmount is what each account receives in Phase 1 (default 10^7).
	FundAmount uint64
	// PreSign is how many txs per account are signed before the load
	// starts (default: enough for Rate over Warmup+Duration, or for 6,000
	// tx/s in closed loop, capped at 400,000 in all). Past that, a
	// refiller goroutine signs ahead for each account whose queue runs low
	// (a few txs, nonces in order); a worker signs only when it finds the
	// queue empty.
	PreSign int
	// Grace is how long to wait after the load for accepted txs to commit
	// (default 30s); what is still missing then is Lost.
	Grace time.Duration
	// Logf receives progress lines (nil: quiet).
	Logf func(format string, args ...any)
}

// Latency are submit→commit percentiles.
type Latency struct {
	Samples int           `json:"samples"`
	P50     time.Duration `json:"p50"`
	P95     time.Duration `json:"p95"`
	P99     time.Duration `json:"p99"`
	Max     time.Duration `json:"max"`
	Mean    time.Duration `json:"mean"`
}

// Report is the outcome of a run. Every tx this run signed for the load is
// in exactly one of: Committed, Lost, Unanswered, or rejected-and-never-
// accepted (counted per answer in Rejected).
type Report struct {
	Nodes       int           `json:"nodes"`
	Accounts    int           `json:"accounts"`
	Rate        int           `json:"rate"` // 0 = closed loop
	Concurrency int           `json:"concurrency"`
	Batch       int           `json:"batch"` // txs per POST
	MaxPending  int           `json:"max_pending,omitempty"`
	Warmup      time.Duration `json:"warmup"`
	Window      time.Duration `json:"window"`
	FundingTime time.Duration `json:"funding_time"`
	Signed      int64         `json:"signed"`
	// Offered is the open loop's scheduled sends; Behind of them could
	// not start on time because every worker was busy.
	Offered int64 `json:"offered,omitempty"`
	Behind  int64 `json:"behind,omitempty"`
	// Submitted counts txs sent (a resend counts again; a batch counts
	// each of its txs).
	Submitted int64 `json:"submitted"`
	// Posts counts the HTTP requests that carried them (one per tx without
	// Batch; a resend counts again).
	Posts int64 `json:"posts"`
	// Accepted counts distinct txs a node accepted (or that were seen in a block).
	Accepted int64 `json:"accepted"`
	// Rejected counts refusals by the API's error code.
	Rejected map[string]int64 `json:"rejected"`
	// Unanswered txs got no answer from any node (transport errors).
	Unanswered int64 `json:"unanswered"`
	// Committed txs were seen in a block; CommittedFailed of them had a
	// non-zero result code.
	Committed       int64 `json:"committed"`
	CommittedFailed int64 `json:"committed_failed"`
	// Lost were accepted but never seen in a block within the grace period.
	Lost    int64      `json:"lost"`
	LostIDs []chain.ID `json:"lost_ids,omitempty"`
	// RetiredAccounts stopped sending after an answer that left their
	// nonce uncertain.
	RetiredAccounts int `json:"retired_accounts"`
	// TPS is txs committed in blocks observed during the window / window.
	TPS float64 `json:"tps"`
	// SubmitTPS is accepted POSTs per second during the window.
	SubmitTPS      float64       `json:"submit_tps"`
	Latency        Latency       `json:"latency"`
	BlockInterval  time.Duration `json:"block_interval"`
	BlocksInWindow int           `json:"blocks_in_window"`
	TxsPerBlock    float64       `json:"txs_per_block"`
	MaxBlockTxs    int           `json:"max_block_txs"`
	BlocksSeen     int           `json:"blocks_seen"`
	FirstHeight    uint64        `json:"first_height"`
	LastHeight     uint64        `json:"last_height"`
}

func (c *Config) defaults() error {
	if len(c.Nodes) == 0 {
		return fmt.Errorf("%w: no nodes", ErrConfig)
	}
	if len(c.Keys) == 0 {
		return fmt.Errorf("%w: no funder keys", ErrConfig)
	}
	for i, n := range c.Nodes {
		if !strings.Contains(n, "://") {
			n = "http://" + n
		}
		c.Nodes[i] = strings.TrimRight(n, "/")
	}
	if c.Accounts == 0 {
		c.Accounts = 2000
	}
	if c.Accounts < 2 {
		return fmt.Errorf("%w: accounts %d: need at least 2", ErrConfig, c.Accounts)
	}
	if c.Rate < 0 {
		return fmt.Errorf("%w: rate %d", ErrConfig, c.Rate)
	}
	if c.Seed == "" {
		c.Seed = "dure-load"
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 64
	}
	if c.Batch < 0 || c.Batch > api.DefaultMaxBatchTxs {
		return fmt.Errorf("%w: batch %d: want 0..%d", ErrConfig, c.Batch, api.DefaultMaxBatchTxs)
	}
	if c.Batch == 0 {
		c.Batch = 1
	}
	if c.Fee == 0 {
		c.Fee = 10
	}
	if c.Denom == "" {
		c.Denom = "dure"
	}
	if c.FundAmount == 0 {
		c.FundAmount = 10_000_000
	}
	if c.Grace <= 0 {
		c.Grace = 30 * time.Second
	}
	if c.PreSign <= 0 {
		rate := c.Rate
		if rate == 0 {
			rate = 6000
		}
		total := int64(rate) * int64(c.Warmup+c.Duration) / int64(time.Second) * 11 / 10
		total = min(total, 400_000)
		c.PreSign = int(total/int64(c.Accounts)) + 2
	}
	if c.MaxPending < 0 {
		return fmt.Errorf("%w: max pending %d", ErrConfig, c.MaxPending)
	}
	if c.MaxPending == 0 && c.Rate == 0 {
		c.MaxPending = 5000
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return nil
}

// DeriveKeys returns n deterministic keys from seed: key i is the ed25519
// key whose seed is SHA-256(seed ‖ i). Tools that inspect a run's accounts
// derive the same ones.
func DeriveKeys(seed string, n int) []chain.PrivKey {
	keys := make([]chain.PrivKey, n)
	for i := range keys {
		var idx [8]byte
		binary.BigEndian.PutUint64(idx[:], uint64(i))
		s := sha256.Sum256(append([]byte(seed), idx[:]...))
		k, err := chain.PrivKeyFromSeed(s[:])
		if err != nil {
			panic(err) // a 32-byte seed always makes a key
		}
		keys[i] = k
	}
	return keys
}

// account is one sender. Only the worker holding it touches pending;
// nonce, queue and refilling are shared with the refiller under mu.
type account struct {
	key     chain.PrivKey
	addr    chain.Address
	pending []byte // next tx to send (kept after a busy refusal)

	mu        sync.Mutex
	nonce     uint64   // next nonce to sign
	queue     [][]byte // signed ahead, consecutive nonces ending at nonce-1
	refilling bool     // queued for the refiller
}

// Signing ahead during the load: when an account's queue falls below
// runner.low (a quarter of PreSign, 1 to maxRefillLow), the refiller tops
// it up to twice that, off the submit path. PreSign by default covers the
// run, so only accounts used more than their share are refilled.
const maxRefillLow = 8

type runner struct {
	cfg     Config
	codec   *chain.Codec
	clients []*api.Client
	tr      *tracker
	accts   []*account
	addrs   []chain.Address
	rr      atomic.Uint64
	lowq    chan *account // accounts whose signed-ahead queue runs low
	low     int           // refill below this many queued txs

	signed, submitted, posts, acceptedInWin atomic.Int64
	retired                                 atomic.Int64
	measuring                               atomic.Bool

	rejMu    sync.Mutex
	rejected map[string]int64
}

// Run funds the accounts, runs the load and accounts for every tx. It
// returns the report even with an error when the run got that far.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg.Nodes = append([]string(nil), cfg.Nodes...)
	if err := cfg.defaults(); err != nil {
		return Report{}, err
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * cfg.Concurrency,
		MaxIdleConnsPerHost: cfg.Concurrency,
		IdleConnTimeout:     90 * time.Second,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	r := &runner{cfg: cfg, codec: chain.MustCodec(), rejected: map[string]int64{}}
	for _, n := range cfg.Nodes {
		c := api.NewClient(n)
		c.HTTP = hc
		r.clients = append(r.clients, c)
	}
	rep := Report{Nodes: len(cfg.Nodes), Accounts: cfg.Accounts, Rate: cfg.Rate, Concurrency: cfg.Concurrency, Batch: cfg.Batch, MaxPending: cfg.MaxPending,
		Warmup: cfg.Warmup, Window: cfg.Duration}

	st, err := r.clients[0].Status(ctx)
	if err != nil {
		return rep, fmt.Errorf("load: status of %s: %w", cfg.Nodes[0], err)
	}
	if r.cfg.ChainID == "" {
		r.cfg.ChainID = st.ChainID
	}
	r.tr = newTracker(time.Now())
	fctx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	streamHC := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	var followWG sync.WaitGroup
	followWG.Add(1)
	go func() {
		defer followWG.Done()
		follow(fctx, streamHC, cfg.Nodes[0], st.Height+1, r.tr.onBlock, cfg.Logf)
	}()
	defer followWG.Wait()
	defer stopFollow()

	t0 := time.Now()
	keys := DeriveKeys(cfg.Seed, cfg.Accounts)
	r.accts = make([]*account, len(keys))
	r.addrs = make([]chain.Address, len(keys))
	for i, k := range keys {
		r.accts[i] = &account{key: k, addr: k.PubKey().Address()}
		r.addrs[i] = r.accts[i].addr
	}
	if err := r.fund(ctx); err != nil {
		return rep, err
	}
	if err := r.syncNonces(ctx); err != nil {
		return rep, err
	}
	rep.FundingTime = time.Since(t0)
	cfg.Logf("funded %d accounts in %s; pre-signing %d txs per account", cfg.Accounts, rep.FundingTime.Round(time.Millisecond), cfg.PreSign)
	if err := r.presign(ctx); err != nil {
		return rep, err
	}

	from, to, offered, behind := r.load(ctx)
	rep.Offered, rep.Behind = offered, behind
	cfg.Logf("load done; waiting up to %s for accepted txs to commit", cfg.Grace)
	r.waitOutstanding(ctx, cfg.Grace)
	stopFollow()

	rep.Signed = r.signed.Load()
	rep.Submitted = r.submitted.Load()
	rep.Posts = r.posts.Load()
	rep.RetiredAccounts = int(r.retired.Load())
	r.rejMu.Lock()
	rep.Rejected = r.rejected
	r.rejMu.Unlock()
	if w := to - from; w > 0 {
		rep.SubmitTPS = float64(r.acceptedInWin.Load()) / w.Seconds()
	}
	r.tr.summarize(&rep, from, to)
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	return rep, nil
}

func (r *runner) sign(a *account, nonce uint64) ([]byte, error) {
	// Uniform over the other accounts: draw from n-1 slots and let the
	// last address stand in for the sender's own.
	n := len(r.addrs)
	to := r.addrs[rand.IntN(n-1)]
	if to == a.addr {
		to = r.addrs[n-1]
	}
	m, err := currency.MsgSend(r.codec, to, r.cfg.Denom, 1)
	if err != nil {
		return nil, err
	}
	tx := chain.Tx{ChainID: r.cfg.ChainID, Nonce: nonce, MaxFee: r.cfg.Fee, Msgs: []chain.Msg{m}}
	raw, err := tx.Sign(r.codec, a.key)
	if err != nil {
		return nil, err
	}
	r.signed.Add(1)
	return raw, nil
}

// fund sends every account FundAmount from the funders, MaxMsgsPerTx
// transfers per tx, and waits until all of it is committed and every node
// has reached that height.
func (r *runner) fund(ctx context.Context) error {
	funders := r.cfg.Keys
	var wg sync.WaitGroup
	errs := make([]error, len(funders))
	for fi, fk := range funders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[fi] = r.fundFrom(ctx, fk, fi, len(funders))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, left, head, changed := r.tr.snapshot()
		if left == 0 {
			if bad := r.tr.fundingFailures(); len(bad) > 0 {
				return fmt.Errorf("load: %d funding txs failed in their block (first %s): are the funder keys funded?", len(bad), bad[0])
			}
			return r.waitNodes(ctx, head)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("load: %d funding txs not committed within 60s", left)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-time.After(time.Second):
		}
	}
}

func (r *runner) fundFrom(ctx context.Context, fk chain.PrivKey, fi, nf int) error {
	cl := r.clients[fi%len(r.clients)]
	acct, err := cl.Account(ctx, fk.PubKey().Address(), false)
	if err != nil {
		return fmt.Errorf("load: funder %s: %w", fk.PubKey().Address(), err)
	}
	nonce := acct.Nonce
	var msgs []chain.Msg
	flush := func() error {
		if len(msgs) == 0 {
			return nil
		}
		tx := chain.Tx{ChainID: r.cfg.ChainID, Nonce: nonce, MaxFee: r.cfg.Fee * 10, Msgs: msgs}
		raw, err := tx.Sign(r.codec, fk)
		if err != nil {
			return err
		}
		id := chain.IDOf(raw)
		r.tr.register(id, true)
		for {
			_, err = cl.Submit(ctx, raw, false)
			var ae *api.APIError
			if errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			break
		}
		if err != nil {
			return fmt.Errorf("load: funding tx from %s nonce %d: %w", fk.PubKey().Address(), nonce, err)
		}
		r.tr.accept(id)
		nonce++
		msgs = msgs[:0:0]
		return nil
	}
	for i := fi; i < len(r.accts); i += nf {
		m, err := currency.MsgSend(r.codec, r.accts[i].addr, r.cfg.Denom, r.cfg.FundAmount)
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
		if len(msgs) == chain.MaxMsgsPerTx {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// waitNodes waits until every node has committed height h, so no node
// judges a tx against state from before the funding.
func (r *runner) waitNodes(ctx context.Context, h uint64) error {
	deadline := time.Now().Add(30 * time.Second)
	for i, c := range r.clients {
		for {
			st, err := c.Status(ctx)
			if err == nil && st.Height >= h {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("load: node %s did not reach height %d (at %d, %v)", r.cfg.Nodes[i], h, st.Height, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// syncNonces reads each account's next nonce (non-zero when a seed is
// reused on the same chain).
func (r *runner) syncNonces(ctx context.Context) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(r.accts) || ctx.Err() != nil {
					return
				}
				a := r.accts[i]
				acct, err := r.clients[i%len(r.clients)].Account(ctx, a.addr, false)
				if err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("load: account %s: %w", a.addr, err))
					return
				}
				a.nonce = acct.Nonce
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	return ctx.Err()
}

// presign fills every account's queue, in parallel.
func (r *runner) presign(ctx context.Context) error {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(r.accts); i += workers {
				if ctx.Err() != nil {
					errs[w] = ctx.Err()
					return
				}
				a := r.accts[i]
				a.queue = make([][]byte, 0, r.cfg.PreSign)
				for k := 0; k < r.cfg.PreSign; k++ {
					raw, err := r.sign(a, a.nonce)
					if err != nil {
						errs[w] = err
						return
					}
					a.queue = append(a.queue, raw)
					a.nonce++
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// next returns the account's next tx to send: the head of its queue
// (asking the refiller for more when it runs low), or, with the queue
// empty, one signed here.
func (r *runner) next(a *account) ([]byte, error) {
	if a.pending != nil {
		return a.pending, nil
	}
	a.mu.Lock()
	if len(a.queue) > 0 {
		a.pending, a.queue[0] = a.queue[0], nil
		a.queue = a.queue[1:]
		if len(a.queue) < r.low && !a.refilling && r.lowq != nil {
			select {
			case r.lowq <- a:
				a.refilling = true
			default:
			}
		}
		a.mu.Unlock()
		return a.pending, nil
	}
	nonce := a.nonce
	a.nonce++ // reserved: a refill in flight for this nonce is dropped
	a.mu.Unlock()
	raw, err := r.sign(a, nonce)
	if err != nil {
		return nil, err // the account retires
	}
	a.pending = raw
	return raw, nil
}

// refill signs ahead for the accounts next queued on lowq until stop: up
// to 2×low txs each, signed outside the account's lock and kept
// only if no tx was signed for it meanwhile (else dropped and uncounted).
func (r *runner) refill(stop <-chan struct{}) {
	for {
		var a *account
		select {
		case <-stop:
			return
		case a = <-r.lowq:
		}
		a.mu.Lock()
		from, want := a.nonce, 2*r.low-len(a.queue)
		a.mu.Unlock()
		raws := make([][]byte, 0, max(want, 0))
		for k := 0; k < want; k++ {
			raw, err := r.sign(a, from+uint64(k))
			if err != nil {
				r.cfg.Logf("sign ahead for %s: %v", a.addr, err)
				break
			}
			raws = append(raws, raw)
		}
		a.mu.Lock()
		if a.nonce == from {
			a.queue = append(a.queue, raws...)
			a.nonce += uint64(len(raws))
		} else {
			r.signed.Add(-int64(len(raws))) // never sent: not the run's
		}
		a.refilling = false
		a.mu.Unlock()
	}
}

// load runs the workers for Warmup+Duration and returns the measured
// window as tracker offsets.
func (r *runner) load(ctx context.Context) (from, to time.Duration, offered, behind int64) {
	cfg := r.cfg
	idle := make(chan *account, len(r.accts))
	for _, i := range rand.Perm(len(r.accts)) {
		idle <- r.accts[i]
	}
	stop := make(chan struct{})
	var tokens chan struct{}
	var wg sync.WaitGroup
	r.lowq = make(chan *account, len(r.accts))
	r.low = max(1, min(maxRefillLow, cfg.PreSign/4))
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.refill(stop)
	}()
	if cfg.Rate > 0 {
		tokens = make(chan struct{}, cfg.Concurrency)
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			var issued int64
			for {
				select {
				case <-stop:
					offered = issued
					return
				case <-tick.C:
				}
				due := int64(time.Since(start).Seconds() * float64(cfg.Rate))
				for issued < due {
					select {
					case tokens <- struct{}{}:
					default:
						behind++ // every worker busy: this send cannot start on time
					}
					issued++
				}
			}
		}()
	}
	start := r.tr.now()
	from, to = start+cfg.Warmup, start+cfg.Warmup+cfg.Duration
	if cfg.Warmup == 0 {
		r.measuring.Store(true)
	}
	var gatherMu sync.Mutex // open loop with batches: one worker gathers at a time
	for w := 0; w < cfg.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				batch, ok := r.nextSend(idle, tokens, stop, &gatherMu)
				if !ok {
					return
				}
				if cfg.Batch > 1 {
					if !r.sendBatch(ctx, batch, idle) {
						return
					}
					continue
				}
				if r.send(ctx, batch[0]) {
					idle <- batch[0]
				} else {
					r.retired.Add(1)
				}
			}
		}()
	}
	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
	warm := time.NewTimer(cfg.Warmup)
	end := time.NewTimer(cfg.Warmup + cfg.Duration)
	defer warm.Stop()
	defer end.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-warm.C:
			r.measuring.Store(true)
			cfg.Logf("warm-up over; measuring for %s", cfg.Duration)
		case <-end.C:
			break loop
		case <-progress.C:
			out, _, head, _ := r.tr.snapshot()
			cfg.Logf("t=%s submitted=%d outstanding=%d height=%d", (r.tr.now() - start).Round(time.Second), r.submitted.Load(), out, head)
		}
	}
	r.measuring.Store(false)
	close(stop)
	wg.Wait()
	return from, to, offered, behind
}

// belowPending waits until fewer than MaxPending accepted txs await a
// block; false when the load stops first.
func (r *runner) belowPending(stop <-chan struct{}) bool {
	if r.cfg.MaxPending == 0 {
		return true
	}
	for {
		out, _, _, changed := r.tr.snapshot()
		if out < r.cfg.MaxPending {
			return true
		}
		select {
		case <-stop:
			return false
		case <-changed:
		}
	}
}

// send POSTs the account's next tx and reports whether the account may
// send again. A busy node (503) keeps the tx for a later resend; a
// transport error resends the same bytes to the next node, where
// duplicate_tx means a node already holds it.
func (r *runner) send(ctx context.Context, a *account) bool {
	raw, err := r.next(a)
	if err != nil {
		r.cfg.Logf("sign: %v", err)
		return false
	}
	id := chain.IDOf(raw)
	r.tr.register(id, false)
	attempts := min(3, len(r.clients)+1)
	for attempt := 0; attempt < attempts; attempt++ {
		cl := r.clients[r.rr.Add(1)%uint64(len(r.clients))]
		r.submitted.Add(1)
		r.posts.Add(1)
		_, err = cl.Submit(ctx, raw, false)
		var ae *api.APIError
		switch {
		case err == nil || (attempt > 0 && errors.As(err, &ae) && ae.Code == "duplicate_tx"):
			r.tr.accept(id)
			if r.measuring.Load() {
				r.acceptedInWin.Add(1)
			}
			a.pending = nil
			return true
		case errors.As(err, &ae):
			r.rejMu.Lock()
			r.rejected[ae.Code]++
			r.rejMu.Unlock()
			r.tr.settle(id, stRejected)
			if ae.Status == http.StatusServiceUnavailable {
				// Mempool full or node not ready: back off and resend later.
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond):
				}
				return true
			}
			// Any other refusal leaves this account's nonce in doubt.
			r.cfg.Logf("account %s retired: %v", a.addr, err)
			return false
		case ctx.Err() != nil:
			r.tr.settle(id, stUnanswered)
			return false
		}
	}
	r.tr.settle(id, stUnanswered)
	r.cfg.Logf("account %s retired: no node answered: %v", a.addr, err)
	return false
}

// waitOutstanding waits until every accepted tx is in a block, or grace.
func (r *runner) waitOutstanding(ctx context.Context, grace time.Duration) {
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	for {
		out, _, _, changed := r.tr.snapshot()
		if out == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-changed:
		}
	}
}

// nextSend waits for the worker's next send: a rate token (open loop), room
// under MaxPending (closed loop) and an idle account, plus in batch mode
// what gather adds. In open loop with batches, workers gather one at a
// time and the gatherer waits up to batchWindow for tokens to come due,
// so a batch carries the txs of that window (as a client batching its
// submissions would) instead of every worker posting a batch of one.
func (r *runner) nextSend(idle chan *account, tokens, stop chan struct{}, mu *sync.Mutex) ([]*account, bool) {
	if tokens != nil && r.cfg.Batch > 1 {
		mu.Lock()
		defer mu.Unlock()
	}
	if tokens != nil {
		select {
		case <-stop:
			return nil, false
		case <-tokens:
		}
	}
	if !r.belowPending(stop) {
		return nil, false
	}
	var a *account
	select {
	case <-stop:
		return nil, false
	case a = <-idle:
	}
	if r.cfg.Batch > 1 {
		return r.gather(a, idle, tokens, stop), true
	}
	return []*account{a}, true
}

// batchWindow is how long an open-loop gatherer waits for more rate tokens.
const batchWindow = 10 * time.Millisecond

// gather adds to a up to Batch-1 more idle accounts, without waiting for
// any (in open loop, only as many as rate tokens come due within
// batchWindow; in closed loop no more than MaxPending leaves room for).
func (r *runner) gather(a *account, idle chan *account, tokens, stop chan struct{}) []*account {
	limit := r.cfg.Batch
	if r.cfg.MaxPending > 0 {
		out, _, _, _ := r.tr.snapshot()
		limit = max(1, min(limit, r.cfg.MaxPending-out))
	}
	batch := make([]*account, 1, limit)
	batch[0] = a
	var window <-chan time.Time
	if tokens != nil {
		t := time.NewTimer(batchWindow)
		defer t.Stop()
		window = t.C
	}
	for len(batch) < limit {
		if tokens != nil {
			select {
			case <-tokens:
			case <-window:
				return batch
			case <-stop:
				return batch
			}
		}
		select {
		case b := <-idle:
			batch = append(batch, b)
		default:
			if tokens != nil {
				select {
				case tokens <- struct{}{}: // not spent: give it back
				default:
				}
			}
			return batch
		}
	}
	return batch
}

// sendBatch POSTs the next tx of each account as one batch and returns
// each account to idle, or retires it, as send would for its tx alone.
// A transport error resends the whole batch to the next node, where
// duplicate_tx means a node already holds that tx. It returns false when
// ctx ended.
func (r *runner) sendBatch(ctx context.Context, accts []*account, idle chan<- *account) bool {
	raws := make([][]byte, 0, len(accts))
	ids := make([]chain.ID, 0, len(accts))
	live := accts[:0]
	for _, a := range accts {
		raw, err := r.next(a)
		if err != nil {
			r.cfg.Logf("sign: %v", err)
			r.retired.Add(1)
			continue
		}
		id := chain.IDOf(raw)
		r.tr.register(id, false)
		raws, ids, live = append(raws, raw), append(ids, id), append(live, a)
	}
	if len(live) == 0 {
		return ctx.Err() == nil
	}
	var res api.BatchResponse
	var err error
	attempts := min(3, len(r.clients)+1)
	attempt := 0
	for ; attempt < attempts; attempt++ {
		cl := r.clients[r.rr.Add(1)%uint64(len(r.clients))]
		r.submitted.Add(int64(len(raws)))
		r.posts.Add(1)
		if res, err = cl.SubmitBatch(ctx, raws); err == nil || ctx.Err() != nil {
			break
		}
		var ae *api.APIError
		if errors.As(err, &ae) {
			break // the batch as a whole was refused: no resend helps
		}
	}
	if err != nil {
		st := stUnanswered
		var ae *api.APIError
		if errors.As(err, &ae) {
			st = stRejected
			r.rejMu.Lock()
			r.rejected[ae.Code] += int64(len(live))
			r.rejMu.Unlock()
		}
		for _, id := range ids {
			r.tr.settle(id, st)
		}
		if ae != nil && ae.Status == http.StatusServiceUnavailable && ctx.Err() == nil {
			for _, a := range live {
				idle <- a
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			return ctx.Err() == nil
		}
		r.cfg.Logf("%d accounts retired: batch not admitted: %v", len(live), err)
		r.retired.Add(int64(len(live)))
		return ctx.Err() == nil
	}
	busy := false
	var rejected map[string]int64
	for k, a := range live {
		e := res.Results[k].Error
		if e == nil || (attempt > 0 && e.Code == "duplicate_tx") {
			r.tr.accept(ids[k])
			if r.measuring.Load() {
				r.acceptedInWin.Add(1)
			}
			a.pending = nil
			idle <- a
			continue
		}
		if rejected == nil {
			rejected = map[string]int64{}
		}
		rejected[e.Code]++
		r.tr.settle(ids[k], stRejected)
		if res.Results[k].Status == http.StatusServiceUnavailable {
			busy = true // keep the tx for a later resend
			idle <- a
			continue
		}
		r.cfg.Logf("account %s retired: %s: %s", a.addr, e.Code, e.Message)
		r.retired.Add(1)
	}
	if rejected != nil {
		r.rejMu.Lock()
		for c, n := range rejected {
			r.rejected[c] += n
		}
		r.rejMu.Unlock()
	}
	if busy {
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	return ctx.Err() == nil
}
