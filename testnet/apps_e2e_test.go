package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/apps/staking"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/state"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/node/keystore"
)

// The application end-to-end tests drive the currency and staking modules
// through real nodes: txs are built and signed here, submitted with
// wait=commit, and every module answer is fetched with ?prove=true and
// recomputed locally from the proven state values.

// appsFee is the max fee of every tx here: all of it is charged, and
// it buys 10^6 gas, more than any single message needs.
const appsFee = 100

// wallet returns the demo account called name.
func (n *e2eNet) wallet(name string) *wallet {
	n.t.Helper()
	for _, w := range n.wallets {
		if w.name == name {
			return w
		}
	}
	n.t.Fatalf("no demo account %q in %s/keys", name, n.Dir)
	return nil
}

// execTx signs msg with key at the sender's next nonce (read from p's
// committed state), submits it to p with wait=commit and returns the
// committed result, whatever its code.
func (n *e2eNet) execTx(ctx context.Context, p *Proc, key chain.PrivKey, what string, msg chain.Msg) api.SubmitResponse {
	n.t.Helper()
	n.caughtUp(ctx, p)
	addr := chain.AddressOf(key.PubKey())
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	acct, err := p.Client.Account(actx, addr, false)
	cancel()
	if err != nil {
		n.t.Fatalf("%s: nonce of %s on %s: %v", what, addr, p.Node.Name, err)
	}
	tx := chain.Tx{ChainID: n.chainID, Nonce: acct.Nonce, MaxFee: appsFee, Msgs: []chain.Msg{msg}}
	raw, err := tx.Sign(n.codec, key)
	if err != nil {
		n.t.Fatalf("%s: sign: %v", what, err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	r, err := p.Client.Submit(sctx, raw, true)
	cancel()
	if err != nil {
		n.t.Fatalf("%s: submit to %s: %v", what, p.Node.Name, err)
	}
	if r.ID != chain.IDOf(raw) || r.Height == 0 || r.Result == nil {
		n.t.Fatalf("%s: %s acknowledged %s without a commit: %+v", what, p.Node.Name, chain.IDOf(raw), r)
	}
	return r
}

// caughtUp waits until p has every block any running node has, so that
// what the previous tx (acknowledged by another node) did is visible on p.
func (n *e2eNet) caughtUp(ctx context.Context, p *Proc) {
	n.t.Helper()
	var running []*Proc
	for _, q := range n.Procs {
		if q.Running() {
			running = append(running, q)
		}
	}
	n.waitHeight(ctx, 15*time.Second, maxHeight(ctx, running...), p)
}

// mustOK executes msg and requires code 0.
func (n *e2eNet) mustOK(ctx context.Context, p *Proc, key chain.PrivKey, what string, msg chain.Msg, err error) api.SubmitResponse {
	n.t.Helper()
	if err != nil {
		n.t.Fatalf("%s: build message: %v", what, err)
	}
	r := n.execTx(ctx, p, key, what, msg)
	if r.Result.Code != 0 {
		n.t.Fatalf("%s: committed at %d with code %d: %s", what, r.Height, r.Result.Code, r.Result.Log)
	}
	return r
}

// mustRefuse executes msg and requires it to be committed with a
// non-zero code whose log names want, and the state snapshot (taken on
// the same node before and after) to be unchanged.
func (n *e2eNet) mustRefuse(ctx context.Context, p *Proc, key chain.PrivKey, what string, msg chain.Msg, err error,
	want error, snapshot func(*Proc) string) {
	n.t.Helper()
	if err != nil {
		n.t.Fatalf("%s: build message: %v", what, err)
	}
	n.caughtUp(ctx, p)
	before := snapshot(p)
	r := n.execTx(ctx, p, key, what, msg)
	if r.Result.Code == 0 {
		n.t.Fatalf("%s: committed at %d with code 0; want it refused with %q", what, r.Height, want)
	}
	if !strings.Contains(r.Result.Log, want.Error()) {
		n.t.Fatalf("%s: refused at %d with code %d but log %q does not give the reason %q", what, r.Height, r.Result.Code, r.Result.Log, want)
	}
	if after := snapshot(p); after != before {
		n.t.Fatalf("%s: refused, yet the state changed:\nbefore %s\nafter  %s", what, before, after)
	}
}

// provenView is committed state as far as a query answer's proofs
// establish it, seen from one module (its prefix): a state.Proven, whose
// Iterate follows the proven next-key records, so a list the node cut
// short fails here too.
type provenView struct {
	prefix string
	pv     *state.Proven
}

func (v *provenView) Get(k []byte) ([]byte, error) {
	return v.pv.Get([]byte(v.prefix + string(k)))
}

func (v *provenView) Iterate(prefix []byte, fn func(k, val []byte) (bool, error)) error {
	return v.pv.Iterate([]byte(v.prefix+string(prefix)), func(k, val []byte) (bool, error) {
		return fn(k[len(v.prefix):], val)
	})
}

// add verifies one proof of an answer and records it.
func (v *provenView) add(kp api.KeyProof) error {
	var pr state.Proof
	if err := json.Unmarshal(kp.Proof, &pr); err != nil {
		return fmt.Errorf("proof for %q: %w", kp.Key, err)
	}
	return v.pv.Add(kp.Key, kp.Value, &pr)
}

// localModule is a module's query code, run here over proven values.
func (n *e2eNet) localModule(name string) chain.Module {
	switch name {
	case currency.ModuleName:
		return currency.New(chain.NewStoreKey(name), n.codec, currency.DefaultParams())
	case staking.ModuleName:
		return staking.New(chain.NewStoreKey(name), n.codec, nil) // queries never touch the bank
	}
	n.t.Fatalf("no local module %q", name)
	return nil
}

// verifiedHeader fetches block h from p and checks that the served ID is
// its header's hash, that its commit verifies against the validator set p
// serves for h, and that this set is the one the header names.
func (n *e2eNet) verifiedHeader(ctx context.Context, p *Proc, h uint64) (api.BlockInfo, *chain.ValidatorSet) {
	n.t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b, err := p.Client.Block(rctx, h)
	if err != nil {
		n.t.Fatalf("%s: block %d: %v", p.Node.Name, h, err)
	}
	if b.Header.Height != h || b.Header.ID(n.codec) != b.ID {
		n.t.Fatalf("%s: block %d served with ID %s, header of height %d hashing to %s", p.Node.Name, h, b.ID, b.Header.Height, b.Header.ID(n.codec))
	}
	vals, err := p.Client.Validators(rctx, h)
	if err != nil {
		n.t.Fatalf("%s: validators at %d: %v", p.Node.Name, h, err)
	}
	vs, err := chain.NewValidatorSet(vals.Validators)
	if err != nil {
		n.t.Fatalf("%s: validators at %d: %v", p.Node.Name, h, err)
	}
	if vs.Hash(n.codec) != b.Header.ValidatorsHash {
		n.t.Fatalf("%s: the validator set served for %d does not hash to block %d's validators_hash", p.Node.Name, h, h)
	}
	if err := chain.VerifyCommit(n.codec, n.chainID, vs, b.Commit, h, b.ID); err != nil {
		n.t.Fatalf("%s: commit of block %d: %v", p.Node.Name, h, err)
	}
	return b, vs
}

// provenQuery runs a module query on p with ?prove=true, verifies every
// proof against the state root of the (commit-verified) header at the
// answer's height, recomputes the answer from the proven values alone,
// requires it to equal the node's, and decodes it into out. It returns
// the answer's height.
func (n *e2eNet) provenQuery(ctx context.Context, p *Proc, module, path string, args map[string]string, out any) uint64 {
	n.t.Helper()
	q := map[string]string{"prove": "true"}
	for k, v := range args {
		q[k] = v
	}
	var res struct {
		Height uint64          `json:"height"`
		Result json.RawMessage `json:"result"`
		Proofs []api.KeyProof  `json:"proofs"`
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := p.Client.Query(rctx, module, path, q, &res)
	cancel()
	what := fmt.Sprintf("%s: query %s/%s %v", p.Node.Name, module, path, args)
	if err != nil {
		n.t.Fatalf("%s: %v", what, err)
	}
	if res.Height == 0 || len(res.Proofs) == 0 {
		n.t.Fatalf("%s: answer at height %d with %d proofs; want proofs with prove=true", what, res.Height, len(res.Proofs))
	}
	b, _ := n.verifiedHeader(ctx, p, res.Height)
	view := &provenView{prefix: module + "/", pv: state.NewProven(b.Header.StateRoot)}
	for _, kp := range res.Proofs {
		if err := view.add(kp); err != nil {
			n.t.Fatalf("%s: against block %d's state root: %v", what, res.Height, err)
		}
	}
	local, err := n.localModule(module).Query(view, path, args)
	if err != nil {
		n.t.Fatalf("%s: recomputing the answer from proven state: %v", what, err)
	}
	if got, want := normJSON(n.t, local), normJSON(n.t, res.Result); got != want {
		n.t.Fatalf("%s: the node answered %s, the proven state says %s", what, want, got)
	}
	if err := json.Unmarshal(res.Result, out); err != nil {
		n.t.Fatalf("%s: decode %s: %v", what, res.Result, err)
	}
	return res.Height
}

// normJSON is v's JSON with object keys sorted, for comparison.
func normJSON(t *testing.T, v any) string {
	t.Helper()
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	var x any
	if err := json.Unmarshal(raw, &x); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(x)
	return string(out)
}

// balance is addr's proven balance of denom on p, with its lots.
func (n *e2eNet) balance(ctx context.Context, p *Proc, addr chain.Address, denom string) currency.BalanceResult {
	n.t.Helper()
	var b currency.BalanceResult
	n.provenQuery(ctx, p, currency.ModuleName, "balance", map[string]string{"address": addr.String(), "denom": denom}, &b)
	return b
}

// supply is denom's proven supply on p.
func (n *e2eNet) supply(ctx context.Context, p *Proc, denom string) uint64 {
	n.t.Helper()
	var s currency.SupplyResult
	n.provenQuery(ctx, p, currency.ModuleName, "supply", map[string]string{"denom": denom}, &s)
	return uint64(s.Amount)
}

// currencyState is everything about denom a refused tx must not change,
// as one comparable string.
func (n *e2eNet) currencyState(ctx context.Context, p *Proc, denom string, holders []chain.Address) string {
	n.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "supply=%d", n.supply(ctx, p, denom))
	for _, a := range holders {
		r := n.balance(ctx, p, a, denom)
		fmt.Fprintf(&b, " %s=%d%v", a, r.Amount, r.Lots)
	}
	for _, path := range []string{"merchants", "settlements", "roles"} {
		var v json.RawMessage
		n.provenQuery(ctx, p, currency.ModuleName, path, map[string]string{"denom": denom}, &v)
		fmt.Fprintf(&b, " %s=%s", path, v)
	}
	return b.String()
}

// blockSeconds is the time of block h (as modules see it, Unix seconds).
func (n *e2eNet) blockSeconds(ctx context.Context, p *Proc, h uint64) int64 {
	n.t.Helper()
	b, _ := n.verifiedHeader(ctx, p, h)
	return b.Header.Time.Unix()
}

// Seoul Nowon's volunteer currency and a Suwon food voucher, run on four
// validators: issuance by volunteer hours, merchant-only spending, the
// holding cap, categories, redemption; refused txs are committed with the
// reason and change nothing; every answer is proven; all nodes agree.
func TestNowonScenarioOnTestnet(t *testing.T) {
	slow(t)
	parallelScenario(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now()
	n := newNet(t, netOpts{})
	n.start(ctx)
	alice, bob, carol, dave := n.wallet("alice"), n.wallet("bob"), n.wallet("carol"), n.wallet("dave")
	holders := []chain.Address{alice.addr, bob.addr, carol.addr, dave.addr}
	for _, v := range n.Manifest.Nodes {
		a, err := chain.ParseAddress(v.Validator)
		if err != nil {
			t.Fatalf("%s: validator address %q: %v", v.Name, v.Validator, err)
		}
		holders = append(holders, a)
	}
	c := n.codec
	// Txs go to the nodes in turn; each is checked on the node that
	// acknowledged it (its head includes the tx).
	next := 0
	via := func() *Proc { p := n.Procs[next%len(n.Procs)]; next++; return p }

	const nw = "nw"
	const threeYears = 3 * 365 * 86400
	rules := currency.Rules{HoldingCap: 50_000, ExpirySeconds: threeYears, HourlyRate: 700,
		Transfer: currency.TransferMerchants, Redeemable: true}
	m, err := currency.MsgCreate(c, nw, 0, rules)
	p := via()
	r := n.mustOK(ctx, p, alice.key, "alice creates nw", m, err)
	var cur currency.Currency
	n.provenQuery(ctx, p, currency.ModuleName, "currency", map[string]string{"denom": nw}, &cur)
	if cur.Issuer != alice.addr || cur.Rules.HoldingCap != 50_000 || cur.Rules.ExpirySeconds != threeYears ||
		cur.Rules.HourlyRate != 700 || cur.Rules.Transfer != currency.TransferMerchants || !cur.Rules.Redeemable {
		t.Fatalf("nw as created at %d: %+v", r.Height, cur)
	}

	m, err = currency.MsgGrant(c, nw, "coordinator", bob.addr)
	p = via()
	n.mustOK(ctx, p, alice.key, "alice grants coordinator to bob", m, err)
	var roles currency.RolesResult
	n.provenQuery(ctx, p, currency.ModuleName, "roles", map[string]string{"denom": nw}, &roles)
	if roles.Issuer != alice.addr || len(roles.Roles) != 1 || roles.Roles[0] != (currency.RoleResult{Role: "coordinator", Address: bob.addr}) {
		t.Fatalf("nw roles: %+v, want bob as the one coordinator", roles)
	}

	m, err = currency.MsgRegisterMerchant(c, nw, carol.addr, []string{"food"})
	p = via()
	n.mustOK(ctx, p, alice.key, "alice registers carol as a food merchant", m, err)
	var mr currency.MerchantResult
	n.provenQuery(ctx, p, currency.ModuleName, "merchant", map[string]string{"denom": nw, "address": carol.addr.String()}, &mr)
	if mr.Address != carol.addr || !slices.Equal(mr.Categories, []string{"food"}) || mr.Suspended {
		t.Fatalf("carol as nw merchant: %+v", mr)
	}

	// Two volunteer hours: 1,400 NW in one lot expiring three years after
	// the block, rounded up to the lot granularity (one day).
	m, err = currency.MsgConfirmHours(c, nw, dave.addr, 2, 0)
	p = via()
	r = n.mustOK(ctx, p, bob.key, "bob confirms 2 h for dave", m, err)
	now := n.blockSeconds(ctx, p, r.Height)
	exp := now + threeYears
	if rem := exp % currency.DefaultLotSeconds; rem != 0 {
		exp += currency.DefaultLotSeconds - rem
	}
	if b := n.balance(ctx, p, dave.addr, nw); b.Amount != 1400 {
		t.Fatalf("dave after 2 confirmed hours: %d nw, want 1400", b.Amount)
	}
	var lots []currency.LotResult
	n.provenQuery(ctx, p, currency.ModuleName, "lots", map[string]string{"address": dave.addr.String(), "denom": nw}, &lots)
	if want := []currency.LotResult{{Amount: 1400, Expires: exp}}; !slices.Equal(lots, want) {
		t.Fatalf("dave's lots after the confirmation at height %d (time %d): %+v, want %+v", r.Height, now, lots, want)
	}
	if s := n.supply(ctx, p, nw); s != 1400 {
		t.Fatalf("nw supply %d after minting 1400", s)
	}

	m, err = currency.MsgPay(c, carol.addr, nw, 1000, "food")
	p = via()
	n.mustOK(ctx, p, dave.key, "dave pays carol 1000 for food", m, err)
	if d, cb := n.balance(ctx, p, dave.addr, nw), n.balance(ctx, p, carol.addr, nw); d.Amount != 400 || cb.Amount != 1000 {
		t.Fatalf("after the payment dave has %d, carol %d; want 400 and 1000", d.Amount, cb.Amount)
	} else if want := []currency.LotResult{{Amount: 1000, Expires: exp}}; !slices.Equal(cb.Lots, want) {
		t.Fatalf("carol's lots %+v: a payment keeps the lot's expiry, want %+v", cb.Lots, want)
	}

	// Refused by the rules: committed with a code and the reason, no effect.
	snap := func(denom string) func(*Proc) string {
		return func(p *Proc) string { return n.currencyState(ctx, p, denom, holders) }
	}
	m, err = currency.MsgSend(c, bob.addr, nw, 100)
	n.mustRefuse(ctx, via(), dave.key, "dave sends nw to bob (not a merchant)", m, err, currency.ErrTransferNotAllowed, snap(nw))
	m, err = currency.MsgConfirmHours(c, nw, dave.addr, 80, 0)
	n.mustRefuse(ctx, via(), bob.key, "bob confirms 80 h for dave (over the cap)", m, err, currency.ErrCapExceeded, snap(nw))
	m, err = currency.MsgPay(c, carol.addr, nw, 100, "education")
	n.mustRefuse(ctx, via(), dave.key, "dave pays carol for education (not her category)", m, err, currency.ErrCategoryNotAllowed, snap(nw))

	// The bakery redeems its takings: burned, with a settlement record.
	m, err = currency.MsgRedeem(c, nw, 1000, "invoice-2026-11-001")
	p = via()
	r = n.mustOK(ctx, p, carol.key, "carol redeems 1000", m, err)
	var sets []currency.SettlementResult
	n.provenQuery(ctx, p, currency.ModuleName, "settlements", map[string]string{"denom": nw}, &sets)
	if len(sets) != 1 || sets[0].Merchant != carol.addr || sets[0].Amount != 1000 ||
		sets[0].Reference != "invoice-2026-11-001" || sets[0].Height != r.Height {
		t.Fatalf("nw settlements after carol's redemption at %d: %+v", r.Height, sets)
	}
	if s, cb := n.supply(ctx, p, nw), n.balance(ctx, p, carol.addr, nw); s != 400 || cb.Amount != 0 {
		t.Fatalf("after redeeming 1000: supply %d, carol %d; want 400 and 0", s, cb.Amount)
	}

	// A Suwon-style food voucher: spendable only at food merchants.
	const fv = "food-voucher"
	p = via()
	end := n.blockSeconds(ctx, p, n.minHeight(ctx, p)) + 365*86400
	m, err = currency.MsgCreate(c, fv, 0, currency.Rules{Transfer: currency.TransferMerchants, Categories: []string{"food"},
		VoucherEnd: chain.UnixSeconds(end), Redeemable: true})
	n.mustOK(ctx, p, alice.key, "alice creates the food voucher", m, err)
	m, err = currency.MsgRegisterMerchant(c, fv, carol.addr, []string{"food"})
	n.mustOK(ctx, via(), alice.key, "alice registers carol for food", m, err)
	m, err = currency.MsgRegisterMerchant(c, fv, bob.addr, []string{"education"})
	n.mustOK(ctx, via(), alice.key, "alice registers bob for education", m, err)
	m, err = currency.MsgMint(c, fv, dave.addr, 30_000)
	n.mustOK(ctx, via(), alice.key, "alice mints 30000 vouchers to dave", m, err)
	m, err = currency.MsgPay(c, carol.addr, fv, 12_000, "food")
	n.mustOK(ctx, via(), dave.key, "dave buys food from carol with vouchers", m, err)
	m, err = currency.MsgPay(c, bob.addr, fv, 5_000, "education")
	n.mustRefuse(ctx, via(), dave.key, "dave pays bob for education with food vouchers", m, err, currency.ErrCategoryNotAllowed, snap(fv))
	m, err = currency.MsgSend(c, bob.addr, fv, 5_000)
	n.mustRefuse(ctx, via(), dave.key, "dave sends food vouchers to bob (education only)", m, err, currency.ErrCategoryNotAllowed, snap(fv))
	p = via()
	if d, cb, bb := n.balance(ctx, p, dave.addr, fv), n.balance(ctx, p, carol.addr, fv), n.balance(ctx, p, bob.addr, fv); d.Amount != 18_000 || cb.Amount != 12_000 || bb.Amount != 0 {
		t.Fatalf("food vouchers: dave %d, carol %d, bob %d; want 18000, 12000, 0", d.Amount, cb.Amount, bb.Amount)
	}

	// Every node: the same chain, and each supply is the sum of balances.
	top := maxHeight(ctx, n.Procs...)
	n.waitHeight(ctx, 30*time.Second, top, n.Procs...)
	n.checkAgreement(ctx, 1, top, n.Procs...)
	for _, p := range n.Procs {
		for denom, want := range map[string]uint64{nw: 400, fv: 30_000} {
			var sum uint64
			for _, a := range holders {
				sum += uint64(n.balance(ctx, p, a, denom).Amount)
			}
			if s := n.supply(ctx, p, denom); s != want || sum != s {
				t.Fatalf("%s: %s supply %d, balances sum to %d; want both %d", p.Node.Name, denom, s, sum, want)
			}
		}
	}
	t.Logf("Nowon and Suwon scenarios committed and proven on 4 nodes; agreement over %d heights in %s", top, time.Since(start).Round(time.Millisecond))
}

// joinAsValidator turns a full node added by addFullNode into a would-be
// validator: a fresh key "validator" in its own test-backend keyring,
// named by priv_validator_key. It returns the key.
func (n *e2eNet) joinAsValidator(p *Proc) chain.PrivKey {
	n.t.Helper()
	ks, err := keystore.Open(filepath.Join(p.Node.Home, "keys"), keystore.BackendTest, nil)
	if err != nil {
		n.t.Fatal(err)
	}
	if _, err := ks.Add("validator"); err != nil {
		n.t.Fatal(err)
	}
	key, err := ks.Signer("validator")
	if err != nil {
		n.t.Fatal(err)
	}
	path := filepath.Join(p.Node.Home, config.FileName)
	cfg, err := config.Load(path)
	if err != nil {
		n.t.Fatal(err)
	}
	cfg.PrivValidatorKey = "validator"
	if err := config.Write(path, cfg); err != nil {
		n.t.Fatal(err)
	}
	p.Node.Validator = chain.AddressOf(key.PubKey()).String()
	return key
}

// setAt is the validator set every proc serves for height h; they must
// all serve the same one.
func (n *e2eNet) setAt(ctx context.Context, h uint64, procs ...*Proc) api.Validators {
	n.t.Helper()
	var ref api.Validators
	for i, p := range procs {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		v, err := p.Client.Validators(rctx, h)
		cancel()
		if err != nil {
			n.t.Fatalf("%s: validators at %d: %v", p.Node.Name, h, err)
		}
		if v.Height != h {
			n.t.Fatalf("%s: asked for the set at %d, got %d", p.Node.Name, h, v.Height)
		}
		if i == 0 {
			ref = v
		} else if normJSON(n.t, v.Validators) != normJSON(n.t, ref.Validators) {
			n.t.Fatalf("validator sets at %d differ: %s has %+v, %s has %+v", h, procs[0].Node.Name, ref.Validators, p.Node.Name, v.Validators)
		}
	}
	return ref
}

// selfPower asserts that p's status names addr as its validator key with
// the given power in the next height's set (0: not a member).
func (n *e2eNet) selfPower(ctx context.Context, p *Proc, addr chain.Address, power uint64) {
	n.t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := p.Client.Status(rctx)
	if err != nil {
		n.t.Fatalf("%s: status: %v", p.Node.Name, err)
	}
	if st.Validator == nil || st.Validator.Address != addr || st.Validator.Power != power {
		n.t.Fatalf("%s at height %d reports validator %+v, want %s with power %d", p.Node.Name, st.Height, st.Validator, addr, power)
	}
}

// member finds addr in a served set.
func member(v api.Validators, addr chain.Address) (chain.Validator, bool) {
	for _, x := range v.Validators {
		if x.Address == addr {
			return x, true
		}
	}
	return chain.Validator{}, false
}

// signedBy reports whether the commit p serves for block h (verified
// against the set of h) has addr's signature.
func (n *e2eNet) signedBy(ctx context.Context, p *Proc, h uint64, addr chain.Address) bool {
	n.t.Helper()
	b, _ := n.verifiedHeader(ctx, p, h)
	for _, s := range b.Commit.Sigs {
		if s.Validator == addr {
			return true
		}
	}
	return false
}

// A full node whose operator bonds stake becomes a validator two heights
// after the bond, signs commits (with 20 of 60 power the chain cannot
// commit without it), and leaves the set two heights after unbonding,
// while the chain keeps committing.
func TestBondedValidatorJoinsAndLeaves(t *testing.T) {
	slow(t)
	parallelScenario(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	start := time.Now()
	n := newNet(t, netOpts{spare: 1})
	n.start(ctx)
	vals := append([]*Proc(nil), n.Procs...)
	joiner := n.addFullNode(len(vals))
	key := n.joinAsValidator(joiner)
	addr, pub := chain.AddressOf(key.PubKey()), key.PubKey()
	if err := joiner.Start(); err != nil {
		t.Fatal(err)
	}
	n.waitHeight(ctx, 30*time.Second, maxHeight(ctx, vals...), joiner)
	all := n.Procs
	n.selfPower(ctx, joiner, addr, 0)

	const stake = 20_000_000 // power 20 at power_reduction 1,000,000
	alice := n.wallet("alice")
	m, err := currency.MsgSend(n.codec, addr, "dure", stake+10*appsFee)
	n.mustOK(ctx, vals[0], alice.key, "alice funds the joiner", m, err)
	if b := n.balance(ctx, vals[0], addr, "dure"); b.Amount != stake+10*appsFee {
		t.Fatalf("joiner's account holds %d dure, want %d", b.Amount, stake+10*appsFee)
	}
	n.waitHeight(ctx, 30*time.Second, n.minHeight(ctx, vals[0]), joiner)

	// Bond at H: not in the set of H+1, in the set of H+2 with its power.
	m, err = staking.MsgBond(n.codec, pub, stake)
	bond := n.mustOK(ctx, joiner, key, "the joiner bonds", m, err)
	H := bond.Height
	n.waitHeight(ctx, 30*time.Second, H+2, all...)
	before := n.setAt(ctx, H+1, all...)
	if _, ok := member(before, addr); ok || len(before.Validators) != 4 || before.Total != 40 {
		t.Fatalf("set at H+1 = %d (bond at %d): %+v, total %d; want the 4 genesis validators (40) without %s", H+1, H, before.Validators, before.Total, addr)
	}
	after := n.setAt(ctx, H+2, all...)
	v, ok := member(after, addr)
	if !ok || v.PubKey != pub || v.Power != stake/1_000_000 || len(after.Validators) != 5 || after.Total != 60 {
		t.Fatalf("set at H+2 = %d (bond at %d): %+v, total %d; want 5 members with %s at power %d", H+2, H, after.Validators, after.Total, addr, stake/1_000_000)
	}
	n.selfPower(ctx, joiner, addr, stake/1_000_000)
	var info staking.ValidatorInfo
	n.provenQuery(ctx, vals[1], staking.ModuleName, "validator", map[string]string{"address": addr.String()}, &info)
	if !info.Active || info.Power != stake/1_000_000 || info.SelfStake < stake || info.Jailed {
		t.Fatalf("staking's view of the joiner: %+v", info)
	}

	// It signs: the commits of blocks from H+3 carry its signature, and
	// the chain keeps committing (it cannot without the joiner's power).
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	err = WaitHeight(wctx, H+8, all...)
	wcancel()
	if err != nil {
		n.dumpLogTail(joiner, 40)
		t.Fatalf("after the bond at %d the chain did not reach %d: %v\nnodes now:\n%s", H, H+8, err, n.describe())
	}
	signed := 0
	for h := H + 3; h <= H+8; h++ {
		for _, p := range all {
			if n.signedBy(ctx, p, h, addr) {
				signed++
				break
			}
		}
	}
	if signed == 0 {
		t.Fatalf("no commit of blocks %d..%d carries the joiner's signature", H+3, H+8)
	}

	// Unbond everything at U: gone from the set of U+2, no signature
	// after U+3, and the chain goes on with the genesis four.
	m, err = staking.MsgUnbondAll(n.codec)
	unbond := n.mustOK(ctx, joiner, key, "the joiner unbonds everything", m, err)
	U := unbond.Height
	n.waitHeight(ctx, 30*time.Second, U+2, all...)
	if _, ok := member(n.setAt(ctx, U+1, all...), addr); !ok {
		t.Fatalf("the joiner left the set at U+1 = %d already (unbonded at %d): the H+2 rule applies to leaving too", U+1, U)
	}
	gone := n.setAt(ctx, U+2, all...)
	if _, ok := member(gone, addr); ok || len(gone.Validators) != 4 || gone.Total != 40 {
		t.Fatalf("set at U+2 = %d (unbond at %d): %+v, total %d; want the genesis four without the joiner", U+2, U, gone.Validators, gone.Total)
	}
	n.selfPower(ctx, joiner, addr, 0)
	var dels staking.Delegations
	n.provenQuery(ctx, vals[2], staking.ModuleName, "delegations", map[string]string{"delegator": addr.String()}, &dels)
	if len(dels.Delegations) != 0 || len(dels.Unbonding) != 1 || dels.Unbonding[0].Amount < stake || dels.Unbonding[0].CreationHeight != U {
		t.Fatalf("joiner's stake after unbonding all at %d: %+v", U, dels)
	}
	n.waitHeight(ctx, 30*time.Second, U+9, all...)
	for h := U + 4; h <= U+9; h++ {
		for _, p := range all {
			if n.signedBy(ctx, p, h, addr) {
				t.Fatalf("%s: the commit of block %d carries the joiner's signature; it left the set at %d", p.Node.Name, h, U+2)
			}
		}
	}
	top := n.minHeight(ctx, all...)
	n.checkAgreement(ctx, 1, top, all...)
	t.Logf("bonded at %d (in the set from %d, %d of blocks %d..%d signed by it), unbonded at %d (out from %d); 5 nodes agree over %d heights in %s",
		H, H+2, signed, H+3, H+8, U, U+2, top, time.Since(start).Round(time.Millisecond))
}

// dumpLogTail logs the end of one node's log.
func (n *e2eNet) dumpLogTail(p *Proc, lines int) {
	b, err := os.ReadFile(filepath.Join(p.Node.Home, "node.log"))
	if err != nil {
		n.t.Logf("%s: no log: %v", p.Node.Name, err)
		return
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	n.t.Logf("---- %s (last %d lines) ----\n%s", p.Node.Name, len(ls), strings.Join(ls, "\n"))
}
