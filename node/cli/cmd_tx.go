package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node"
)

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // ">2/3", not "\u003e2/3"
	return enc.Encode(v)
}

// printText writes v (through its JSON form) as one line per value,
// "path  value", in the JSON's field order for structs and sorted keys
// for maps.
func printText(w io.Writer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var lines [][2]string
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				empty := true
				for dec.More() {
					k, err := dec.Token()
					if err != nil {
						return err
					}
					empty = false
					p := fmt.Sprint(k)
					if path != "" {
						p = path + "." + p
					}
					if err := walk(p); err != nil {
						return err
					}
				}
				if empty {
					lines = append(lines, [2]string{path, "{}"})
				}
			case '[':
				i := 0
				for dec.More() {
					if err := walk(fmt.Sprintf("%s[%d]", path, i)); err != nil {
						return err
					}
					i++
				}
				if i == 0 {
					lines = append(lines, [2]string{path, "[]"})
				}
			}
			_, err := dec.Token() // closing delimiter
			return err
		case nil:
			lines = append(lines, [2]string{path, "null"})
		default:
			lines = append(lines, [2]string{path, fmt.Sprint(t)})
		}
		return nil
	}
	if err := walk(""); err != nil {
		return fmt.Errorf("text output: %w", err)
	}
	width := 0
	for _, l := range lines {
		width = max(width, len(l[0]))
	}
	for _, l := range lines {
		if _, err := fmt.Fprintf(w, "%-*s  %s\n", width, l[0], l[1]); err != nil {
			return err
		}
	}
	return nil
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
	c.PersistentFlags().Uint64Var(&f.fee, "fee", 10, "fee in "+node.NativeDenom+" (at least the chain's min_fee); the whole fee is charged")
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

// broadcast signs msgs with key and submits them.
func (f *txFlags) broadcast(ctx context.Context, g *globals, key chain.PrivKey, msgs []chain.Msg) error {
	codec := chain.MustCodec()
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
	if err := f.print(g.stdout, out); err != nil {
		return err
	}
	if out.Code != chain.CodeOK {
		return withCode(ExitError, fmt.Errorf("tx %s committed at height %d but failed (code %d): %s", out.ID, out.Height, out.Code, out.Log))
	}
	return nil
}

func newTxCmd(g *globals) *cobra.Command {
	var names, examples []string
	var subs []*cobra.Command
	for _, m := range node.Modules() {
		d, ok := m.(chain.Describer)
		if !ok {
			continue
		}
		desc := d.Describe()
		if len(desc.Msgs) == 0 {
			continue
		}
		names = append(names, m.Name())
		examples = append(examples, desc.Msgs[0].Examples...)
		subs = append(subs, newTxModuleCmd(g, m.Name(), desc))
	}
	cmd := &cobra.Command{
		Use:     "tx",
		Short:   "Sign and send transactions (" + strings.Join(names, ", ") + ")",
		Example: indentExamples(examples),
		Long: `tx builds a transaction, signs it locally with a key from the keyring (--from)
and submits it to a node's API, by default waiting until it is in a block.
Addresses may be written as dure1... or as the name of a key in your keyring.
Every field is checked here first: a mistyped value is refused with exit
code 2 before anything is signed or any fee spent.`,
	}
	cmd.AddCommand(subs...)
	return cmd
}

// indentExamples formats full command lines as a cobra Example block.
func indentExamples(ex []string) string {
	var b strings.Builder
	for i, e := range ex {
		if i > 0 {
			b.WriteByte('\n')
		}
		for j, line := range strings.Split(e, "\n") {
			if j > 0 {
				b.WriteByte('\n')
			}
			b.WriteString("  " + line)
		}
	}
	return b.String()
}

// newTxModuleCmd is `dure tx <module>`, one subcommand per message the
// module describes.
func newTxModuleCmd(g *globals, module string, desc chain.Description) *cobra.Command {
	f := &txFlags{}
	var ex []string
	for _, m := range desc.Msgs {
		ex = append(ex, m.Examples...)
	}
	cmd := &cobra.Command{Use: module, Short: desc.Short, Long: desc.Long, Example: indentExamples(ex)}
	f.register(cmd)
	for _, m := range desc.Msgs {
		cmd.AddCommand(newTxMsgCmd(g, f, m))
	}
	return cmd
}

func newTxMsgCmd(g *globals, f *txFlags, m chain.MsgDesc) *cobra.Command {
	c := &cobra.Command{Use: m.Type, Short: m.Short, Long: m.Long, Example: indentExamples(m.Examples), Args: cobra.NoArgs}
	flags := bindFields(c, m.Fields)
	c.RunE = func(c *cobra.Command, _ []string) error {
		raw, err := flags.values(func(s string) (string, error) {
			a, err := f.resolveAddr(g, s)
			return a.String(), err
		})
		if err != nil {
			return err
		}
		v, err := chain.ParseValues(m.Fields, raw, chain.PubKey{})
		if err != nil {
			return usageErr("%v", err)
		}
		key, err := f.signer(g)
		if err != nil {
			return err
		}
		v.Signer = key.PubKey()
		msg, err := m.Build(chain.MustCodec(), v)
		if err != nil {
			if errors.Is(err, chain.ErrInvalidMsg) {
				return usageErr("%v", err)
			}
			return err
		}
		return f.broadcast(c.Context(), g, key, []chain.Msg{msg})
	}
	return c
}

// fieldFlags are the flags bound to a description's fields.
type fieldFlags []*fieldFlag

// fieldFlag is one field as a pflag.Value: it checks each value as it is
// set, so a typo fails flag parsing (exit 2) before anything else runs.
// Address fields are checked after key names are resolved.
type fieldFlag struct {
	f   chain.Field
	val string
	set bool
}

func (v *fieldFlag) String() string { return v.val }

func (v *fieldFlag) Set(s string) error {
	if v.f.Kind == chain.FieldList && v.set && v.val != "" {
		s = v.val + "," + s // repeated flags add items
	}
	if v.f.Kind != chain.FieldAddress {
		if err := v.f.CheckValue(s); err != nil {
			return err
		}
	}
	v.val, v.set = s, true
	return nil
}

func (v *fieldFlag) Type() string {
	if v.f.Kind == chain.FieldEnum {
		return strings.Join(v.f.Enum, "|")
	}
	return v.f.Kind.String()
}

func bindFields(c *cobra.Command, fields []chain.Field) fieldFlags {
	var out fieldFlags
	for _, f := range fields {
		v := &fieldFlag{f: f, val: f.Default}
		help := f.Help
		if f.Required {
			help += " (required)"
		}
		fl := c.Flags().VarPF(v, f.Name, "", help)
		if f.Kind == chain.FieldBool {
			fl.NoOptDefVal = "true"
		}
		out = append(out, v)
	}
	return out
}

// values returns what was set, by field name, with address fields
// resolved through resolve (key names become addresses).
func (ff fieldFlags) values(resolve func(string) (string, error)) (map[string]string, error) {
	raw := map[string]string{}
	for _, v := range ff {
		if !v.set {
			continue
		}
		s := v.val
		if v.f.Kind == chain.FieldAddress && s != "" {
			var err error
			if s, err = resolve(s); err != nil {
				return nil, err
			}
		}
		raw[v.f.Name] = s
	}
	return raw, nil
}
