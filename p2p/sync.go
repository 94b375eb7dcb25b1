package p2p

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Server-side deadlines: a peer gets this long to send its request, and
// the whole response must be written within the sync timeout.
const requestReadTimeout = 10 * time.Second

// serveSync answers one range request: it writes the items it has, in
// height order, then closes. A malformed or oversized request resets the
// stream.
func (n *Node) serveSync(s network.Stream) {
	defer s.Close()
	_ = s.SetReadDeadline(time.Now().Add(requestReadTimeout))
	req, err := readFrame(bufio.NewReaderSize(s, 64), maxRequestFrame)
	if err != nil {
		_ = s.Reset()
		return
	}
	from, to, err := decodeSyncRequest(req)
	if err != nil {
		n.log.Debug("p2p: bad sync request", "peer", s.Conn().RemotePeer(), "err", err)
		_ = s.Reset()
		return
	}
	deadline := time.Now().Add(n.cfg.SyncTimeout)
	_ = s.SetWriteDeadline(deadline)
	keys := n.serve.keys(s.Conn().RemotePeer(), peerIPs(n.host.Network(), s.Conn().RemotePeer()))
	pause := n.serve.charge(keys, 1) // the request itself
	w := bufio.NewWriterSize(s, 64<<10)
	head := n.deps.Blocks.Head()
	written := 0
	for h := from; h <= to && h <= head && written < MaxSyncResponseBytes; h++ {
		if pause > servePauseMin {
			// Out of budget (servebudget.go). Past the first item a long
			// pause ends the response early: the client asks again for
			// the rest.
			if h > from && pause > maxServePause {
				break
			}
			if err := w.Flush(); err != nil {
				_ = s.Reset()
				return
			}
			if !n.sleep(pause, deadline) {
				_ = s.Reset()
				return
			}
		}
		blk, commit, err := n.deps.Blocks.BlockAndCommit(h)
		if err != nil {
			n.log.Debug("p2p: sync source", "height", h, "err", err)
			break
		}
		item := encodeSyncItem(SyncItem{Height: h, Block: blk, Commit: commit})
		written += len(item)
		pause = n.serve.charge(keys, itemCost(len(item)))
		if err := writeFrame(w, item); err != nil {
			_ = s.Reset()
			return
		}
	}
	if err := w.Flush(); err != nil {
		_ = s.Reset()
	}
}

// maxServePause is the longest a response with items in it waits for
// budget before it ends. Debts below servePauseMin do not pause it: a
// pause flushes, and pausing for every item wrote each as its own frame
// instead of 64 KiB batches.
const (
	maxServePause = time.Second
	servePauseMin = 50 * time.Millisecond
)

// sleep waits d unless that passes deadline or the node closes first.
func (n *Node) sleep(d time.Duration, deadline time.Time) bool {
	if time.Now().Add(d).After(deadline) {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-n.ctx.Done():
		return false
	}
}

func (n *Node) serveStatus(s network.Stream) {
	defer s.Close()
	_ = s.SetWriteDeadline(time.Now().Add(requestReadTimeout))
	if err := writeFrame(s, encodeStatus(n.deps.Blocks.Head())); err != nil {
		_ = s.Reset()
	}
}

// FetchBlocks asks p for the blocks from..to (at most MaxSyncRange). The
// peer may return fewer (its head is lower, or the response reached
// MaxSyncResponseBytes); the items returned are in height order starting
// at from. Anything else from the peer is an error.
func (n *Node) FetchBlocks(ctx context.Context, p peer.ID, from, to uint64) ([]SyncItem, error) {
	if err := checkRange(from, to); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.SyncTimeout)
	defer cancel()
	s, err := n.host.NewStream(ctx, p, SyncProtocol(n.cfg.ChainID))
	if err != nil {
		return nil, fmt.Errorf("sync %d-%d from %s: open: %w", from, to, p, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if err := writeFrame(s, encodeSyncRequest(from, to)); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("sync %d-%d from %s: send: %w", from, to, p, err)
	}
	if err := s.CloseWrite(); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("sync %d-%d from %s: send: %w", from, to, p, err)
	}
	r := bufio.NewReaderSize(s, 64<<10)
	items := make([]SyncItem, 0, to-from+1)
	got := 0
	for {
		if got >= MaxSyncResponseBytes {
			// A server stops starting items here; only EOF may follow.
			if _, err := r.Peek(1); errors.Is(err, io.EOF) {
				return items, nil
			}
			_ = s.Reset()
			return items, fmt.Errorf("sync %d-%d from %s: %w: response over %d bytes", from, to, p, ErrMessageTooLarge, MaxSyncResponseBytes)
		}
		frame, err := readFrame(r, maxItemFrame)
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		if err != nil {
			_ = s.Reset()
			if ctx.Err() != nil {
				err = errors.Join(err, ctx.Err())
			}
			return items, fmt.Errorf("sync %d-%d from %s: %w", from, to, p, err)
		}
		it, err := decodeSyncItem(frame)
		if err != nil {
			_ = s.Reset()
			return items, fmt.Errorf("sync %d-%d from %s: %w", from, to, p, err)
		}
		want := from + uint64(len(items))
		if it.Height != want || want > to {
			_ = s.Reset()
			return items, fmt.Errorf("sync %d-%d from %s: %w: got height %d, want %d", from, to, p, ErrMalformed, it.Height, want)
		}
		got += len(frame)
		items = append(items, it)
	}
}

// PeerHead asks p for its head height over the status protocol.
func (n *Node) PeerHead(ctx context.Context, p peer.ID) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, min(n.cfg.SyncTimeout, 10*time.Second))
	defer cancel()
	s, err := n.host.NewStream(ctx, p, StatusProtocol(n.cfg.ChainID))
	if err != nil {
		return 0, fmt.Errorf("status of %s: %w", p, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	_ = s.CloseWrite()
	frame, err := readFrame(bufio.NewReaderSize(s, 16), maxStatusFrame)
	if err != nil {
		_ = s.Reset()
		return 0, fmt.Errorf("status of %s: %w", p, err)
	}
	head, err := decodeStatus(frame)
	if err != nil {
		return 0, fmt.Errorf("status of %s: %w", p, err)
	}
	return head, nil
}
