package api

import (
	"context"
	"fmt"

	"github.com/dure-network/dure/chain"
)

// HeaderTrustingNode fetches the header at height and checks that it was
// committed by more than 2/3 of the validator set the node reports for that
// height (the set checked only against the header's hash): the CLI's
// --trust-node mode, and the check tests use. The CLI's default is the
// light client (chain/light), which does not take the set from the node.
func (c *Client) HeaderTrustingNode(ctx context.Context, height uint64) (chain.Header, *chain.Commit, error) {
	blk, err := c.Block(ctx, height)
	if err != nil {
		return chain.Header{}, nil, err
	}
	codec := chain.MustCodec()
	if blk.Header.Height != height {
		return chain.Header{}, nil, fmt.Errorf("asked for block %d, got %d", height, blk.Header.Height)
	}
	vals, err := c.Validators(ctx, height)
	if err != nil {
		return chain.Header{}, nil, err
	}
	vs, err := chain.NewValidatorSet(vals.Validators)
	if err != nil {
		return chain.Header{}, nil, err
	}
	if vs.Hash(codec) != blk.Header.ValidatorsHash {
		return chain.Header{}, nil, fmt.Errorf("block %d: validator set does not match the header's validators hash", height)
	}
	if err := chain.VerifyCommit(codec, blk.Header.ChainID, vs, blk.Commit, height, blk.Header.ID(codec)); err != nil {
		return chain.Header{}, nil, fmt.Errorf("block %d: %w", height, err)
	}
	return blk.Header, blk.Commit, nil
}
