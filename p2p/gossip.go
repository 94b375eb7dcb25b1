package p2p

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dure-network/dure/chain"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pubsub_pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Verdict is a gossip validator's answer.
type Verdict int

const (
	// Accept delivers the message locally and forwards it.
	Accept Verdict = iota
	// Reject drops the message and lowers the score of the peer that sent
	// it: use it for messages no honest peer would forward (undecodable,
	// bad signature, wrong chain).
	Reject
	// Ignore drops the message without penalty: stale, duplicate, or not
	// checkable right now (e.g. a vote for a future height).
	Ignore
)

func (v Verdict) result() pubsub.ValidationResult {
	switch v {
	case Accept:
		return pubsub.ValidationAccept
	case Reject:
		return pubsub.ValidationReject
	default:
		return pubsub.ValidationIgnore
	}
}

// Topic kinds, indexes into the node's topic arrays.
type topicKind int

const (
	kindTx topicKind = iota
	kindConsensus
	kindBlock
	kindEvidence
	kindCompact
	numKinds
)

var kindNames = [numKinds]string{"tx", "consensus", "block", "evidence", "compact"}

// MaxConsensusBytes bounds a consensus-topic message (proposal, vote or
// commit). The largest honest one is a commit of chain.MaxValidators
// (1,000) signatures, about 100 kB; the topic admitted chain.MaxBlockBytes
// (32 MiB), and a peer's 25 MiB commits of 120,000 entries were decoded
// and re-encoded in full before being refused (one node's RSS went from
// 36 to 595 MiB under 52 of them).
const MaxConsensusBytes = 1 << 20

// MaxCompactBytes bounds a compact-topic message: a signed proposal, a
// header, the parent's commit (at most MaxConsensusBytes), evidence and
// 32 bytes per tx of a block of chain.MaxTxsPerBlock txs.
const MaxCompactBytes = 4 << 20

// Per-topic message size limits, checked by the validator before anything
// else so an oversized message is a Reject (scored), not just dropped.
var kindMaxBytes = [numKinds]int{
	MaxTxBatchBytes,
	MaxConsensusBytes,
	chain.MaxBlockBytes + 1<<10, // the block and its signed proposal
	1 << 20,
	MaxCompactBytes,
}

// TopicName returns the gossip topic of one kind ("tx", "consensus",
// "block", "evidence") for a chain: /dure/<chain-id>/<kind>/1.
// The block topic is at version 2: its messages carry the proposer's signed
// proposal with the block (version 1 carried bare, unauthenticated blocks).
// The tx topic is at version 2: its messages are unsigned, carry no author
// and are identified by their content, on a router of their own
// (TxGossipProtocol); version 1 was signed by every publishing host.
// The compact topic (version 1) carries compact proposals: the signed
// proposal, the header and the ordered tx IDs, filled from the mempool
// and BlockFillProtocol.
func TopicName(chainID, kind string) string {
	v := "/1"
	if kind == kindNames[kindBlock] || kind == kindNames[kindTx] {
		v = "/2"
	}
	return "/dure/" + chainID + "/" + kind + v
}

// TxGossipProtocol is the gossipsub protocol ID of a chain's tx router. It
// is not one of gossipsub's own (/meshsub/…), so the tx router and the main
// router (consensus, block and evidence topics, signed) each keep their own
// mesh, scores and signing policy on the same host.
func TxGossipProtocol(chainID string) protocol.ID {
	return protocol.ID("/dure/" + chainID + "/txsub/1.2.0")
}

// txRouterFeatures: the tx router's protocol speaks gossipsub v1.2 (mesh,
// peer exchange, IDONTWANT).
func txRouterFeatures(chainID string) pubsub.GossipSubFeatureTest {
	id := TxGossipProtocol(chainID)
	return func(f pubsub.GossipSubFeature, p protocol.ID) bool {
		return p == id && f != pubsub.GossipSubFeatureExtensions
	}
}

// txMessageID is the tx topic's message ID: the SHA-256 of the batch bytes.
// Tx messages carry no author or sequence number (StrictNoSign), so the
// content is the identity: the same batch reaching a node from several
// peers is validated once, and a relay cannot make it look new.
func txMessageID(m *pubsub_pb.Message) string {
	sum := sha256.Sum256(m.GetData())
	return string(sum[:])
}

