package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/apps/subnet"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/genesis"
)

// The top-down steps of TestSubnetCheckpointsAndWithdrawal, each its own
// function: the subnet's genesis follows the parent (`dure subnet
// follow`); the subnet validators' nodes (`dure start --subnet`) relay the
// parent's deposits with the parent's light blocks and a state proof, and
// the subnet mints them (a deposit made before the subnet started, one
// while it runs, with its lag); a later checkpoint carries
// deposits_applied; a deposit to a module account is parked; `follow
// --trust` checks a parent header; `dure subnet topdown` relays racing the
// loops; after the halt the parent refuses to refund an applied deposit
// and pays back the parked one (`dure subnet reclaim`).

// followParent puts the topdown section, from the parent's genesis, in
// every subnet node's genesis (before the subnet's genesis hash is read).
func followParent(ctx context.Context, t *testing.T, sub, parent *e2eNet, id string) {
	t.Helper()
	out := mustDure(ctx, t, "subnet", "follow", filepath.Join(parent.Procs[0].Node.Home, "genesis.json"), "--subnet", id)
	for _, p := range sub.Procs {
		path := filepath.Join(p.Node.Home, "genesis.json")
		g, err := genesis.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		var section map[string]json.RawMessage
		if err := json.Unmarshal(g.AppState["subnet"], &section); err != nil {
			t.Fatal(err)
		}
		section["topdown"] = json.RawMessage(out)
		raw, err := json.Marshal(section)
		if err != nil {
			t.Fatal(err)
		}
		g.AppState["subnet"] = raw
		if err := g.Write(path); err != nil {
			t.Fatal(err)
		}
	}
}

