package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/apps/subnet"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/chain/state"
	"github.com/dure-network/dure/node"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
)

// provenQuery asks cl for a module query with proofs, verifies the header's
// commit, every proof, and the answer recomputed over the proven values
// alone, and decodes the answer into out. It returns the height proven at.
// The commit is checked against the validator set the node reports (as
// `dure query --trust-node`): these commands read two chains, and the
// light client keeps trust for one home's chain only.
func provenQuery(ctx context.Context, cl *api.Client, module, path string, kv map[string]string, out any) (uint64, error) {
	mod, ok := moduleNamed(module)
	if !ok {
		return 0, fmt.Errorf("no module %q", module)
	}
	args := map[string]string{"prove": "true"}
	for k, v := range kv {
		args[k] = v
	}
	var res api.QueryResult
	if err := cl.Query(ctx, module, path, args, &res); err != nil {
		return 0, apiErr(err)
	}
	if res.Height == 0 {
		return 0, withCode(ExitError, errors.New("the chain has no block yet"))
	}
	hdr, _, err := cl.HeaderTrustingNode(ctx, res.Height)
	if err != nil {
		return 0, withCode(ExitError, fmt.Errorf("verification failed: %w", err))
	}
	pv, err := verifyProofs(hdr.StateRoot, res.Proofs)
	if err != nil {
		return 0, withCode(ExitError, fmt.Errorf("verification failed: %w", err))
	}
	local, err := mod.Query(&prefixReader{r: pv, prefix: []byte(module + "/")}, path, kv)
	if err != nil {
		return 0, withCode(ExitError, fmt.Errorf("verification failed: query over proven state: %w", err))
	}
	if !sameJSON(local, res.Result) {
		return 0, withCode(ExitError, errors.New("verification failed: the node's answer differs from the query recomputed over proven state"))
	}
	raw, err := json.Marshal(local)
	if err != nil {
		return 0, err
	}
	return res.Height, json.Unmarshal(raw, out)
}

// submitSigned signs msgs with key for the chain behind cl and waits for commit.
func submitSigned(ctx context.Context, cl *api.Client, key chain.PrivKey, fee uint64, msgs ...chain.Msg) (txResult, error) {
	st, err := cl.Status(ctx)
	if err != nil {
		return txResult{}, apiErr(err)
	}
	acct, err := cl.Account(ctx, key.PubKey().Address(), false)
	if err != nil {
		return txResult{}, apiErr(err)
	}
	raw, err := (&chain.Tx{ChainID: st.ChainID, Nonce: acct.Nonce, MaxFee: fee, Msgs: msgs}).Sign(chain.MustCodec(), key)
	if err != nil {
		return txResult{}, err
	}
	res, err := cl.Submit(ctx, raw, true)
	if err != nil {
		return txResult{}, apiErr(err)
	}
	out := txResult{ID: res.ID, Height: res.Height}
	if res.Result != nil {
		out.Code, out.Log, out.Events = res.Result.Code, res.Result.Log, res.Result.Events
	}
	if out.Code != chain.CodeOK {
		return out, withCode(ExitError, fmt.Errorf("tx %s committed at height %d but failed (code %d): %s", out.ID, out.Height, out.Code, out.Log))
	}
	return out, nil
}

type subnetFlags struct {
	txFlags
	parent string
	id     string
	watch  time.Duration
}

func (f *subnetFlags) parentClient() *api.Client { return api.NewClient(f.parent) }

