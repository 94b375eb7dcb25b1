package light

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dure-network/dure/chain"
)

// Errors callers branch on.
var (
	// ErrNoTrust: the client has no trusted state yet; trust a genesis or
	// a checkpoint first.
	ErrNoTrust = errors.New("light: no trusted state")
	// ErrTrustExpired: the trusted header is older than the trusting
	// period; re-trust from a fresh checkpoint.
	ErrTrustExpired = errors.New("light: trusted state expired")
	// ErrInvalidHeader: the provider served a header that fails
	// verification (bad commit, wrong validator set, wrong chain).
	ErrInvalidHeader = errors.New("light: invalid header")
	// ErrNotEnoughTrust: the trusted validators hold too little of the
	// power that signed the target header to skip to it.
	ErrNotEnoughTrust = errors.New("light: not enough trusted power signed the header")
	// ErrConflictingHeaders: two providers served different headers for
	// one height that both verify: a fork, or a light-client attack.
	ErrConflictingHeaders = errors.New("light: conflicting headers")
	// ErrBackwards: the height is below the trusted one and cannot be
	// reached by parent links within MaxBackwards.
	ErrBackwards = errors.New("light: height below the trusted state")
)

// LightBlock is what the client needs of one height.
type LightBlock struct {
	Header     chain.Header
	Commit     *chain.Commit       // the commit that finalised Header
	Validators *chain.ValidatorSet // the set that signed it (hash in Header.ValidatorsHash)
}

// Provider serves light blocks and validator sets. ValidatorSet(h) is the
// set signing height h, which may be one past the provider's head.
type Provider interface {
	LightBlock(ctx context.Context, height uint64) (*LightBlock, error)
	ValidatorSet(ctx context.Context, height uint64) (*chain.ValidatorSet, error)
}

// TrustedState is what the client trusts, persisted between runs.
type TrustedState struct {
	ChainID string     `json:"chain_id"`
	Height  uint64     `json:"height"`   // 0: genesis
	BlockID chain.ID   `json:"block_id"` // empty at genesis
	Time    chain.Time `json:"time"`     // header (or genesis) time
	// NextValidators is the set signing Height+1, verified against the
	// trusted header's NextValidatorsHash (or taken from genesis).
	NextValidators []chain.Validator `json:"next_validators"`
}

// Store keeps the trusted state. Load returns ErrNoTrust when empty.
type Store interface {
	Load() (TrustedState, error)
	Save(TrustedState) error
}

// Fraction is a trust level: Num/Den of the trusted power.
type Fraction struct{ Num, Den uint64 }

// Defaults.
var (
	DefaultTrustLevel = Fraction{1, 3}
)

const (
	DefaultTrustingPeriod = 14 * 24 * time.Hour
	// DefaultMaxBackwards bounds how many parent links a backward
	// verification follows.
	DefaultMaxBackwards = 10_000
	// MaxClockDrift bounds how far a header's time may be ahead of ours.
	MaxClockDrift = 10 * time.Second
)

// Config builds a Client.
type Config struct {
	ChainID        string
	Codec          *chain.Codec
	Primary        Provider
	Witnesses      []Provider
	Store          Store
	TrustLevel     Fraction      // zero: 1/3
	TrustingPeriod time.Duration // zero: 14 days
	MaxBackwards   uint64        // zero: 10,000
	Now            func() time.Time
}

// Client verifies headers against its trusted state.
type Client struct {
	cfg     Config
	trusted *TrustedState
}

