package subnet

import (
	"context"
	"errors"
	"fmt"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/light"
	"github.com/dure-network/dure/chain/state"
)

// Relaying top-down: what a relayer sends is planned here, from what the
// parent serves through a ParentSource, so the planning is one function of
// that source and the subnet's TopDownState. node/cli reads the source from
// the parent's API; tests serve a real signed chain. Nothing the source
// serves is trusted: the plan checks each block as chain/light does, and
// the subnet's execution checks it all again.

// Bounds of one planned topdown transaction.
const (
	// RelayMaxDeposits is the most deposits a relayer reads and sends at
	// once (the module accepts MaxTopDownDeposits).
	RelayMaxDeposits = 100
	// RelayMaxBytes is the most a planned topdown message may encode to:
	// a transaction's limit less room for its envelope and signature.
	RelayMaxBytes = chain.MaxTxBytes - 4096
	// RelayRefresh: with no new deposit, the trusted parent header is still
	// moved forward once it is this many parent blocks behind.
	RelayRefresh = 1000
)

// ErrRelayTooLarge: one parent header with its commit does not fit in a
// transaction on its own.
var ErrRelayTooLarge = errors.New("subnet: a parent header does not fit in one topdown transaction")

// ParentSource is what a relayer reads from the parent; node/cli serves it
// from the parent's API.
type ParentSource interface {
	// LightBlock is height's header, commit and set, and the set signing
	// height+1 (unverified).
	LightBlock(ctx context.Context, height uint64) (*light.LightBlock, *chain.ValidatorSet, error)
	// Deposits are the subnet's deposit records from nonce from on, at most
	// limit, read at the parent's latest height, with the state proof of
	// each against that height's header.
	Deposits(ctx context.Context, subnet string, from uint64, limit int) (ParentDeposits, error)
}

// ParentDeposits is a read of deposits at one parent height: Proofs[i]
// proves Deposits[i] against the state root of the header at Height.
type ParentDeposits struct {
	Height   uint64
	Deposits []Deposit
	Proofs   []state.Proof
}

// PlanTopDown is the next topdown message moving td towards the parent's
// head: the light blocks from td's trusted header (bisecting where the
// parent's set changed by more than 2/3, as chain/light does), and the
// unapplied deposits proven at the head. When the path is longer than
// MaxTopDownBlocks or RelayMaxBytes it is a verified prefix without
// deposits, and the next plan, after it is applied, goes on from its end.
// nil when the subnet has applied every deposit and its trusted header
// needs no refresh (refreshDue). now is the relayer's clock, used only to
// refuse headers its own check would (the subnet uses its block time).
// The returned height is the last block's (the height moved to).
func PlanTopDown(ctx context.Context, c *chain.Codec, src ParentSource, td *TopDownState, now chain.Time) (*TopDown, uint64, error) {
	pd, err := src.Deposits(ctx, td.Subnet, td.Applied, RelayMaxDeposits)
	if err != nil {
		return nil, 0, fmt.Errorf("parent deposits: %w", err)
	}
	if len(pd.Proofs) != len(pd.Deposits) {
		return nil, 0, fmt.Errorf("parent deposits: %d records, %d proofs", len(pd.Deposits), len(pd.Proofs))
	}
	if len(pd.Deposits) == 0 && !refreshDue(td, pd.Height, now) {
		return nil, 0, nil
	}
	msg := &TopDown{}
	if pd.Height > td.Height {
		if msg.Blocks, err = ParentPath(ctx, c, src, td.trusted(), pd.Height, now); err != nil {
			return nil, 0, err
		}
	}
	fits := func() bool { b, err := c.Marshal(msg); return err == nil && len(b) <= RelayMaxBytes }
	// A path that does not fit goes over several transactions: any prefix
	// verifies on its own; deposits wait for the one reaching the head.
	for len(msg.Blocks) > 1 && !fits() {
		msg.Blocks = msg.Blocks[:len(msg.Blocks)-1]
	}
	if n := len(msg.Blocks); n > 0 && msg.Blocks[n-1].Header.Height != pd.Height {
		if !fits() {
			return nil, 0, fmt.Errorf("%w: height %d", ErrRelayTooLarge, msg.Blocks[0].Header.Height)
		}
		return msg, msg.Blocks[n-1].Header.Height, nil
	}
	// The longest run of deposits from the first that fits, proven by its
	// last record.
	for n := len(pd.Deposits); n > 0; n /= 2 {
		msg.Deposits, msg.Proof = pd.Deposits[:n], pd.Proofs[n-1]
		if fits() {
			break
		}
		msg.Deposits, msg.Proof = nil, state.Proof{}
	}
	if !fits() {
		return nil, 0, fmt.Errorf("%w: parent headers %d to %d", ErrRelayTooLarge, td.Height, pd.Height)
	}
	if len(msg.Blocks) == 0 && len(msg.Deposits) == 0 {
		return nil, 0, nil
	}
	return msg, pd.Height, nil
}

