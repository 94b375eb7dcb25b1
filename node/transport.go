package node

import (
	"context"

	"github.com/dure-network/dure/p2p"
)

// transport is the seam between the consensus driver and the network:
// everything the driver and tx submission need to send, and how they catch
// up. gossipTransport implements it over libp2p gossipsub and block sync;
// tests wire several in-process nodes with a hub instead.
type transport interface {
	PublishTx(ctx context.Context, raw []byte) error
	PublishConsensus(ctx context.Context, data []byte) error
	PublishBlock(ctx context.Context, data []byte) error
	PublishEvidence(ctx context.Context, data []byte) error
	// PeerCount is how many peers are connected.
	PeerCount() int
	// Sync fetches committed blocks from height from on, handing each to
	// apply in height order.
	Sync(ctx context.Context, from uint64, apply func(p2p.SyncItem) error) (p2p.SyncReport, error)
}

// gossipTransport is the production transport: a libp2p node.
type gossipTransport struct{ *p2p.Node }

func (g gossipTransport) PeerCount() int { return len(g.Peers()) }

func (g gossipTransport) Sync(ctx context.Context, from uint64, apply func(p2p.SyncItem) error) (p2p.SyncReport, error) {
	return g.NewSyncer(apply).Run(ctx, from)
}
