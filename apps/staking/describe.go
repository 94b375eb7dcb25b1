package staking

import "github.com/dure-network/dure/chain"

// Describe tells clients staking's messages and queries
// (chain.Describer); `dure tx staking` and `dure query staking` are built
// from it.
func (m *Module) Describe() chain.Description {
	amount := func(help string) chain.Field { return chain.Field{Name: "amount", Kind: chain.FieldUint, Help: help} }
	all := func(help string) chain.Field { return chain.Field{Name: "all", Kind: chain.FieldBool, Help: help} }
	validator := chain.Field{Name: "validator", Kind: chain.FieldAddress, Required: true, Help: "validator address or key name"}
	return chain.Description{
		Short: "Bond stake to validate, delegate, unbond, unjail",
		Msgs: []chain.MsgDesc{
			{Type: TypeBond, Short: "Bond stake with your key as a validator (creates it, or adds stake)",
				Examples: []string{"dure tx staking bond --from validator --amount 2000000"},
				Fields:   []chain.Field{amount("tokens to bond (the first bond needs at least the min self-stake)")},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgBond(c, v.Signer, v.Uint("amount"))
				}},
			{Type: TypeUnbond, Short: "Start unbonding self-stake (released after the unbonding period)",
				Examples: []string{"dure tx staking unbond --from validator --amount 500000", "dure tx staking unbond --from validator --all"},
				Fields:   []chain.Field{amount("tokens to unbond"), all("unbond everything")},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					if v.Bool("all") {
						return MsgUnbondAll(c)
					}
					return MsgUnbond(c, v.Uint("amount"))
				}},
			{Type: TypeDelegate, Short: "Delegate tokens to a validator",
				Examples: []string{"dure tx staking delegate --from alice --validator dure1... --amount 500000"},
				Fields:   []chain.Field{amount("tokens to delegate"), validator},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					return MsgDelegate(c, v.Address("validator"), v.Uint("amount"))
				}},
			{Type: TypeUndelegate, Short: "Withdraw a delegation (after the unbonding period)",
				Examples: []string{"dure tx staking undelegate --from alice --validator dure1... --all"},
				Fields:   []chain.Field{amount("tokens to withdraw"), all("withdraw everything"), validator},
				Build: func(c *chain.Codec, v chain.Values) (chain.Msg, error) {
					if v.Bool("all") {
						return MsgUndelegateAll(c, v.Address("validator"))
					}
					return MsgUndelegate(c, v.Address("validator"), v.Uint("amount"))
				}},
			{Type: TypeUnjail, Short: "Return a jailed validator to the set after its jail time",
				Examples: []string{"dure tx staking unjail --from validator"},
				Build:    func(c *chain.Codec, _ chain.Values) (chain.Msg, error) { return MsgUnjail(c) }},
		},
		Queries: []chain.QueryDesc{
			{Path: "params", Short: "Staking parameters", Examples: []string{"dure query staking params"}},
			{Path: "validators", Short: "All validators (or only the active set), by tokens descending then address",
				Args:     []chain.Field{{Name: "active", Kind: chain.FieldBool, Help: "only the active set"}},
				Examples: []string{"dure query staking validators", "dure query staking validators --arg active=true"}},
			{Path: "validator", Short: "One validator",
				Args:     []chain.Field{{Name: "address", Kind: chain.FieldAddress, Required: true, Help: "validator address or key name"}},
				Examples: []string{"dure query staking validator --arg address=dure1..."}},
			{Path: "delegations", Short: "An account's delegations and pending unbondings",
				Args:     []chain.Field{{Name: "delegator", Kind: chain.FieldAddress, Required: true, Help: "delegator address or key name"}},
				Examples: []string{"dure query staking delegations --arg delegator=alice"}},
		},
	}
}