func newSubnetCmd(g *globals) *cobra.Command {
	f := &subnetFlags{}
	cmd := &cobra.Command{
		Use:   "subnet",
		Short: "Run a neighbourhood chain anchored to this one: create, join, sign and relay checkpoints, status",
		Long: `A subnet is a chain of its own (a second dure network) registered on a parent chain.
Its validators sign a checkpoint every period blocks and collect the signatures
on the subnet chain itself (sign); anyone, any validator included, submits the
latest checkpoint with enough signatures to the parent (relay). Every read is
verified here: the parent's state proofs and the subnet validators' signatures.

--node is the API of the chain the command acts on (the parent for create, join,
status and checkpoints; the subnet for sign and relay); --parent the parent's API.`,
		Example: `  dure subnet create --from alice --id garden-coop --genesis-hash … --period 10 --validators <pubkey>:10000000,…
  dure subnet status garden-coop
  dure subnet sign --subnet garden-coop --node http://127.0.0.1:27600 --parent http://127.0.0.1:26600 --from validator --watch 2s
  dure subnet relay --subnet garden-coop --node http://127.0.0.1:27600 --parent http://127.0.0.1:26600 --from alice --watch 2s
  dure subnet checkpoint garden-coop 20`,
	}
	f.register(cmd)
	cmd.PersistentFlags().StringVar(&f.parent, "parent", "", "API address of the parent chain's node (sign, relay, release)")
	desc := (&subnet.Module{}).Describe()
	for typ, use := range map[string]string{subnet.TypeRegister: "create", subnet.TypeJoin: "join"} {
		md, _ := desc.FindMsg(typ)
		md.Type = use
		for i, ex := range md.Examples {
			md.Examples[i] = "dure subnet " + use + ex[len("dure tx subnet "+typ):]
		}
		cmd.AddCommand(newTxMsgCmd(g, &f.txFlags, md))
	}
	cmd.AddCommand(genesisCmd(g), f.statusCmd(g), f.checkpointsCmd(g), f.checkpointCmd(g), f.signCmd(g), f.relayCmd(g), f.releaseCmd(g), f.escapeCmd(g), followCmd(g), f.reclaimCmd(g), f.topdownCmd(g), f.retrustCmd(g))
	return cmd
}

// genesisCmd prints what `dure subnet create` needs from a subnet's
// genesis file: its hash and its validators with the collateral giving
// each its power.
func genesisCmd(g *globals) *cobra.Command {
	var reduction uint64
	c := &cobra.Command{Use: "genesis <genesis.json>", Short: "The genesis hash and --validators of a subnet's genesis file, for create",
		Example: "  dure subnet genesis /tmp/coop/node0/genesis.json", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			gen, err := genesis.Load(args[0])
			if err != nil {
				return withCode(ExitUsage, err)
			}
			h, err := gen.Hash()
			if err != nil {
				return err
			}
			var vals []string
			for _, v := range gen.Validators {
				vals = append(vals, fmt.Sprintf("%s:%d", v.PubKey, v.Power*reduction))
			}
			return printJSON(g.stdout, map[string]any{"chain_id": gen.ChainID, "genesis_hash": h, "validators": strings.Join(vals, ",")})
		}}
	c.Flags().Uint64Var(&reduction, "power-reduction", subnet.DefaultParams().PowerReduction, "the parent's collateral per unit of power")
	return c
}

func (f *subnetFlags) statusCmd(g *globals) *cobra.Command {
	return &cobra.Command{Use: "status <subnet>", Short: "A subnet as the parent records it, verified, with its checkpoint lag", Args: cobra.ExactArgs(1),
		Example: "  dure subnet status garden-coop --node http://127.0.0.1:26600",
		RunE: func(c *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(c.Context(), f.timeout)
			defer cancel()
			var s subnet.Subnet
			h, err := provenQuery(ctx, f.client(g), subnet.ModuleName, "subnet", map[string]string{"subnet": args[0]}, &s)
			if err != nil {
				return err
			}
			since := max(s.Last.ParentHeight, s.Registered)
			out := map[string]any{"height": h, "subnet": s, "parent_blocks_since_checkpoint": h - since,
				"escape_open_at": since + s.EscapeAfter + 1,
				"verified":       fmt.Sprintf("subnet record proven against parent block %d", h)}
			return printJSON(g.stdout, out)
		}}
}

