package cli

import (
	"context"
	"encoding/json"
	"errors"
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

// topdownRefresh: with no new deposit, the trusted parent header is still
// moved forward once it is this many parent blocks behind, so it never
// nears the trusting period.
const topdownRefresh = 1000

// topdown submits the parent's unapplied deposits (or a fresh header)
// to the subnet; nil, nil when there is nothing to do or this chain
// follows no parent.
func (a *subnetAgent) topdown(ctx context.Context) (any, error) {
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
	msg, target, err := buildTopDown(ctx, a.parent, &td)
	if err != nil || msg == nil {
		return nil, err
	}
	m, err := subnet.MsgTopDown(chain.MustCodec(), *msg)
	if err != nil {
		return nil, err
	}
	var sigs int
	for _, b := range msg.Blocks {
		sigs += len(b.Commit.Sigs)
	}
	// The whole max fee is charged: offer what the estimated gas needs at
	// the default gas_per_fee_unit (10,000), at least --subnet-fee.
	est := 11_000 + chain.GasPerTxByte*uint64(len(m.Body)+200) + uint64(sigs)*subnet.GasPerSignature + 4_000*uint64(len(msg.Deposits))
	fee := max(a.fee, (est+9_999)/10_000)
	res, err := submitSigned(ctx, a.sub, a.key, fee, m)
	if err != nil {
		return nil, fmt.Errorf("topdown to parent height %d: %w", target, err)
	}
	return map[string]any{"topdown": true, "height": target, "deposits": len(msg.Deposits), "from_nonce": td.Applied, "tx": res}, nil
}

// buildTopDown is the topdown message moving td to the parent's head:
// nil when the subnet has applied every deposit and its trusted header is
// recent.
func buildTopDown(ctx context.Context, parent *api.Client, td *subnet.TopDownState) (*subnet.TopDown, uint64, error) {
	var res api.QueryResult
	args := map[string]string{"subnet": td.Subnet, "from": strconv.FormatUint(td.Applied, 10),
		"limit": strconv.Itoa(min(subnet.MaxTopDownDeposits, 100)), "prove": "true"}
	if err := parent.Query(ctx, subnet.ModuleName, "deposits", args, &res); err != nil {
		return nil, 0, fmt.Errorf("parent deposits: %w", apiErr(err))
	}
	raw, err := json.Marshal(res.Result)
	if err != nil {
		return nil, 0, err
	}
	var deps []subnet.Deposit
	if err := json.Unmarshal(raw, &deps); err != nil {
		return nil, 0, fmt.Errorf("parent deposits: %w", err)
	}
	if len(deps) == 0 && res.Height < td.Height+topdownRefresh {
		return nil, 0, nil
	}
	msg := &subnet.TopDown{}
	if res.Height > td.Height {
		trusted := light.TrustedState{ChainID: td.ParentChainID, Height: td.Height, BlockID: td.BlockID, Time: td.Time, NextValidators: td.NextValidators}
		if msg.Blocks, err = parentPath(ctx, parent, trusted, res.Height); err != nil {
			return nil, 0, err
		}
	}
	codec := chain.MustCodec()
	fits := func() bool { b, err := codec.Marshal(msg); return err == nil && len(b) < chain.MaxTxBytes-4096 }
	// Headers that do not fit in one transaction go over several: a
	// prefix of the path verifies on its own; deposits wait for the end.
	for len(msg.Blocks) > 1 && !fits() {
		msg.Blocks = msg.Blocks[:len(msg.Blocks)-1]
	}
	if n := len(msg.Blocks); n > 0 && msg.Blocks[n-1].Header.Height != res.Height {
		if !fits() {
			return nil, 0, fmt.Errorf("parent header %d does not fit in a transaction", msg.Blocks[0].Header.Height)
		}
		return msg, msg.Blocks[n-1].Header.Height, nil
	}
	// Every deposit read was proven: take the longest run from the first
	// whose message fits in a transaction, proven by its last record.
	for n := len(deps); n > 0; n /= 2 {
		key := subnet.DepositStateKey(td.Subnet, deps[n-1].Nonce)
		found := false
		for _, kp := range res.Proofs {
			if string(kp.Key) != string(key) {
				continue
			}
			var p state.Proof
			if err := json.Unmarshal(kp.Proof, &p); err != nil {
				return nil, 0, fmt.Errorf("parent deposit proof: %w", err)
			}
			msg.Proof, found = p, true
		}
		if !found {
			return nil, 0, fmt.Errorf("the parent sent no proof of deposit %d", deps[n-1].Nonce)
		}
		msg.Deposits = deps[:n]
		if fits() {
			break
		}
		msg.Deposits, msg.Proof = nil, state.Proof{}
	}
	if !fits() {
		return nil, 0, fmt.Errorf("the parent headers from %d to %d do not fit in one transaction", td.Height, res.Height)
	}
	if len(msg.Blocks) == 0 && len(msg.Deposits) == 0 {
		return nil, 0, nil
	}
	return msg, res.Height, nil
}

// parentPath is the light blocks from st to target, as chain/light
// verifies them: the target itself when enough trusted power signed it,
// else bisecting. Past MaxTopDownBlocks it returns the verified prefix.
func parentPath(ctx context.Context, cl *api.Client, st light.TrustedState, target uint64) ([]subnet.ParentBlock, error) {
	codec := chain.MustCodec()
	var path []subnet.ParentBlock
	pending := []uint64{target}
	for len(pending) > 0 {
		h := pending[len(pending)-1]
		lb, next, err := parentLightBlock(ctx, cl, h)
		if err != nil {
			return nil, err
		}
		err = light.VerifyStep(codec, st, lb, light.DefaultTrustLevel, chain.TimeOf(time.Now()))
		if errors.Is(err, light.ErrNotEnoughTrust) && h > st.Height+1 {
			pending = append(pending, st.Height+(h-st.Height)/2)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parent block %d: %w", h, err)
		}
		if st, err = light.After(codec, lb, next); err != nil {
			return nil, fmt.Errorf("parent block %d: %w", h, err)
		}
		pb := subnet.ParentBlock{Header: lb.Header, Commit: *lb.Commit, Validators: lb.Validators.Validators}
		if next.Hash(codec) != lb.Validators.Hash(codec) {
			pb.NextValidators = next.Validators
		}
		path = append(path, pb)
		pending = pending[:len(pending)-1]
		if len(path) == subnet.MaxTopDownBlocks && len(pending) > 0 {
			break // a verified prefix: the next topdown goes on from its end
		}
	}
	return path, nil
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
				tg, err := trustedParent(c.Context(), api.NewClient(parentAPI), id, trust)
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
// by "height:block_id", as served by cl and checked here.
func trustedParent(ctx context.Context, cl *api.Client, id, trust string) (subnet.TopDownGenesis, error) {
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
			s, _, err := f.parentView(ctx)
			if err != nil {
				return err
			}
			if s.Last.Height == 0 {
				return withCode(ExitError, fmt.Errorf("%s never checkpointed: refund deposits instead (dure tx subnet refund)", f.id))
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
			res, err := submitSigned(ctx, f.parentClient(), key, f.fee, msg)
			if err != nil {
				return err
			}
			return printJSON(g.stdout, map[string]any{"nonce": nonce, "checkpoint": s.Last.Height, "state_root": s.Last.StateRoot, "tx": res})
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
		RunE: func(c *cobra.Command, _ []string) error {
			ag, err := f.agent(c, g)
			if err != nil {
				return err
			}
			return f.loop(c, g, func(ctx context.Context) (any, error) {
				out, err := ag.topdown(ctx)
				if out == nil && err == nil && f.watch == 0 {
					return map[string]any{"topdown": false, "reason": "the subnet has applied every deposit and trusts a recent parent header (or follows no parent)"}, nil
				}
				return out, err
			})
		}}
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
