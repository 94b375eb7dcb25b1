package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dure-network/dure/apps/subnet"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/chain/light"
	"github.com/dure-network/dure/chain/state"
	"github.com/dure-network/dure/node"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
)

// Top-down relaying: a subnet node reads the parent's deposits for its
// subnet at the parent's head, with their state proof, and the parent
// light blocks that carry the subnet's trusted parent header to that
// head, and submits them in one topdown transaction on the subnet. The
// subnet module verifies all of it; nothing here is trusted.

// topdownRounds bounds the transactions one topdown call sends.
const topdownRounds = 8

// topdown submits the parent's unapplied deposits (or a fresh header)
// to the subnet, one transaction after another until the subnet is caught
// up (at most topdownRounds, each waiting for the last to commit); nil,
// nil when there is nothing to do or this chain follows no parent.
func (a *subnetAgent) topdown(ctx context.Context) (any, error) {
	var rounds []any
	for len(rounds) < topdownRounds {
		out, err := a.topdownOnce(ctx)
		if err != nil {
			if len(rounds) > 0 {
				return nil, fmt.Errorf("after %d topdown transactions: %w", len(rounds), err)
			}
			return nil, err
		}
		if out == nil {
			break
		}
		rounds = append(rounds, out)
	}
	switch len(rounds) {
	case 0:
		return nil, nil
	case 1:
		return rounds[0], nil
	}
	return map[string]any{"topdown": true, "rounds": rounds}, nil
}

// topdownOnce sends the next topdown subnet.PlanTopDown plans (when the
// path is too long for one transaction, its verified prefix).
func (a *subnetAgent) topdownOnce(ctx context.Context) (any, error) {
	var td subnet.TopDownState
	if _, err := provenQuery(ctx, a.sub, subnet.ModuleName, "topdown", nil, &td); err != nil {
		if strings.Contains(err.Error(), subnet.ErrNoTopDown.Error()) {
			return nil, nil
		}
		return nil, fmt.Errorf("subnet topdown state: %w", err)
	}
	if td.Subnet != a.id {
		return nil, fmt.Errorf("this subnet follows its parent as %q, not %q", td.Subnet, a.id)
	}
	codec := chain.MustCodec()
	msg, target, err := subnet.PlanTopDown(ctx, codec, apiParent{a.parent}, &td, chain.TimeOf(time.Now()))
	if err != nil || msg == nil {
		return nil, err
	}
	m, err := subnet.MsgTopDown(codec, *msg)
	if err != nil {
		return nil, err
	}
	fee, err := a.topdownFee(ctx, msg, len(m.Body))
	if err != nil {
		return nil, err
	}
	res, err := submitSigned(ctx, a.sub, a.key, fee, m)
	if err != nil {
		return nil, fmt.Errorf("topdown to parent height %d: %w", target, err)
	}
	return map[string]any{"topdown": true, "height": target, "blocks": len(msg.Blocks), "deposits": len(msg.Deposits),
		"from_nonce": td.Applied, "fee": fee, "tx": res}, nil
}

// topdownFee is the max fee to offer for msg on the subnet (the whole of
// it is charged): the estimated gas at the subnet's own gas_per_fee_unit,
// at least its min_fee and --subnet-fee, both read from the subnet node.
func (a *subnetAgent) topdownFee(ctx context.Context, msg *subnet.TopDown, bodyBytes int) (uint64, error) {
	st, err := a.sub.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("subnet fee parameters: %w", apiErr(err))
	}
	var sigs int
	for _, b := range msg.Blocks {
		sigs += len(b.Commit.Sigs)
	}
	return feeFor(subnet.TopDownGas(bodyBytes, sigs, len(msg.Deposits)), st.Fees, a.fee), nil
}

// feeFor is the fee covering gas at the chain's fee parameters, at least
// its min_fee and floor. A node that does not report them (older than
// the fees field) is assumed to run the defaults.
func feeFor(gas uint64, fp *api.FeeParams, floor uint64) uint64 {
	p := genesis.DefaultParams()
	per, minFee := p.GasPerFeeUnit, p.MinFee
	if fp != nil && fp.GasPerFeeUnit > 0 {
		per, minFee = fp.GasPerFeeUnit, fp.MinFee
	}
	return max(floor, minFee, (gas+per-1)/per)
}

// apiParent serves subnet.ParentSource from a parent node's API.
type apiParent struct{ cl *api.Client }

func (p apiParent) LightBlock(ctx context.Context, h uint64) (*light.LightBlock, *chain.ValidatorSet, error) {
	return parentLightBlock(ctx, p.cl, h)
}

