package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dure-network/dure/chain"
)

// Config tunes the server.
type Config struct {
	MaxBodyBytes int64
	// MaxBatchTxs bounds the txs of one POST /v1/txs/batch (default
	// DefaultMaxBatchTxs); the batch's body is bounded by MaxBodyBytes.
	MaxBatchTxs int
	// WaitTimeout bounds ?wait=commit.
	WaitTimeout time.Duration
	// MaxEventStreams bounds concurrent /v1/events subscribers: 0 means
	// no bound, negative refuses every stream.
	MaxEventStreams int
	// Metrics is served at /metrics when not nil.
	Metrics http.Handler
	Logger  *slog.Logger
}

// Server is the HTTP API.
type Server struct {
	b       Backend
	cfg     Config
	mux     *http.ServeMux
	streams atomic.Int64 // open /v1/events subscribers
}

// EventStreams is the number of open /v1/events subscribers.
func (s *Server) EventStreams() int { return int(s.streams.Load()) }

// New builds the handler tree.
func New(b Backend, cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxBatchTxs <= 0 {
		cfg.MaxBatchTxs = DefaultMaxBatchTxs
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{b: b, cfg: cfg, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /v1/status", s.status)
	s.mux.HandleFunc("GET /v1/health", s.health)
	s.mux.HandleFunc("POST /v1/txs", s.submitTx)
	s.mux.HandleFunc("POST /v1/txs/batch", s.submitBatch)
	s.mux.HandleFunc("GET /v1/txs/{id}", s.getTx)
	s.mux.HandleFunc("GET /v1/blocks/{height}", s.getBlock)
	s.mux.HandleFunc("GET /v1/accounts/{address}", s.getAccount)
	s.mux.HandleFunc("GET /v1/validators", s.getValidators)
	s.mux.HandleFunc("GET /v1/query/{module}/{path}", s.query)
	s.mux.HandleFunc("GET /v1/modules", s.modules)
	s.mux.HandleFunc("GET /v1/peers", s.peers)
	s.mux.HandleFunc("POST /v1/peers/{id}/deny", s.denyPeer)
	s.mux.HandleFunc("DELETE /v1/peers/{id}/deny", s.denyPeer)
	s.mux.HandleFunc("GET /v1/events", s.events)
	if cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", cfg.Metrics)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, fmt.Errorf("%w: no route %s %s", ErrNotFound, r.Method, r.URL.Path))
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.b.Status(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	st.Health.EventStreams, st.Health.MaxEventStreams = s.EventStreams(), max(s.cfg.MaxEventStreams, 0)
	writeJSON(w, http.StatusOK, st)
}

// health answers the Status's Health: 200 when the node signs and
// commits, 503 with the reason in the usual error shape when it does not.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	st, err := s.b.Status(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	h := st.Health
	h.EventStreams, h.MaxEventStreams = s.EventStreams(), max(s.cfg.MaxEventStreams, 0)
	if !h.OK {
		writeJSON(w, http.StatusServiceUnavailable, ErrorBody{Error: ErrorDetail{Code: h.Code, Message: h.Message}})
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// SubmitRequest is the JSON form of POST /v1/txs; a body with
// Content-Type application/cbor is the raw tx instead.
type SubmitRequest struct {
	Tx []byte `json:"tx"` // base64 in JSON
}

// SubmitResponse answers POST /v1/txs.
type SubmitResponse struct {
	ID     chain.ID        `json:"id"`
	Height uint64          `json:"height,omitempty"`
	Index  int             `json:"index,omitempty"`
	Result *chain.TxResult `json:"result,omitempty"`
}

func (s *Server) readTx(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read body: %v", ErrBadRequest, err)
	}
	if int64(len(body)) > s.cfg.MaxBodyBytes {
		return nil, fmt.Errorf("%w: body over %d bytes", chain.ErrTxTooLarge, s.cfg.MaxBodyBytes)
	}
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/cbor") || strings.HasPrefix(ct, "application/octet-stream") {
		return body, nil
	}
	var req SubmitRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("%w: body must be {\"tx\":\"<base64>\"} or application/cbor: %v", chain.ErrTxMalformed, err)
	}
	if len(req.Tx) == 0 {
		return nil, fmt.Errorf("%w: empty tx", chain.ErrTxMalformed)
	}
	return req.Tx, nil
}

// bodyReadTimeout bounds reading a request body: without it a client
// sending a byte at a time held its connection (and API slot) forever.
const bodyReadTimeout = 10 * time.Second

func (s *Server) submitTx(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyReadTimeout))
	raw, err := s.readTx(r)
	if err != nil {
		// The deadline stays: the server drains what is left of the body
		// after we answer, and must not wait on a slow one for that.
		writeError(w, err)
		return
	}
	// Cleared once the whole body is in: wait=commit outlives it, and the
	// server's read of the next request sets its own.
	_ = rc.SetReadDeadline(time.Time{})
	id, err := s.b.SubmitTx(r.Context(), raw)
	if err != nil {
		writeError(w, err)
		return
	}
	if r.URL.Query().Get("wait") != "commit" {
		writeJSON(w, http.StatusAccepted, SubmitResponse{ID: id})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WaitTimeout)
	defer cancel()
	info, err := s.b.WaitTx(ctx, id)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: tx %s not committed within %s (it may still be)", ErrTimeout, id, s.cfg.WaitTimeout)
		}
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, SubmitResponse{ID: id, Height: info.Height, Index: info.Index, Result: info.Result})
}