// Routers: the main one carries the consensus, block and evidence topics,
// signed by their author's host key (StrictSign, sequence-number IDs); the
// tx router carries tx batches unsigned (StrictNoSign, content IDs): every
// tx in a batch is signed by its sender and verified before the batch is
// relayed, so the host's signature added nothing but a second ed25519
// verification per message at every hop.
const (
	routerMain = iota
	routerTx
	numRouters
)

func routerOf(k topicKind) int {
	if k == kindTx {
		return routerTx
	}
	return routerMain
}

// router is one gossipsub instance with its tracer and score snapshot.
type router struct {
	ps     *pubsub.PubSub
	tracer *meshTracer
	scores scoreBook
}

// SyncProtocol and StatusProtocol are the stream protocol IDs of a chain.
func SyncProtocol(chainID string) protocol.ID {
	return protocol.ID("/dure/" + chainID + "/sync/1")
}

// StatusProtocol answers a peer's head height.
func StatusProtocol(chainID string) protocol.ID {
	return protocol.ID("/dure/" + chainID + "/status/1")
}

// Score thresholds. A peer below GossipThreshold gets no gossip from us,
// below PublishThreshold none of our own messages, and below
// GraylistThreshold everything it sends is dropped unread.
const (
	GossipThreshold   = -100
	PublishThreshold  = -200
	GraylistThreshold = -400

	// invalidWeight is per invalid message squared (P4): three rejected
	// messages on any topic take a peer from the positive cap (+50) to
	// -850, past the graylist.
	invalidWeight = -100
)

// scoreParams are the peer-score parameters of one router, which scores
// the topics of kinds.
func scoreParams(chainID string, kinds []topicKind, appScore func(peer.ID) float64) (*pubsub.PeerScoreParams, *pubsub.PeerScoreThresholds) {
	topics := make(map[string]*pubsub.TopicScoreParams, len(kinds))
	for _, k := range kinds {
		topics[TopicName(chainID, kindNames[k])] = &pubsub.TopicScoreParams{
			TopicWeight: 1,
			// P1: a little credit for staying in the mesh (max +3).
			TimeInMeshWeight:  0.01,
			TimeInMeshQuantum: time.Second,
			TimeInMeshCap:     300,
			// P2: credit for being first with valid messages (max +20).
			FirstMessageDeliveriesWeight: 1,
			FirstMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(10 * time.Minute),
			FirstMessageDeliveriesCap:    20,
			// P3 (mesh delivery deficits) is off: consensus and block
			// topics are idle between heights and the penalty would hit
			// honest peers on a quiet chain.
			// P4: invalid messages, decaying over about 10 minutes.
			InvalidMessageDeliveriesWeight: invalidWeight,
			InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(10 * time.Minute),
		}
	}
	params := &pubsub.PeerScoreParams{
		Topics:        topics,
		TopicScoreCap: 50,
		// P5: rejected gossip remembered per peer ID and IP (ipBook), so a
		// flooder stays graylisted and a fresh peer ID from the same
		// address starts where the last one ended.
		AppSpecificScore:  appScore,
		AppSpecificWeight: 1,
		// P6: many peers from one IP is a Sybil sign, except on loopback
		// where local testnets live.
		IPColocationFactorWeight:    -20,
		IPColocationFactorThreshold: 4,
		IPColocationFactorWhitelist: []*net.IPNet{
			{IP: net.IPv4(127, 0, 0, 0), Mask: net.CIDRMask(8, 32)},
			{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
		},
		// P7: broken promises (IHAVE without IWANT follow-up, early GRAFT).
		BehaviourPenaltyWeight:    -10,
		BehaviourPenaltyThreshold: 6,
		BehaviourPenaltyDecay:     pubsub.ScoreParameterDecay(10 * time.Minute),
		DecayInterval:             pubsub.DefaultDecayInterval,
		DecayToZero:               pubsub.DefaultDecayToZero,
		RetainScore:               30 * time.Minute,
	}
	th := &pubsub.PeerScoreThresholds{
		GossipThreshold:             GossipThreshold,
		PublishThreshold:            PublishThreshold,
		GraylistThreshold:           GraylistThreshold,
		AcceptPXThreshold:           20,
		OpportunisticGraftThreshold: 3,
	}
	return params, th
}

// TopicCounters are monotonically increasing gossip counters for one topic.
type TopicCounters struct {
	Accepted  uint64 // messages our validator accepted (from others)
	Rejected  uint64 // messages rejected (sender penalised)
	Ignored   uint64 // messages ignored
	Delivered uint64 // messages handed to the node's handler
	Published uint64 // messages we published
	Failed    uint64 // our publishes that failed
}

type topicCounters struct {
	accepted, rejected, ignored, delivered, published, failed atomic.Uint64
}

func (c *topicCounters) count(v Verdict) {
	switch v {
	case Accept:
		c.accepted.Add(1)
	case Reject:
		c.rejected.Add(1)
	default:
		c.ignored.Add(1)
	}
}

func (c *topicCounters) snapshot() TopicCounters {
	return TopicCounters{Accepted: c.accepted.Load(), Rejected: c.rejected.Load(), Ignored: c.ignored.Load(),
		Delivered: c.delivered.Load(), Published: c.published.Load(), Failed: c.failed.Load()}
}

// Stats is a snapshot of the node's counters, for the node's metrics.
type Stats struct {
	Tx, Consensus, Block, Evidence, Compact TopicCounters
	TxsPublished                            uint64 // transactions given to PublishTx and sent
	TxsReceived                             uint64 // transactions delivered to OnTx
	DroppedRPCs                             uint64 // outbound RPCs pubsub dropped (peer queue full)
	ThrottledValidations                    uint64 // messages dropped because validation was saturated
}

// TopicInfo describes one joined topic.
type TopicInfo struct {
	Name      string
	Peers     int // peers subscribed to the topic
	MeshPeers int // peers in our gossipsub mesh for it
}

// meshTracer follows GRAFT/PRUNE to know mesh sizes, and counts drops. Its
// methods run inside pubsub's event loop, so they only touch a mutex-held
// map and atomics.
type meshTracer struct {
	mu        sync.Mutex
	mesh      map[string]map[peer.ID]struct{}
	dropped   atomic.Uint64
	throttled atomic.Uint64
}

func newMeshTracer() *meshTracer { return &meshTracer{mesh: make(map[string]map[peer.ID]struct{})} }

func (t *meshTracer) Graft(p peer.ID, topic string) {
	t.mu.Lock()
	m := t.mesh[topic]
	if m == nil {
		m = make(map[peer.ID]struct{})
		t.mesh[topic] = m
	}
	m[p] = struct{}{}
	t.mu.Unlock()
}

func (t *meshTracer) Prune(p peer.ID, topic string) {
	t.mu.Lock()
	delete(t.mesh[topic], p)
	t.mu.Unlock()
}

// OnClosedOutboundStream means the peer is gone (pubsub keeps one stream
// per peer); pubsub drops it from the mesh without a Prune event.
func (t *meshTracer) OnClosedOutboundStream(p peer.ID) {
	t.mu.Lock()
	for _, m := range t.mesh {
		delete(m, p)
	}
	t.mu.Unlock()
}

// meshSize counts mesh members that are still subscribed peers.
func (t *meshTracer) meshSize(topic string, subscribed []peer.ID) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, p := range subscribed {
		if _, ok := t.mesh[topic][p]; ok {
			n++
		}
	}
	return n
}

