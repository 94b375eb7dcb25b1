package p2p

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Block fill: a node that received a compact proposal (header and tx IDs,
// on the compact topic) and lacks some of its txs asks a peer for them by
// key, or for the whole block by its ID. The keys and values are opaque
// here; the node checks that each value hashes to its key and that the
// rebuilt block matches the signed header, so a lying server costs the
// client a round trip and nothing else.

// BlockFillProtocol is the fill protocol of chainID: one request per
// stream, answered by one frame per key (or one frame for a block).
func BlockFillProtocol(chainID string) protocol.ID {
	return protocol.ID("/dure/" + chainID + "/blockfill/1")
}

// Fill wire limits.
const (
	// MaxFillKeys is the most keys one request may name (a block's txs).
	MaxFillKeys = chain.MaxTxsPerBlock
	// MaxFillKeyBytes bounds one key (a tx ID or a block ID).
	MaxFillKeyBytes = 64
	// MaxFillResponseBytes bounds the values of one txs response: a
	// server stops answering keys past it (the rest come back empty) and
	// a client refuses a response that goes over it.
	MaxFillResponseBytes = chain.MaxBlockBytes
	// DefaultFillTimeout bounds one fill request at the client.
	DefaultFillTimeout = 5 * time.Second

	fillKindTxs   = 1
	fillKindBlock = 2

	maxFillRequestFrame = 1 + binary.MaxVarintLen64 + MaxFillKeys*(1+MaxFillKeyBytes)
)

// ErrFillUnavailable: the peer does not serve fills, or does not have the
// block asked for.
var ErrFillUnavailable = errors.New("p2p: block fill not available")

// FillSource is what the fill server reads; the node implements it over
// its mempool and the blocks of the heights it is deciding.
type FillSource interface {
	// Txs returns the value of each key (nil for a key it does not hold).
	Txs(keys [][]byte) [][]byte
	// Block returns the encoded block with this ID, or nil.
	Block(id []byte) []byte
}

// FillRequest is one request: Kind txs with Keys, or Kind block with one
// key, the block's ID.
type FillRequest struct {
	Block bool
	Keys  [][]byte
}

func encodeFillRequest(r FillRequest) []byte {
	kind := byte(fillKindTxs)
	if r.Block {
		kind = fillKindBlock
	}
	size := 1 + binary.MaxVarintLen64
	for _, k := range r.Keys {
		size += 1 + len(k)
	}
	b := make([]byte, 0, size)
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(len(r.Keys)))
	for _, k := range r.Keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	return b
}

// DecodeFillRequest decodes a fill request frame's payload and checks its
// shape: a known kind, 1..MaxFillKeys keys of 1..MaxFillKeyBytes bytes
// (exactly one for a block), nothing after them.
func DecodeFillRequest(p []byte) (FillRequest, error) {
	var r FillRequest
	if len(p) < 1 {
		return r, fmt.Errorf("%w: fill request: empty", ErrMalformed)
	}
	switch p[0] {
	case fillKindTxs:
	case fillKindBlock:
		r.Block = true
	default:
		return r, fmt.Errorf("%w: fill request: kind %d", ErrMalformed, p[0])
	}
	count, p, err := readUvarint(p[1:])
	if err != nil {
		return r, fmt.Errorf("%w: fill request count: %v", ErrMalformed, err)
	}
	if count == 0 || count > MaxFillKeys || (r.Block && count != 1) || count > uint64(len(p)) {
		return r, fmt.Errorf("%w: fill request: %d keys", ErrMalformed, count)
	}
	r.Keys = make([][]byte, 0, count)
	for range count {
		var k []byte
		if k, p, err = readBytes(p, MaxFillKeyBytes); err != nil {
			return r, fmt.Errorf("%w: fill request key %d: %v", ErrMalformed, len(r.Keys), err)
		}
		if len(k) == 0 {
			return r, fmt.Errorf("%w: fill request key %d empty", ErrMalformed, len(r.Keys))
		}
		r.Keys = append(r.Keys, k)
	}
	if len(p) != 0 {
		return r, fmt.Errorf("%w: fill request: %d trailing bytes", ErrMalformed, len(p))
	}
	return r, nil
}

