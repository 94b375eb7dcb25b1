package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/keystore"
	"github.com/dure-network/dure/testnet"
	"github.com/dure-network/dure/testnet/load"
)

type benchOpts struct {
	keyFlags
	nodes       string
	dir         string
	from        string
	rate        int
	warmup      time.Duration
	duration    time.Duration
	grace       time.Duration
	accounts    int
	concurrency int
	presign     int
	maxPending  int
	batch       int
	seed        string
	fee         uint64
	quiet       bool
}

// benchSummary is `dure bench -o json`: the headline figures flat (easy to
// pick out of a script), then the full report.
type benchSummary struct {
	TPS             float64     `json:"committed_tps"`
	SubmitTPS       float64     `json:"submit_tps"`
	P50ms           float64     `json:"latency_p50_ms"`
	P95ms           float64     `json:"latency_p95_ms"`
	P99ms           float64     `json:"latency_p99_ms"`
	BlockIntervalMs float64     `json:"block_interval_ms"`
	Committed       int64       `json:"committed"`
	Accepted        int64       `json:"accepted"`
	Rejected        int64       `json:"rejected_total"`
	Lost            int64       `json:"lost"`
	Report          load.Report `json:"report"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func newBenchCmd(g *globals) *cobra.Command {
	o := &benchOpts{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load a running network with signed transfers and report throughput and latency",
		Long: `bench derives many accounts from a seed, funds them from funded keys, then
sends signed 'currency send' transactions (amount 1, random recipients) to the
nodes round-robin: at --rate tx/s (open loop), or with --rate 0 as fast as the
nodes accept them (closed loop, --concurrency requests in flight).

Every tx is tracked to its block through the first node's event stream. After
the load, bench waits --grace for accepted txs to commit; any still missing are
reported as lost and bench exits non-zero.

By default it targets the network of 'dure testnet' in --dir and funds from its
demo keys; --nodes and --from (with --home's keyring) target any network.`,
		Example: `  dure testnet --dir /tmp/net &            # in another terminal
  dure bench --dir /tmp/net --rate 1000 --duration 30s
  dure bench --dir /tmp/net --rate 0 --duration 60s --warmup 10s -o json
  dure bench --nodes 127.0.0.1:26657 --home ~/.dure --from alice --rate 200`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := o.config(g)
			if err != nil {
				return err
			}
			if !o.quiet {
				cfg.Logf = func(format string, a ...any) {
					fmt.Fprintf(g.stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
				}
			}
			rep, err := load.Run(c.Context(), cfg)
			if errors.Is(err, load.ErrConfig) {
				return usageErr("%v", err)
			}
			if err != nil && rep.Submitted == 0 {
				return withCode(ExitError, err) // failed before the load: funding or an unreachable node
			}
			if perr := printBench(g.stdout, o.output, rep); perr != nil {
				return perr
			}
			if err != nil {
				return withCode(ExitError, err)
			}
			if rep.Lost > 0 {
				return withCode(ExitError, fmt.Errorf("%d accepted transactions were never committed (first: %v)", rep.Lost, rep.LostIDs))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.nodes, "nodes", "", "comma-separated API addresses (default: every node in --dir's testnet.json)")
	f.StringVar(&o.dir, "dir", filepath.Join(os.TempDir(), "dure-testnet"), "network directory of 'dure testnet' (nodes and demo keys)")
	f.StringVar(&o.from, "from", "", "comma-separated funded key names that pay for the accounts (default: the testnet's demo accounts)")
	f.IntVar(&o.rate, "rate", 1000, "offered load in tx/s; 0 = closed loop, as fast as the nodes accept")
	f.DurationVar(&o.warmup, "warmup", 5*time.Second, "load before the measured window (not counted in tx/s or latency)")
	f.DurationVar(&o.duration, "duration", 30*time.Second, "measured window")
	f.DurationVar(&o.grace, "grace", 30*time.Second, "how long to wait after the load for accepted txs to commit")
	f.IntVar(&o.accounts, "accounts", 2000, "sender accounts derived from --seed")
	f.IntVar(&o.concurrency, "concurrency", 64, "concurrent submit requests")
	f.IntVar(&o.batch, "batch", 0, "txs per POST, as POST /v1/txs/batch (0 or 1: one POST /v1/txs per tx; at most 1000)")
	f.IntVar(&o.maxPending, "max-pending", 0, "most accepted txs awaiting a block before workers wait (default 5000 in closed loop, unbounded at a --rate)")
	f.IntVar(&o.presign, "presign", 0, "txs per account signed before the load (default: enough for the run at --rate, or 6000 tx/s)")
	f.StringVar(&o.seed, "seed", "dure-load", "seed the accounts are derived from")
	f.Uint64Var(&o.fee, "fee", 10, "fee per transfer in "+node.NativeDenom)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress lines on stderr")
	f.StringVar(&o.keyFlags.backend, "keyring-backend", "", `keyring of --home for --from when --nodes is given: "file" or "test"`)
	f.StringVar(&o.keyFlags.passFile, "passphrase-file", "", "file whose first line is the keyring passphrase")
	f.StringVarP(&o.output, "output", "o", "text", `output format: "text" or "json"`)
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// config resolves nodes and funder keys: from --dir's manifest and demo
// keyring, or from --nodes and --from with --home's keyring.
func (o *benchOpts) config(g *globals) (load.Config, error) {
	if o.output != "text" && o.output != "json" {
		return load.Config{}, usageErr("-o %q: use \"text\" or \"json\"", o.output)
	}
	if o.rate < 0 {
		return load.Config{}, usageErr("--rate %d: use 0 (closed loop) or a positive tx/s", o.rate)
	}
	if o.duration <= 0 {
		return load.Config{}, usageErr("--duration must be positive")
	}
	if o.batch < 0 || o.batch > api.DefaultMaxBatchTxs {
		return load.Config{}, usageErr("--batch %d: use 0 (one tx per POST) up to %d", o.batch, api.DefaultMaxBatchTxs)
	}
	if o.maxPending < 0 {
		return load.Config{}, usageErr("--max-pending %d: use 0 (default) or a positive count", o.maxPending)
	}
	if o.accounts < 2 {
		return load.Config{}, usageErr("--accounts %d: need at least 2", o.accounts)
	}
	nodes := splitList(o.nodes)
	from := splitList(o.from)
	var ks *keystore.Keystore
	if len(nodes) == 0 {
		m, err := testnet.LoadManifest(o.dir)
		if err != nil {
			return load.Config{}, usageErr("%v: start one with 'dure testnet --dir %s', or pass --nodes and --from", err, o.dir)
		}
		for _, n := range m.Nodes {
			nodes = append(nodes, n.API)
		}
		if len(from) == 0 {
			from = m.Accounts
		}
		ks, err = keystore.Open(filepath.Join(o.dir, "keys"), keystore.BackendTest, nil)
		if err != nil {
			return load.Config{}, err
		}
	} else {
		if len(from) == 0 {
			return load.Config{}, usageErr("--from is required with --nodes: the funded keys that pay for the accounts")
		}
		var err error
		ks, err = openKeyring(keyringCfg(g.home), o.keyFlags.backend, o.keyFlags.passFile, g.stderr)
		if err != nil {
			return load.Config{}, err
		}
	}
	var keys []chain.PrivKey
	for _, name := range from {
		k, err := ks.Signer(name)
		if err != nil {
			return load.Config{}, keyErrCode(err)
		}
		keys = append(keys, k)
	}
	return load.Config{
		Nodes: nodes, Keys: keys, Accounts: o.accounts, Seed: o.seed, Rate: o.rate,
		Warmup: o.warmup, Duration: o.duration, Concurrency: o.concurrency, Fee: o.fee,
		PreSign: o.presign, Grace: o.grace, MaxPending: o.maxPending, Batch: o.batch,
	}, nil
}

func printBench(w io.Writer, output string, r load.Report) error {
	var rejected int64
	codes := make([]string, 0, len(r.Rejected))
	for c, n := range r.Rejected {
		rejected += n
		codes = append(codes, fmt.Sprintf("%s=%d", c, n))
	}
	sort.Strings(codes)
	if output == "json" {
		return printJSON(w, benchSummary{TPS: r.TPS, SubmitTPS: r.SubmitTPS, P50ms: ms(r.Latency.P50), P95ms: ms(r.Latency.P95),
			P99ms: ms(r.Latency.P99), BlockIntervalMs: ms(r.BlockInterval), Committed: r.Committed, Accepted: r.Accepted,
			Rejected: rejected, Lost: r.Lost, Report: r})
	}
	mode := fmt.Sprintf("open loop, %d tx/s offered", r.Rate)
	if r.Rate == 0 {
		mode = fmt.Sprintf("closed loop, %d requests in flight, at most %d txs awaiting a block", r.Concurrency, r.MaxPending)
	}
	if r.Batch > 1 {
		mode += fmt.Sprintf(", batches of up to %d txs (%d POSTs for %d txs)", r.Batch, r.Posts, r.Submitted)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	row("load", "%s; %d accounts; %d nodes; warm-up %s, window %s", mode, r.Accounts, r.Nodes, r.Warmup, r.Window)
	row("committed tx/s", "%.1f (accepted %.1f/s)", r.TPS, r.SubmitTPS)
	row("latency submit→commit", "p50 %s  p95 %s  p99 %s  max %s  (%d samples)", rnd(r.Latency.P50), rnd(r.Latency.P95),
		rnd(r.Latency.P99), rnd(r.Latency.Max), r.Latency.Samples)
	row("blocks", "interval %s, %.0f txs/block in window (max %d); heights %d..%d", rnd(r.BlockInterval), r.TxsPerBlock,
		r.MaxBlockTxs, r.FirstHeight, r.LastHeight)
	row("txs", "submitted %d, accepted %d, committed %d (failed %d), unanswered %d", r.Submitted, r.Accepted, r.Committed,
		r.CommittedFailed, r.Unanswered)
	if len(codes) == 0 {
		codes = []string{"none"}
	}
	row("rejected", "%d (%s)", rejected, strings.Join(codes, ", "))
	if r.Rate > 0 {
		row("open loop", "offered %d, started late %d", r.Offered, r.Behind)
	}
	row("lost", "%d", r.Lost)
	return tw.Flush()
}

func rnd(d time.Duration) time.Duration {
	if d > 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}