func (p apiParent) Deposits(ctx context.Context, id string, from uint64, limit int) (subnet.ParentDeposits, error) {
	var res api.QueryResult
	args := map[string]string{"subnet": id, "from": strconv.FormatUint(from, 10), "limit": strconv.Itoa(limit), "prove": "true"}
	if err := p.cl.Query(ctx, subnet.ModuleName, "deposits", args, &res); err != nil {
		return subnet.ParentDeposits{}, apiErr(err)
	}
	raw, err := json.Marshal(res.Result)
	if err != nil {
		return subnet.ParentDeposits{}, err
	}
	out := subnet.ParentDeposits{Height: res.Height}
	if err := json.Unmarshal(raw, &out.Deposits); err != nil {
		return subnet.ParentDeposits{}, err
	}
	for _, d := range out.Deposits {
		key := subnet.DepositStateKey(id, d.Nonce)
		var p *state.Proof
		for _, kp := range res.Proofs {
			if string(kp.Key) == string(key) {
				p = new(state.Proof)
				if err := json.Unmarshal(kp.Proof, p); err != nil {
					return subnet.ParentDeposits{}, fmt.Errorf("proof of deposit %d: %w", d.Nonce, err)
				}
			}
		}
		if p == nil {
			return subnet.ParentDeposits{}, fmt.Errorf("the parent sent no proof of deposit %d", d.Nonce)
		}
		out.Proofs = append(out.Proofs, *p)
	}
	return out, nil
}

// parentLightBlock fetches height's header, commit and set, and the set
// signing height+1, from the parent's API (verified by the caller).
func parentLightBlock(ctx context.Context, cl *api.Client, height uint64) (*light.LightBlock, *chain.ValidatorSet, error) {
	b, err := cl.Block(ctx, height)
	if err != nil {
		return nil, nil, fmt.Errorf("parent block %d: %w", height, apiErr(err))
	}
	if b.Header.Height != height || b.Commit == nil {
		return nil, nil, fmt.Errorf("parent block %d: the parent served height %d or no commit", height, b.Header.Height)
	}
	set := func(h uint64) (*chain.ValidatorSet, error) {
		v, err := cl.Validators(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("parent validators of %d: %w", h, apiErr(err))
		}
		return chain.NewValidatorSet(v.Validators)
	}
	vs, err := set(height)
	if err != nil {
		return nil, nil, err
	}
	next, err := set(height + 1)
	if err != nil {
		return nil, nil, err
	}
	return &light.LightBlock{Header: b.Header, Commit: b.Commit, Validators: vs}, next, nil
}

// followCmd prints the "topdown" part of a subnet's genesis section: the
// parent it follows, trusted from the parent's genesis or from a header
// whose block ID was got out of band.
func followCmd(g *globals) *cobra.Command {
	var id, trust, parentAPI string
	c := &cobra.Command{Use: "follow [<parent genesis.json>]", Short: "The topdown genesis section making a subnet follow its parent and mint its deposits",
		Long: `follow prints the "topdown" object to put in the subnet's genesis under
app_state.subnet: the subnet's id on the parent, the parent's chain ID, and the
parent state the subnet's light client trusts from. From the parent's genesis
file: its genesis time and validators. With --trust height:block_id (got from a
source you trust) and --parent-api: that parent header, checked to have that ID
and a commit of more than 2/3 of its set, with its state root and next set —
what a parent older than the trusting period (14 days) needs.`,
		Example: "  dure subnet follow ~/.dure/genesis.json --subnet garden-coop\n" +
			"  dure subnet follow --subnet garden-coop --trust 12000:bafyrei… --parent-api http://127.0.0.1:26600",
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if id == "" {
				return usageErr("--subnet is required")
			}
			if trust != "" {
				if parentAPI == "" || len(args) > 0 {
					return usageErr("--trust takes --parent-api and no genesis file")
				}
				tg, err := trustedParent(c.Context(), api.NewClient(parentAPI), id, trust, "")
				if err != nil {
					return err
				}
				return printJSON(g.stdout, tg)
			}
			if len(args) != 1 {
				return usageErr("give the parent's genesis.json, or --trust height:block_id with --parent-api")
			}
			gen, err := genesis.Load(args[0])
			if err != nil {
				return withCode(ExitUsage, err)
			}
			vs, err := gen.ValidatorSet()
			if err != nil {
				return withCode(ExitUsage, err)
			}
			return printJSON(g.stdout, subnet.TopDownGenesis{Subnet: id, ParentChainID: gen.ChainID,
				Time: chain.TimeOf(gen.GenesisTime), Validators: vs.Validators})
		}}
	c.Flags().StringVar(&id, "subnet", "", "the subnet's id on the parent (required)")
	c.Flags().StringVar(&trust, "trust", "", "trust the parent header height:block_id instead of its genesis")
	c.Flags().StringVar(&parentAPI, "parent-api", "", "API address of a parent node serving that header (with --trust)")
	return c
}

