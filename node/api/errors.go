package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/dure-network/dure/chain"
)

// Sentinel errors a Backend returns so the API can map them to codes.
var (
	ErrNotFound    = chain.ErrNotFound
	ErrDuplicate   = errors.New("tx already known")
	ErrMempoolFull = errors.New("mempool full")
	ErrTimeout     = errors.New("timed out waiting for commit")
	ErrBadRequest  = errors.New("bad request")
	ErrPruned      = errors.New("pruned")
	ErrNotReady    = errors.New("node not ready")
	// ErrTooManyConnections and ErrTooManyStreams: the API is at [api]
	// max_connections or max_event_streams.
	ErrTooManyConnections = errors.New("too many API connections")
	ErrTooManyStreams     = errors.New("too many event streams")
	// ErrDiskLow: the data directory's filesystem is below [storage]
	// min_free_disk, so the node signs and commits nothing.
	ErrDiskLow = errors.New("disk space low")
	// ErrForbidden: an operator-only route asked by a client that is not
	// on the node's own machine.
	ErrForbidden = errors.New("forbidden")
)

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail carries a stable code and a human message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// classify maps an error to (HTTP status, stable code). Order matters: the
// most specific sentinels first.
func classify(err error) (int, string) {
	table := []struct {
		err    error
		status int
		code   string
	}{
		{ErrBatchTooLarge, http.StatusRequestEntityTooLarge, "batch_too_large"},
		{chain.ErrTxTooLarge, http.StatusRequestEntityTooLarge, "tx_too_large"},
		{chain.ErrTxMalformed, http.StatusBadRequest, "tx_malformed"},
		{chain.ErrBadSignature, http.StatusBadRequest, "bad_signature"},
		{chain.ErrWrongChain, http.StatusBadRequest, "wrong_chain"},
		{chain.ErrBadAddress, http.StatusBadRequest, "bad_address"},
		{chain.ErrNonceTooLow, http.StatusConflict, "nonce_too_low"},
		{chain.ErrNonceTooHigh, http.StatusConflict, "nonce_too_high"},
		{ErrDuplicate, http.StatusConflict, "duplicate_tx"},
		{chain.ErrFeeTooLow, http.StatusUnprocessableEntity, "fee_too_low"},
		{chain.ErrFeeUnpayable, http.StatusUnprocessableEntity, "fee_unpayable"},
		{chain.ErrInsufficient, http.StatusUnprocessableEntity, "insufficient_funds"},
		{chain.ErrUnknownMsg, http.StatusUnprocessableEntity, "unknown_message"},
		{chain.ErrInvalidMsg, http.StatusUnprocessableEntity, "invalid_message"},
		{chain.ErrUnauthorized, http.StatusUnprocessableEntity, "unauthorized"},
		{ErrMempoolFull, http.StatusServiceUnavailable, "mempool_full"},
		{ErrNotReady, http.StatusServiceUnavailable, "not_ready"},
		{ErrTooManyConnections, http.StatusServiceUnavailable, "too_many_connections"},
		{ErrTooManyStreams, http.StatusServiceUnavailable, "too_many_event_streams"},
		{ErrDiskLow, http.StatusServiceUnavailable, "disk_low"},
		{ErrTimeout, http.StatusGatewayTimeout, "commit_timeout"},
		{ErrPruned, http.StatusGone, "pruned"},
		{ErrForbidden, http.StatusForbidden, "forbidden"},
		{ErrNotFound, http.StatusNotFound, "not_found"},
		{ErrBadRequest, http.StatusBadRequest, "bad_request"},
	}
	for _, t := range table {
		if errors.Is(err, t.err) {
			return t.status, t.code
		}
	}
	return http.StatusInternalServerError, "internal"
}

func writeError(w http.ResponseWriter, err error) {
	status, code := classify(err)
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: err.Error()}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}
