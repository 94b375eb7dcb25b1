package cli

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/state"
	"github.com/dure-network/dure/node"
	"github.com/dure-network/dure/node/api"
)

// verifiedBlock is what `dure query block` prints: every field checked
// against the verified header.
type verifiedBlock struct {
	ID       chain.ID         `json:"id"`
	Header   chain.Header     `json:"header"`
	TxIDs    []chain.ID       `json:"tx_ids"`
	Results  []chain.TxResult `json:"results"`
	Commit   *chain.Commit    `json:"commit"`
	Evidence []chain.Evidence `json:"evidence,omitempty"`
}

// checkBlock derives the printed block from the verified header and
// commit: tx IDs from the raw txs (their root is the header's tx root),
// results and evidence only if they hash to the header's roots.
func checkBlock(codec *chain.Codec, hdr chain.Header, cm *chain.Commit, b api.BlockInfo) (verifiedBlock, error) {
	id := hdr.ID(codec)
	if b.Header.ID(codec) != id || b.ID != id {
		return verifiedBlock{}, fmt.Errorf("block %d: the node's header or block ID is not the verified %s", hdr.Height, id)
	}
	if chain.TxRoot(b.Txs) != hdr.TxRoot {
		return verifiedBlock{}, fmt.Errorf("block %d: the node's transactions do not hash to the tx root %s", hdr.Height, hdr.TxRoot)
	}
	ids := make([]chain.ID, len(b.Txs))
	for i, raw := range b.Txs {
		ids[i] = chain.IDOf(raw)
	}
	if !slices.Equal(ids, b.TxIDs) {
		return verifiedBlock{}, fmt.Errorf("block %d: the node's tx IDs are not those of the transactions under the tx root", hdr.Height)
	}
	if len(b.Results) != len(b.Txs) || chain.ResultsRoot(codec, b.Results) != hdr.ResultsRoot {
		return verifiedBlock{}, fmt.Errorf("block %d: the node's results do not hash to the results root %s", hdr.Height, hdr.ResultsRoot)
	}
	if chain.EvidenceHash(codec, b.Evidence) != hdr.EvidenceHash {
		return verifiedBlock{}, fmt.Errorf("block %d: the node's evidence does not hash to the evidence hash", hdr.Height)
	}
	if ids == nil {
		ids = []chain.ID{}
	}
	res := b.Results
	if res == nil {
		res = []chain.TxResult{}
	}
	return verifiedBlock{ID: id, Header: hdr, TxIDs: ids, Results: res, Commit: cm, Evidence: b.Evidence}, nil
}

// verifiedTx is what `dure query tx` prints: the transaction decoded here
// from the bytes proven under the header's tx root.
type verifiedTx struct {
	ID      chain.ID        `json:"id"`
	Height  uint64          `json:"height"`
	Index   uint64          `json:"index"`
	BlockID chain.ID        `json:"block_id"`
	Raw     []byte          `json:"raw"`
	Tx      *chain.Tx       `json:"tx"`
	Result  *chain.TxResult `json:"result"`
}