func (f *subnetFlags) checkpointsCmd(g *globals) *cobra.Command {
	return &cobra.Command{Use: "checkpoints <subnet>", Short: "The checkpoints the parent accepted, verified", Args: cobra.ExactArgs(1),
		Example: "  dure subnet checkpoints garden-coop --node http://127.0.0.1:26600",
		RunE: func(c *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(c.Context(), f.timeout)
			defer cancel()
			var list []subnet.CheckpointRecord
			h, err := provenQuery(ctx, f.client(g), subnet.ModuleName, "checkpoints", map[string]string{"subnet": args[0]}, &list)
			if err != nil {
				return err
			}
			return printJSON(g.stdout, map[string]any{"height": h, "checkpoints": list,
				"verified": fmt.Sprintf("proven against parent block %d", h)})
		}}
}

// verifyCheckpoint checks a proven checkpoint answer's signatures here.
func verifyCheckpoint(a *subnet.CheckpointAnswer) (string, error) {
	codec := chain.MustCodec()
	if h := a.Accepted.Signed.Checkpoint.Hash(codec); h != a.Hash {
		return "", fmt.Errorf("checkpoint hashes to %s, answer says %s", h, a.Hash)
	}
	if err := a.Accepted.Verify(codec, a.GenesisHash); err != nil {
		return "", err
	}
	vs, _ := chain.NewValidatorSet(a.Accepted.Signers)
	return fmt.Sprintf("%d signatures of the subnet's registered set (%d validators, power %d) verified here over the checkpoint",
		len(a.Accepted.Signed.Sigs), vs.Len(), vs.TotalPower()), nil
}

func (f *subnetFlags) checkpointCmd(g *globals) *cobra.Command {
	return &cobra.Command{Use: "checkpoint <subnet> [height]", Short: "One accepted checkpoint: parent proof and subnet signatures verified here",
		Example: "  dure subnet checkpoint garden-coop 20 --node http://127.0.0.1:26600\n  dure subnet checkpoint garden-coop   # the latest",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(c.Context(), f.timeout)
			defer cancel()
			kv := map[string]string{"subnet": args[0]}
			if len(args) == 2 {
				kv["height"] = args[1]
			}
			var a subnet.CheckpointAnswer
			h, err := provenQuery(ctx, f.client(g), subnet.ModuleName, "checkpoint", kv, &a)
			if err != nil {
				return err
			}
			msg, err := verifyCheckpoint(&a)
			if err != nil {
				return withCode(ExitError, fmt.Errorf("verification failed: %w", err))
			}
			return printJSON(g.stdout, map[string]any{"height": h, "checkpoint": a,
				"verified": fmt.Sprintf("stored value proven against parent block %d; %s", h, msg)})
		}}
}

// loop runs step once, or every f.watch until the context ends.
func (f *subnetFlags) loop(c *cobra.Command, g *globals, step func(ctx context.Context) (any, error)) error {
	for {
		ctx, cancel := context.WithTimeout(c.Context(), f.timeout)
		out, err := step(ctx)
		cancel()
		if f.watch == 0 {
			if err != nil {
				return err
			}
			return printJSON(g.stdout, out)
		}
		if err != nil {
			fmt.Fprintln(g.stderr, "subnet:", err)
		} else if out != nil {
			_ = printJSON(g.stdout, out)
		}
		select {
		case <-c.Context().Done():
			return nil
		case <-time.After(f.watch):
		}
	}
}

// agentRunE is the RunE of sign, relay and topdown: it builds the agent,
// then runs step once, or every --watch (f.loop); a single run that has
// nothing to do (step returns nil, nil) prints idle.
func (f *subnetFlags) agentRunE(g *globals, step func(*subnetAgent, context.Context) (any, error), idle map[string]any) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, _ []string) error {
		ag, err := f.agent(c, g)
		if err != nil {
			return err
		}
		return f.loop(c, g, func(ctx context.Context) (any, error) {
			out, err := step(ag, ctx)
			if out == nil && err == nil && f.watch == 0 {
				return idle, nil
			}
			return out, err
		})
	}
}

