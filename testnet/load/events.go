package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/api"
)

// errStream is a stream that ended with an "error" event from the node.
var errStream = errors.New("event stream error")

// follow streams /v1/events from height from on base and calls onBlock for
// every block in order, with the time the event arrived. It reconnects from
// the next height when the stream breaks, so no block is skipped, and
// returns only when ctx ends.
func follow(ctx context.Context, hc *http.Client, base string, from uint64, onBlock func(api.BlockEvents, time.Time), logf func(string, ...any)) {
	next := from
	for ctx.Err() == nil {
		err := followOnce(ctx, hc, base, &next, onBlock)
		if ctx.Err() != nil {
			return
		}
		logf("event stream from %s broke at height %d: %v; reconnecting", base, next, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func followOnce(ctx context.Context, hc *http.Client, base string, next *uint64, onBlock func(api.BlockEvents, time.Time)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v1/events?from_height=%d", base, *next), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET /v1/events: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return readSSE(resp.Body, func(event string, data []byte) error {
		switch event {
		case "block":
			ev, err := decodeBlockEvent(data)
			if err != nil {
				return fmt.Errorf("decode block event: %w", err)
			}
			if ev.Height != *next {
				return fmt.Errorf("event for height %d, expected %d", ev.Height, *next)
			}
			onBlock(ev, time.Now())
			*next = ev.Height + 1
		case "error":
			return fmt.Errorf("%w: %s", errStream, data)
		}
		return nil
	})
}

// readSSE parses a Server-Sent Events stream and calls fn per event
// (event type, joined data lines). Comments and ids are skipped: the
// height inside each block event is what the follower resumes from.
func readSSE(r io.Reader, fn func(event string, data []byte) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var event string
	var data []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long data line: gather the rest of it.
			full := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				full = append(full, line...)
			}
			line = full
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		s := strings.TrimRight(string(line), "\r\n")
		switch {
		case s == "":
			if event != "" || data != nil {
				if event == "" {
					event = "message"
				}
				if err := fn(event, data); err != nil {
					return err
				}
			}
			event, data = "", nil
		case strings.HasPrefix(s, ":"):
		case strings.HasPrefix(s, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(s, "event:"))
		case strings.HasPrefix(s, "data:"):
			d := strings.TrimPrefix(strings.TrimPrefix(s, "data:"), " ")
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, d...)
		case strings.HasPrefix(s, "id:"):
			if _, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(s, "id:")), 10, 64); err != nil {
				return fmt.Errorf("bad event id line %q", s)
			}
		}
	}
}

// blockEvent is the part of a block event the tracker reads: each tx's ID
// and code, not its events (decoding those was most of the follower's
// allocations at thousands of txs per second).
type blockEvent struct {
	Height uint64 `json:"height"`
	Txs    []struct {
		ID   string `json:"id"`
		Code uint32 `json:"code"`
	} `json:"txs"`
}

// decodeBlockEvent reads a block event's height and tx IDs and codes. The
// IDs come from the node, in the one spelling it writes, so they are
// decoded without ParseID's re-encoding check.
func decodeBlockEvent(data []byte) (api.BlockEvents, error) {
	var be blockEvent
	if err := json.Unmarshal(data, &be); err != nil {
		return api.BlockEvents{}, err
	}
	ev := api.BlockEvents{Height: be.Height, Txs: make([]api.TxEvents, len(be.Txs))}
	for i, tx := range be.Txs {
		c, err := cid.Decode(tx.ID)
		if err != nil {
			return api.BlockEvents{}, fmt.Errorf("tx %d id %q: %w", i, tx.ID, err)
		}
		ev.Txs[i] = api.TxEvents{ID: chain.ID(c.Bytes()), Code: tx.Code}
	}
	return ev, nil
}