func newQueryCmd(g *globals) *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:     "query",
		Aliases: []string{"q"},
		Example: "  dure query block latest\n  dure query account alice --keyring-backend test",
		Short:   "Read blocks, transactions, accounts and module state, verifying proofs locally",
		Long: `query reads from a node's API. With --prove (the default) it verifies what the
node returns: the block's commit signatures against the validator set, a
transaction's Merkle inclusion proof against the block's tx root, and an
account's state proofs against the block's state root. A node that lies is
caught, not believed.`,
	}
	f.register(cmd)
	kf := &txFlags{}
	cmd.PersistentFlags().StringVar(&kf.keyFlags.backend, "keyring-backend", "", `keyring for resolving key names to addresses: "file" or "test"`)
	var prove bool
	cmd.PersistentFlags().BoolVar(&prove, "prove", true, "fetch and verify proofs")
	tf := &trustFlags{}
	tf.register(cmd.PersistentFlags())
	timeout := func(c *cobra.Command) (context.Context, context.CancelFunc) {
		return context.WithTimeout(c.Context(), 30*time.Second)
	}
	block := &cobra.Command{
		Use: "block <height|latest>", Short: "Show a block and verify its commit",
		Example: "  dure query block latest\n  dure query block 42", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ctx, cancel := timeout(c)
			defer cancel()
			var h uint64
			if args[0] != "latest" {
				v, err := strconv.ParseUint(args[0], 10, 64)
				if err != nil || v == 0 {
					return usageErr("height %q: want a positive number or \"latest\"", args[0])
				}
				h = v
			}
			cl := f.client(g)
			b, err := cl.BlockWithTxs(ctx, h)
			if err != nil {
				return apiErr(err)
			}
			if !prove {
				b.Txs = nil
				return f.print(g.stdout, map[string]any{"block": b, "verified": "nothing (--prove=false)"})
			}
			if h != 0 && b.Header.Height != h {
				return verifyErr(fmt.Errorf("asked for block %d, the node sent %d", h, b.Header.Height))
			}
			v := newHeaderVerifier(g, cl, tf)
			hdr, cm, err := v.signed(ctx, b.Header.Height)
			if err != nil {
				return verifyErr(err)
			}
			vb, err := checkBlock(chain.MustCodec(), hdr, cm, b)
			if err != nil {
				return verifyErr(err)
			}
			return f.print(g.stdout, map[string]any{"block": vb, "verified": fmt.Sprintf(
				"header %s; tx IDs and results hash to its tx and results roots; commit %s", vb.ID, v.how())})
		},
	}
	tx := &cobra.Command{
		Use: "tx <id>", Short: "Show a committed transaction and verify its inclusion proof",
		Example: "  dure query tx bafyrei...", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ctx, cancel := timeout(c)
			defer cancel()
			id, err := chain.ParseID(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			cl := f.client(g)
			t, err := cl.Tx(ctx, id, prove)
			if err != nil {
				return apiErr(err)
			}
			out := map[string]any{"tx": t, "verified": "nothing (--prove=false)"}
			if prove {
				if chain.IDOf(t.Raw) != id {
					return withCode(ExitError, fmt.Errorf("verification failed: the node returned bytes whose ID is not %s", id))
				}
				v := newHeaderVerifier(g, cl, tf)
				hdr, err := v.header(ctx, t.Height)
				if err != nil {
					return verifyErr(err)
				}
				if t.Proof == nil {
					return withCode(ExitError, fmt.Errorf("verification failed: the node sent no proof"))
				}
				if err := t.Proof.Verify(hdr.TxRoot, t.Raw); err != nil {
					return withCode(ExitError, fmt.Errorf("verification failed: inclusion proof: %w", err))
				}
				if t.Result == nil || t.ResultProof == nil {
					return withCode(ExitError, fmt.Errorf("verification failed: the node sent no result proof"))
				}
				leaf, err := chain.MustCodec().Marshal(t.Result)
				if err != nil {
					return err
				}
				if t.ResultProof.Index != t.Proof.Index {
					return withCode(ExitError, fmt.Errorf("verification failed: result proof is for another tx"))
				}
				if err := t.ResultProof.Verify(hdr.ResultsRoot, leaf); err != nil {
					return withCode(ExitError, fmt.Errorf("verification failed: result proof: %w", err))
				}
				dec, err := chain.DecodeTx(chain.MustCodec(), t.Raw)
				if err != nil {
					return withCode(ExitError, fmt.Errorf("verification failed: proven bytes: %w", err))
				}
				out["tx"] = verifiedTx{ID: id, Height: hdr.Height, Index: t.Proof.Index, BlockID: hdr.ID(chain.MustCodec()),
					Raw: t.Raw, Tx: dec, Result: t.Result}
				out["verified"] = fmt.Sprintf("bytes included in block %d (tx root %s) and decoded here; result proven against its results root; commit %s",
					t.Height, hdr.TxRoot, v.how())
			}
			return f.print(g.stdout, out)
		},
	}
	account := &cobra.Command{
		Use: "account <address|key-name>", Short: "Show an account's nonce and balances and verify its state proofs",
		Example: "  dure query account dure1...\n  dure query account alice", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ctx, cancel := timeout(c)
			defer cancel()
			a, err := kf.resolveAddr(g, args[0])
			if err != nil {
				return err
			}
			cl := f.client(g)
			acct, err := cl.Account(ctx, a, prove)
			if err != nil {
				return apiErr(err)
			}
			out := map[string]any{"account": acct, "verified": "nothing (--prove=false)"}
			if prove {
				if acct.Address != a {
					return withCode(ExitError, fmt.Errorf("verification failed: asked for %s, the node answered for %s", a, acct.Address))
				}
				v := newHeaderVerifier(g, cl, tf)
				pr, err := verifyStateProofs(ctx, v, acct.Height, acct.StateRoot, acct.Proofs)
				if err != nil {
					return verifyErr(err)
				}
				// Print only what the proofs establish: the nonce from its
				// proven key, the balances recomputed by the currency
				// module itself over the proven values (the list of them
				// by next-key records, so none is left out).
				nonce, err := provenNonce(pr, a)
				if err != nil {
					return withCode(ExitError, fmt.Errorf("verification failed: %w", err))
				}
				var bal any = []any{}
				if bank, name, ok := bankModule(); ok {
					bal, err = bank.AccountBalances(&prefixReader{r: pr, prefix: []byte(name + "/")}, a)
				}
				if err != nil {
					return withCode(ExitError, fmt.Errorf("verification failed: balances from proven state: %w", err))
				}
				if nonce != acct.Nonce {
					return withCode(ExitError, fmt.Errorf("verification failed: the node says nonce %d, the proven state says %d", acct.Nonce, nonce))
				}
				if !sameJSON(bal, acct.Balances) {
					return withCode(ExitError, fmt.Errorf("verification failed: the balances the node shows are not the proven ones"))
				}
				acct.Proofs = nil
				acct.Balances = bal
				out = map[string]any{"account": acct, "verified": withLists(fmt.Sprintf("nonce and balances recomputed from values proven against the state root of block %d; commit %s", acct.Height, v.how()), pr)}
			}
			return f.print(g.stdout, out)
		},
	}
	validators := &cobra.Command{
		Use: "validators", Short: "Show the validator set (and staking's view of every validator)",
		Example: "  dure query validators", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, cancel := timeout(c)
			defer cancel()
			cl := f.client(g)
			if !prove {
				vals, err := cl.Validators(ctx, 0)
				if err != nil {
					return apiErr(err)
				}
				return f.print(g.stdout, map[string]any{"validators": vals, "verified": "nothing (--prove=false)"})
			}
			head, err := cl.Block(ctx, 0)
			if err != nil {
				return apiErr(err)
			}
			v := newHeaderVerifier(g, cl, tf)
			hdr, vs, err := v.nextValidators(ctx, head.Header.Height)
			if err != nil {
				return verifyErr(err)
			}
			out := api.Validators{Height: hdr.Height + 1, Validators: vs.Validators, Total: vs.TotalPower()}
			return f.print(g.stdout, map[string]any{"validators": out, "verified": fmt.Sprintf(
				"the set signing height %d hashes to the next validators hash of block %d, whose commit %s (staking's view: dure query staking validators)",
				hdr.Height+1, hdr.Height, v.how())})
		},
	}
	q := &moduleQuery{g: g, f: f, kf: kf, prove: &prove, trust: tf}
	cmd.AddCommand(block, tx, account, validators)
	for _, m := range node.Modules() {
		cmd.AddCommand(q.command(m))
	}
	return cmd
}