// agent checks the flags sign and relay need and builds the agent that
// acts for --from between the subnet node and the parent.
func (f *subnetFlags) agent(c *cobra.Command, g *globals) (*subnetAgent, error) {
	if err := f.needs(c); err != nil {
		return nil, err
	}
	key, err := f.signer(g)
	if err != nil {
		return nil, err
	}
	return &subnetAgent{id: f.id, sub: f.client(g), parent: f.parentClient(), key: key, fee: f.fee}, nil
}

func (f *subnetFlags) needs(c *cobra.Command) error {
	if f.id == "" || f.parent == "" {
		return usageErr("--subnet and --parent are required")
	}
	return nil
}

// submitToParent signs msg with key (fee --fee), submits it to the parent
// and prints out with the result as "tx": how release, escape and reclaim
// end.
func (f *subnetFlags) submitToParent(ctx context.Context, g *globals, key chain.PrivKey, msg chain.Msg, out map[string]any) error {
	res, err := submitSigned(ctx, f.parentClient(), key, f.fee, msg)
	if err != nil {
		return err
	}
	out["tx"] = res
	return printJSON(g.stdout, out)
}

// checkpointed is the subnet's record on the parent (parentView), which
// must hold a checkpoint: escape and reclaim prove against the last one.
func (f *subnetFlags) checkpointed(ctx context.Context) (subnet.Subnet, error) {
	s, _, err := f.parentView(ctx)
	if err != nil {
		return s, err
	}
	if s.Last.Height == 0 {
		return s, withCode(ExitError, fmt.Errorf("%s never checkpointed: refund deposits instead (dure tx subnet refund)", f.id))
	}
	return s, nil
}

// parentView is the subnet's record on the parent, verified.
func (f *subnetFlags) parentView(ctx context.Context) (subnet.Subnet, *chain.ValidatorSet, error) {
	return parentView(ctx, f.parentClient(), f.id)
}

func parentView(ctx context.Context, parent *api.Client, id string) (subnet.Subnet, *chain.ValidatorSet, error) {
	var s subnet.Subnet
	if _, err := provenQuery(ctx, parent, subnet.ModuleName, "subnet", map[string]string{"subnet": id}, &s); err != nil {
		return s, nil, fmt.Errorf("parent: %w", err)
	}
	vs, err := chain.NewValidatorSet(s.Validators)
	if err != nil {
		return s, nil, fmt.Errorf("parent: registered set: %w", err)
	}
	return s, vs, nil
}

// latestCheckpointHeight is the highest checkpoint height the subnet has
// committed.
func latestCheckpointHeight(ctx context.Context, cl *api.Client, period uint64) (uint64, error) {
	st, err := cl.Status(ctx)
	if err != nil {
		return 0, apiErr(err)
	}
	return st.Height / period * period, nil
}

func (f *subnetFlags) signCmd(g *globals) *cobra.Command {
	var height uint64
	c := &cobra.Command{Use: "sign", Short: "As a subnet validator: sign the latest checkpoint and record the signature on the subnet chain",
		Example: "  dure subnet sign --subnet garden-coop --node http://127.0.0.1:27600 --parent http://127.0.0.1:26600 --from validator --watch 2s",
		Long: `sign builds the checkpoint of the subnet at a checkpoint height (default: the
latest) from the subnet node (--node): the block's ID and state root from its
verified header, the outbox root proven at that height, the next validator set;
it names the set registered on the parent (--parent) as the signers. It signs
with --from, which must be in that set, and records the signature with an
endorse transaction on the subnet. With --watch it does so every period.`,
		Args: cobra.NoArgs,
		RunE: f.agentRunE(g, func(ag *subnetAgent, ctx context.Context) (any, error) { return ag.sign(ctx, height) },
			map[string]any{"signed": false, "reason": "nothing to sign: the parent has the latest checkpoint height, or it was signed"})}
	c.Flags().StringVar(&f.id, "subnet", "", "subnet id (required)")
	c.Flags().Uint64Var(&height, "height", 0, "checkpoint height (default: the latest)")
	c.Flags().DurationVar(&f.watch, "watch", 0, "keep signing each new checkpoint, polling this often")
	return c
}

