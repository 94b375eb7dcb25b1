package subnet

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/dure-network/dure/chain"
)

func parseHash(s string) (chain.Hash, error) {
	var h chain.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("want %d bytes in hex", len(h))
	}
	copy(h[:], b)
	return h, nil
}

func checkHash(s string) error { _, err := parseHash(s); return err }

// parseNewValidator reads "<pubkey hex>:<collateral>".
func parseNewValidator(s string) (NewValidator, error) {
	pk, amt, ok := strings.Cut(s, ":")
	var nv NewValidator
	if !ok {
		return nv, fmt.Errorf("%q: want <pubkey hex>:<collateral>", s)
	}
	if err := nv.PubKey.UnmarshalText([]byte(pk)); err != nil {
		return nv, fmt.Errorf("%q: public key: %v", s, err)
	}
	n, err := strconv.ParseUint(amt, 10, 64)
	if err != nil {
		return nv, fmt.Errorf("%q: collateral: want a whole number", s)
	}
	nv.Collateral = n
	return nv, nil
}

func checkNewValidator(s string) error {
	for _, item := range strings.Split(s, ",") {
		if _, err := parseNewValidator(item); err != nil {
			return err
		}
	}
	return nil
}

// Describe tells clients subnet's messages and queries (chain.Describer).
// Checkpoints, releases, escapes and equivocation evidence carry
// signatures and proofs: the node builds them, not flags.
func (m *Module) Describe() chain.Description {
	sub := chain.Field{Name: "subnet", Kind: chain.FieldString, Required: true, Max: MaxIDLen, Help: "subnet id", Check: validID}
	limit := chain.Field{Name: "limit", Kind: chain.FieldUint, Min: 1, Max: maxQueryItems, Help: "at most this many"}
	return chain.Description{
		Short: "Subnets: neighbourhood chains anchored to this one by checkpoints",
		Long: "A subnet registers here with its validators' collateral; its validators sign a checkpoint every " +
			"period blocks and any of them submits it. Value moves in by deposit and out by a proven withdrawal; " +
			"a subnet that stops checkpointing can be left by a state proof of one's balance.",
		Msgs: []chain.MsgDesc{
			{Type: TypeRegister, Short: "Register a subnet, locking its initial validators' collateral",
				Examples: []string{"dure tx subnet register --from alice --id garden-coop --genesis-hash 9f86d0…  --period 10 " +
					"--validators 3b6a27…:1000000,8a88e3…:1000000,fd6f1d…:1000000"},
				Fields: []chain.Field{
					func() chain.Field { f := sub; f.Name = "id"; return f }(),
					{Name: "genesis-hash", Kind: chain.FieldString, Required: true, Help: "the subnet's genesis hash (hex)", Check: checkHash},
					{Name: "period", Kind: chain.FieldUint, Required: true, Min: 1, Help: "K: subnet blocks between checkpoints"},
					{Name: "private", Kind: chain.FieldBool, Help: "a private subnet (members only dial it)"},
					{Name: "escape-after", Kind: chain.FieldUint, Help: "parent blocks without a checkpoint before holders may escape (0: the chain's minimum)"},
					{Name: "validators", Kind: chain.FieldList, Required: true, Max: MaxSubnetVals, Help: "<pubkey hex>:<collateral>,…", Check: checkNewValidator},
				},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					gh, err := parseHash(v.String("genesis-hash"))
					if err != nil {
						return chain.Msg{}, fmt.Errorf("%w: %v", chain.ErrInvalidMsg, err)
					}
					r := Register{ID: v.String("id"), GenesisHash: gh, Period: v.Uint("period"), Private: v.Bool("private"), EscapeAfter: v.Uint("escape-after")}
					for _, s := range v.List("validators") {
						nv, err := parseNewValidator(s)
						if err != nil {
							return chain.Msg{}, fmt.Errorf("%w: %v", chain.ErrInvalidMsg, err)
						}
						r.Validators = append(r.Validators, nv)
					}
					return MsgRegister(c, r)
				}},
			{Type: TypeJoin, Short: "Lock collateral to validate a subnet (signs once a checkpoint names it)",
				Examples: []string{"dure tx subnet join --from erin --subnet garden-coop --pub-key 3b6a27… --collateral 1000000"},
				Fields: []chain.Field{sub,
					{Name: "pub-key", Kind: chain.FieldString, Required: true, Help: "the validator's subnet key (hex)", Check: func(s string) error {
						var pk chain.PubKey
						return pk.UnmarshalText([]byte(s))
					}},
					{Name: "collateral", Kind: chain.FieldUint, Required: true, Min: 1, Help: "native units to lock"},
				},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					var pk chain.PubKey
					if err := pk.UnmarshalText([]byte(v.String("pub-key"))); err != nil {
						return chain.Msg{}, fmt.Errorf("%w: %v", chain.ErrInvalidMsg, err)
					}
					return MsgJoin(c, v.String("subnet"), pk, v.Uint("collateral"))
				}},
			{Type: TypeLeave, Short: "Ask for a validator's collateral back (released after a checkpoint drops it and unbonding)",
				Examples: []string{"dure tx subnet leave --from erin --subnet garden-coop --validator dure1…"},
				Fields:   []chain.Field{sub, {Name: "validator", Kind: chain.FieldAddress, Required: true, Help: "the validator's address"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgLeave(c, v.String("subnet"), v.Address("validator"))
				}},
			{Type: TypeDeposit, Short: "Lock native tokens here for an account on the subnet",
				Examples: []string{"dure tx subnet deposit --from alice --subnet garden-coop --to dave --amount 5000"},
				Fields: []chain.Field{sub, {Name: "to", Kind: chain.FieldAddress, Required: true, Help: "the account on the subnet"},
					{Name: "amount", Kind: chain.FieldUint, Required: true, Min: 1, Help: "native units"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgDeposit(c, v.String("subnet"), v.Address("to"), v.Uint("amount"))
				}},
			{Type: TypeWithdraw, Short: "On a subnet: burn native tokens, owed on the parent once a checkpoint carries it",
				Examples: []string{"dure tx subnet withdraw --from dave --to dave --amount 1000"},
				Fields: []chain.Field{{Name: "to", Kind: chain.FieldAddress, Required: true, Help: "the account on the parent"},
					{Name: "amount", Kind: chain.FieldUint, Required: true, Min: 1, Help: "native units"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgWithdraw(c, v.Address("to"), v.Uint("amount"))
				}},
			{Type: TypeRefund, Short: "Return a deposit a halted subnet never applied to its sender",
				Examples: []string{"dure tx subnet refund --from alice --subnet garden-coop --nonce 3"},
				Fields:   []chain.Field{sub, {Name: "nonce", Kind: chain.FieldUint, Help: "the deposit's nonce"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgRefund(c, v.String("subnet"), v.Uint("nonce"))
				}},
			{Type: TypeRetry, Short: "On a subnet: mint a parked deposit again (its sender only), to a new recipient or its own",
				Examples: []string{"dure tx subnet retry --from alice --nonce 3 --to dave"},
				Fields: []chain.Field{{Name: "nonce", Kind: chain.FieldUint, Help: "the parked deposit's nonce"},
					{Name: "to", Kind: chain.FieldAddress, Help: "the recipient on the subnet (default: the deposit's)"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgRetry(c, v.Uint("nonce"), v.Address("to"))
				}},
			{Type: TypeReturn, Short: "On a subnet: send a parked deposit back to its sender on the parent (a withdrawal, released by proof)",
				Examples: []string{"dure tx subnet return --from alice --nonce 3"},
				Fields:   []chain.Field{{Name: "nonce", Kind: chain.FieldUint, Help: "the parked deposit's nonce"}},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgReturn(c, v.Uint("nonce"))
				}},
		},
		Queries: []chain.QueryDesc{
			{Path: "params", Short: "The module's parameters", Examples: []string{"dure query subnet params"}},
			{Path: "subnets", Short: "Registered subnets", Args: []chain.Field{limit}, Examples: []string{"dure query subnet subnets"}},
			{Path: "subnet", Short: "One subnet: its set, last checkpoint, locked value, halt", Args: []chain.Field{sub},
				Examples: []string{"dure query subnet subnet --arg subnet=garden-coop"}},
			{Path: "members", Short: "A subnet's registered validators and their collateral", Args: []chain.Field{sub},
				Examples: []string{"dure query subnet members --arg subnet=garden-coop"}},
			{Path: "checkpoint", Short: "An accepted checkpoint with its signatures and signing set (latest without height)",
				Args:     []chain.Field{sub, {Name: "height", Kind: chain.FieldString, Help: "subnet height, or latest"}},
				Examples: []string{"dure query subnet checkpoint --arg subnet=garden-coop --arg height=20"}},
			{Path: "checkpoints", Short: "Accepted checkpoints, oldest first", Args: []chain.Field{sub, limit},
				Examples: []string{"dure query subnet checkpoints --arg subnet=garden-coop"}},
			{Path: "deposits", Short: "Deposits to a subnet by nonce", Args: []chain.Field{sub, {Name: "from", Kind: chain.FieldUint, Help: "first nonce"}, limit},
				Examples: []string{"dure query subnet deposits --arg subnet=garden-coop --arg from=0"}},
			{Path: "outbox", Short: "On a subnet: the outbox root and message count (now, or as of a checkpoint height)",
				Args:     []chain.Field{{Name: "height", Kind: chain.FieldUint, Help: "a checkpoint height"}},
				Examples: []string{"dure query subnet outbox", "dure query subnet outbox --arg height=20"}},
			{Path: "endorsements", Short: "On a subnet: the checkpoints of a height and the validator signatures collected for each",
				Args:     []chain.Field{{Name: "height", Kind: chain.FieldUint, Required: true, Help: "a checkpoint height"}},
				Examples: []string{"dure query subnet endorsements --arg height=20"}},
			{Path: "topdown", Short: "On a subnet: the trusted parent header, deposits applied, value minted, parked and returned",
				Examples: []string{"dure query subnet topdown"}},
			{Path: "inbox", Short: "On a subnet: parked deposits (could not be minted) with their reasons",
				Args: []chain.Field{{Name: "from", Kind: chain.FieldUint, Help: "first nonce"}, limit}, Examples: []string{"dure query subnet inbox"}},
			{Path: "outbox-proof", Short: "On a subnet: a withdrawal and its proof against the outbox of count messages",
				Args: []chain.Field{{Name: "nonce", Kind: chain.FieldUint, Help: "the withdrawal's nonce"},
					{Name: "count", Kind: chain.FieldUint, Required: true, Min: 1, Max: MaxProofLeaves, Help: "the checkpoint's msg_count"}},
				Examples: []string{"dure query subnet outbox-proof --arg nonce=0 --arg count=4"}},
		},
	}
}
