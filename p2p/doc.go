// Package p2p is the dure node's networking: a libp2p host, the chain's
// gossip topics with validators and peer scoring, peer discovery, NAT
// traversal switches, a deny-list connection gater, and the block-sync and
// status stream protocols. It imports only package chain (for limits);
// everything chain-specific about message contents is decided by callbacks
// the node passes in Deps.
//
// # Wiring
//
//	key, _ := p2p.LoadOrCreateKey(filepath.Join(home, "p2p_key"))
//	cfg := p2p.DefaultConfig(chainID)
//	cfg.PrivKey, cfg.Bootstrap = key, seeds
//	n, err := p2p.New(ctx, cfg, p2p.Deps{
//		ValidateTxs: checkBatch,           // decode, chain ID, batch signatures → Verdict
//		ValidateConsensus: ..., ValidateBlock: ..., ValidateEvidence: ...,
//		OnTx: mempool.AddVerified, OnConsensus: driver.Deliver, ...
//		Blocks: blockStore,                // Head and BlockAndCommit
//	})
//	n.PublishTx(ctx, raw)                   // batched
//	n.PublishConsensus(ctx, voteBytes)
//	rep, err := n.NewSyncer(applyVerified).Run(ctx, store.Head()+1)
//
// # Topics and protocols
//
// Per chain ID: gossip topics /dure/<id>/tx/2, /dure/<id>/consensus/1,
// /dure/<id>/block/2, /dure/<id>/evidence/1 and /dure/<id>/compact/1 (the
// tx topic on its own gossipsub router, protocol /dure/<id>/txsub/1.2.0);
// stream protocols /dure/<id>/sync/1, /dure/<id>/status/1 and
// /dure/<id>/blockfill/1; DHT protocol prefix /dure/<id>
// and rendezvous "dure/<id>". Nodes of two chains may share a machine (or
// even a connection) without exchanging a single chain message. Chain IDs
// are limited to letters, digits, '-', '_' and '.' so these names stay
// unambiguous.
//
// # Gossip
//
// Every topic has a validator: the message size is checked first (tx
// batches 1 MiB, blocks chain.MaxBlockBytes, consensus MaxConsensusBytes (1 MiB), evidence 1 MiB,
// compact proposals MaxCompactBytes (4 MiB)),
// then the node's function answers Accept, Reject or Ignore. Reject counts
// as an invalid delivery in the sender's gossipsub score (weight -100 per
// squared count), so a handful of bad messages takes a peer below
// GraylistThreshold, after which everything it sends is dropped unread.
// Loopback addresses are exempt from the IP-colocation penalty so local
// testnets score normally. Every Reject is also remembered against the
// sender's IP and fed back as the app-specific score of every peer ID
// connected from that IP (halving every 10 minutes), so reconnecting under
// a new peer ID does not reset an attacker; 127.0.0.1 and ::1 are exempt. Mesh-delivery penalties are off because the
// consensus and block topics are idle between heights.
//
// Two gossipsub routers share the host. The main one (consensus, block and
// evidence topics) signs messages by their author (StrictSign) with
// sequence-number IDs, so a consensus message re-broadcast with the same
// bytes is delivered again rather than deduplicated away. The tx router
// (TxGossipProtocol) is StrictNoSign: a tx batch carries no host signature,
// author or sequence number (one that does is rejected and scored), and its
// ID is the SHA-256 of its bytes, so the same batch from several peers is
// validated once. Every tx in it is signed by its sender and verified before
// the batch is relayed, which the host signature only duplicated (one more
// ed25519 verification per message per hop). The sender of a message, for
// scoring and the ipBook, is always the peer it came from (ReceivedFrom).
// Both routers take the app-specific score from the same ipBook, so a
// Reject on either lowers the peer on both; PeerScore is the lower of the
// two.
//
// Transactions travel in batches: PublishTx buffers and a batch leaves
// every Config.TxFlushInterval (10 ms), at TxFlushCount (256) txs or at
// TxFlushBytes (256 KiB). A batch is a CBOR array of byte strings
// (EncodeTxBatch / DecodeTxBatch, which copies each tx out of the message
// so an admitted tx keeps only its own bytes alive). ValidateTxs judges a received batch as
// a whole, so the node can verify every signature (as one parallel batch)
// before anything is forwarded: one Reject rejects the batch (an honest
// peer only ever forwards batches it fully accepted); txs it does not
// accept are left out of what OnTx receives. Our own messages skip the node's validators and are
// not handed back to the handlers. When the network is slower than the
// sender, PublishTx blocks rather than dropping.
//
// # Connections
//
// TCP and QUIC with Noise and TLS and yamux. The connection manager keeps
// LowWater..HighWater peers; the resource manager's connection limits are
// derived from HighWater (2×HighWater+32 per direction, see
// resourceLimits) so the connection manager, not a resource refusal,
// decides the peer count. A private network key (pnet) makes a host that
// only key holders can connect to; pnet covers TCP only, so such a host
// runs without QUIC and a QUIC listen address is a config error.
//
// The deny list (Config.DenyPeers, Deny/Allow/Denied) is enforced by the
// connection gater on dial and after the security handshake, and Deny
// closes existing connections. Tests use it to partition nodes.
//
// Discovery: bootstrap peers are redialled with exponential backoff (1 s to
// 1 min, jittered) for the node's whole life and protected from trimming;
// the Kademlia DHT (auto client/server, or forced server with DHTServer)
// advertises and looks up the chain's rendezvous every 30 s while below
// LowWater. NAT: UPnP/NAT-PMP, hole punching, relay v2 client with AutoNAT
// v2 and the bootstrap peers as static relays, each behind a switch;
// DefaultConfig turns them on. EnableRelayService (public nodes) relays and
// answers AutoNAT for others and declares the node public. Reachability
// reports AutoNAT's verdict, and each change is logged. Package nattest
// shows all of it working across real NATs in network namespaces. mDNS (EnableMDNS) finds peers of the same
// chain on a LAN under a per-chain service name; it is off by default
// because it multicasts on every interface.
//
// # Block sync
//
// A request is two uvarints (from, to), at most MaxSyncRange (64) heights;
// the response is a sequence of frames (uvarint length, then height, block
// and commit as length-prefixed bytes) ending when the server closes the
// stream. Frames are bounded by chain.MaxBlockBytes plus MaxCommitBytes,
// and a response by MaxSyncResponseBytes (the server starts no item past
// it; the client takes the items so far and asks again for the rest).
// The server serves what it has up to its head; reads and writes have
// deadlines (10 s for the request, Config.SyncTimeout for a whole request).
// Syncer spreads ranges over all peers that report a high enough head,
// applies items in height order through the node's callback, and refetches
// a range elsewhere when a peer errors, times out or serves an item the
// callback rejects.
//
// Serving is paced (servebudget.go): a request costs one unit and an item
// 1 + its bytes/16 KiB, charged at once to token buckets of the peer ID,
// of its remote IP (not the loopback addresses a testnet's nodes share)
// and of the whole node (4×); Config.SyncServeRate units a second each,
// DefaultSyncServeRate 500. A server out of budget waits, stream held,
// before its next item (past the first item, a wait over a second ends
// the response early and the client asks again). The resource manager
// lets a peer hold at most 4 inbound sync streams and 4 status streams
// (host.go); a peer it refuses 32 of them within 10 s is disconnected
// and refused by the gater for a minute. BudgetIPs gives the node the same
// per-IP keys for its unpaid-tx budget.
//
// # Compact proposals and block fill
//
// The compact topic (main router, signed by its author) carries what the
// node encodes as a compact proposal; OnCompact gets it with the peer it
// came from and its author (the host that published it), so the node can
// ask the author first for what it lacks. A node without ValidateCompact
// does not join the topic, as a version without compact proposals;
// WholeBlockPeers counts the peers on the block topic and not the compact
// one, for which the node publishes whole blocks too.
//
// /dure/<id>/blockfill/1 (blockfill.go) serves Deps.Fill, one request per
// stream. A request frame is a kind byte (1 = txs, 2 = block), a uvarint
// count and that many uvarint-length-prefixed keys (1..MaxFillKeys keys of
// 1..MaxFillKeyBytes bytes; exactly one, the block ID, for kind 2). The
// answer is one frame per key, in order, empty for a key the server does
// not hold; a tx frame is at most chain.MaxTxBytes, a block frame
// chain.MaxBlockBytes, and all of a txs answer at most
// MaxFillResponseBytes. Serving is charged to the block-sync budgets (per
// peer ID, IP and node): 1 unit plus 1 per 64 keys before the lookups run
// (a request of MaxFillKeys keys nobody holds answers nothing but costs
// the lookups), then 1 plus 1 per 16 KiB answered,
// a peer may hold at most 4 fill streams at once and refusals count
// towards the stream-flood ban. FetchFill checks the shape and the limits
// and ends at its context's deadline (DefaultFillTimeout, 5 s, without
// one); that values hash to their keys is the node's to check.
// Penalize lets the node count a fault it proved later (a compact list
// its header refutes, a fill answer that is not what was asked) as one
// rejected message against the peer and its IPs; Penalty reads it.
//
// # State sync
//
// /dure/<id>/snapshot/1 (snapshot.go, snapshot_wire.go) serves
// Deps.Snapshots: one request per stream — an offer (the newest height
// served), the encoded validator set of a height, or a chunk of the state
// at a height: the pairs after a key, in ascending order, up to the
// requested byte budget (at most MaxChunkBytes; the server caps it at
// DefaultChunkBytes, 256 KiB). The client checks that a chunk's keys are
// non-empty, ascending and after the requested key; the values are checked
// by the caller, whose rebuilt root must equal a verified header's. A
// server answers at most MaxSnapshotStreams requests at once and resets
// the rest, and heights it no longer serves (Serves) are reset too
// (ErrSnapshotUnavailable at the client).
//
// # Operations
//
// Peers, Topics (with mesh sizes), PeerScore and Stats give operators what
// they need; Stats are plain counters the node exports to Prometheus.
// libp2p's own metrics go to Config.MetricsRegisterer when one is given;
// nothing is registered globally.
package p2p
