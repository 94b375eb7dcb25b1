package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dure-network/dure/chain"
)

// POST /v1/txs/batch submits many signed txs in one request. The body is
// either JSON {"txs":["<base64>", …]} or, with Content-Type
// application/cbor, a CBOR array of byte strings (each one raw tx). The
// answer (200 once the batch could be read) lists one result per tx in
// the order sent: its ID and, when refused, the error code, message and
// the HTTP status a single POST /v1/txs would have answered. Nothing in a
// batch is all-or-nothing: each tx is admitted or refused on its own, as
// if submitted alone.
//
// Limits: at most Config.MaxBatchTxs txs (default DefaultMaxBatchTxs) and
// the same body limit as a single submission (Config.MaxBodyBytes, the
// node's [api] max_body_bytes); past either the whole request is answered
// 413 batch_too_large, an empty or unreadable batch 400 bad_request.
// ?wait=commit is not offered (ask GET /v1/txs/{id} or follow
// /v1/events).
//
// A batch is no amplifier: every tx goes through the same checks as a
// single submission (size, decode, chain, fee, nonce window, capacity,
// signature, fee payable), counted in the same rejection metrics, on a
// connection counted against the same per-address connection share; the
// node only verifies the batch's signatures together (and once), which is
// cheaper per tx, never dearer.

// DefaultMaxBatchTxs bounds the txs of one POST /v1/txs/batch.
const DefaultMaxBatchTxs = 1000

// ErrBatchTooLarge is a batch over its count or byte limit.
var ErrBatchTooLarge = errors.New("batch too large")

// BatchBackend is optionally implemented by a Backend that admits many txs
// at once (the node verifies their signatures as one batch). ids[i] and
// errs[i] answer raws[i]; errs[i] is nil for an admitted tx and wraps the
// same sentinels SubmitTx's would. Without it the server calls SubmitTx
// for each tx in turn.
type BatchBackend interface {
	SubmitTxs(ctx context.Context, raws [][]byte) (ids []chain.ID, errs []error)
}

// BatchRequest is the JSON form of POST /v1/txs/batch.
type BatchRequest struct {
	Txs [][]byte `json:"txs"` // each base64 in JSON
}

// BatchResult answers one tx of a batch: ID is set whenever the bytes were
// hashable; Error (with the HTTP Status a single submission would have had)
// only when the tx was refused.
type BatchResult struct {
	ID     chain.ID     `json:"id,omitempty"`
	Status int          `json:"status,omitempty"`
	Error  *ErrorDetail `json:"error,omitempty"`
}

// BatchResponse answers POST /v1/txs/batch: Accepted of len(Results) txs
// were admitted; Results are in request order.
type BatchResponse struct {
	Accepted int           `json:"accepted"`
	Results  []BatchResult `json:"results"`
}

func (s *Server) readBatch(r *http.Request) ([][]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read body: %v", ErrBadRequest, err)
	}
	if int64(len(body)) > s.cfg.MaxBodyBytes {
		return nil, fmt.Errorf("%w: body over %d bytes", ErrBatchTooLarge, s.cfg.MaxBodyBytes)
	}
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/cbor") {
		txs, err := DecodeTxArray(body, s.cfg.MaxBatchTxs)
		if err != nil {
			return nil, err
		}
		// Each tx gets its own bytes: the mempool keeps an admitted tx's
		// slice, and one aliasing the body would keep the whole body (up
		// to MaxBodyBytes, maybe all refused junk) alive beyond what the
		// pool's byte bound counts.
		for i, tx := range txs {
			txs[i] = bytes.Clone(tx)
		}
		return txs, nil
	}
	var req BatchRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("%w: body must be {\"txs\":[\"<base64>\",…]} or an application/cbor array of byte strings: %v", ErrBadRequest, err)
	}
	if len(req.Txs) > s.cfg.MaxBatchTxs {
		return nil, fmt.Errorf("%w: %d txs, max %d", ErrBatchTooLarge, len(req.Txs), s.cfg.MaxBatchTxs)
	}
	if len(req.Txs) == 0 {
		return nil, fmt.Errorf("%w: empty batch", ErrBadRequest)
	}
	return req.Txs, nil
}

