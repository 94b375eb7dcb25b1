package p2p

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// MaxSnapshotStreams bounds the snapshot requests a node serves at once;
// more are reset (the client tries again or another peer).
const MaxSnapshotStreams = 4

// ErrSnapshotUnavailable: the peer does not serve the asked height (too
// old, pruned, or no snapshots at all), or is busy.
var ErrSnapshotUnavailable = errors.New("p2p: snapshot not available")

// SnapshotProtocol is the state-sync protocol of chainID: one request per
// stream (offer, validator set, or chunk), one response frame.
func SnapshotProtocol(chainID string) protocol.ID {
	return protocol.ID("/dure/" + chainID + "/snapshot/1")
}

// SnapshotSource is what the snapshot server reads; the node implements
// it over its store and state.
type SnapshotSource interface {
	// SnapshotHeight is the newest height whose state is served (0: none).
	SnapshotHeight() uint64
	// Serves reports whether the state at height can still be served.
	Serves(height uint64) bool
	// Validators is the encoded validator set signing height.
	Validators(height uint64) ([]byte, error)
	// Chunk is the state at height after the key after (from the first
	// key when hasAfter is false), at most about max bytes.
	Chunk(height uint64, after []byte, hasAfter bool, max int) (Chunk, error)
}

func (n *Node) serveSnapshot(s network.Stream) {
	defer s.Close()
	select {
	case n.snapSem <- struct{}{}:
		defer func() { <-n.snapSem }()
	default:
		_ = s.Reset() // busy: bounded cost per serving node
		return
	}
	_ = s.SetReadDeadline(time.Now().Add(requestReadTimeout))
	frame, err := readFrame(bufio.NewReaderSize(s, 64), maxSnapReqFrame)
	if err != nil {
		_ = s.Reset()
		return
	}
	req, err := decodeSnapRequest(frame)
	if err != nil {
		n.log.Debug("p2p: bad snapshot request", "peer", s.Conn().RemotePeer(), "err", err)
		_ = s.Reset()
		return
	}
	src := n.deps.Snapshots
	var resp []byte
	switch req.kind {
	case snapReqOffer:
		resp = encodeStatus(src.SnapshotHeight())
	case snapReqValidators:
		if resp, err = src.Validators(req.height); err != nil || len(resp) > MaxValidatorsBytes {
			_ = s.Reset()
			return
		}
	case snapReqChunk:
		if !src.Serves(req.height) {
			_ = s.Reset()
			return
		}
		c, err := src.Chunk(req.height, req.after, req.hasAfter, int(min(req.max, DefaultChunkBytes)))
		if err != nil {
			n.log.Debug("p2p: snapshot chunk", "height", req.height, "err", err)
			_ = s.Reset()
			return
		}
		resp = EncodeChunk(c)
	}
	_ = s.SetWriteDeadline(time.Now().Add(n.cfg.SyncTimeout))
	w := bufio.NewWriterSize(s, 64<<10)
	if err := writeFrame(w, resp); err != nil {
		_ = s.Reset()
		return
	}
	if err := w.Flush(); err != nil {
		_ = s.Reset()
	}
}

func (n *Node) snapshotCall(ctx context.Context, p peer.ID, req snapRequest, limit int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.SyncTimeout)
	defer cancel()
	s, err := n.host.NewStream(ctx, p, SnapshotProtocol(n.cfg.ChainID))
	if err != nil {
		return nil, fmt.Errorf("snapshot from %s: open: %w", p, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if err := writeFrame(s, encodeSnapRequest(req)); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("snapshot from %s: send: %w", p, err)
	}
	if err := s.CloseWrite(); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("snapshot from %s: send: %w", p, err)
	}
	frame, err := readFrame(bufio.NewReaderSize(s, 64<<10), limit)
	if err != nil {
		_ = s.Reset()
		if errors.Is(err, ErrMalformed) && ctx.Err() == nil {
			// A reset before any byte: the peer refused (busy, or it does
			// not serve that height).
			return nil, fmt.Errorf("snapshot from %s: %w: %v", p, ErrSnapshotUnavailable, err)
		}
		return nil, fmt.Errorf("snapshot from %s: %w", p, err)
	}
	return frame, nil
}

// SnapshotOffer asks p for the newest height whose state it serves (0: none).
func (n *Node) SnapshotOffer(ctx context.Context, p peer.ID) (uint64, error) {
	frame, err := n.snapshotCall(ctx, p, snapRequest{kind: snapReqOffer}, maxStatusFrame)
	if err != nil {
		return 0, err
	}
	return decodeStatus(frame)
}

// SnapshotValidators asks p for the encoded validator set signing height.
func (n *Node) SnapshotValidators(ctx context.Context, p peer.ID, height uint64) ([]byte, error) {
	return n.snapshotCall(ctx, p, snapRequest{kind: snapReqValidators, height: height}, MaxValidatorsBytes)
}

// SnapshotChunk asks p for the state at height after the key after (from
// the first key when hasAfter is false), about max bytes (at most
// MaxChunkBytes). The chunk's keys are checked to be ascending and after
// after; their values are the caller's to verify (the rebuilt root).
func (n *Node) SnapshotChunk(ctx context.Context, p peer.ID, height uint64, after []byte, hasAfter bool, max int) (Chunk, error) {
	if max <= 0 || max > MaxChunkBytes {
		max = DefaultChunkBytes
	}
	req := snapRequest{kind: snapReqChunk, height: height, after: after, hasAfter: hasAfter, max: uint64(max)}
	frame, err := n.snapshotCall(ctx, p, req, maxChunkFrame)
	if err != nil {
		return Chunk{}, err
	}
	c, err := DecodeChunk(frame)
	if err != nil {
		return Chunk{}, fmt.Errorf("snapshot chunk from %s: %w", p, err)
	}
	if hasAfter && len(c.Pairs) > 0 && string(c.Pairs[0].Key) <= string(after) {
		return Chunk{}, fmt.Errorf("snapshot chunk from %s: %w: first key not after the requested one", p, ErrMalformed)
	}
	return c, nil
}
