package node

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/consensus"
	"github.com/dure-network/dure/p2p"
)

// The API answers in snake_case JSON throughout. These are the JSON forms
// of the consensus and p2p values the API shows, kept here so those
// packages need no JSON tags of their own.

type consensusJSON struct {
	Height      uint64   `json:"height"`
	Round       uint32   `json:"round"`
	Step        uint8    `json:"step"`
	StepName    string   `json:"step_name"`
	LockedRound int32    `json:"locked_round"`
	LockedValue chain.ID `json:"locked_value"`
	ValidRound  int32    `json:"valid_round"`
	ValidValue  chain.ID `json:"valid_value"`
	Decided     chain.ID `json:"decided"`
}

func toConsensusJSON(s consensus.Status) consensusJSON {
	return consensusJSON{Height: s.Height, Round: s.Round, Step: uint8(s.Step), StepName: s.Step.String(),
		LockedRound: s.LockedRound, LockedValue: s.LockedValue, ValidRound: s.ValidRound, ValidValue: s.ValidValue, Decided: s.Decided}
}

type topicCountersJSON struct {
	Accepted  uint64 `json:"accepted"`
	Rejected  uint64 `json:"rejected"`
	Ignored   uint64 `json:"ignored"`
	Delivered uint64 `json:"delivered"`
	Published uint64 `json:"published"`
	Failed    uint64 `json:"failed"`
}

func toCounters(c p2p.TopicCounters) topicCountersJSON {
	return topicCountersJSON{Accepted: c.Accepted, Rejected: c.Rejected, Ignored: c.Ignored, Delivered: c.Delivered,
		Published: c.Published, Failed: c.Failed}
}

type gossipStatsJSON struct {
	Tx                   topicCountersJSON `json:"tx"`
	Consensus            topicCountersJSON `json:"consensus"`
	Block                topicCountersJSON `json:"block"`
	Evidence             topicCountersJSON `json:"evidence"`
	TxsPublished         uint64            `json:"txs_published"`
	TxsReceived          uint64            `json:"txs_received"`
	DroppedRPCs          uint64            `json:"dropped_rpcs"`
	ThrottledValidations uint64            `json:"throttled_validations"`
}

func toGossipStats(s p2p.Stats) gossipStatsJSON {
	return gossipStatsJSON{Tx: toCounters(s.Tx), Consensus: toCounters(s.Consensus), Block: toCounters(s.Block),
		Evidence: toCounters(s.Evidence), TxsPublished: s.TxsPublished, TxsReceived: s.TxsReceived,
		DroppedRPCs: s.DroppedRPCs, ThrottledValidations: s.ThrottledValidations}
}

type topicJSON struct {
	Name      string `json:"name"`
	Peers     int    `json:"peers"`
	MeshPeers int    `json:"mesh_peers"`
}

func toTopics(ts []p2p.TopicInfo) []topicJSON {
	out := make([]topicJSON, len(ts))
	for i, t := range ts {
		out[i] = topicJSON{Name: t.Name, Peers: t.Peers, MeshPeers: t.MeshPeers}
	}
	return out
}

type peerJSON struct {
	ID        peer.ID  `json:"id"`
	Addrs     []string `json:"addrs"`
	Score     float64  `json:"score"`
	Direction string   `json:"direction"`
}

func toPeers(ps []p2p.PeerInfo) []peerJSON {
	out := make([]peerJSON, len(ps))
	for i, p := range ps {
		out[i] = peerJSON{ID: p.ID, Addrs: p.Addrs, Score: p.Score, Direction: p.Direction}
	}
	return out
}
