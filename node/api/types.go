package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dure-network/dure/chain"
)

// Backend is what the API needs from the node.
type Backend interface {
	Status(ctx context.Context) (Status, error)
	// SubmitTx checks a tx and adds it to the mempool (and gossip).
	SubmitTx(ctx context.Context, raw []byte) (chain.ID, error)
	// WaitTx blocks until the tx is committed or ctx ends.
	WaitTx(ctx context.Context, id chain.ID) (TxInfo, error)
	Tx(ctx context.Context, id chain.ID, prove bool) (TxInfo, error)
	// Block returns the block at height (0 = latest).
	Block(ctx context.Context, height uint64) (BlockInfo, error)
	Account(ctx context.Context, addr chain.Address, prove bool) (Account, error)
	Validators(ctx context.Context, height uint64) (Validators, error)
	Query(ctx context.Context, module, path string, args map[string]string, prove bool) (QueryResult, error)
	Peers(ctx context.Context) (any, error)
	DenyPeer(ctx context.Context, id string, deny bool) error
	// Head is the latest committed height.
	Head() uint64
	// HeadChanged returns a channel closed at the next commit.
	HeadChanged() <-chan struct{}
	// EventsAt returns the events of one committed block.
	EventsAt(ctx context.Context, height uint64) (BlockEvents, error)
}

// Status is GET /v1/status.
type Status struct {
	ChainID     string           `json:"chain_id"`
	Moniker     string           `json:"moniker"`
	Version     string           `json:"version"`
	PeerID      string           `json:"peer_id,omitempty"`
	ListenAddrs []string         `json:"listen_addrs,omitempty"`
	Height      uint64           `json:"height"`
	BlockID     chain.ID         `json:"block_id"`
	BlockTime   chain.Time       `json:"block_time"`
	StateRoot   chain.Hash       `json:"state_root"`
	Syncing     bool             `json:"syncing"`
	Validator   *ValidatorRef    `json:"validator,omitempty"`
	Peers       int              `json:"peers"`
	Mempool     MempoolStatus    `json:"mempool"`
	Consensus   any              `json:"consensus,omitempty"`
	Signatures  *SignatureStatus `json:"signatures,omitempty"`
	P2P         any              `json:"p2p,omitempty"`
	Health      Health           `json:"health"`
	// Fees are the chain's fee parameters from its genesis: what a client
	// offers for a transaction of known gas.
	Fees *FeeParams `json:"fees,omitempty"`
	// Subnets are the subnets this node runs a node of in its process
	// ([[subnets]]), or the one it is a node of (start --subnet), with
	// their checkpoint lag; absent when none.
	Subnets []SubnetStatus `json:"subnets,omitempty"`
}

// FeeParams: a transaction's gas limit is its max fee × GasPerFeeUnit, and
// its fee at least MinFee (the whole max fee is charged).
type FeeParams struct {
	MinFee        uint64 `json:"min_fee"`
	GasPerFeeUnit uint64 `json:"gas_per_fee_unit"`
}

// Summary is the status line of `dure status -o text`.
func (s SubnetStatus) Summary() string {
	var b strings.Builder
	b.WriteString(s.ID + ": ")
	if s.Running {
		fmt.Fprintf(&b, "height %d", s.SubnetHeight)
	} else {
		b.WriteString("not running (" + s.Error + ")")
	}
	switch {
	case !s.Registered && s.ParentError != "":
		b.WriteString(", " + s.ParentError)
	case s.Halted:
		fmt.Fprintf(&b, ", halted on the parent at checkpoint %d", s.LastCheckpoint)
	default:
		fmt.Fprintf(&b, ", last checkpoint %d (%d subnet blocks, %d parent blocks ago)", s.LastCheckpoint, s.SubnetBlocksSinceCheckpoint, s.CheckpointLagBlocks)
	}
	if s.Private {
		b.WriteString(", private")
	}
	if s.Relay {
		b.WriteString(", relaying")
	}
	return b.String()
}

// SubnetStatus is one subnet's checkpoint lag, as the parent's state and
// the subnet node show it (refreshed every second).
type SubnetStatus struct {
	ID      string `json:"id"`
	Running bool   `json:"running"`         // its node runs (in this process, or this node is the subnet)
	Error   string `json:"error,omitempty"` // why its node does not run
	Private bool   `json:"private"`         // its libp2p host has a pre-shared key
	Relay   bool   `json:"relay"`           // this process submits its checkpoints to the parent
	// Registered: the parent has a record of it; ParentError says why
	// it could not be read.
	Registered  bool   `json:"registered"`
	ParentError string `json:"parent_error,omitempty"`
	Halted      bool   `json:"halted"`
	// SubnetHeight is the subnet node's head; LastCheckpoint the subnet
	// height of the last checkpoint the parent accepted, at parent height
	// LastCheckpointParentHeight; ParentHeight the parent height read.
	SubnetHeight               uint64 `json:"subnet_height"`
	LastCheckpoint             uint64 `json:"last_checkpoint"`
	LastCheckpointParentHeight uint64 `json:"last_checkpoint_parent_height"`
	ParentHeight               uint64 `json:"parent_height"`
	// CheckpointLagBlocks is parent blocks since the last accepted
	// checkpoint (since registration before the first);
	// SubnetBlocksSinceCheckpoint the subnet height minus LastCheckpoint.
	CheckpointLagBlocks         uint64 `json:"checkpoint_lag_blocks"`
	SubnetBlocksSinceCheckpoint uint64 `json:"subnet_blocks_since_checkpoint"`
}

