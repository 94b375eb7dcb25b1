package node

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/p2p"
)

// metrics are the node's Prometheus series, on a registry of its own (no
// global registry, so several nodes can live in one test process).
type metrics struct {
	reg           *prometheus.Registry
	height        prometheus.Gauge
	rounds        prometheus.Counter
	txsCommitted  prometheus.Counter
	txsFailed     prometheus.Counter
	blockTxs      prometheus.Histogram
	execSeconds   prometheus.Histogram
	commitSecs    prometheus.Histogram
	blockInterval prometheus.Histogram
	mempoolTxs    prometheus.GaugeFunc
	txRejected    *prometheus.CounterVec
	missedSigs    *prometheus.CounterVec
	heightPhase   *prometheus.HistogramVec
	buildsCut     prometheus.Counter
	// compactFills counts compact proposals by how the block was got
	// (compact.go); compactFillSecs is the time to rebuild one from the
	// mempool.
	compactFills    *prometheus.CounterVec
	compactFillSecs prometheus.Histogram
	// compactPenalties counts peers penalised for a proven fault in the
	// compact path (a list that does not match its header, a wrong fill).
	compactPenalties prometheus.Counter
}

func newMetrics(mempoolSize func() float64) *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &metrics{reg: reg}
	m.height = prometheus.NewGauge(prometheus.GaugeOpts{Name: "dure_chain_height", Help: "Latest committed block height."})
	m.rounds = prometheus.NewCounter(prometheus.CounterOpts{Name: "dure_consensus_rounds_total", Help: "Consensus rounds entered beyond round 0 (a sign of lost proposals or votes)."})
	m.txsCommitted = prometheus.NewCounter(prometheus.CounterOpts{Name: "dure_txs_committed_total", Help: "Transactions committed in blocks."})
	m.txsFailed = prometheus.NewCounter(prometheus.CounterOpts{Name: "dure_txs_failed_total", Help: "Committed transactions whose messages failed (fee and nonce still charged)."})
	m.blockTxs = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dure_block_txs", Help: "Transactions per committed block.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 9)})
	m.execSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dure_block_execute_seconds", Help: "Time to execute a block.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10)})
	m.commitSecs = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dure_block_commit_seconds", Help: "Time to write a decided block to disk.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10)})
	m.blockInterval = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dure_block_interval_seconds", Help: "Block time difference between consecutive blocks.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 10)})
	m.txRejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dure_txs_rejected_total", Help: "Transactions refused at submission, by reason."}, []string{"reason"})
	m.missedSigs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dure_validator_missed_signatures_total",
		Help: "Commits in blocks this node applied that lack the validator's precommit."}, []string{"validator"})
	m.heightPhase = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dure_height_phase_seconds",
		Help:    "Wall time of each phase of a height on this node: wait_block, execute, to_prevote, votes, apply, gap (see node/trace.go).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10)}, []string{"phase"})
	m.buildsCut = prometheus.NewCounter(prometheus.CounterOpts{Name: "dure_blocks_cut_at_deadline_total",
		Help: "Blocks this node proposed with fewer txs than reaped because the build reached its deadline (a sixth of timeout_propose)."})
	m.compactFills = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dure_compact_blocks_total",
		Help: "Compact proposals received, by outcome: mempool (rebuilt from it), fetched (missing txs or the block fetched), list_mismatch, bad_block, wrong_tx (a peer answered a tx that does not hash to its ID), failed."}, []string{"outcome"})
	m.compactFillSecs = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dure_compact_rebuild_seconds",
		Help: "Time to rebuild a compact proposal from the mempool.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14)})
	m.compactPenalties = prometheus.NewCounter(prometheus.CounterOpts{Name: "dure_compact_penalties_total",
		Help: "Peers penalised in their gossip score for a proven fault in compact proposals: a tx list that does not give the header's tx root (its author), a fill answer that does not hash to its key or is not the block asked for (its server)."})
	for _, c := range []prometheus.Collector{m.compactPenalties, m.compactFills, m.compactFillSecs, m.buildsCut, m.heightPhase, m.height, m.rounds, m.txsCommitted, m.txsFailed, m.blockTxs, m.execSeconds, m.commitSecs, m.blockInterval, m.txRejected, m.missedSigs} {
		f(c)
	}
	if mempoolSize != nil {
		m.mempoolTxs = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dure_mempool_txs", Help: "Transactions waiting in the mempool."}, mempoolSize)
		f(m.mempoolTxs)
	}
	return m
}

// addGossip exports the p2p layer's counters.
func (m *metrics) addGossip(stats func() p2p.Stats) {
	type topic struct {
		name string
		get  func(p2p.Stats) p2p.TopicCounters
	}
	topics := []topic{
		{"tx", func(s p2p.Stats) p2p.TopicCounters { return s.Tx }},
		{"consensus", func(s p2p.Stats) p2p.TopicCounters { return s.Consensus }},
		{"block", func(s p2p.Stats) p2p.TopicCounters { return s.Block }},
		{"evidence", func(s p2p.Stats) p2p.TopicCounters { return s.Evidence }},
	}
	for _, t := range topics {
		for _, v := range []struct {
			verdict string
			get     func(p2p.TopicCounters) uint64
		}{
			{"accepted", func(c p2p.TopicCounters) uint64 { return c.Accepted }},
			{"rejected", func(c p2p.TopicCounters) uint64 { return c.Rejected }},
			{"ignored", func(c p2p.TopicCounters) uint64 { return c.Ignored }},
		} {
			get, tget := v.get, t.get
			m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "dure_gossip_messages_total", Help: "Gossip messages received, by topic and validation verdict.",
				ConstLabels: prometheus.Labels{"topic": t.name, "verdict": v.verdict},
			}, func() float64 { return float64(get(tget(stats()))) }))
		}
	}
}

// addDisk exports the free space guard.
func (m *metrics) addDisk(g *diskGuard) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dure_disk_free_bytes",
		Help: "Free space of the data directory's filesystem at the last check."}, func() float64 { return float64(g.free.Load()) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dure_disk_min_free_bytes",
		Help: "[storage] min_free_disk: below it the node signs and commits nothing."}, func() float64 { return float64(g.min) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dure_disk_low",
		Help: "1 while signing and committing are stopped because the disk is below min_free_disk."}, func() float64 {
		if g.low.Load() {
			return 1
		}
		return 0
	}))
}

// addAPI exports the API's connection and stream counts.
func (m *metrics) addAPI(ln *api.LimitListener, srv *api.Server) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dure_api_connections",
		Help: "Open HTTP API connections ([api] max_connections bounds them)."}, func() float64 { return float64(ln.Open()) }))
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "dure_api_connections_rejected_total",
		Help: "API connections answered 503 too_many_connections."}, func() float64 { return float64(ln.Rejected()) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dure_api_event_streams",
		Help: "Open /v1/events subscribers ([api] max_event_streams bounds them)."}, func() float64 { return float64(srv.EventStreams()) }))
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