// buildCheckpoint is the checkpoint of the subnet behind cl at height h.
func buildCheckpoint(ctx context.Context, cl *api.Client, s *subnet.Subnet, registered *chain.ValidatorSet, h uint64) (subnet.Checkpoint, error) {
	codec := chain.MustCodec()
	hdr, _, err := cl.HeaderTrustingNode(ctx, h)
	if err != nil {
		return subnet.Checkpoint{}, fmt.Errorf("subnet block %d: %w", h, err)
	}
	next, err := cl.Validators(ctx, h+1)
	if err != nil {
		if next, err = cl.Validators(ctx, h); err != nil {
			return subnet.Checkpoint{}, apiErr(err)
		}
	}
	nvs, err := chain.NewValidatorSet(next.Validators)
	if err != nil {
		return subnet.Checkpoint{}, err
	}
	var at subnet.OutboxAt
	if _, err := provenQuery(ctx, cl, subnet.ModuleName, "outbox", map[string]string{"height": strconv.FormatUint(h, 10)}, &at); err != nil {
		return subnet.Checkpoint{}, fmt.Errorf("subnet outbox at %d: %w", h, err)
	}
	return subnet.Checkpoint{Subnet: s.ID, Height: h, BlockID: hdr.ID(codec), StateRoot: hdr.StateRoot,
		ValidatorsHash: registered.Hash(codec), NextValidators: nvs.Validators, MsgRoot: at.Root, MsgCount: at.Count,
		DepositsApplied: at.Applied}, nil
}

func (f *subnetFlags) relayCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "relay", Short: "Submit the subnet's latest checkpoint with enough signatures to the parent (anyone may)",
		Example: "  dure subnet relay --subnet garden-coop --node http://127.0.0.1:27600 --parent http://127.0.0.1:26600 --from alice --watch 2s",
		Long: `relay reads the parent's record of the subnet and, from the latest checkpoint
height down, the signatures collected on the subnet chain (--node); the first
checkpoint above the parent's last whose signatures from the registered set
carry more than 2/3 of its power is submitted to the parent (--parent), signed
by --from. Intermediate checkpoints are never needed for their withdrawals
(the outbox root covers all earlier ones); a set change must land before
checkpoints signed by the new set, and relay finds it the same way. With
--watch it keeps relaying; several relayers may run: duplicates are no-ops.`,
		Args: cobra.NoArgs,
		RunE: f.agentRunE(g, (*subnetAgent).relay,
			map[string]any{"submitted": false, "reason": "no checkpoint above the parent's last has signatures of >2/3 of the registered set"})}
	c.Flags().StringVar(&f.id, "subnet", "", "subnet id (required)")
	c.Flags().DurationVar(&f.watch, "watch", 0, "keep relaying, polling this often")
	return c
}