func boolParam(r *http.Request, name string) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get(name))
	return v
}

func (s *Server) getTx(w http.ResponseWriter, r *http.Request) {
	id, err := chain.ParseID(r.PathValue("id"))
	if err != nil {
		writeError(w, fmt.Errorf("%w: %v", ErrBadRequest, err))
		return
	}
	info, err := s.b.Tx(r.Context(), id, boolParam(r, "prove"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func parseHeight(s string) (uint64, error) {
	if s == "latest" || s == "" {
		return 0, nil
	}
	h, err := strconv.ParseUint(s, 10, 64)
	if err != nil || h == 0 {
		return 0, fmt.Errorf("%w: height %q: want a positive integer or \"latest\"", ErrBadRequest, s)
	}
	return h, nil
}

func (s *Server) getBlock(w http.ResponseWriter, r *http.Request) {
	h, err := parseHeight(r.PathValue("height"))
	if err != nil {
		writeError(w, err)
		return
	}
	info, err := s.b.Block(r.Context(), h)
	if err != nil {
		writeError(w, err)
		return
	}
	if !boolParam(r, "txs") {
		info.Txs = nil
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) {
	addr, err := chain.ParseAddress(r.PathValue("address"))
	if err != nil {
		writeError(w, err)
		return
	}
	acct, err := s.b.Account(r.Context(), addr, boolParam(r, "prove"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, acct)
}

func (s *Server) getValidators(w http.ResponseWriter, r *http.Request) {
	h, err := parseHeight(r.URL.Query().Get("height"))
	if err != nil {
		writeError(w, err)
		return
	}
	v, err := s.b.Validators(r.Context(), h)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	args := map[string]string{}
	for k, v := range r.URL.Query() {
		if k != "prove" && len(v) > 0 {
			args[k] = v[0]
		}
	}
	res, err := s.b.Query(r.Context(), r.PathValue("module"), r.PathValue("path"), args, boolParam(r, "prove"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) peers(w http.ResponseWriter, r *http.Request) {
	p, err := s.b.Peers(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// fromOperator reports whether r comes straight from the node's own
// machine (127.0.0.1 or ::1, not forwarded by a proxy there).
func fromOperator(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	if ip == nil || !(ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback)) {
		return false
	}
	return r.Header.Get("Forwarded") == "" && r.Header.Get("X-Forwarded-For") == ""
}

// denyPeer is the operator's partition tool: any client allowed to use it
// could cut a validator off from every peer (two of four denied each
// other and the chain stopped), so only the node's own machine may.
func (s *Server) denyPeer(w http.ResponseWriter, r *http.Request) {
	if !fromOperator(r) {
		writeError(w, fmt.Errorf("%w: %s %s is answered only to 127.0.0.1 and ::1 (not through a proxy)", ErrForbidden, r.Method, r.URL.Path))
		return
	}
	deny := r.Method == http.MethodPost
	if err := s.b.DenyPeer(r.Context(), r.PathValue("id"), deny); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"peer": r.PathValue("id"), "denied": deny})
}

// events streams BlockEvents as Server-Sent Events, one "block" event per
// committed height starting at from_height (default: the next block). Each
// event's id is its height, so a client that reconnects with
// Last-Event-ID or from_height=id+1 misses nothing.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	from := s.b.Head() + 1
	if v := r.URL.Query().Get("from_height"); v != "" {
		h, err := strconv.ParseUint(v, 10, 64)
		if err != nil || h == 0 {
			writeError(w, fmt.Errorf("%w: from_height %q: want a positive integer", ErrBadRequest, v))
			return
		}
		from = h
	} else if v := r.Header.Get("Last-Event-ID"); v != "" {
		h, err := parseLastEventID(v)
		if err != nil {
			writeError(w, err)
			return
		}
		from = h
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, errors.New("streaming unsupported"))
		return
	}
	n := s.streams.Add(1)
	defer s.streams.Add(-1)
	if lim := s.cfg.MaxEventStreams; lim < 0 || (lim > 0 && n > int64(lim)) {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Connection", "close") // free the connection slot too
		writeError(w, fmt.Errorf("%w: %d subscribers already ([api] max_event_streams = %d); retry later", ErrTooManyStreams, n-1, max(lim, 0)))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	ctx := r.Context()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for h := from; ; {
		changed := s.b.HeadChanged()
		for ; h <= s.b.Head(); h++ {
			ev, err := s.b.EventsAt(ctx, h)
			if err != nil {
				// Say why the stream ends rather than skipping the height.
				fmt.Fprintf(w, "event: error\ndata: %q\n\n", err.Error())
				flusher.Flush()
				return
			}
			data, _ := json.Marshal(ev)
			fmt.Fprintf(w, "id: %d\nevent: block\ndata: %s\n\n", h, data)
			flusher.Flush()
			if ctx.Err() != nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
			flusher.Flush()
		}
	}
}

// EncodeTxJSON wraps raw tx bytes for a JSON submission.
func EncodeTxJSON(raw []byte) []byte {
	b, _ := json.Marshal(SubmitRequest{Tx: raw})
	return b
}
