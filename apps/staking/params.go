package staking

import (
	"fmt"

	"github.com/dure-network/dure/chain"
)

// Params are the staking rules, fixed at genesis.
type Params struct {
	_ struct{} `cbor:",toarray"`
	// BondDenom is the currency denom that is staked and paid as rewards.
	BondDenom string `json:"bond_denom"`
	// MinSelfStake is what an operator must bond to create a validator and
	// keep, in self-stake value, to stay eligible for the active set.
	MinSelfStake uint64 `json:"min_self_stake"`
	// MaxValidators is N: the active set is the top N eligible validators.
	MaxValidators uint32 `json:"max_validators"`
	// UnbondingSeconds is how long (in block time) unbonded tokens stay
	// slashable in the unbonding pool before they are released.
	UnbondingSeconds uint64 `json:"unbonding_seconds"`
	// DowntimeWindow is the number of recent blocks liveness is judged over.
	DowntimeWindow uint64 `json:"downtime_window"`
	// MinSignedPerWindow is how many of the last DowntimeWindow commits an
	// active validator must sign; fewer jails it.
	MinSignedPerWindow uint64 `json:"min_signed_per_window"`
	// JailSeconds is how long (in block time) a downtime-jailed validator
	// must wait before it may unjail.
	JailSeconds uint64 `json:"jail_seconds"`
	// DoubleSignSlashBps and DowntimeSlashBps are the fractions of a
	// validator's tokens slashed, in basis points (1/10,000).
	DoubleSignSlashBps uint32 `json:"double_sign_slash_bps"`
	DowntimeSlashBps   uint32 `json:"downtime_slash_bps"`
	// PowerReduction is how many tokens make one unit of consensus power.
	PowerReduction uint64 `json:"power_reduction"`
	// RewardSource is the account whose bond-denom balance is paid out as
	// rewards at every EndBlock (the node sets currency's fee collector).
	// The zero address turns rewards off.
	RewardSource chain.Address `json:"reward_source"`
}

// Limits on params that keep state and arithmetic bounded.
const (
	MaxDowntimeWindow = 1 << 16
	bpsDenominator    = 10_000
	// maxPower caps one validator's power so that a full set's total stays
	// within what chain.ValidatorSet accepts (2^60).
	maxPower = (uint64(1) << 60) / chain.MaxValidators
	// MaxUnbondingEntries bounds pending unbondings per delegator.
	MaxUnbondingEntries = 16
)

// DefaultParams are sensible values for a small community chain.
func DefaultParams(bondDenom string) Params {
	return Params{
		BondDenom:          bondDenom,
		MinSelfStake:       1_000_000,
		MaxValidators:      100,
		UnbondingSeconds:   21 * 24 * 3600,
		DowntimeWindow:     1000,
		MinSignedPerWindow: 500,
		JailSeconds:        600,
		DoubleSignSlashBps: 500,
		DowntimeSlashBps:   1,
		PowerReduction:     1_000_000,
	}
}

// Validate checks the params for internal consistency.
func (p *Params) Validate() error {
	switch {
	case p.BondDenom == "" || len(p.BondDenom) > chain.MaxNameLen:
		return fmt.Errorf("%w: bond_denom must be 1..%d characters", ErrBadParams, chain.MaxNameLen)
	case p.MaxValidators == 0 || p.MaxValidators > chain.MaxValidators:
		return fmt.Errorf("%w: max_validators %d, want 1..%d", ErrBadParams, p.MaxValidators, chain.MaxValidators)
	case p.PowerReduction == 0:
		return fmt.Errorf("%w: power_reduction must be at least 1", ErrBadParams)
	case p.DowntimeWindow == 0 || p.DowntimeWindow > MaxDowntimeWindow:
		return fmt.Errorf("%w: downtime_window %d, want 1..%d", ErrBadParams, p.DowntimeWindow, MaxDowntimeWindow)
	case p.MinSignedPerWindow > p.DowntimeWindow:
		return fmt.Errorf("%w: min_signed_per_window %d exceeds downtime_window %d", ErrBadParams, p.MinSignedPerWindow, p.DowntimeWindow)
	case p.DoubleSignSlashBps > bpsDenominator || p.DowntimeSlashBps > bpsDenominator:
		return fmt.Errorf("%w: slash fractions must be at most %d bps", ErrBadParams, bpsDenominator)
	case p.UnbondingSeconds > maxSeconds || p.JailSeconds > maxSeconds:
		return fmt.Errorf("%w: unbonding_seconds and jail_seconds must be at most %d", ErrBadParams, uint64(maxSeconds))
	}
	return nil
}

// maxSeconds keeps seconds*1e9 inside int64 nanoseconds with room to add.
const maxSeconds = 100 * 365 * 24 * 3600

// power converts tokens to consensus power.
func (p *Params) power(tokens uint64) uint64 {
	pw := tokens / p.PowerReduction
	if pw > maxPower {
		pw = maxPower
	}
	return pw
}

// after returns block time t plus secs seconds, saturating.
func after(t chain.Time, secs uint64) chain.Time {
	d := chain.Time(int64(secs) * 1_000_000_000) // secs <= maxSeconds: no overflow
	if t > 0 && d > (1<<63-1)-t {
		return 1<<63 - 1
	}
	return t + d
}

// marker is the value of index keys whose presence is the information (the
// state refuses empty values: they are indistinguishable from absence).
var marker = []byte{1}