// collect assembles, from the endorsements at h on the subnet, a signed
// checkpoint the parent will accept: ok is false when none has a quorum.
func collect(ctx context.Context, cl *api.Client, s *subnet.Subnet, vs *chain.ValidatorSet, h uint64) (subnet.SignedCheckpoint, bool, error) {
	codec := chain.MustCodec()
	var ends []subnet.Endorsed
	if _, err := provenQuery(ctx, cl, subnet.ModuleName, "endorsements", map[string]string{"height": strconv.FormatUint(h, 10)}, &ends); err != nil {
		return subnet.SignedCheckpoint{}, false, fmt.Errorf("subnet endorsements at %d: %w", h, err)
	}
	for _, e := range ends {
		if e.Checkpoint.Subnet != s.ID || e.Checkpoint.ValidatorsHash != vs.Hash(codec) {
			continue
		}
		sc := subnet.SignedCheckpoint{Checkpoint: e.Checkpoint}
		var power uint64
		for _, en := range e.Endorsements {
			v, _, ok := vs.ByAddress(en.PubKey.Address())
			if !ok || en.GenesisHash != s.GenesisHash {
				continue
			}
			sc.Sigs = append(sc.Sigs, subnet.Sig{Validator: v.Address, Sig: en.Sig})
			power += v.Power
		}
		if power >= vs.QuorumPower() {
			return sc, true, nil
		}
	}
	return subnet.SignedCheckpoint{}, false, nil
}

func (f *subnetFlags) releaseCmd(g *globals) *cobra.Command {
	var nonce uint64
	c := &cobra.Command{Use: "release", Short: "Pay out a withdrawal made on the subnet, by its proof against the parent's last checkpoint",
		Example: "  dure subnet release --subnet garden-coop --nonce 0 --node http://127.0.0.1:27600 --parent http://127.0.0.1:26600 --from dave",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := f.needs(c); err != nil {
				return err
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
			if nonce >= s.Last.MsgCount {
				return withCode(ExitNotFound, fmt.Errorf("withdrawal %d is not in the parent's last checkpoint (%d of %s, %d messages)", nonce, s.Last.Height, f.id, s.Last.MsgCount))
			}
			var p subnet.OutboxProof
			if _, err := provenQuery(ctx, f.client(g), subnet.ModuleName, "outbox-proof",
				map[string]string{"nonce": strconv.FormatUint(nonce, 10), "count": strconv.FormatUint(s.Last.MsgCount, 10)}, &p); err != nil {
				return fmt.Errorf("subnet outbox proof: %w", err)
			}
			if p.Root != s.Last.MsgRoot {
				return withCode(ExitError, fmt.Errorf("the subnet's outbox of %d messages has root %s, the checkpoint %s", s.Last.MsgCount, p.Root, s.Last.MsgRoot))
			}
			msg, err := subnet.MsgRelease(chain.MustCodec(), subnet.Release{Subnet: f.id, CheckpointHeight: s.Last.Height, Msg: p.Msg, Proof: p.Proof})
			if err != nil {
				return err
			}
			return f.submitToParent(ctx, g, key, msg, map[string]any{"released": p.Msg, "checkpoint": s.Last.Height})
		}}
	c.Flags().StringVar(&f.id, "subnet", "", "subnet id (required)")
	c.Flags().Uint64Var(&nonce, "nonce", 0, "the withdrawal's nonce on the subnet")
	return c
}

func (f *subnetFlags) escapeCmd(g *globals) *cobra.Command {
	var dataHome, holder string
	c := &cobra.Command{Use: "escape", Short: "Withdraw a holder's balance from a halted subnet, by a state proof from a stopped subnet node's data",
		Long: `When a subnet has not checkpointed for its escape_after parent blocks, escape
proves the holder's native balance on the subnet against the state root of
the parent's last checkpoint of it, reading a stopped subnet node's data
directory (--data, that node's home), and pays it to the same address on the
parent. --from signs and pays the fee; the value goes only to --holder.`,
		Example: "  dure subnet escape --subnet garden-coop --data /tmp/coop/node0 --holder dure1… --from alice --node http://127.0.0.1:26600 --parent http://127.0.0.1:26600",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := f.needs(c); err != nil {
				return err
			}
			if dataHome == "" || holder == "" {
				return usageErr("--data and --holder are required")
			}
			who, err := f.resolveAddr(g, holder)
			if err != nil {
				return err
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
			value, proof, err := proveAtCheckpoint(dataHome, s.Last.Height, s.Last.StateRoot, who)
			if err != nil {
				return err
			}
			msg, err := subnet.MsgEscape(chain.MustCodec(), f.id, who, value, *proof)
			if err != nil {
				return err
			}
			return f.submitToParent(ctx, g, key, msg, map[string]any{"holder": who, "checkpoint": s.Last.Height, "state_root": s.Last.StateRoot})
		}}
	c.Flags().StringVar(&f.id, "subnet", "", "subnet id (required)")
	c.Flags().StringVar(&dataHome, "data", "", "home of a stopped node of the subnet, whose store holds the checkpointed height")
	c.Flags().StringVar(&holder, "holder", "", "the holder's address (or key name); paid on the parent")
	return c
}

