// Package staking is the dure proof-of-stake module: validators bond the
// native token, others delegate to them, the top N by power form the
// consensus set, and misbehaviour is punished by slashing, jailing and
// tombstoning. It reports every set change to consensus through
// chain.Context.UpdateValidator and pays fees out as rewards.
//
// # Construction and the node's duties
//
//	m := staking.New(chain.NewStoreKey("staking"), codec, currencyModule)
//
// The Bank (Balance, Transfer) is apps/currency. The node lists it in its
// module registry after currency, and the executor finds its capabilities
// on the value:
//
//   - chain.ValidatorSetOwner: only staking's contexts may call
//     UpdateValidator, and GenesisValidators(raw) (equal to the set
//     InitGenesis reports) starts consensus; currency's InitGenesis runs
//     first (genesis stakes are transferred out of the funded accounts);
//   - chain.ModuleAccountHolder: BondedPool(), UnbondingPool() and
//     SlashedPool() are module accounts, so the bank exempts them from
//     holding caps and transfer policies; genesis sets
//     params.reward_source to currency.FeeCollector();
//   - chain.BeginBlocker: at the start of every block H, before its txs,
//     BeginBlock reads ctx.Block.LastCommitSigners (the validators in
//     block.LastCommit.Sigs, the commit for H-1; nil at H=1) and
//     ctx.Block.Evidence (already verified against the set of its height);
//   - chain.EndBlocker: the updates EndBlock reports at H apply from H+2;
//   - chain.GenesisExporter: state is exported in snapshot form
//     (chain.Snapshot) and re-imports exactly; chain.Describer builds
//     `dure tx staking` and `dure query staking`.
//
// # Rules
//
//   - One identity per validator: the consensus key is the operator's own
//     account key. bond carries the ed25519 public key and is rejected
//     unless AddressOf(pub_key) is the sender (ErrPubKeyMismatch).
//   - Creating a validator takes at least min_self_stake; later bonds may
//     be any size. A validator is eligible when it is not jailed, not
//     tombstoned, its self-stake is worth at least min_self_stake and its
//     power (tokens / power_reduction, capped so a full set stays under
//     2^60) is at least 1. The active set is the top max_validators
//     eligible by power, ties broken by lower address.
//   - Stake is held as shares: tokens belong to a validator's share
//     holders pro rata. Slashes and rewards change tokens, not shares, so
//     they reach the operator and every delegator alike without visiting
//     each delegation. Buying rounds shares down and selling rounds shares
//     up (the remaining holders never lose); the last holder out takes all
//     remaining tokens, so no dust is stranded.
//   - All delegated tokens sit in BondedPool whether or not the validator
//     is active. Unbond/undelegate move them to UnbondingPool at once; they
//     are released to the owner by the first EndBlock whose block time is
//     at least unbonding_seconds later. Time, not height, because blocks are
//     made on demand. Unbonding stake stays slashable for double-signing.
//     At most MaxUnbondingEntries pending per account.
//   - EndBlock, in order: release matured unbondings; pay rewards; recompute
//     the set and emit one update per change (new power, or 0 for removal)
//     in address order. New members are expected to sign from H+2 on. A
//     recomputation that would leave no validator is refused (the old set
//     stays, event staking.empty_set_refused).
//   - Rewards: the reward source's whole bond-denom balance is moved to
//     BondedPool and split among the unjailed active validators by power:
//     floor(R*p_i/P) each, the remainder (< number of validators) to the
//     top-ranked validator (highest power, then lowest address), so exactly
//     R is paid. Each cut is added to the validator's tokens (compounding
//     for its holders). There is no commission.
//   - Liveness: for each active validator expected to sign the commit for
//     H-1, a bit in a sliding window of downtime_window commits (64 bits per
//     key) records a miss. Once a full window has been counted, more than
//     downtime_window - min_signed_per_window misses in it jails the
//     validator until block time + jail_seconds, slashes
//     downtime_slash_bps of its tokens and resets its window. Only commit
//     signers count: the node should include every precommit it has.
//   - Double-sign evidence: slash double_sign_slash_bps of the offender's
//     current tokens and of its unbonding entries created at or after the
//     infraction height, jail and tombstone it (unjail is refused forever,
//     no new bonds or delegations). Later evidence against a tombstoned
//     validator is ignored. A validator that unbonded everything (and was
//     forgotten) before its evidence arrived still has its unbonding
//     entries slashed and gets a tombstone record, so it cannot bond again.
//   - Slashed tokens go to SlashedPool, which nobody can spend: they leave
//     circulation. Module accounts are sha256(name)[:20] for names
//     "staking/bonded", "staking/unbonding", "staking/slashed".
//   - unjail needs: jailed, not tombstoned, block time >= jailed until, and
//     self-stake >= min_self_stake.
//   - A validator nobody holds shares in, not jailed or tombstoned, is
//     forgotten (so its address can bond afresh).
//
// # Messages
//
// Module "staking"; bodies are canonical CBOR arrays (the Msg*
// constructors build them). Amounts are tokens of bond_denom.
//
//	bond        [pub_key(32 bytes), amount]
//	unbond      [amount, all]               own stake; all=true takes everything (amount 0)
//	delegate    [validator(20 bytes), amount]  not to oneself (use bond)
//	undelegate  [validator, amount, all]
//	unjail      []
//
// # Genesis (JSON)
//
//	{"params": {"bond_denom": "dure", "min_self_stake": 1000000,
//	   "max_validators": 100, "unbonding_seconds": 1814400,
//	   "downtime_window": 1000, "min_signed_per_window": 500,
//	   "jail_seconds": 600, "double_sign_slash_bps": 500,
//	   "downtime_slash_bps": 1, "power_reduction": 1000000,
//	   "reward_source": "dure1…"},
//	 "validators": [{"address": "dure1…", "pub_key": "<64 hex>", "self_stake": 5000000}],
//	 "delegations": [{"delegator": "dure1…", "validator": "dure1…", "amount": 100}]}
//
// # Queries
//
//	params
//	validators [active=true]   []ValidatorInfo by tokens desc, address
//	validator  address=dure1…  ValidatorInfo
//	delegations delegator=dure1…  own stake, delegations, pending unbondings
//
// # State layout (inside the module's store; integers big-endian)
//
//	p                                      Params
//	v/<validator 20>                       validator: pub key, tokens, shares, self shares, jail, tombstone
//	d/<delegator 20><validator 20>         delegation shares (an operator's own are in v/)
//	a/<validator 20>                       active set as last reported: pub key, power, since
//	i/<validator 20>                       liveness: commits counted, misses in window
//	m/<validator 20><chunk u32>            missed bits, u64 per 64 commits (absent = all signed)
//	u/<completion ns u64><seq u64>         unbonding entry (release queue in time order)
//	q/<delegator 20><completion><seq>      {} index of u/ by owner
//	n                                      next unbonding sequence
package staking