func (t *meshTracer) RejectMessage(_ *pubsub.Message, reason string) {
	if reason == pubsub.RejectValidationThrottled || reason == pubsub.RejectValidationQueueFull {
		t.throttled.Add(1)
	}
}
func (t *meshTracer) DropRPC(*pubsub.RPC, peer.ID)                         { t.dropped.Add(1) }
func (t *meshTracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (t *meshTracer) Join(string)                                          {}
func (t *meshTracer) Leave(string)                                         {}
func (t *meshTracer) ValidateMessage(*pubsub.Message)                      {}
func (t *meshTracer) DeliverMessage(*pubsub.Message)                       {}
func (t *meshTracer) DuplicateMessage(*pubsub.Message)                     {}
func (t *meshTracer) ThrottlePeer(peer.ID)                                 {}
func (t *meshTracer) RecvRPC(*pubsub.RPC)                                  {}
func (t *meshTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (t *meshTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (t *meshTracer) UndeliverableMessage(*pubsub.Message)                 {}

// scoreBook keeps the latest peer-score snapshot from pubsub's inspector.
type scoreBook struct {
	mu     sync.RWMutex
	scores map[peer.ID]float64
}

func (s *scoreBook) update(m map[peer.ID]float64) {
	s.mu.Lock()
	s.scores = m
	s.mu.Unlock()
}

func (s *scoreBook) get(p peer.ID) float64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.scores[p]
}

// gossipOptions are one router's pubsub options: scoring (both routers
// take the app-specific score from the same ipBook, so a Reject on either
// lowers the peer on both), raised limits and queues, and for the tx
// router StrictNoSign with content message IDs on its own protocol.
func (n *Node) gossipOptions(r int) []pubsub.Option {
	var kinds []topicKind
	var names []string
	for k := range numKinds {
		if routerOf(k) == r {
			kinds = append(kinds, k)
			names = append(names, n.topicNames[k])
		}
	}
	params, th := scoreParams(n.cfg.ChainID, kinds, func(p peer.ID) float64 {
		return n.ipBook.score(p, peerIPs(n.host.Network(), p))
	})
	rt := &n.routers[r]
	opts := []pubsub.Option{
		pubsub.WithPeerScore(params, th),
		pubsub.WithPeerScoreInspect(pubsub.PeerScoreInspectFn(rt.scores.update), n.cfg.ScoreInspectInterval),
		// Bursts: 10,000 txs are ~40 batches, and blocks and votes come on
		// top; the defaults (32) drop under that load.
		pubsub.WithPeerOutboundQueueSize(1024),
		pubsub.WithValidateQueueSize(1024),
		pubsub.WithRawTracer(rt.tracer),
		pubsub.WithSubscriptionFilter(pubsub.WrapLimitSubscriptionFilter(
			pubsub.NewAllowlistSubscriptionFilter(names...), 64)),
		pubsub.WithPeerExchange(true),
	}
	if r == routerTx {
		return append(opts,
			pubsub.WithMaxMessageSize(MaxTxBatchBytes+64<<10),
			pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
			pubsub.WithNoAuthor(),
			pubsub.WithMessageIdFn(txMessageID),
			pubsub.WithGossipSubProtocols([]protocol.ID{TxGossipProtocol(n.cfg.ChainID)}, txRouterFeatures(n.cfg.ChainID)),
		)
	}
	// Blocks travel whole on the block topic; the per-topic validators cut
	// everything else down to size.
	return append(opts, pubsub.WithMaxMessageSize(chain.MaxBlockBytes+64<<10))
}

// validator wraps a topic's check with the size limit, counters and the
// "our own messages were checked before publishing" shortcut.
func (n *Node) validator(k topicKind, check func(from peer.ID, msg *pubsub.Message) Verdict) pubsub.ValidatorEx {
	self := n.host.ID()
	return func(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		if from == self {
			return pubsub.ValidationAccept
		}
		v := Reject
		if len(msg.Data) <= kindMaxBytes[k] {
			v = check(from, msg)
		}
		n.counters[k].count(v)
		if v == Reject {
			n.ipBook.penalize(from, peerIPs(n.host.Network(), from))
		}
		return v.result()
	}
}

// checkTxBatch decodes a batch and hands it to ValidateTxs. A Reject
// rejects the batch (an honest peer forwards only batches whose every tx
// it accepted, and creates batches only from txs it accepted); what
// ValidateTxs did not accept is left out of what OnTx receives.
func (n *Node) checkTxBatch(from peer.ID, msg *pubsub.Message) Verdict {
	txs, err := DecodeTxBatch(msg.Data)
	if err != nil {
		return Reject
	}
	accepted, v := n.deps.ValidateTxs(from, txs)
	if v != Accept {
		return v
	}
	if len(accepted) == 0 {
		return Ignore
	}
	msg.ValidatorData = accepted
	return Accept
}

// PerTx makes a batch validator from a check of one tx: any Reject rejects
// the batch, txs answered Ignore are left out, and a batch with nothing
// accepted is ignored.
func PerTx(check func(raw []byte) Verdict) func(peer.ID, [][]byte) ([][]byte, Verdict) {
	return func(_ peer.ID, txs [][]byte) ([][]byte, Verdict) {
		accepted := txs[:0:0]
		for _, tx := range txs {
			switch check(tx) {
			case Reject:
				return nil, Reject
			case Accept:
				accepted = append(accepted, tx)
			}
		}
		if len(accepted) == 0 {
			return nil, Ignore
		}
		return accepted, Accept
	}
}

// readLoop hands accepted messages of one topic to the node's handler. Our
// own messages are skipped: the node already has them.
func (n *Node) readLoop(k topicKind, sub *pubsub.Subscription) {
	defer n.wg.Done()
	self := n.host.ID()
	for {
		msg, err := sub.Next(n.ctx)
		if err != nil {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, pubsub.ErrSubscriptionCancelled) {
				n.log.Warn("p2p: subscription ended", "topic", n.topicNames[k], "err", err)
			}
			return
		}
		if msg.ReceivedFrom == self {
			continue
		}
		n.counters[k].delivered.Add(1)
		from := msg.ReceivedFrom
		switch k {
		case kindTx:
			txs, _ := msg.ValidatorData.([][]byte)
			n.txsReceived.Add(uint64(len(txs)))
			if n.deps.OnTx != nil && len(txs) > 0 {
				n.deps.OnTx(from, txs)
			}
		case kindConsensus:
			if n.deps.OnConsensus != nil {
				n.deps.OnConsensus(from, msg.Data)
			}
		case kindBlock:
			if n.deps.OnBlock != nil {
				n.deps.OnBlock(from, msg.Data)
			}
		case kindEvidence:
			if n.deps.OnEvidence != nil {
				n.deps.OnEvidence(from, msg.Data)
			}
		case kindCompact:
			if n.deps.OnCompact != nil {
				n.deps.OnCompact(from, msg.GetFrom(), msg.Data)
			}
		}
	}
}

// publisher sends tx batches in order.
func (n *Node) publisher() {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case batch := <-n.batcher.out:
			n.sendTxBatch(batch)
		}
	}
}

