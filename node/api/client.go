package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dure-network/dure/chain"
)

// Client talks to a node's API; the CLI and the load generator use it.
type Client struct {
	Base string
	HTTP *http.Client
}

// NewClient makes a client for base ("http://127.0.0.1:26657").
func NewClient(base string) *Client {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &Client{Base: strings.TrimRight(base, "/"), HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// APIError is an error answer from the node.
type APIError struct {
	Status int
	ErrorDetail
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (%d %s): %s", e.Code, e.Status, http.StatusText(e.Status), e.Message)
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, ctype string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
			return &APIError{Status: resp.StatusCode, ErrorDetail: eb.Error}
		}
		return &APIError{Status: resp.StatusCode, ErrorDetail: ErrorDetail{Code: "http", Message: strings.TrimSpace(string(data))}}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// Status fetches /v1/status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.do(ctx, http.MethodGet, "/v1/status", nil, "", &s)
}

// Submit posts a raw tx; with wait it returns once committed.
func (c *Client) Submit(ctx context.Context, raw []byte, wait bool) (SubmitResponse, error) {
	path := "/v1/txs"
	if wait {
		path += "?wait=commit"
	}
	var r SubmitResponse
	return r, c.do(ctx, http.MethodPost, path, raw, "application/cbor", &r)
}

// SubmitBatch posts raw txs as one POST /v1/txs/batch (application/cbor)
// and returns one result per tx, in order; err is set only when the batch
// as a whole was refused (too large, malformed) or not answered.
func (c *Client) SubmitBatch(ctx context.Context, raws [][]byte) (BatchResponse, error) {
	var r BatchResponse
	if err := c.do(ctx, http.MethodPost, "/v1/txs/batch", EncodeTxArray(raws), "application/cbor", &r); err != nil {
		return r, err
	}
	if len(r.Results) != len(raws) {
		return r, fmt.Errorf("POST /v1/txs/batch: %d results for %d txs", len(r.Results), len(raws))
	}
	return r, nil
}

// Tx fetches a tx, optionally with its inclusion proof.
func (c *Client) Tx(ctx context.Context, id chain.ID, prove bool) (TxInfo, error) {
	var t TxInfo
	return t, c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/txs/%s?prove=%t", id, prove), nil, "", &t)
}

// Block fetches a block (0 = latest).
func (c *Client) Block(ctx context.Context, height uint64) (BlockInfo, error) {
	return c.block(ctx, height, false)
}

// BlockWithTxs fetches a block with its raw transactions (0 = latest).
func (c *Client) BlockWithTxs(ctx context.Context, height uint64) (BlockInfo, error) {
	return c.block(ctx, height, true)
}

func (c *Client) block(ctx context.Context, height uint64, txs bool) (BlockInfo, error) {
	h := "latest"
	if height > 0 {
		h = fmt.Sprint(height)
	}
	if txs {
		h += "?txs=true"
	}
	var b BlockInfo
	return b, c.do(ctx, http.MethodGet, "/v1/blocks/"+h, nil, "", &b)
}

// Account fetches an account, optionally with state proofs.
func (c *Client) Account(ctx context.Context, addr chain.Address, prove bool) (Account, error) {
	var a Account
	return a, c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/accounts/%s?prove=%t", addr, prove), nil, "", &a)
}

// Validators fetches the set at height (0 = latest).
func (c *Client) Validators(ctx context.Context, height uint64) (Validators, error) {
	var v Validators
	path := "/v1/validators"
	if height > 0 {
		path += fmt.Sprintf("?height=%d", height)
	}
	return v, c.do(ctx, http.MethodGet, path, nil, "", &v)
}

// Query runs a module query.
func (c *Client) Query(ctx context.Context, module, path string, args map[string]string, out any) error {
	q := url.Values{}
	for k, v := range args {
		q.Set(k, v)
	}
	p := fmt.Sprintf("/v1/query/%s/%s", url.PathEscape(module), url.PathEscape(path))
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return c.do(ctx, http.MethodGet, p, nil, "", out)
}

// Peers fetches /v1/peers.
func (c *Client) Peers(ctx context.Context, out any) error {
	return c.do(ctx, http.MethodGet, "/v1/peers", nil, "", out)
}

// Deny blocks (deny=true) or unblocks a peer.
func (c *Client) Deny(ctx context.Context, peerID string, deny bool) error {
	m := http.MethodPost
	if !deny {
		m = http.MethodDelete
	}
	return c.do(ctx, m, "/v1/peers/"+url.PathEscape(peerID)+"/deny", nil, "", nil)
}