// SignatureStatus says which validators signed the commit in the latest
// block (the precommits for the height before it), and how many commits
// each validator has been missing from since this node started.
type SignatureStatus struct {
	Height           uint64            `json:"height"` // the height the commit is for
	Signed           int               `json:"signed"`
	Validators       int               `json:"validators"`
	Missing          []chain.Address   `json:"missing"`
	MissedSinceStart map[string]uint64 `json:"missed_since_start,omitempty"`
}

// Health says whether the node signs and commits, and what it is short
// of; GET /v1/health answers it with 200 when OK, else 503.
type Health struct {
	OK bool `json:"ok"`
	// Code and Message say why signing and committing stopped, e.g.
	// "disk_low" (empty when OK).
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// DiskFree is the free space of the data directory's filesystem and
	// DiskMinFree the [storage] min_free_disk it must keep, in bytes.
	DiskFree    uint64 `json:"disk_free_bytes"`
	DiskMinFree uint64 `json:"disk_min_free_bytes"`
	// API load against [api] max_connections and max_event_streams.
	Connections     int `json:"api_connections"`
	MaxConnections  int `json:"api_max_connections,omitempty"`
	EventStreams    int `json:"event_streams"`
	MaxEventStreams int `json:"max_event_streams,omitempty"`
	// OpenFileLimit is the process's RLIMIT_NOFILE (soft) in effect.
	OpenFileLimit uint64 `json:"open_file_limit,omitempty"`
}

// ValidatorRef names this node's validator identity.
type ValidatorRef struct {
	Address chain.Address `json:"address"`
	Power   uint64        `json:"power"`
}

// MempoolStatus is the mempool's fill.
type MempoolStatus struct {
	Txs   int `json:"txs"`
	Bytes int `json:"bytes"`
}

// TxInfo is a committed (or pending) transaction.
type TxInfo struct {
	ID      chain.ID           `json:"id"`
	Height  uint64             `json:"height"`
	Index   int                `json:"index"`
	BlockID chain.ID           `json:"block_id"`
	Raw     []byte             `json:"raw"`
	Tx      *chain.Tx          `json:"tx,omitempty"`
	Result  *chain.TxResult    `json:"result,omitempty"`
	Proof   *chain.MerkleProof `json:"proof,omitempty"`
	TxRoot  *chain.Hash        `json:"tx_root,omitempty"`
	// ResultProof proves Result (its canonical CBOR) against the header's
	// results root.
	ResultProof *chain.MerkleProof `json:"result_proof,omitempty"`
}

// BlockInfo is a block with its ID and the commit that decided it.
type BlockInfo struct {
	ID     chain.ID     `json:"id"`
	Header chain.Header `json:"header"`
	TxIDs  []chain.ID   `json:"tx_ids"`
	// Txs are the raw transactions (with ?txs=true), against which a
	// client checks TxIDs and the header's tx root.
	Txs      [][]byte         `json:"txs,omitempty"`
	Results  []chain.TxResult `json:"results,omitempty"`
	Commit   *chain.Commit    `json:"commit,omitempty"`
	Evidence []chain.Evidence `json:"evidence,omitempty"`
}

// KeyProof proves one state key's value (nil = absent) against a state root.
// A key starting with byte 0 is a next-key record's (chain/state LinkKey:
// its value is the next state key in byte order, or 0x00 for none), which
// list answers carry so a client can tell nothing was left out.
type KeyProof struct {
	Key   []byte          `json:"key"`
	Value []byte          `json:"value"`
	Proof json.RawMessage `json:"proof"`
}

// Account is an account's nonce and balances, optionally with state proofs
// against the header at Height.
type Account struct {
	Address   chain.Address `json:"address"`
	Height    uint64        `json:"height"`
	StateRoot chain.Hash    `json:"state_root"`
	Nonce     uint64        `json:"nonce"`
	Balances  any           `json:"balances"`
	Proofs    []KeyProof    `json:"proofs,omitempty"`
}

// Validators is the validator set for a height.
type Validators struct {
	Height     uint64            `json:"height"`
	Validators []chain.Validator `json:"validators"`
	Total      uint64            `json:"total_power"`
	Staking    any               `json:"staking,omitempty"`
}

// QueryResult is a module query answer at a height.
type QueryResult struct {
	Height uint64     `json:"height"`
	Result any        `json:"result"`
	Proofs []KeyProof `json:"proofs,omitempty"`
}

// BlockEvents are the events of one block: per tx and from EndBlock.
type BlockEvents struct {
	Height  uint64        `json:"height"`
	BlockID chain.ID      `json:"block_id"`
	Txs     []TxEvents    `json:"txs"`
	Block   []chain.Event `json:"block,omitempty"`
}

// TxEvents are one tx's result events.
type TxEvents struct {
	ID     chain.ID      `json:"id"`
	Code   uint32        `json:"code"`
	Events []chain.Event `json:"events"`
}