func (n *Node) sendTxBatch(batch [][]byte) {
	data, err := EncodeTxBatch(batch)
	if err == nil {
		err = n.topics[kindTx].Publish(n.ctx, data)
	}
	if err != nil {
		n.counters[kindTx].failed.Add(1)
		n.log.Warn("p2p: tx batch not published", "txs", len(batch), "err", err)
		return
	}
	n.counters[kindTx].published.Add(1)
	n.txsPublished.Add(uint64(len(batch)))
}

func (n *Node) publish(ctx context.Context, k topicKind, data []byte) error {
	if len(data) == 0 || len(data) > kindMaxBytes[k] {
		return errorf(ErrMessageTooLarge, "publish %s: %d bytes (1..%d)", kindNames[k], len(data), kindMaxBytes[k])
	}
	if n.topics[k] == nil {
		return errorf(ErrConfig, "publish %s: topic not joined", kindNames[k])
	}
	if err := n.topics[k].Publish(ctx, data); err != nil {
		n.counters[k].failed.Add(1)
		return errorf(err, "publish %s", kindNames[k])
	}
	n.counters[k].published.Add(1)
	return nil
}

// WholeBlockPeers is how many peers subscribe to the block topic and
// not to the compact one: nodes of a version without compact proposals,
// which hear a block only whole.
func (n *Node) WholeBlockPeers() int {
	if n.topics[kindCompact] == nil {
		return 0 // this node publishes only whole blocks
	}
	compact := map[peer.ID]bool{}
	for _, p := range n.topics[kindCompact].ListPeers() {
		compact[p] = true
	}
	k := 0
	for _, p := range n.topics[kindBlock].ListPeers() {
		if !compact[p] {
			k++
		}
	}
	return k
}

