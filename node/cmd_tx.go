package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/apps/staking"
	"github.com/dure-network/dure/chain"
)

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// txFlags are shared by every `dure tx` command.
type txFlags struct {
	clientFlags
	keyFlags
	from    string
	fee     uint64
	nonce   int64
	noWait  bool
	timeout time.Duration
}

func (f *txFlags) register(c *cobra.Command) {
	f.clientFlags.register(c)
	c.PersistentFlags().StringVar(&f.keyFlags.backend, "keyring-backend", "", `"file" or "test" (default from config)`)
	c.PersistentFlags().StringVar(&f.keyFlags.passFile, "passphrase-file", "", "file whose first line is the keyring passphrase")
	c.PersistentFlags().StringVar(&f.from, "from", "", "name of the signing key in the keyring (required)")
	c.PersistentFlags().Uint64Var(&f.fee, "fee", 10, "fee in "+NativeDenom+" (at least the chain's min_fee); the whole fee is charged")
	c.PersistentFlags().Int64Var(&f.nonce, "nonce", -1, "account nonce (default: the account's next nonce from the node)")
	c.PersistentFlags().BoolVar(&f.noWait, "no-wait", false, "return after the node accepts the tx, without waiting for a block")
	c.PersistentFlags().DurationVar(&f.timeout, "timeout", 60*time.Second, "how long to wait for the node")
}

// resolveAddr accepts a bech32 address or the name of a key in the keyring.
func (f *txFlags) resolveAddr(g *globals, s string) (chain.Address, error) {
	if a, err := chain.ParseAddress(s); err == nil {
		return a, nil
	}
	ks, err := openKeyring(keyringCfg(g.home), f.keyFlags.backend, f.keyFlags.passFile, g.stderr)
	if err != nil {
		return chain.Address{}, err
	}
	in, err := ks.Show(s)
	if err != nil {
		return chain.Address{}, usageErr("%q is neither a dure1... address nor a key in the keyring: %v", s, err)
	}
	return in.Address, nil
}

func (f *txFlags) signer(g *globals) (chain.PrivKey, error) {
	if f.from == "" {
		return chain.PrivKey{}, usageErr("--from is required: the name of the key that signs (see 'dure keys list')")
	}
	ks, err := openKeyring(keyringCfg(g.home), f.keyFlags.backend, f.keyFlags.passFile, g.stderr)
	if err != nil {
		return chain.PrivKey{}, err
	}
	k, err := ks.Signer(f.from)
	if err != nil {
		return chain.PrivKey{}, keyErrCode(err)
	}
	return k, nil
}

// txResult is what `dure tx` prints.
type txResult struct {
	ID     chain.ID `json:"id"`
	Height uint64   `json:"height,omitempty"`
	Code   uint32   `json:"code"`
	Log    string   `json:"log,omitempty"`
	Events any      `json:"events,omitempty"`
}

// broadcast signs msgs with --from and submits them.
func (f *txFlags) broadcast(ctx context.Context, g *globals, build func(c *chain.Codec, from chain.PrivKey) ([]chain.Msg, error)) error {
	key, err := f.signer(g)
	if err != nil {
		return err
	}
	codec := chain.MustCodec()
	msgs, err := build(codec, key)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	cl := f.client(g)
	st, err := cl.Status(ctx)
	if err != nil {
		return apiErr(err)
	}
	nonce := uint64(f.nonce)
	if f.nonce < 0 {
		acct, err := cl.Account(ctx, key.PubKey().Address(), false)
		if err != nil {
			return apiErr(err)
		}
		nonce = acct.Nonce
	}
	tx := chain.Tx{ChainID: st.ChainID, Nonce: nonce, MaxFee: f.fee, Msgs: msgs}
	raw, err := tx.Sign(codec, key)
	if err != nil {
		return err
	}
	res, err := cl.Submit(ctx, raw, !f.noWait)
	if err != nil {
		return apiErr(err)
	}
	out := txResult{ID: res.ID, Height: res.Height}
	if res.Result != nil {
		out.Code, out.Log, out.Events = res.Result.Code, res.Result.Log, res.Result.Events
	}
	if err := printJSON(g.stdout, out); err != nil {
		return err
	}
	if out.Code != chain.CodeOK {
		return withCode(ExitError, fmt.Errorf("tx %s committed at height %d but failed (code %d): %s", out.ID, out.Height, out.Code, out.Log))
	}
	return nil
}

func newTxCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tx",
		Short:   "Sign and send transactions (currency, staking)",
		Example: "  dure tx currency send --from alice --to bob --amount 100\n  dure tx staking bond --from validator --amount 2000000",
		Long: `tx builds a transaction, signs it locally with a key from the keyring (--from)
and submits it to a node's API, by default waiting until it is in a block.
Addresses may be written as dure1... or as the name of a key in your keyring.`,
	}
	cmd.AddCommand(newTxCurrencyCmd(g), newTxStakingCmd(g))
	return cmd
}

func newTxCurrencyCmd(g *globals) *cobra.Command {
	f := &txFlags{}
	cmd := &cobra.Command{
		Use:   "currency",
		Short: "Local currencies: send, create, mint, pay merchants, vouchers, volunteer hours",
		Example: `  dure tx currency send --from alice --to bob --amount 100
  dure tx currency create --from city --denom nw --holding-cap 50000 --expiry 26280h --transfer merchants --redeemable --hourly-rate 700
  dure tx currency grant --from city --denom nw --role coordinator --account center
  dure tx currency confirm-hours --from center --denom nw --volunteer alice --hours 2
  dure tx currency register-merchant --from city --denom nw --merchant bakery --categories food
  dure tx currency pay --from alice --denom nw --merchant bakery --amount 1400 --category food`,
	}
	f.register(cmd)
	var (
		to, denom, role, account, merchant, category, reference, volunteer string
		amount                                                             uint64
		categories                                                         []string
		hours, minutes                                                     uint32
	)
	addr := func(s, flag string) (chain.Address, error) {
		if s == "" {
			return chain.Address{}, usageErr("--%s is required", flag)
		}
		return f.resolveAddr(g, s)
	}
	sub := func(use, short, example string, flags func(*cobra.Command), build func(c *chain.Codec, k chain.PrivKey) (chain.Msg, error)) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, Example: example, Args: cobra.NoArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				return f.broadcast(c.Context(), g, func(cd *chain.Codec, k chain.PrivKey) ([]chain.Msg, error) {
					m, err := build(cd, k)
					if err != nil {
						return nil, err
					}
					return []chain.Msg{m}, nil
				})
			}}
		flags(c)
		return c
	}
	fDenom := func(c *cobra.Command, def string) { c.Flags().StringVar(&denom, "denom", def, "currency denomination") }
	fAmount := func(c *cobra.Command) {
		c.Flags().Uint64Var(&amount, "amount", 0, "amount in the currency's smallest unit")
	}

	cmd.AddCommand(
		sub("send", "Send tokens to an account", "  dure tx currency send --from alice --to dure1... --amount 100 --denom dure",
			func(c *cobra.Command) {
				c.Flags().StringVar(&to, "to", "", "recipient")
				fDenom(c, NativeDenom)
				fAmount(c)
			},
			func(cd *chain.Codec, _ chain.PrivKey) (chain.Msg, error) {
				a, err := addr(to, "to")
				if err != nil {
					return chain.Msg{}, err
				}
				if denom == "" { // flag variables are shared by the subcommands
					denom = NativeDenom
				}
				return currency.MsgSend(cd, a, denom, amount)
			}),
		sub("mint", "Mint new units (issuer or minter role)", "  dure tx currency mint --from city --denom nw --to alice --amount 5000",
			func(c *cobra.Command) { c.Flags().StringVar(&to, "to", "", "recipient"); fDenom(c, ""); fAmount(c) },
			func(cd *chain.Codec, _ chain.PrivKey) (chain.Msg, error) {
				a, err := addr(to, "to")
				if err != nil {
					return chain.Msg{}, err
				}
				return currency.MsgMint(cd, denom, a, amount)
			}),
		sub("burn", "Destroy units from your own balance", "  dure tx currency burn --from alice --denom nw --amount 100",
			func(c *cobra.Command) { fDenom(c, ""); fAmount(c) },
			func(cd *chain.Codec, _ chain.PrivKey) (chain.Msg, error) { return currency.MsgBurn(cd, denom, amount) }),
		sub("pay", "Pay an approved merchant (vouchers: in an allowed category)", "  dure tx currency pay --from alice --denom food-voucher --merchant market --amount 3000 --category food",
			func(c *cobra.Command) {
				c.Flags().StringVar(&merchant, "merchant", "", "merchant account")
				c.Flags().StringVar(&category, "category", "", "what is bought (must be one of the merchant's categories)")
				fDenom(c, "")
				fAmount(c)
			},
			func(cd *chain.Codec, _ chain.PrivKey) (chain.Msg, error) {
				a, err := addr(merchant, "merchant")
				if err != nil {
					return chain.Msg{}, err
				}
				return currency.MsgPay(cd, a, denom, amount, category)
			}),
		sub("grant", "Issuer grants a role: minter, approver or coordinator", "  dure tx currency grant --from city --denom nw --role approver --account clerk",
			func(c *cobra.Command) {
				c.Flags().StringVar(&role, "role", "", `"minter", "approver" or "coordinator"`)
				c.Flags().StringVar(&account, "account", "", "who gets the role")
				fDenom(c, "")
			},
			func(cd *chain.Codec, _ chain.PrivKey) (chain.Msg, error) {
				a, err := addr(account, "account")
				if err != nil {
					return chain.Msg{}, err
				}
				return currency.MsgGrant(cd, denom, role, a)
			}),
		sub("revoke", "Issuer revokes a role", "  dure tx currency revoke --from city --denom nw --role approver --account clerk",
			func(c *cobra.Command) {
				c.Flags().StringVar(&role, "role", "", `"minter", "approver" or "coordinator"`)
				c.Flags().StringVar(&account, "account", "", "who loses the role")
				fDenom(c, "")
			},
			func(cd *chain.Codec, _ chain.PrivKey) (chain.Msg, error) {
				a, err := addr(account, "account")
				if err != nil {
					return chain.Msg{}, err
				}
				return currency.MsgRevoke(cd, denom, role, a)
			}),
		sub("register-merchant", "Approver registers a merchant with its categories", "  dure tx currency register-merchant --from clerk --denom nw --merchant bakery --categories food,education",
			func(c *cobra.Command) {
				c.Flags().StringVar(&merchant, "merchant", "", "merchant account")
				c.Flags().StringSliceVar(&categories, "categories", nil, "comma-separated categories, e.g. food,education,transport")
				fDenom(c, "")
			},
			func(cd *chain.Codec, _ chain.PrivKey) (chain.Msg, error) {
				a, err := addr(merchant, "merchant")
				if err != nil {
					return chain.Msg{}, err
				}
				return currency.MsgRegisterMerchant(cd, denom, a, categories)
			}),
		sub("suspend-merchant", "Approver suspends a merchant", "  dure tx currency suspend-merchant --from clerk --denom nw --merchant bakery",
			func(c *cobra.Command) {
				c.Flags().StringVar(&merchant, "merchant", "", "merchant account")
				fDenom(c, "")
			},
			func(cd *chain.Codec, _ chain.PrivKey) (chain.Msg, error) {
				a, err := addr(merchant, "merchant")
				if err != nil {
					return chain.Msg{}, err
				}
				return currency.MsgSuspendMerchant(cd, denom, a)
			}),
		sub("redeem", "Merchant redeems units for off-ledger settlement (burns them, keeps a record)", "  dure tx currency redeem --from bakery --denom nw --amount 10000 --reference invoice-2026-11",
			func(c *cobra.Command) {
				c.Flags().StringVar(&reference, "reference", "", "settlement reference, e.g. an invoice number")
				fDenom(c, "")
				fAmount(c)
			},
			func(cd *chain.Codec, _ chain.PrivKey) (chain.Msg, error) {
				return currency.MsgRedeem(cd, denom, amount, reference)
			}),
		sub("confirm-hours", "Coordinator confirms volunteer hours; mints hours × the currency's hourly rate", "  dure tx currency confirm-hours --from center --denom nw --volunteer alice --hours 2 --minutes 30",
			func(c *cobra.Command) {
				c.Flags().StringVar(&volunteer, "volunteer", "", "who volunteered")
				c.Flags().Uint32Var(&hours, "hours", 0, "whole hours")
				c.Flags().Uint32Var(&minutes, "minutes", 0, "extra minutes")
				fDenom(c, "")
			},
			func(cd *chain.Codec, _ chain.PrivKey) (chain.Msg, error) {
				a, err := addr(volunteer, "volunteer")
				if err != nil {
					return chain.Msg{}, err
				}
				return currency.MsgConfirmHours(cd, denom, a, hours, minutes)
			}),
		newCreateCurrencyCmd(f, g),
	)
	return cmd
}