// moduleQuery builds `dure query <module> …` from the module's
// description (chain.Describer): one subcommand per path, whose --arg
// values are checked locally first. A module without a description gets
// the bare form `dure query <module> <path> --arg k=v`.
type moduleQuery struct {
	g     *globals
	f     *clientFlags
	kf    *txFlags
	prove *bool
	trust *trustFlags
}

func (q *moduleQuery) command(m chain.Module) *cobra.Command {
	name := m.Name()
	d, ok := m.(chain.Describer)
	if !ok {
		var qargs []string
		mc := &cobra.Command{
			Use: name + " <path> [--arg key=value ...]", Short: "Query the " + name + " module",
			Example: "  dure query " + name + " <path> --arg key=value", Args: cobra.ExactArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				kv := map[string]string{}
				for _, a := range qargs {
					k, v, ok := strings.Cut(a, "=")
					if !ok {
						return usageErr("--arg %q: want key=value", a)
					}
					kv[k] = v
				}
				return q.run(c, m, args[0], kv)
			},
		}
		mc.Flags().StringArrayVar(&qargs, "arg", nil, "query argument key=value (repeatable)")
		return mc
	}
	desc := d.Describe()
	var ex []string
	var long strings.Builder
	fmt.Fprintf(&long, "Query the %s module; every answer is recomputed here over state values\nproven against a signed block (unless --prove=false).\n\nPaths and their --arg arguments:\n", name)
	for _, qd := range desc.Queries {
		ex = append(ex, qd.Examples...)
		fmt.Fprintf(&long, "  %-12s %s\n", qd.Path, qd.Short)
		for _, a := range qd.Args {
			req := ""
			if a.Required {
				req = ", required"
			}
			fmt.Fprintf(&long, "  %-12s   %s=<%s%s>  %s\n", "", a.Name, argKind(a), req, a.Help)
		}
	}
	mc := &cobra.Command{Use: name, Short: "Query the " + name + " module: " + desc.Short, Long: long.String(), Example: indentExamples(ex)}
	for _, qd := range desc.Queries {
		mc.AddCommand(q.pathCommand(m, qd))
	}
	return mc
}