// trustedParent is the topdown section trusting the parent header named
// by "height:block_id", as served by cl and checked here; parentChain,
// when set, is the chain the header must be of (a re-trust: the subnet's
// parent_chain_id, which the module cannot check, since a vote carries no
// header).
func trustedParent(ctx context.Context, cl *api.Client, id, trust, parentChain string) (subnet.TopDownGenesis, error) {
	hs, ids, ok := strings.Cut(trust, ":")
	h, err := strconv.ParseUint(hs, 10, 64)
	if !ok || err != nil || h == 0 {
		return subnet.TopDownGenesis{}, usageErr("--trust %q: want height:block_id, e.g. 1200:bafyrei…", trust)
	}
	want, err := chain.ParseID(ids)
	if err != nil {
		return subnet.TopDownGenesis{}, usageErr("--trust %q: %v", trust, err)
	}
	lb, next, err := parentLightBlock(ctx, cl, h)
	if err != nil {
		return subnet.TopDownGenesis{}, err
	}
	codec := chain.MustCodec()
	if got := lb.Header.ID(codec); got != want {
		return subnet.TopDownGenesis{}, withCode(ExitError, fmt.Errorf("parent block %d is %s at the parent node, not %s", h, got, want))
	}
	if parentChain != "" && lb.Header.ChainID != parentChain {
		return subnet.TopDownGenesis{}, withCode(ExitError, fmt.Errorf("parent block %d is of chain %q, not the subnet's parent chain %q", h, lb.Header.ChainID, parentChain))
	}
	if err := light.CheckOwn(codec, lb.Header.ChainID, lb); err != nil {
		return subnet.TopDownGenesis{}, withCode(ExitError, err)
	}
	st, err := light.After(codec, lb, next)
	if err != nil {
		return subnet.TopDownGenesis{}, withCode(ExitError, err)
	}
	return subnet.TopDownGenesis{Subnet: id, ParentChainID: st.ChainID, Height: st.Height, BlockID: st.BlockID, Time: st.Time,
		StateRoot: lb.Header.StateRoot, Validators: st.NextValidators}, nil
}

// reclaimCmd pays back, on the parent, a deposit a halted subnet had
// parked in its inbox at its last checkpoint, by the proof of that entry
// read from a stopped subnet node's store (as escape does for balances).
func (f *subnetFlags) reclaimCmd(g *globals) *cobra.Command {
	var dataHome string
	var nonce uint64
	c := &cobra.Command{Use: "reclaim", Short: "Pay back a deposit a halted subnet had parked (not minted), by a proof from a stopped subnet node's data",
		Long: `After a subnet halts, a deposit it applied but parked in its inbox (it could
not be minted) is neither refundable nor in any balance: reclaim proves the
inbox entry against the state root of the parent's last checkpoint, reading a
stopped subnet node's data directory (--data), and pays the deposit back to its
sender on the parent. --from signs and pays the fee.`,
		Example: "  dure subnet reclaim --subnet garden-coop --nonce 3 --data /tmp/coop/node0 --from alice --parent http://127.0.0.1:26600",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := f.needs(c); err != nil {
				return err
			}
			if dataHome == "" {
				return usageErr("--data is required")
			}
			key, err := f.signer(g)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(c.Context(), f.timeout)
			defer cancel()
			s, err := f.checkpointed(ctx)
			if err != nil {
				return err
			}
			value, proof, err := proveKeyAtCheckpoint(dataHome, s.Last.Height, s.Last.StateRoot, subnet.InboxStateKey(nonce))
			if err != nil {
				return err
			}
			if len(value) == 0 {
				return withCode(ExitNotFound, fmt.Errorf("deposit %d was not parked on the subnet at checkpoint %d", nonce, s.Last.Height))
			}
			msg, err := subnet.MsgReclaim(chain.MustCodec(), subnet.Reclaim{Subnet: f.id, Nonce: nonce, Value: value, Proof: *proof})
			if err != nil {
				return err
			}
			return f.submitToParent(ctx, g, key, msg, map[string]any{"nonce": nonce, "checkpoint": s.Last.Height, "state_root": s.Last.StateRoot})
		}}
	c.Flags().StringVar(&f.id, "subnet", "", "subnet id (required)")
	c.Flags().Uint64Var(&nonce, "nonce", 0, "the parked deposit's nonce")
	c.Flags().StringVar(&dataHome, "data", "", "home of a stopped node of the subnet, whose store holds the checkpointed height")
	return c
}