func newCreateCurrencyCmd(f *txFlags, g *globals) *cobra.Command {
	var (
		denom, transfer, voucherEnd string
		decimals                    uint8
		rules                       currency.Rules
		expiry, demPeriod           time.Duration
		categories                  []string
	)
	c := &cobra.Command{
		Use:   "create",
		Short: "Create a local currency or voucher; you become its issuer",
		Long: `create defines a currency whose rules are configuration: a holding cap,
expiry of minted lots, demurrage, whether holders may pay each other or only
merchants, redeemability, purpose restriction (categories) with an end date,
and an hourly rate for volunteer hours or time-bank mode.`,
		Example: `  # Seoul Nowon "NW": 700 per volunteer hour, 50,000 cap, 3-year expiry, merchants only
  dure tx currency create --from city --denom nw --holding-cap 50000 --expiry 26280h \
      --transfer merchants --redeemable --hourly-rate 700
  # Suwon food voucher, spendable on food until the end of 2027
  dure tx currency create --from city --denom food-voucher --transfer merchants --redeemable \
      --categories food --voucher-end 2027-12-31T23:59:59Z
  # A time bank: one hour given = 60 minutes of credit, transferable
  dure tx currency create --from coop --denom hours --time-bank --transfer free`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules.ExpirySeconds = int64(expiry / time.Second)
			rules.DemurragePeriod = int64(demPeriod / time.Second)
			rules.Transfer = transfer
			rules.Categories = categories
			if voucherEnd != "" {
				t, err := time.Parse(time.RFC3339, voucherEnd)
				if err != nil {
					return usageErr("--voucher-end %q: use RFC 3339, e.g. 2027-12-31T23:59:59Z", voucherEnd)
				}
				rules.VoucherEnd = t.UnixNano()
			}
			return f.broadcast(cmd.Context(), g, func(cd *chain.Codec, _ chain.PrivKey) ([]chain.Msg, error) {
				m, err := currency.MsgCreate(cd, denom, decimals, rules)
				return []chain.Msg{m}, err
			})
		},
	}
	fl := c.Flags()
	fl.StringVar(&denom, "denom", "", "new denomination, e.g. nw")
	fl.Uint8Var(&decimals, "decimals", 0, "display decimals")
	fl.Uint64Var(&rules.HoldingCap, "holding-cap", 0, "most an ordinary holder may hold (0: no cap)")
	fl.DurationVar(&expiry, "expiry", 0, "lifetime of minted units, e.g. 26280h for 3 years (0: never)")
	fl.Uint32Var(&rules.DemurrageBP, "demurrage-bp", 0, "basis points burned per demurrage period")
	fl.DurationVar(&demPeriod, "demurrage-period", 0, "demurrage period, e.g. 720h")
	fl.StringVar(&transfer, "transfer", "free", `"free" (holders pay each other) or "merchants" (only approved merchants)`)
	fl.BoolVar(&rules.Redeemable, "redeemable", false, "merchants may redeem for off-ledger settlement")
	fl.StringSliceVar(&categories, "categories", nil, "purpose restriction: payable only to merchants of these categories")
	fl.StringVar(&voucherEnd, "voucher-end", "", "time after which units cannot be spent; the rest returns to the issuer (RFC 3339)")
	fl.Uint64Var(&rules.HourlyRate, "hourly-rate", 0, "units minted per confirmed volunteer hour (0: disabled)")
	fl.BoolVar(&rules.TimeBank, "time-bank", false, "time bank: amounts are minutes, one confirmed hour mints 60")
	return c
}

