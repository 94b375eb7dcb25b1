package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type config struct {
	rpcs     []string
	rate     int // total tx/s; 0 = as fast as the connections go
	conns    int // connections (senders) per RPC endpoint
	size     int
	warmup   time.Duration
	duration time.Duration
	run      string
	pids     []int // node processes whose CPU and RSS are measured over the window
}

// report is what cometload prints, one JSON object.
type report struct {
	Endpoints      int     `json:"endpoints"`
	Conns          int     `json:"conns_per_endpoint"`
	Rate           int     `json:"rate"`
	TxBytes        int     `json:"tx_bytes"`
	WindowSecs     float64 `json:"window_s"`
	FromHeight     int64   `json:"from_height"`
	ToHeight       int64   `json:"to_height"`
	Blocks         int64   `json:"blocks"`
	Committed      int64   `json:"committed"`
	TPS            float64 `json:"committed_tps"`
	BlockTimeTPS   float64 `json:"committed_tps_block_time"`
	Accepted       int64   `json:"accepted"`
	Refused        int64   `json:"refused"`
	TransportError int64   `json:"transport_errors"`
	SubmitTPS      float64 `json:"submit_tps"`
	LastRefusal    string  `json:"last_refusal,omitempty"`
	// NodeCPUSecs is the CPU time (user+system) of all -pids during the
	// window; MaxRSSMB the largest RSS of one of them, sampled every second.
	NodeCPUSecs float64 `json:"node_cpu_s,omitempty"`
	// LoadCPUSecs is this generator's own CPU time during the window.
	LoadCPUSecs float64 `json:"load_cpu_s"`
	MaxRSSMB    int64   `json:"max_rss_mb,omitempty"`
}