// Topics lists the chain's topics with their peer and mesh sizes.
func (n *Node) Topics() []TopicInfo {
	out := make([]TopicInfo, 0, numKinds)
	for k := range numKinds {
		if n.topics[k] == nil {
			continue
		}
		name := n.topicNames[k]
		subscribed := n.topics[k].ListPeers()
		out = append(out, TopicInfo{Name: name, Peers: len(subscribed), MeshPeers: n.routers[routerOf(k)].tracer.meshSize(name, subscribed)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Stats returns the gossip counters.
func (n *Node) Stats() Stats {
	return Stats{
		Tx:                   n.counters[kindTx].snapshot(),
		Consensus:            n.counters[kindConsensus].snapshot(),
		Block:                n.counters[kindBlock].snapshot(),
		Evidence:             n.counters[kindEvidence].snapshot(),
		Compact:              n.counters[kindCompact].snapshot(),
		TxsPublished:         n.txsPublished.Load(),
		TxsReceived:          n.txsReceived.Load(),
		DroppedRPCs:          n.routers[routerMain].tracer.dropped.Load() + n.routers[routerTx].tracer.dropped.Load(),
		ThrottledValidations: n.routers[routerMain].tracer.throttled.Load() + n.routers[routerTx].tracer.throttled.Load(),
	}
}

// PeerScore is the peer's gossipsub score as of the last inspection
// (Config.ScoreInspectInterval): the lower of its scores on the main and
// the tx router; 0 for unknown peers.
func (n *Node) PeerScore(p peer.ID) float64 {
	return min(n.routers[routerMain].scores.get(p), n.routers[routerTx].scores.get(p))
}