func newTxStakingCmd(g *globals) *cobra.Command {
	f := &txFlags{}
	cmd := &cobra.Command{
		Use:   "staking",
		Short: "Bond stake to validate, delegate, unbond, unjail",
		Example: `  dure tx staking bond --from validator --amount 2000000
  dure tx staking delegate --from alice --validator dure1... --amount 500000
  dure tx staking unbond --from validator --all
  dure tx staking unjail --from validator`,
	}
	f.register(cmd)
	var (
		amount    uint64
		all       bool
		validator string
	)
	run := func(build func(cd *chain.Codec, k chain.PrivKey) (chain.Msg, error)) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, _ []string) error {
			return f.broadcast(c.Context(), g, func(cd *chain.Codec, k chain.PrivKey) ([]chain.Msg, error) {
				m, err := build(cd, k)
				return []chain.Msg{m}, err
			})
		}
	}
	valAddr := func() (chain.Address, error) {
		if validator == "" {
			return chain.Address{}, usageErr("--validator is required")
		}
		return f.resolveAddr(g, validator)
	}
	bond := &cobra.Command{Use: "bond", Example: "  dure tx staking bond --from validator --amount 2000000", Short: "Bond stake with your key as a validator (creates it, or adds stake)", Args: cobra.NoArgs,
		RunE: run(func(cd *chain.Codec, k chain.PrivKey) (chain.Msg, error) {
			return staking.MsgBond(cd, k.PubKey(), amount)
		})}
	bond.Flags().Uint64Var(&amount, "amount", 0, "tokens to bond (the first bond needs at least the min self-stake)")
	unbond := &cobra.Command{Use: "unbond", Example: "  dure tx staking unbond --from validator --amount 500000", Short: "Start unbonding self-stake (released after the unbonding period)", Args: cobra.NoArgs,
		RunE: run(func(cd *chain.Codec, _ chain.PrivKey) (chain.Msg, error) {
			if all {
				return staking.MsgUnbondAll(cd)
			}
			return staking.MsgUnbond(cd, amount)
		})}
	unbond.Flags().Uint64Var(&amount, "amount", 0, "tokens to unbond")
	unbond.Flags().BoolVar(&all, "all", false, "unbond everything")
	delegate := &cobra.Command{Use: "delegate", Example: "  dure tx staking delegate --from alice --validator dure1... --amount 500000", Short: "Delegate tokens to a validator", Args: cobra.NoArgs,
		RunE: run(func(cd *chain.Codec, _ chain.PrivKey) (chain.Msg, error) {
			v, err := valAddr()
			if err != nil {
				return chain.Msg{}, err
			}
			return staking.MsgDelegate(cd, v, amount)
		})}
	delegate.Flags().Uint64Var(&amount, "amount", 0, "tokens to delegate")
	delegate.Flags().StringVar(&validator, "validator", "", "validator address or key name")
	undelegate := &cobra.Command{Use: "undelegate", Example: "  dure tx staking undelegate --from alice --validator dure1... --all", Short: "Withdraw a delegation (after the unbonding period)", Args: cobra.NoArgs,
		RunE: run(func(cd *chain.Codec, _ chain.PrivKey) (chain.Msg, error) {
			v, err := valAddr()
			if err != nil {
				return chain.Msg{}, err
			}
			if all {
				return staking.MsgUndelegateAll(cd, v)
			}
			return staking.MsgUndelegate(cd, v, amount)
		})}
	undelegate.Flags().Uint64Var(&amount, "amount", 0, "tokens to withdraw")
	undelegate.Flags().BoolVar(&all, "all", false, "withdraw everything")
	undelegate.Flags().StringVar(&validator, "validator", "", "validator address or key name")
	unjail := &cobra.Command{Use: "unjail", Example: "  dure tx staking unjail --from validator", Short: "Return a jailed validator to the set after its jail time", Args: cobra.NoArgs,
		RunE: run(func(cd *chain.Codec, _ chain.PrivKey) (chain.Msg, error) { return staking.MsgUnjail(cd) })}
	cmd.AddCommand(bond, unbond, delegate, undelegate, unjail)
	return cmd
}