// refreshDue: with nothing to mint, the trusted header is still moved to
// the parent's head once it is RelayRefresh blocks or a quarter of the
// trusting period behind (by the relayer's clock), so it expires only
// after that long without any relaying, however slow the parent's blocks.
func refreshDue(td *TopDownState, head uint64, now chain.Time) bool {
	if head <= td.Height {
		return false
	}
	age := now.Sub(td.Time)
	return head >= td.Height+RelayRefresh || (age > 0 && uint64(age) > td.TrustingPeriodNs/4)
}

// ParentPath is the light blocks carrying st to target, each verifying
// from the one before (sequentially, or skipping when at least 1/3 of the
// trusted power signed): the target itself when it can, else bisecting
// down to the header where the set changed. Past MaxTopDownBlocks it is
// the verified prefix.
func ParentPath(ctx context.Context, c *chain.Codec, src ParentSource, st light.TrustedState, target uint64, now chain.Time) ([]ParentBlock, error) {
	var path []ParentBlock
	pending := []uint64{target}
	for len(pending) > 0 {
		h := pending[len(pending)-1]
		lb, next, err := src.LightBlock(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("parent block %d: %w", h, err)
		}
		err = light.VerifyStep(c, st, lb, light.DefaultTrustLevel, now)
		if errors.Is(err, light.ErrNotEnoughTrust) && h > st.Height+1 {
			pending = append(pending, st.Height+(h-st.Height)/2)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parent block %d: %w", h, err)
		}
		if st, err = light.After(c, lb, next); err != nil {
			return nil, fmt.Errorf("parent block %d: %w", h, err)
		}
		pb := ParentBlock{Header: lb.Header, Commit: *lb.Commit, Validators: lb.Validators.Validators}
		if next.Hash(c) != lb.Validators.Hash(c) {
			pb.NextValidators = next.Validators
		}
		path = append(path, pb)
		pending = pending[:len(pending)-1]
		if len(path) == MaxTopDownBlocks && len(pending) > 0 {
			break // a verified prefix: the next topdown goes on from its end
		}
	}
	return path, nil
}

// TopDownGas is an upper estimate of the gas a topdown message of
// bodyBytes carrying sigs commit signatures and deps deposits uses, for
// the fee a relayer offers (the whole max fee is charged).
func TopDownGas(bodyBytes, sigs, deps int) uint64 {
	return 11_000 + chain.GasPerTxByte*uint64(bodyBytes+200) + uint64(sigs)*GasPerSignature + 1_000*uint64(deps)
}

// CheckpointGas is an upper estimate of the gas the parent charges for a
// checkpoint message of bodyBytes carrying sigs signatures (each: its
// batch-verification gas, the member read and its bytes), for the fee a
// relayer offers.
func CheckpointGas(bodyBytes, sigs int) uint64 {
	return 11_000 + chain.GasPerTxByte*uint64(bodyBytes+200) + uint64(sigs)*(GasPerSignature+2_500)
}
