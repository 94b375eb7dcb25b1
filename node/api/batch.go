package api

import (
	"context"
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
		// Each tx comes back in its own bytes: the mempool keeps an admitted
		// tx's slice, and one aliasing the body would keep the whole body
		// (up to MaxBodyBytes, maybe all refused junk) alive beyond what
		// the pool's byte bound counts.
		return DecodeTxArray(body, s.cfg.MaxBatchTxs)
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

// DecodeTxArray reads the application/cbor form of a batch: a chain tx
// list (chain.DecodeTxList, the same reader gossip batches use) of at most
// max txs, any entry length and head width (each tx is then answered on
// its own). Each tx is its own copy, not a slice of data. More than max
// txs is ErrBatchTooLarge; anything else that is not such a list (another
// major type, indefinite lengths, a length running past the end, trailing
// bytes, no items) ErrBadRequest.
func DecodeTxArray(data []byte, max int) ([][]byte, error) {
	txs, err := chain.DecodeTxList(data, chain.TxListRules{MaxTxs: max})
	switch {
	case errors.Is(err, chain.ErrTxListTooLong):
		return nil, fmt.Errorf("%w: batch: %w", ErrBatchTooLarge, err)
	case err != nil:
		return nil, fmt.Errorf("%w: batch: %w", ErrBadRequest, err)
	}
	return txs, nil
}

// EncodeTxArray is the application/cbor body of a batch: a CBOR array of
// the raw txs as byte strings (chain.AppendTxList).
func EncodeTxArray(raws [][]byte) []byte {
	return chain.AppendTxList(make([]byte, 0, chain.TxListSize(raws)), raws)
}