// topdownCmd relays the parent's deposits to the subnet once, or with
// --watch for as long as it runs: what dure start --subnet does beside a
// validator, for anyone with an account on the subnet.
func (f *subnetFlags) topdownCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "topdown", Short: "Relay the parent's deposits (and headers) to the subnet, where they are minted (anyone may)",
		Example: "  dure subnet topdown --subnet garden-coop --node http://127.0.0.1:27600 --parent http://127.0.0.1:26600 --from dave --watch 2s",
		Long: `topdown reads the subnet's trusted parent header and deposits applied (from
--node, the subnet), then from the parent (--parent) the deposits not yet
applied with their state proof at the parent's head and the parent headers
leading there from the trusted one, and sends them in one topdown transaction
signed by --from on the subnet, which verifies all of it and mints. With
--watch it keeps relaying; duplicates of what another relayer sent are no-ops.`,
		Args: cobra.NoArgs,
		RunE: f.agentRunE(g, (*subnetAgent).topdown,
			map[string]any{"topdown": false, "reason": "the subnet has applied every deposit and trusts a recent parent header (or follows no parent)"})}
	c.Flags().StringVar(&f.id, "subnet", "", "subnet id (required)")
	c.Flags().DurationVar(&f.watch, "watch", 0, "keep relaying, polling this often")
	return c
}

// proveKeyAtCheckpoint reads a full state key at height h from a stopped
// node's store (home) and proves it against that height's state root,
// which must be the checkpoint's; an absent key is a nil value.
func proveKeyAtCheckpoint(home string, h uint64, root chain.Hash, key []byte) ([]byte, *state.Proof, error) {
	cfg, err := config.Load(filepath.Join(home, config.FileName))
	if err != nil {
		return nil, nil, withCode(ExitUsage, err)
	}
	value, p, err := node.ProveStored(cfg, h, root, key)
	if err != nil {
		return nil, nil, nodeErr(err)
	}
	return value, p, nil
}

// retrustCmd votes, as one of the subnet's validators, for a new trusted
// parent header once the subnet's trust in its parent expired; the subnet
// installs it when validators holding more than 2/3 of its power voted for
// the same header.
func (f *subnetFlags) retrustCmd(g *globals) *cobra.Command {
	var trust string
	c := &cobra.Command{Use: "retrust", Short: "Vote (as a subnet validator) for a new trusted parent header after the subnet's trust expired",
		Long: `A subnet trusts its parent's headers for 14 days of its block time after the
last one relayed; past that no relayer can move it. Each of the subnet's
validators then checks a recent parent header it trusts (--trust
height:block_id, got from a source it trusts: its own parent node, a
neighbour) and votes for it: retrust fetches that header from --parent,
checks its ID and that more than 2/3 of its set signed it, and sends the vote
signed by --from on the subnet (--node). Once validators holding more than 2/3
of the subnet's power voted for the same header it is trusted, and relaying
(dure start --subnet, dure subnet topdown) goes on from it with the deposits
applied so far.`,
		Example: "  dure subnet retrust --subnet garden-coop --trust 912000:bafyrei… --parent http://127.0.0.1:26600 --node http://127.0.0.1:27600 --from validator",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := f.needs(c); err != nil {
				return err
			}
			if trust == "" {
				return usageErr("--trust height:block_id is required")
			}
			key, err := f.signer(g)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(c.Context(), f.timeout)
			defer cancel()
			var cur subnet.TopDownState
			if _, err := provenQuery(ctx, f.client(g), subnet.ModuleName, "topdown", nil, &cur); err != nil {
				return fmt.Errorf("subnet topdown state: %w", err)
			}
			tg, err := trustedParent(ctx, f.parentClient(), f.id, trust, cur.ParentChainID)
			if err != nil {
				return err
			}
			msg, err := subnet.MsgRetrust(chain.MustCodec(), subnet.Retrust{Height: tg.Height, BlockID: tg.BlockID, Time: tg.Time,
				StateRoot: tg.StateRoot, NextValidators: tg.Validators})
			if err != nil {
				return err
			}
			res, err := submitSigned(ctx, f.client(g), key, f.fee, msg)
			if err != nil {
				return err
			}
			var td subnet.TopDownState
			if _, err := provenQuery(ctx, f.client(g), subnet.ModuleName, "topdown", nil, &td); err != nil {
				return fmt.Errorf("subnet topdown state: %w", err)
			}
			installed := td.Height == tg.Height && td.BlockID == tg.BlockID
			return printJSON(g.stdout, map[string]any{"height": tg.Height, "block_id": tg.BlockID, "installed": installed, "tx": res})
		}}
	c.Flags().StringVar(&f.id, "subnet", "", "subnet id (required)")
	c.Flags().StringVar(&trust, "trust", "", "the parent header height:block_id to trust (required)")
	return c
}