func (s *Server) submitBatch(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyReadTimeout))
	if r.URL.Query().Has("wait") {
		writeError(w, fmt.Errorf("%w: wait is not offered for batches: ask GET /v1/txs/{id} or follow /v1/events", ErrBadRequest))
		return
	}
	raws, err := s.readBatch(r)
	if err != nil {
		writeError(w, err)
		return
	}
	_ = rc.SetReadDeadline(time.Time{})
	var ids []chain.ID
	var errs []error
	if bb, ok := s.b.(BatchBackend); ok {
		ids, errs = bb.SubmitTxs(r.Context(), raws)
	} else {
		ids, errs = make([]chain.ID, len(raws)), make([]error, len(raws))
		for i, raw := range raws {
			ids[i], errs[i] = s.b.SubmitTx(r.Context(), raw)
		}
	}
	resp := BatchResponse{Results: make([]BatchResult, len(raws))}
	for i := range raws {
		res := &resp.Results[i]
		res.ID = ids[i]
		if errs[i] == nil {
			resp.Accepted++
			continue
		}
		status, code := classify(errs[i])
		res.Status, res.Error = status, &ErrorDetail{Code: code, Message: errs[i].Error()}
	}
	writeJSON(w, http.StatusOK, resp)
}

// DecodeTxArray reads a definite-length CBOR array of definite-length
// byte strings (the application/cbor form of a batch) with at most max
// items; the returned txs alias data. Anything else — another major type,
// indefinite lengths, a length running past the end, trailing bytes, no
// items — is ErrBadRequest; more than max items ErrBatchTooLarge.
func DecodeTxArray(data []byte, max int) ([][]byte, error) {
	n, rest, err := cborHead(data, 4)
	if err != nil {
		return nil, fmt.Errorf("%w: batch: %w", ErrBadRequest, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty batch", ErrBadRequest)
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: %d txs, max %d", ErrBatchTooLarge, n, max)
	}
	txs := make([][]byte, 0, n)
	for i := range n {
		var l uint64
		if l, rest, err = cborHead(rest, 2); err != nil {
			return nil, fmt.Errorf("%w: batch item %d: %w", ErrBadRequest, i, err)
		}
		if l > uint64(len(rest)) {
			return nil, fmt.Errorf("%w: batch item %d: %d bytes, %d left", ErrBadRequest, i, l, len(rest))
		}
		txs = append(txs, rest[:l:l])
		rest = rest[l:]
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: %d bytes after the batch", ErrBadRequest, len(rest))
	}
	return txs, nil
}

var errCBORHead = errors.New("not a definite-length head of the expected type")

// cborHead reads one CBOR item head of major type major and returns its
// argument (a length) and the bytes after the head.
func cborHead(b []byte, major byte) (uint64, []byte, error) {
	if len(b) == 0 {
		return 0, nil, fmt.Errorf("%w: end of input", errCBORHead)
	}
	if b[0]>>5 != major {
		return 0, nil, fmt.Errorf("%w: major type %d, want %d", errCBORHead, b[0]>>5, major)
	}
	info, b := b[0]&0x1f, b[1:]
	switch {
	case info < 24:
		return uint64(info), b, nil
	case info <= 27:
		size := 1 << (info - 24)
		if len(b) < size {
			return 0, nil, fmt.Errorf("%w: truncated length", errCBORHead)
		}
		var v uint64
		switch size {
		case 1:
			v = uint64(b[0])
		case 2:
			v = uint64(binary.BigEndian.Uint16(b))
		case 4:
			v = uint64(binary.BigEndian.Uint32(b))
		default:
			v = binary.BigEndian.Uint64(b)
		}
		return v, b[size:], nil
	}
	return 0, nil, fmt.Errorf("%w: additional info %d", errCBORHead, info)
}

// EncodeTxArray is the application/cbor body of a batch: a CBOR array of
// the raw txs as byte strings.
func EncodeTxArray(raws [][]byte) []byte {
	size := 9
	for _, r := range raws {
		size += 9 + len(r)
	}
	out := appendCBORHead(make([]byte, 0, size), 4, uint64(len(raws)))
	for _, r := range raws {
		out = appendCBORHead(out, 2, uint64(len(r)))
		out = append(out, r...)
	}
	return out
}

// appendCBORHead appends the shortest head of major type major with
// argument v.
func appendCBORHead(b []byte, major byte, v uint64) []byte {
	m := major << 5
	switch {
	case v < 24:
		return append(b, m|byte(v))
	case v <= 0xff:
		return append(b, m|24, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), v)
}