// proveAtCheckpoint reads holder's native balance at height h from a
// stopped node's store and proves it against that height's state root,
// which must be the checkpoint's.
func proveAtCheckpoint(home string, h uint64, root chain.Hash, holder chain.Address) ([]byte, *state.Proof, error) {
	cfg, err := config.Load(filepath.Join(home, config.FileName))
	if err != nil {
		return nil, nil, withCode(ExitUsage, err)
	}
	cur, ok := moduleNamed(currency.ModuleName)
	if !ok {
		return nil, nil, errors.New("no currency module")
	}
	layout := cur.(*currency.Module)
	value, p, err := node.ProveStored(cfg, h, root, layout.BalanceKey(holder, node.NativeDenom))
	if err != nil {
		return nil, nil, nodeErr(err)
	}
	if len(value) == 0 {
		return nil, nil, withCode(ExitNotFound, fmt.Errorf("%s held no %s on the subnet at height %d", holder, node.NativeDenom, h))
	}
	return value, p, nil
}

// subnetAgent signs and relays one subnet's checkpoints: what `dure
// subnet sign|relay --watch` run, and what `dure start --subnet` runs
// beside a subnet validator.
type subnetAgent struct {
	id          string
	sub, parent *api.Client
	key         chain.PrivKey
	fee         uint64
	signed      uint64 // highest height this agent endorsed
}

// sign endorses the checkpoint at height (0: the latest) on the subnet if
// key is in the registered set and the parent lacks it; nil, nil when
// there is nothing to do.
func (a *subnetAgent) sign(ctx context.Context, height uint64) (any, error) {
	s, vs, err := parentView(ctx, a.parent, a.id)
	if err != nil {
		return nil, err
	}
	if _, _, ok := vs.ByAddress(a.key.PubKey().Address()); !ok {
		return nil, withCode(ExitError, fmt.Errorf("%s is not in %s's registered set", a.key.PubKey().Address(), a.id))
	}
	h := height
	if h == 0 {
		if h, err = latestCheckpointHeight(ctx, a.sub, s.Period); err != nil {
			return nil, err
		}
	}
	if h == 0 || h <= s.Last.Height || h <= a.signed {
		return nil, nil
	}
	cp, err := buildCheckpoint(ctx, a.sub, &s, vs, h)
	if err != nil {
		return nil, err
	}
	codec := chain.MustCodec()
	sig := subnet.Sign(codec, s.GenesisHash, &cp, a.key)
	msg, err := subnet.MsgEndorse(codec, subnet.Endorse{Checkpoint: cp, GenesisHash: s.GenesisHash, PubKey: a.key.PubKey(), Sig: sig.Sig})
	if err != nil {
		return nil, err
	}
	res, err := submitSigned(ctx, a.sub, a.key, a.fee, msg)
	if err != nil {
		return nil, fmt.Errorf("endorse %d: %w", h, err)
	}
	a.signed = h
	return map[string]any{"signed": true, "height": h, "hash": cp.Hash(codec), "tx": res}, nil
}