// answerVerifier is a module's own check of a proven query answer, run
// after the proofs (subnet: a checkpoint's signatures by its subnet's
// registered set). It returns what it verified, or "" for paths it has
// nothing to add to.
type answerVerifier interface {
	VerifyAnswer(path string, answer []byte) (string, error)
}

func argKind(f chain.Field) string {
	if f.Kind == chain.FieldEnum {
		return strings.Join(f.Enum, "|")
	}
	return f.Kind.String()
}

func (q *moduleQuery) pathCommand(m chain.Module, qd chain.QueryDesc) *cobra.Command {
	var qargs []string
	var args strings.Builder
	for _, a := range qd.Args {
		fmt.Fprintf(&args, "\n  %s=<%s>  %s", a.Name, argKind(a), a.Help)
		if a.Required {
			args.WriteString(" (required)")
		}
	}
	long := qd.Short
	if args.Len() > 0 {
		long += "\n\nArguments (--arg name=value; address values may be key names):" + args.String()
	}
	use := qd.Path
	for _, a := range qd.Args {
		use += " [" + a.Name + "]"
	}
	pc := &cobra.Command{Use: use, Short: qd.Short, Long: long, Example: indentExamples(qd.Examples), Args: cobra.MaximumNArgs(len(qd.Args)),
		RunE: func(c *cobra.Command, pos []string) error {
			raw := map[string]string{}
			for _, a := range qargs {
				k, v, ok := strings.Cut(a, "=")
				if !ok {
					return usageErr("--arg %q: want key=value", a)
				}
				raw[k] = v
			}
			// positional arguments fill the query's arguments in order
			for i, v := range pos {
				name := qd.Args[i].Name
				if _, dup := raw[name]; dup {
					return usageErr("%s given both as argument %d and as --arg", name, i+1)
				}
				raw[name] = v
			}
			for _, a := range qd.Args {
				if v, ok := raw[a.Name]; ok && a.Kind == chain.FieldAddress && v != "" {
					addr, err := q.kf.resolveAddr(q.g, v)
					if err != nil {
						return err
					}
					raw[a.Name] = addr.String()
				}
			}
			vals, err := chain.ParseValues(qd.Args, raw, chain.PubKey{})
			if err != nil {
				return usageErr("%v", strings.Replace(err.Error(), "--", "--arg ", -1))
			}
			return q.run(c, m, qd.Path, vals.Strings(qd.Args))
		}}
	pc.Flags().StringArrayVar(&qargs, "arg", nil, "query argument name=value (repeatable); address values may be key names")
	return pc
}