func main() {
	var cfg config
	var rpcs string
	flag.StringVar(&rpcs, "rpc", "http://127.0.0.1:26657", "comma-separated CometBFT RPC addresses")
	flag.IntVar(&cfg.rate, "rate", 8000, "total offered tx/s (0 = as fast as the connections go)")
	flag.IntVar(&cfg.conns, "conns", 4, "HTTP connections per RPC address")
	flag.IntVar(&cfg.size, "size", 250, "tx size in bytes")
	flag.DurationVar(&cfg.warmup, "warmup", 10*time.Second, "load before the measured window")
	flag.DurationVar(&cfg.duration, "duration", 30*time.Second, "measured window")
	flag.StringVar(&cfg.run, "run", strconv.FormatInt(time.Now().UnixNano(), 36), "run tag that makes tx keys unique across runs")
	var pids string
	flag.StringVar(&pids, "pids", "", "comma-separated PIDs of the nodes, to report their CPU time and RSS in the window (Linux /proc)")
	flag.Parse()
	cfg.rpcs = strings.Split(rpcs, ",")
	for _, f := range strings.FieldsFunc(pids, func(r rune) bool { return r == ',' }) {
		p, err := strconv.Atoi(f)
		if err != nil || p <= 0 {
			fmt.Fprintf(os.Stderr, "cometload: -pids: %q is not a PID\n", f)
			os.Exit(2)
		}
		cfg.pids = append(cfg.pids, p)
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintln(os.Stderr, "cometload:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.warmup+cfg.duration+2*time.Minute)
	defer cancel()
	rep, err := run(ctx, cfg, func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05")+" cometload: "+format+"\n", args...)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cometload:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}

func (c config) check() error {
	switch {
	case len(c.rpcs) == 0 || c.rpcs[0] == "":
		return errors.New("-rpc: no address")
	case c.conns < 1 || c.conns > 64:
		return fmt.Errorf("-conns %d: want 1..64", c.conns)
	case c.rate < 0 || c.rate > 100_000:
		return fmt.Errorf("-rate %d: want 0..100000", c.rate)
	case c.size < 32 || c.size > 64<<10:
		return fmt.Errorf("-size %d: want 32..65536", c.size)
	case c.duration <= 0 || c.duration > 10*time.Minute || c.warmup < 0 || c.warmup > 5*time.Minute:
		return fmt.Errorf("-warmup %s -duration %s: want 0..5m and (0, 10m]", c.warmup, c.duration)
	}
	return nil
}

func run(ctx context.Context, cfg config, logf func(string, ...any)) (report, error) {
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxConnsPerHost:     cfg.conns,
			MaxIdleConnsPerHost: cfg.conns,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	defer client.CloseIdleConnections()
	rep := report{Endpoints: len(cfg.rpcs), Conns: cfg.conns, Rate: cfg.rate, TxBytes: cfg.size}

	var accepted, refused, transport, acceptedInWin atomic.Int64
	var measuring atomic.Bool
	var lastRefusal atomic.Value
	stop := make(chan struct{})
	var tokens chan struct{}
	var wg sync.WaitGroup
	if cfg.rate > 0 {
		tokens = make(chan struct{}, max(cfg.rate/100, 1))
		wg.Add(1)
		go func() { defer wg.Done(); pace(cfg.rate, tokens, stop) }()
	}
	for e, rpc := range cfg.rpcs {
		for c := range cfg.conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				prefix := fmt.Sprintf("k%s-%d-%d-", cfg.run, e, c)
				for seq := 0; ; seq++ {
					if tokens != nil {
						select {
						case <-stop:
							return
						case <-tokens:
						}
					} else {
						select {
						case <-stop:
							return
						default:
						}
					}
					msg, err := broadcast(ctx, client, rpc, makeTx(prefix, seq, cfg.size))
					switch {
					case err != nil:
						transport.Add(1)
						select {
						case <-stop:
							return
						case <-time.After(50 * time.Millisecond):
						}
					case msg != "":
						refused.Add(1)
						lastRefusal.Store(msg)
						select {
						case <-stop:
							return
						case <-time.After(5 * time.Millisecond):
						}
					default:
						accepted.Add(1)
						if measuring.Load() {
							acceptedInWin.Add(1)
						}
					}
				}
			}()
		}
	}

	logf("load: %d endpoints × %d connections, rate %d tx/s (0 = unbounded), %d-byte txs, warm-up %s, window %s",
		len(cfg.rpcs), cfg.conns, cfg.rate, cfg.size, cfg.warmup, cfg.duration)
	sleep(ctx, cfg.warmup)
	h0, err := height(ctx, client, cfg.rpcs[0])
	if err != nil {
		close(stop)
		wg.Wait()
		return rep, fmt.Errorf("height at window start: %w", err)
	}
	t0 := time.Now()
	cpu0, self0 := cpuSeconds(cfg.pids), cpuSeconds([]int{os.Getpid()})
	measuring.Store(true)
	logf("warm-up over at height %d; measuring for %s", h0, cfg.duration)
	rep.MaxRSSMB = sampleRSS(ctx, cfg.pids, cfg.duration)
	h1, err := height(ctx, client, cfg.rpcs[0])
	window := time.Since(t0)
	rep.NodeCPUSecs = cpuSeconds(cfg.pids) - cpu0
	rep.LoadCPUSecs = cpuSeconds([]int{os.Getpid()}) - self0
	measuring.Store(false)
	close(stop)
	wg.Wait()
	if err != nil {
		return rep, fmt.Errorf("height at window end: %w", err)
	}
	logf("load done at height %d; reading block metadata %d..%d", h1, h0, h1)

	committed, t0b, t1b, err := countTxs(ctx, client, cfg.rpcs[0], h0, h1)
	if err != nil {
		return rep, err
	}
	rep.WindowSecs = window.Seconds()
	rep.FromHeight, rep.ToHeight, rep.Blocks = h0, h1, h1-h0
	rep.Committed = committed
	rep.TPS = float64(committed) / window.Seconds()
	if span := t1b.Sub(t0b); span > 0 {
		rep.BlockTimeTPS = float64(committed) / span.Seconds()
	}
	rep.Accepted, rep.Refused, rep.TransportError = accepted.Load(), refused.Load(), transport.Load()
	rep.SubmitTPS = float64(acceptedInWin.Load()) / window.Seconds()
	if s, ok := lastRefusal.Load().(string); ok {
		rep.LastRefusal = s
	}
	return rep, nil
}

// pace puts rate tokens per second into tokens (a few per millisecond
// tick), dropping what the senders do not take rather than bursting later.
func pace(rate int, tokens chan<- struct{}, stop <-chan struct{}) {
	start := time.Now()
	var issued int64
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			due := int64(now.Sub(start).Seconds() * float64(rate))
			for ; issued < due; issued++ {
				select {
				case tokens <- struct{}{}:
				default:
				}
			}
		}
	}
}

// clockTicks is USER_HZ, 100 on every Linux platform Go supports.
const clockTicks = 100

// cpuSeconds sums utime+stime of the processes (fields 14 and 15 of
// /proc/PID/stat, counted after the command name, which may hold spaces).
func cpuSeconds(pids []int) float64 {
	var ticks int64
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return float64(ticks) / clockTicks
}