// relay submits the newest checkpoint above the parent's last that has a
// quorum of the registered set; nil, nil when there is none.
func (a *subnetAgent) relay(ctx context.Context) (any, error) {
	s, vs, err := parentView(ctx, a.parent, a.id)
	if err != nil {
		return nil, err
	}
	top, err := latestCheckpointHeight(ctx, a.sub, s.Period)
	if err != nil {
		return nil, err
	}
	for h := top; h > s.Last.Height && h > 0; h -= s.Period {
		sc, ok, err := collect(ctx, a.sub, &s, vs, h)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		msg, err := subnet.MsgCheckpoint(chain.MustCodec(), sc)
		if err != nil {
			return nil, err
		}
		pst, err := a.parent.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("parent fee parameters: %w", apiErr(err))
		}
		fee := feeFor(subnet.CheckpointGas(len(msg.Body), len(sc.Sigs)), pst.Fees, a.fee)
		res, err := submitSigned(ctx, a.parent, a.key, fee, msg)
		if err != nil {
			return nil, fmt.Errorf("submit checkpoint %d: %w", h, err)
		}
		return map[string]any{"submitted": true, "height": h, "parent_last": s.Last.Height, "fee": fee, "tx": res}, nil
	}
	return nil, nil
}

// subnetStart are `dure start`'s subnet flags.
type subnetStart struct {
	id, parent string
	relay      bool
	every      time.Duration
	fee        uint64
}

// runSubnetAgent signs (and with relay, relays) a subnet's checkpoints
// every interval until ctx ends, beside the node; failures are logged and
// retried at the next tick.
func runSubnetAgent(ctx context.Context, log *slog.Logger, ag *subnetAgent, relay bool, every time.Duration) {
	t := time.NewTicker(max(every, 100*time.Millisecond))
	defer t.Stop()
	step := func(name string, fn func(context.Context) (any, error)) {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		out, err := fn(sctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("subnet "+name+" failed", "subnet", ag.id, "err", err)
		case out != nil:
			if m, ok := out.(map[string]any); ok {
				log.Info("subnet "+name, "subnet", ag.id, "height", m["height"])
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		step("checkpoint signed", func(c context.Context) (any, error) { return ag.sign(c, 0) })
		step("parent deposits relayed", ag.topdown)
		if relay {
			step("checkpoint relayed", ag.relay)
		}
	}
}

// runConfiguredSubnetAgent is the agent beside a [[subnets]] validator:
// the loop of `dure start --subnet`, with the entry's relay, interval
// and fee.
func runConfiguredSubnetAgent(ctx context.Context, log *slog.Logger, e config.Subnet, subAPI, parentAPI string, key chain.PrivKey) {
	ag := &subnetAgent{id: e.ID, sub: api.NewClient(subAPI), parent: api.NewClient(parentAPI), key: key, fee: e.Fee}
	runSubnetAgent(ctx, log, ag, e.Relay, e.Interval.Duration())
}

// subnetKeys opens a [[subnets]] node's validator key from its own
// keyring (its config's backend and passphrase file, else
// DURE_KEYRING_PASSPHRASE or the terminal).
func subnetKeys(stderr io.Writer) node.SubnetKeys {
	return func(cfg config.Config) (chain.PrivKey, error) {
		if cfg.PrivValidatorKey == "" {
			return chain.PrivKey{}, nil
		}
		ks, err := openKeyring(cfg, "", "", stderr)
		if err != nil {
			return chain.PrivKey{}, err
		}
		return ks.Signer(cfg.PrivValidatorKey)
	}
}

// remoteSubnetSource reads a subnet's record from a parent node's API,
// verified (start --subnet: the parent runs elsewhere).
func remoteSubnetSource(parent *api.Client, id string) node.SubnetSource {
	return func(ctx context.Context) (subnet.Subnet, uint64, error) {
		var s subnet.Subnet
		h, err := provenQuery(ctx, parent, subnet.ModuleName, "subnet", map[string]string{"subnet": id}, &s)
		return s, h, err
	}
}