// run asks the node and, with --prove, re-runs the query here over the
// proven values only.
func (q *moduleQuery) run(c *cobra.Command, mod chain.Module, path string, kv map[string]string) error {
	ctx, cancel := context.WithTimeout(c.Context(), 30*time.Second)
	defer cancel()
	name := mod.Name()
	var res api.QueryResult
	cl := q.f.client(q.g)
	args := map[string]string{"prove": strconv.FormatBool(*q.prove)}
	for k, v := range kv {
		args[k] = v
	}
	if err := cl.Query(ctx, name, path, args, &res); err != nil {
		return apiErr(err)
	}
	out := map[string]any{"height": res.Height, "result": res.Result, "verified": "nothing (--prove=false)"}
	if *q.prove {
		if res.Height == 0 {
			return withCode(ExitError, fmt.Errorf("verification failed: the node answered at height 0 (no block to prove against)"))
		}
		v := newHeaderVerifier(q.g, cl, q.trust)
		hdr, err := v.header(ctx, res.Height)
		if err != nil {
			return verifyErr(err)
		}
		pv, err := verifyProofs(hdr.StateRoot, res.Proofs)
		if err != nil {
			return withCode(ExitError, fmt.Errorf("verification failed: %w", err))
		}
		local, err := mod.Query(&prefixReader{r: pv, prefix: []byte(name + "/")}, path, kv)
		if err != nil {
			return withCode(ExitError, fmt.Errorf("verification failed: query over proven state: %w", err))
		}
		if !sameJSON(local, res.Result) {
			return withCode(ExitError, fmt.Errorf("verification failed: the node's answer differs from the query recomputed over proven state"))
		}
		out["result"] = local
		out["verified"] = withLists(fmt.Sprintf("result recomputed locally from %d state values proven against block %d; commit %s", len(res.Proofs), res.Height, v.how()), pv)
		if av, ok := mod.(answerVerifier); ok {
			raw, err := json.Marshal(local)
			if err != nil {
				return err
			}
			msg, err := av.VerifyAnswer(path, raw)
			if err != nil {
				return withCode(ExitError, fmt.Errorf("verification failed: %w", err))
			}
			if msg != "" {
				out["verified"] = out["verified"].(string) + "; " + msg
			}
		}
	}
	return q.f.print(q.g.stdout, out)
}

func verifyStateProofs(ctx context.Context, v *headerVerifier, height uint64, root chain.Hash, proofs []api.KeyProof) (*state.Proven, error) {
	if height == 0 {
		return nil, fmt.Errorf("the chain has no block yet")
	}
	hdr, err := v.header(ctx, height)
	if err != nil {
		return nil, err
	}
	if hdr.StateRoot != root {
		return nil, fmt.Errorf("state root %s is not block %d's %s", root, height, hdr.StateRoot)
	}
	return verifyProofs(root, proofs)
}

// verifyProofs checks every proof against root and returns the state they
// establish: Get answers proven keys only, Iterate follows the proven
// next-key records, so a list the node shortened, lengthened or cut is
// an error (state.ErrUnproven, chain.ErrBadProof), not an answer.
func verifyProofs(root chain.Hash, proofs []api.KeyProof) (*state.Proven, error) {
	pv := state.NewProven(root)
	for _, kp := range proofs {
		var p state.Proof
		if err := json.Unmarshal(kp.Proof, &p); err != nil {
			return nil, fmt.Errorf("proof for %q: %w", kp.Key, err)
		}
		if err := pv.Add(kp.Key, kp.Value, &p); err != nil {
			return nil, err
		}
	}
	return pv, nil
}

// withLists appends what the proofs established about the lists the
// query iterated ("" lists add nothing).
func withLists(verified string, pv *state.Proven) string {
	if d := state.DescribeLists(pv.Lists()); d != "" {
		return verified + "; " + d
	}
	return verified
}

// provenNonce reads the account's nonce from its proven key.
func provenNonce(r chain.KVReader, a chain.Address) (uint64, error) {
	v, err := r.Get(nonceKey(a))
	if err != nil {
		return 0, err
	}
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(v), nil
	}
	return 0, fmt.Errorf("nonce value of %d bytes", len(v))
}

// sameJSON compares two values by their JSON forms.
func sameJSON(a, b any) bool {
	norm := func(v any) string {
		raw, err := json.Marshal(v)
		if err != nil {
			return "!" + err.Error()
		}
		var x any
		if err := json.Unmarshal(raw, &x); err != nil {
			return "!" + err.Error()
		}
		out, _ := json.Marshal(x)
		return string(out)
	}
	return norm(a) == norm(b)
}