// genesisBalance is a's native balance in sub's genesis.
func genesisBalance(t *testing.T, sub *e2eNet, a chain.Address) uint64 {
	t.Helper()
	g, err := genesis.Load(filepath.Join(sub.Procs[0].Node.Home, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cg currency.Genesis
	if err := json.Unmarshal(g.AppState["currency"], &cg); err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, b := range cg.Balances {
		if b.Address == a && b.Denom == cg.NativeDenom {
			n += uint64(b.Amount)
		}
	}
	return n
}

// checkDepositMinted waits for the parent's deposit of amount to `to` to
// be minted on the subnet, checks both chains' books, and waits for a
// checkpoint on the parent naming it applied.
func checkDepositMinted(ctx context.Context, t *testing.T, parent, sub *e2eNet, to chain.Address, base, amount uint64) {
	t.Helper()
	start := time.Now()
	for balanceOf(ctx, t, sub, to) != base+amount {
		if time.Since(start) > 60*time.Second {
			t.Fatalf("deposit not minted within 60 s: %s has %d on the subnet, want %d", to, balanceOf(ctx, t, sub, to), base+amount)
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("deposit of %d (made before the subnet started) minted to %s on the subnet", amount, to)

	sk := []string{"--home", sub.Dir, "--keyring-backend", "test", "--node", sub.Procs[0].Node.API}
	var td struct {
		Result struct {
			Applied uint64 `json:"applied"`
			Minted  uint64 `json:"minted"`
			Parked  uint64 `json:"parked"`
			Height  uint64 `json:"height"`
		} `json:"result"`
		Verified string `json:"verified"`
	}
	out := mustDure(ctx, t, append([]string{"query", "subnet", "topdown"}, sk...)...)
	if err := json.Unmarshal([]byte(out), &td); err != nil || !strings.Contains(td.Verified, "proven") {
		t.Fatalf("query subnet topdown: %v\n%s", err, out)
	}
	if td.Result.Applied != 1 || td.Result.Minted != amount || td.Result.Parked != 0 {
		t.Fatalf("subnet topdown state %+v, want 1 deposit applied, %d minted", td.Result, amount)
	}

	pk := []string{"--home", parent.Dir, "--keyring-backend", "test", "--node", parent.Procs[0].Node.API}
	var st struct {
		Subnet struct {
			Last struct {
				Height  uint64 `json:"height"`
				Applied uint64 `json:"deposits_applied"`
			} `json:"last"`
			Locked   uint64 `json:"locked"`
			Deposits uint64 `json:"deposits"`
		} `json:"subnet"`
	}
	for start = time.Now(); ; time.Sleep(500 * time.Millisecond) {
		out := mustDure(ctx, t, append([]string{"subnet", "status", "garden-coop"}, pk...)...)
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status: %v\n%s", err, out)
		}
		if st.Subnet.Last.Applied == 1 {
			break
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("no checkpoint with deposits_applied 1 within 60 s: %+v", st.Subnet)
		}
	}
	if st.Subnet.Locked != amount || st.Subnet.Deposits != 1 {
		t.Fatalf("parent books: locked %d, %d deposits; want %d, 1", st.Subnet.Locked, st.Subnet.Deposits, amount)
	}
	if got := balanceOf(ctx, t, parent, subnet.Escrow()); got < amount {
		t.Fatalf("parent escrow holds %d, want at least %d", got, amount)
	}
	t.Logf("checkpoint %d on the parent carries deposits_applied 1; the parent still locks %d for it", st.Subnet.Last.Height, amount)
}

// checkAppliedNotRefunded: after the halt, the minted deposit is not
// refunded on the parent (its value left with the holders' escapes).
func checkAppliedNotRefunded(ctx context.Context, t *testing.T, parent *e2eNet) {
	t.Helper()
	pk := []string{"--home", parent.Dir, "--keyring-backend", "test", "--node", parent.Procs[0].Node.API}
	out, code := dure(ctx, t, append([]string{"tx", "subnet", "refund", "--subnet", "garden-coop", "--nonce", "0", "--from", "alice"}, pk...)...)
	if code != 1 || !strings.Contains(out, "was applied on the subnet") {
		t.Fatalf("refund of an applied deposit after the halt: exit %d\n%s", code, out)
	}
}

// checkLiveDeposit deposits while both chains run and measures the lag
// from the parent block holding the deposit to the first subnet block
// seen with the minted balance (polled every 100 ms: an upper bound).
func checkLiveDeposit(ctx context.Context, t *testing.T, parent, sub *e2eNet, to chain.Address, amount uint64) {
	t.Helper()
	pk := []string{"--home", parent.Dir, "--keyring-backend", "test", "--node", parent.Procs[0].Node.API}
	before := balanceOf(ctx, t, sub, to)
	out := mustDure(ctx, t, append([]string{"tx", "subnet", "deposit", "--from", "alice", "--subnet", "garden-coop",
		"--to", to.String(), "--amount", fmt.Sprint(amount)}, pk...)...)
	var res struct {
		Height uint64 `json:"height"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Height == 0 {
		t.Fatalf("deposit: %v\n%s", err, out)
	}
	pb, err := parent.Procs[0].Client.Block(ctx, res.Height)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		acct, err := sub.Procs[0].Client.Account(ctx, to, false)
		if err != nil {
			t.Fatal(err)
		}
		got := dureBalance(t, acct)
		if got == before+amount {
			sb, err := sub.Procs[0].Client.Block(ctx, acct.Height)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("live deposit of %d: parent block %d → minted on the subnet by block %d, lag ≤ %s (block times)",
				amount, res.Height, acct.Height, time.Duration(sb.Header.Time-pb.Header.Time).Round(time.Millisecond))
			return
		} else if got != before {
			t.Fatalf("%s has %d on the subnet, want %d", to, got, before+amount)
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("live deposit not minted within 60 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkParkedDeposit deposits to an account the subnet cannot credit (its
// escrow, a module account): it is applied but parked in the inbox.
func checkParkedDeposit(ctx context.Context, t *testing.T, parent, sub *e2eNet, amount uint64) {
	t.Helper()
	pk := []string{"--home", parent.Dir, "--keyring-backend", "test", "--node", parent.Procs[0].Node.API}
	mustDure(ctx, t, append([]string{"tx", "subnet", "deposit", "--from", "alice", "--subnet", "garden-coop",
		"--to", subnet.Escrow().String(), "--amount", fmt.Sprint(amount)}, pk...)...)
	sk := []string{"--home", sub.Dir, "--keyring-backend", "test", "--node", sub.Procs[0].Node.API}
	for start := time.Now(); ; time.Sleep(300 * time.Millisecond) {
		var in struct {
			Result []subnet.Parked `json:"result"`
		}
		out := mustDure(ctx, t, append([]string{"query", "subnet", "inbox"}, sk...)...)
		if err := json.Unmarshal([]byte(out), &in); err != nil {
			t.Fatalf("inbox: %v\n%s", err, out)
		}
		if len(in.Result) == 1 {
			if p := in.Result[0]; p.Deposit.Amount != amount || !strings.Contains(p.Reason, "module account") {
				t.Fatalf("inbox %+v", in.Result)
			}
			t.Logf("deposit %d of %d to the subnet's escrow parked: %q", in.Result[0].Deposit.Nonce, amount, in.Result[0].Reason)
			return
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("deposit not parked within 60 s:\n%s", out)
		}
	}
}

// checkReclaim: after the halt, the parked deposit is paid back to its
// sender on the parent by the proof of its inbox entry, once.
func checkReclaim(ctx context.Context, t *testing.T, parent, sub *e2eNet, nonce, amount uint64) {
	t.Helper()
	alice := demoAddr(t, parent.Dir, "alice")
	before := balanceOf(ctx, t, parent, alice)
	args := append([]string{"subnet", "reclaim", "--subnet", "garden-coop", "--nonce", fmt.Sprint(nonce), "--data", sub.Procs[0].Node.Home,
		"--from", "carol", "--node", parent.Procs[0].Node.API, "--parent", parent.Procs[0].Node.API}, "--home", parent.Dir, "--keyring-backend", "test")
	mustDure(ctx, t, args...)
	if got := balanceOf(ctx, t, parent, alice) - before; got != amount {
		t.Fatalf("alice got %d back on the parent, want %d", got, amount)
	}
	if out, code := dure(ctx, t, args...); code != 1 || !strings.Contains(out, "already released") {
		t.Fatalf("second reclaim: exit %d\n%s", code, out)
	}
	t.Logf("after the halt, the parked deposit %d (%d) was reclaimed to alice on the parent by its inbox proof, once", nonce, amount)
}

// checkFollowTrust: `dure subnet follow --trust` prints a section trusting
// a parent header once its ID and commit check, and refuses a wrong ID.
func checkFollowTrust(ctx context.Context, t *testing.T, parent *e2eNet) {
	t.Helper()
	h, err := parent.Procs[0].Height(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parent.Procs[1].Client.Block(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	id := b.Header.ID(chain.MustCodec())
	out := mustDure(ctx, t, "subnet", "follow", "--subnet", "garden-coop", "--trust", fmt.Sprintf("%d:%s", h, id), "--parent-api", parent.Procs[0].Node.API)
	var tg subnet.TopDownGenesis
	if err := json.Unmarshal([]byte(out), &tg); err != nil {
		t.Fatalf("follow --trust: %v\n%s", err, out)
	}
	if tg.Height != h || tg.BlockID != id || tg.StateRoot != b.Header.StateRoot || len(tg.Validators) != len(parent.Procs) {
		t.Fatalf("follow --trust printed %+v for block %d %s", tg, h, id)
	}
	wrong := fmt.Sprintf("%d:%s", h, chain.IDOf([]byte("not that block")))
	if out, code := dure(ctx, t, "subnet", "follow", "--subnet", "garden-coop", "--trust", wrong, "--parent-api", parent.Procs[0].Node.API); code != 1 || !strings.Contains(out, "not bafy") {
		t.Fatalf("follow --trust with a wrong id: exit %d\n%s", code, out)
	}
}

// checkRetrustRefusedWhileFresh: `dure subnet retrust` checks a parent
// header at a parent node and sends the vote, which the subnet refuses
// while its trust in the parent is fresh (the 14 days it takes to expire
// are run in-process: apps/subnet TestRetrustAfterExpiry).
func checkRetrustRefusedWhileFresh(ctx context.Context, t *testing.T, parent, sub *e2eNet) {
	t.Helper()
	h, err := parent.Procs[0].Height(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parent.Procs[0].Client.Block(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	trust := fmt.Sprintf("%d:%s", h, b.Header.ID(chain.MustCodec()))
	out, code := dure(ctx, t, "subnet", "retrust", "--subnet", "garden-coop", "--trust", trust, "--parent", parent.Procs[0].Node.API,
		"--node", sub.Procs[0].Node.API, "--from", "bob", "--home", sub.Dir, "--keyring-backend", "test")
	if code != 1 || !strings.Contains(out, "has not expired") {
		t.Fatalf("retrust while the trust is fresh: exit %d\n%s", code, out)
	}
}

// checkTopDownCLI: anyone relays with `dure subnet topdown`; racing the
// validators' loops it either sends the deposit or finds nothing to do,
// and the deposit is minted once either way.
func checkTopDownCLI(ctx context.Context, t *testing.T, parent, sub *e2eNet, to chain.Address, amount uint64) {
	t.Helper()
	before := balanceOf(ctx, t, sub, to)
	pk := []string{"--home", parent.Dir, "--keyring-backend", "test", "--node", parent.Procs[0].Node.API}
	mustDure(ctx, t, append([]string{"tx", "subnet", "deposit", "--from", "alice", "--subnet", "garden-coop",
		"--to", to.String(), "--amount", fmt.Sprint(amount)}, pk...)...)
	out := mustDure(ctx, t, "subnet", "topdown", "--subnet", "garden-coop", "--node", sub.Procs[1].Node.API, "--parent", parent.Procs[1].Node.API,
		"--from", "bob", "--home", sub.Dir, "--keyring-backend", "test")
	if !strings.Contains(out, `"topdown"`) {
		t.Fatalf("dure subnet topdown:\n%s", out)
	}
	for start := time.Now(); balanceOf(ctx, t, sub, to) != before+amount; time.Sleep(200 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("deposit not minted: %d, want %d", balanceOf(ctx, t, sub, to), before+amount)
		}
	}
	time.Sleep(2 * time.Second) // a duplicate would have landed by now
	if got := balanceOf(ctx, t, sub, to); got != before+amount {
		t.Fatalf("minted twice? %d, want %d", got, before+amount)
	}
	t.Logf("dure subnet topdown (racing the validators' loops): %s", strings.Join(strings.Fields(out), " ")[:min(120, len(strings.Join(strings.Fields(out), " ")))])
}