// sampleRSS waits d, sampling the processes' RSS every second, and returns
// the largest in MB.
func sampleRSS(ctx context.Context, pids []int, d time.Duration) int64 {
	end := time.Now().Add(d)
	var maxKB int64
	for {
		for _, p := range pids {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
					kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
					maxKB = max(maxKB, kb)
				}
			}
		}
		left := time.Until(end)
		if left <= 0 || ctx.Err() != nil {
			return maxKB / 1024
		}
		sleep(ctx, min(left, time.Second))
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// makeTx builds a kvstore "key=value" tx of exactly size bytes (the key
// makes it unique; the value is padding).
func makeTx(prefix string, seq, size int) []byte {
	tx := make([]byte, 0, size)
	tx = append(tx, prefix...)
	tx = strconv.AppendInt(tx, int64(seq), 10)
	tx = append(tx, '=')
	for len(tx) < size {
		tx = append(tx, 'v')
	}
	return tx[:size]
}

type rpcResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    string `json:"data"`
	} `json:"error"`
}

// broadcast sends one tx with broadcast_tx_async. A non-empty message is
// the node's refusal (e.g. mempool full); err is a transport failure.
func broadcast(ctx context.Context, client *http.Client, rpc string, tx []byte) (string, error) {
	body := `{"jsonrpc":"2.0","id":1,"method":"broadcast_tx_async","params":{"tx":"` +
		base64.StdEncoding.EncodeToString(tx) + `"}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rpc, strings.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("broadcast to %s: %w", rpc, err)
	}
	req.Header.Set("Content-Type", "application/json")
	var r rpcResponse
	if err := do(client, req, &r); err != nil {
		return "", fmt.Errorf("broadcast to %s: %w", rpc, err)
	}
	if r.Error != nil {
		return r.Error.Message + ": " + r.Error.Data, nil
	}
	return "", nil
}

func do(client *http.Client, req *http.Request, r *rpcResponse) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, r); err != nil {
		return fmt.Errorf("status %d: %w: %.200s", resp.StatusCode, err, bytes.TrimSpace(b))
	}
	return nil
}

func get(ctx context.Context, client *http.Client, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	var r rpcResponse
	if err := do(client, req, &r); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if r.Error != nil {
		return fmt.Errorf("GET %s: %s: %s", url, r.Error.Message, r.Error.Data)
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		return fmt.Errorf("GET %s: result: %w", url, err)
	}
	return nil
}

func height(ctx context.Context, client *http.Client, rpc string) (int64, error) {
	var st struct {
		SyncInfo struct {
			Height string `json:"latest_block_height"`
		} `json:"sync_info"`
	}
	if err := get(ctx, client, rpc+"/status", &st); err != nil {
		return 0, err
	}
	h, err := strconv.ParseInt(st.SyncInfo.Height, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("status of %s: height %q: %w", rpc, st.SyncInfo.Height, err)
	}
	return h, nil
}

// countTxs sums num_txs of blocks (from, to] from /blockchain (at most 20
// metas per call) and returns the header times of blocks from and to.
func countTxs(ctx context.Context, client *http.Client, rpc string, from, to int64) (int64, time.Time, time.Time, error) {
	var total int64
	var tFrom, tTo time.Time
	for lo := from; lo <= to; lo += 20 {
		hi := min(lo+19, to)
		var res struct {
			Metas []struct {
				NumTxs string `json:"num_txs"`
				Header struct {
					Height string    `json:"height"`
					Time   time.Time `json:"time"`
				} `json:"header"`
			} `json:"block_metas"`
		}
		url := fmt.Sprintf("%s/blockchain?minHeight=%d&maxHeight=%d", rpc, lo, hi)
		if err := get(ctx, client, url, &res); err != nil {
			return 0, tFrom, tTo, err
		}
		if int64(len(res.Metas)) != hi-lo+1 {
			return 0, tFrom, tTo, fmt.Errorf("GET %s: %d block metas, want %d", url, len(res.Metas), hi-lo+1)
		}
		for _, m := range res.Metas {
			h, err := strconv.ParseInt(m.Header.Height, 10, 64)
			if err != nil {
				return 0, tFrom, tTo, fmt.Errorf("GET %s: height %q: %w", url, m.Header.Height, err)
			}
			n, err := strconv.ParseInt(m.NumTxs, 10, 64)
			if err != nil {
				return 0, tFrom, tTo, fmt.Errorf("GET %s: num_txs %q of block %d: %w", url, m.NumTxs, h, err)
			}
			switch {
			case h == from:
				tFrom = m.Header.Time
			case h > from && h <= to:
				total += n
			}
			if h == to {
				tTo = m.Header.Time
			}
		}
	}
	return total, tFrom, tTo, nil
}