// serveFill answers one fill request. Serving is charged to the same
// per-peer, per-IP and node-wide budgets as block sync (servebudget.go),
// and the resource manager holds a peer to maxSyncStreamsPerPeer streams.
func (n *Node) serveFill(s network.Stream) {
	defer s.Close()
	_ = s.SetReadDeadline(time.Now().Add(requestReadTimeout))
	frame, err := readFrame(bufio.NewReaderSize(s, 4<<10), maxFillRequestFrame)
	if err != nil {
		_ = s.Reset()
		return
	}
	req, err := DecodeFillRequest(frame)
	if err != nil {
		n.log.Debug("p2p: bad fill request", "peer", s.Conn().RemotePeer(), "err", err)
		_ = s.Reset()
		return
	}
	deadline := time.Now().Add(n.cfg.SyncTimeout)
	_ = s.SetWriteDeadline(deadline)
	keys := n.serve.keys(s.Conn().RemotePeer(), peerIPs(n.host.Network(), s.Conn().RemotePeer()))
	// The lookups are charged before they run: a request of MaxFillKeys
	// keys found nowhere answers nothing, and cost the server as much as
	// serving a few blocks.
	if pause := n.serve.charge(keys, fillKeysCost(len(req.Keys))); pause > servePauseMin {
		if !n.sleep(pause, deadline) {
			_ = s.Reset()
			return
		}
	}
	var vals [][]byte
	if req.Block {
		vals = [][]byte{n.deps.Fill.Block(req.Keys[0])}
	} else {
		vals = n.deps.Fill.Txs(req.Keys)
	}
	size := 0
	for i, v := range vals {
		if size+len(v) > MaxFillResponseBytes || (!req.Block && len(v) > chain.MaxTxBytes) {
			vals[i] = nil
			continue
		}
		size += len(v)
	}
	// Charged before writing: a flooder waits here, stream held.
	if pause := n.serve.charge(keys, itemCost(size)); pause > servePauseMin {
		if !n.sleep(pause, deadline) {
			_ = s.Reset()
			return
		}
	}
	w := bufio.NewWriterSize(s, 64<<10)
	for i := 0; i < len(req.Keys) && i < len(vals); i++ {
		if err := writeFrame(w, vals[i]); err != nil {
			_ = s.Reset()
			return
		}
	}
	if err := w.Flush(); err != nil {
		_ = s.Reset()
	}
}

// fillKeysPerUnit is how many keys a fill request may name for one
// budget unit (a key is a mempool and a recent-block lookup).
const fillKeysPerUnit = 64

// fillKeysCost is the budget charged for a request of k keys before they
// are looked up: one unit, plus one per fillKeysPerUnit keys.
func fillKeysCost(k int) float64 { return 1 + float64(k/fillKeysPerUnit) }

// FetchFill asks p for the values of req's keys. For txs it returns one
// value per key, nil where the peer has none; for a block, the encoded
// block (ErrFillUnavailable if the peer has none). Frames over
// chain.MaxTxBytes (a tx) or chain.MaxBlockBytes (a block), a response
// over MaxFillResponseBytes, a short response and anything after the last
// frame are errors; so is not finishing within the context's deadline
// (DefaultFillTimeout if it has none). The values are not checked against
// the keys: that is the caller's job.
func (n *Node) FetchFill(ctx context.Context, p peer.ID, req FillRequest) ([][]byte, error) {
	if len(req.Keys) == 0 || len(req.Keys) > MaxFillKeys || (req.Block && len(req.Keys) != 1) {
		return nil, fmt.Errorf("%w: fill of %d keys", ErrMalformed, len(req.Keys))
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultFillTimeout)
		defer cancel()
	}
	s, err := n.host.NewStream(ctx, p, BlockFillProtocol(n.cfg.ChainID))
	if err != nil {
		return nil, fmt.Errorf("fill from %s: open: %w", p, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		// The context's end resets the stream (and names the cause); the
		// stream's own deadline is the backstop.
		_ = s.SetDeadline(dl.Add(time.Second))
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if err := writeFrame(s, encodeFillRequest(req)); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("fill from %s: send: %w", p, err)
	}
	if err := s.CloseWrite(); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("fill from %s: send: %w", p, err)
	}
	limit := chain.MaxTxBytes
	if req.Block {
		limit = chain.MaxBlockBytes
	}
	r := bufio.NewReaderSize(s, 64<<10)
	out := make([][]byte, len(req.Keys))
	got := 0
	for i := range out {
		v, err := readFrame(r, min(limit, MaxFillResponseBytes-got))
		if err != nil {
			_ = s.Reset()
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: %d of %d values", ErrMalformed, i, len(out))
			}
			if ctx.Err() != nil {
				err = errors.Join(err, ctx.Err())
			}
			return nil, fmt.Errorf("fill from %s: %w", p, err)
		}
		got += len(v)
		if len(v) > 0 {
			out[i] = v
		}
	}
	if _, err := r.Peek(1); !errors.Is(err, io.EOF) {
		_ = s.Reset()
		return nil, fmt.Errorf("fill from %s: %w: data after the last value", p, ErrMalformed)
	}
	if req.Block && out[0] == nil {
		return nil, fmt.Errorf("fill from %s: %w", p, ErrFillUnavailable)
	}
	return out, nil
}