// New opens a client on its store. With an empty store it returns the
// client and ErrNoTrust: call TrustGenesis or TrustCheckpoint.
func New(cfg Config) (*Client, error) {
	if cfg.Codec == nil || cfg.Primary == nil || cfg.Store == nil || cfg.ChainID == "" {
		return nil, errors.New("light: Config needs ChainID, Codec, Primary and Store")
	}
	if cfg.TrustLevel.Den == 0 {
		cfg.TrustLevel = DefaultTrustLevel
	}
	if cfg.TrustLevel.Num == 0 || cfg.TrustLevel.Num*3 < cfg.TrustLevel.Den || cfg.TrustLevel.Num > cfg.TrustLevel.Den {
		return nil, fmt.Errorf("light: trust level %d/%d must be within [1/3, 1]", cfg.TrustLevel.Num, cfg.TrustLevel.Den)
	}
	if cfg.TrustingPeriod == 0 {
		cfg.TrustingPeriod = DefaultTrustingPeriod
	}
	if cfg.MaxBackwards == 0 {
		cfg.MaxBackwards = DefaultMaxBackwards
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{cfg: cfg}
	st, err := cfg.Store.Load()
	if err != nil {
		return c, err
	}
	if st.ChainID != cfg.ChainID {
		return c, fmt.Errorf("light: trusted state is for chain %q, not %q: %w", st.ChainID, cfg.ChainID, ErrNoTrust)
	}
	c.trusted = &st
	return c, nil
}

// Trusted returns the trusted state, or ErrNoTrust.
func (c *Client) Trusted() (TrustedState, error) {
	if c.trusted == nil {
		return TrustedState{}, ErrNoTrust
	}
	return *c.trusted, nil
}

// TrustGenesis trusts the chain's genesis validator set and time.
func (c *Client) TrustGenesis(vals []chain.Validator, genesisTime chain.Time) error {
	if _, err := chain.NewValidatorSet(vals); err != nil {
		return fmt.Errorf("light: genesis validators: %w", err)
	}
	return c.save(TrustedState{ChainID: c.cfg.ChainID, Time: genesisTime, NextValidators: vals})
}

// TrustCheckpoint trusts the header at height with this block ID, as
// served by the primary, after checking its commit and the next set.
func (c *Client) TrustCheckpoint(ctx context.Context, height uint64, id chain.ID) error {
	lb, err := c.cfg.Primary.LightBlock(ctx, height)
	if err != nil {
		return fmt.Errorf("light: checkpoint %d: %w", height, err)
	}
	if got := lb.Header.ID(c.cfg.Codec); got != id {
		return fmt.Errorf("%w: checkpoint %d is %s at the primary, not %s", ErrInvalidHeader, height, got, id)
	}
	if err := c.checkOwn(lb); err != nil {
		return err
	}
	st, err := c.stateAt(ctx, c.cfg.Primary, lb)
	if err != nil {
		return err
	}
	return c.save(st)
}

// Verify returns the primary's light block at height after verifying it
// from the trusted state, moves the trusted state up to it (when above),
// and cross-checks the witnesses.
func (c *Client) Verify(ctx context.Context, height uint64) (*LightBlock, error) {
	if c.trusted == nil {
		return nil, ErrNoTrust
	}
	if err := c.checkExpiry(c.trusted.Time); err != nil {
		return nil, err
	}
	if height <= c.trusted.Height {
		return c.verifyBackwards(ctx, height)
	}
	from := *c.trusted
	lb, states, err := c.verifyForward(ctx, c.cfg.Primary, from, height)
	if err != nil {
		return nil, err
	}
	if err := c.crossCheck(ctx, from, lb); err != nil {
		return nil, err
	}
	if err := c.save(states); err != nil {
		return nil, err
	}
	return lb, nil
}

// verifyForward reaches height from st through p, bisecting when a skip
// lacks trust. It returns the target block and the state trusting it.
func (c *Client) verifyForward(ctx context.Context, p Provider, st TrustedState, height uint64) (*LightBlock, TrustedState, error) {
	// pending holds heights still to reach, innermost last.
	pending := []uint64{height}
	var last *LightBlock
	for len(pending) > 0 {
		h := pending[len(pending)-1]
		lb, err := p.LightBlock(ctx, h)
		if err != nil {
			return nil, st, fmt.Errorf("light: fetch %d: %w", h, err)
		}
		err = c.verifyStep(st, lb)
		if errors.Is(err, ErrNotEnoughTrust) && h > st.Height+1 {
			pending = append(pending, st.Height+(h-st.Height)/2)
			continue
		}
		if err != nil {
			return nil, st, err
		}
		next, err := c.stateAt(ctx, p, lb)
		if err != nil {
			return nil, st, err
		}
		st, last = next, lb
		pending = pending[:len(pending)-1]
	}
	return last, st, nil
}

// verifyStep checks lb against st: sequentially when adjacent, else with
// the trust-level rule.
func (c *Client) verifyStep(st TrustedState, lb *LightBlock) error {
	return VerifyStep(c.cfg.Codec, st, lb, c.cfg.TrustLevel, chain.TimeOf(c.cfg.Now()))
}

// checkOwn checks a light block on its own: chain, shapes, the set hashes
// to the header, and more than 2/3 of it signed the commit.
func (c *Client) checkOwn(lb *LightBlock) error { return CheckOwn(c.cfg.Codec, c.cfg.ChainID, lb) }

// VerifyStep is one step of the client's verification, with no I/O and no
// clock: lb is checked on its own (CheckOwn, against st.ChainID), its time
// must be after st's and at most MaxClockDrift after now, and then either
// sequentially (lb is st's next height: its validators are st's trusted
// next set and its parent is st's block) or by skipping (validators of
// st's next set holding at least level of its power signed lb's commit;
// ErrNotEnoughTrust otherwise). Client.Verify runs it with now from its
// clock; a chain verifying another chain's headers (apps/subnet) runs it
// with its own block time, so the result is a function of the data alone.
func VerifyStep(c *chain.Codec, st TrustedState, lb *LightBlock, level Fraction, now chain.Time) error {
	if err := CheckOwn(c, st.ChainID, lb); err != nil {
		return err
	}
	h := &lb.Header
	if h.Time <= st.Time && st.Height > 0 {
		return fmt.Errorf("%w: header %d time %s not after trusted %s", ErrInvalidHeader, h.Height, h.Time, st.Time)
	}
	if ahead := h.Time.Sub(now); ahead > MaxClockDrift {
		return fmt.Errorf("%w: header %d is %s in the future", ErrInvalidHeader, h.Height, ahead)
	}
	trustedNext, err := chain.NewValidatorSet(st.NextValidators)
	if err != nil {
		return fmt.Errorf("light: trusted next validators: %w", err)
	}
	if h.Height <= st.Height {
		return fmt.Errorf("%w: header %d is not above the trusted height %d", ErrBackwards, h.Height, st.Height)
	}
	if h.Height == st.Height+1 {
		if h.ValidatorsHash != trustedNext.Hash(c) {
			return fmt.Errorf("%w: header %d validators hash is not the trusted next set", ErrInvalidHeader, h.Height)
		}
		if st.Height > 0 && h.Parent != st.BlockID {
			return fmt.Errorf("%w: header %d parent %s, trusted %s", ErrInvalidHeader, h.Height, h.Parent, st.BlockID)
		}
		return nil
	}
	return checkTrustOverlap(c, st.ChainID, level, trustedNext, lb.Commit)
}

// CheckOwn checks a light block on its own: chain, shapes, the set hashes
// to the header, and more than 2/3 of it signed the commit.
func CheckOwn(c *chain.Codec, chainID string, lb *LightBlock) error {
	h := &lb.Header
	switch {
	case h.ChainID != chainID:
		return fmt.Errorf("%w: chain %q", ErrInvalidHeader, h.ChainID)
	case lb.Validators == nil || lb.Commit == nil:
		return fmt.Errorf("%w: header %d without commit or validators", ErrInvalidHeader, h.Height)
	case lb.Validators.Hash(c) != h.ValidatorsHash:
		return fmt.Errorf("%w: header %d: served validator set does not hash to the header's", ErrInvalidHeader, h.Height)
	}
	if err := chain.VerifyCommit(c, chainID, lb.Validators, lb.Commit, h.Height, h.ID(c)); err != nil {
		return fmt.Errorf("%w: header %d: %w", ErrInvalidHeader, h.Height, err)
	}
	return nil
}

// After is the trusted state once lb is verified: its header and next,
// the set signing lb's height+1, checked against NextValidatorsHash.
func After(c *chain.Codec, lb *LightBlock, next *chain.ValidatorSet) (TrustedState, error) {
	h := &lb.Header
	if next.Hash(c) != h.NextValidatorsHash {
		return TrustedState{}, fmt.Errorf("%w: validators of %d do not hash to header %d's next validators", ErrInvalidHeader, h.Height+1, h.Height)
	}
	return TrustedState{ChainID: h.ChainID, Height: h.Height, BlockID: h.ID(c), Time: h.Time,
		NextValidators: append([]chain.Validator(nil), next.Validators...)}, nil
}

// checkTrustOverlap requires that trusted validators holding at least the
// trust level of the trusted power signed the commit. The signatures were
// verified with the header's own set; a trusted validator counts only if
// its key there is the trusted one.
func checkTrustOverlap(c *chain.Codec, chainID string, lv Fraction, trusted *chain.ValidatorSet, cm *chain.Commit) error {
	var power uint64
	msg := chain.VoteSignBytes(c, chainID, chain.Precommit, cm.Height, cm.Round, cm.BlockID)
	for _, s := range cm.Sigs {
		v, _, ok := trusted.ByAddress(s.Validator)
		if !ok {
			continue
		}
		if !chain.VerifySig(v.PubKey, msg, s.Sig) {
			continue
		}
		power += v.Power
	}
	// power/total >= num/den, without overflow: total <= 2^60.
	if mulLess(power, lv.Den, trusted.TotalPower(), lv.Num) {
		return fmt.Errorf("%w: %d of %d trusted power at height %d, need %d/%d", ErrNotEnoughTrust, power, trusted.TotalPower(), cm.Height, lv.Num, lv.Den)
	}
	return nil
}

// mulLess reports a*b < c*d with 128-bit products.
func mulLess(a, b, c, d uint64) bool {
	ah, al := mul64(a, b)
	ch, cl := mul64(c, d)
	return ah < ch || (ah == ch && al < cl)
}

// stateAt is the trusted state after lb: its header plus the next set,
// fetched and checked against NextValidatorsHash.
func (c *Client) stateAt(ctx context.Context, p Provider, lb *LightBlock) (TrustedState, error) {
	next, err := p.ValidatorSet(ctx, lb.Header.Height+1)
	if err != nil {
		return TrustedState{}, fmt.Errorf("light: validators of %d: %w", lb.Header.Height+1, err)
	}
	return After(c.cfg.Codec, lb, next)
}

// verifyBackwards reaches a height at or below the trusted one by parent
// links from the trusted header down.
func (c *Client) verifyBackwards(ctx context.Context, height uint64) (*LightBlock, error) {
	st := c.trusted
	if height == 0 || st.Height-height > c.cfg.MaxBackwards {
		return nil, fmt.Errorf("%w: %d (trusted %d, max %d back)", ErrBackwards, height, st.Height, c.cfg.MaxBackwards)
	}
	want := st.BlockID
	for h := st.Height; ; h-- {
		lb, err := c.cfg.Primary.LightBlock(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("light: fetch %d: %w", h, err)
		}
		if got := lb.Header.ID(c.cfg.Codec); got != want {
			return nil, fmt.Errorf("%w: header %d is %s, its child names %s", ErrInvalidHeader, h, got, want)
		}
		if h == height {
			if err := c.checkOwn(lb); err != nil {
				return nil, err
			}
			return lb, nil
		}
		want = lb.Header.Parent
	}
}

// crossCheck asks each witness for the target height. A witness serving
// the same header agrees; one serving a different header that verifies
// from the same trusted state proves a fork.
func (c *Client) crossCheck(ctx context.Context, from TrustedState, lb *LightBlock) error {
	id := lb.Header.ID(c.cfg.Codec)
	for i, w := range c.cfg.Witnesses {
		wb, err := w.LightBlock(ctx, lb.Header.Height)
		if err != nil {
			continue // an unreachable witness is no evidence either way
		}
		if wb.Header.ID(c.cfg.Codec) == id {
			continue
		}
		if _, _, err := c.verifyForward(ctx, w, from, lb.Header.Height); err != nil {
			continue // the witness lies, not the primary
		}
		return &ConflictError{Height: lb.Header.Height, Primary: lb, Witness: wb, WitnessIndex: i}
	}
	return nil
}

// ConflictError is fork evidence: two verifying headers for one height.
type ConflictError struct {
	Height       uint64
	Primary      *LightBlock
	Witness      *LightBlock
	WitnessIndex int
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("light: conflicting headers at %d: primary and witness %d both serve verifying headers", e.Height, e.WitnessIndex)
}

// Unwrap makes errors.Is(err, ErrConflictingHeaders) hold.
func (e *ConflictError) Unwrap() error { return ErrConflictingHeaders }

func (c *Client) checkExpiry(t chain.Time) error {
	if c.cfg.Now().Sub(t.Std()) > c.cfg.TrustingPeriod {
		return fmt.Errorf("%w: trusted header time %s is more than %s ago", ErrTrustExpired, t, c.cfg.TrustingPeriod)
	}
	return nil
}

func (c *Client) save(st TrustedState) error {
	if err := c.cfg.Store.Save(st); err != nil {
		return fmt.Errorf("light: save trusted state: %w", err)
	}
	c.trusted = &st
	return nil
}
