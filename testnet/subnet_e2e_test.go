package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/keystore"
)

// The subnet end-to-end test runs two networks of real processes: a parent
// of four validators and a subnet of three (its own chain ID and genesis,
// powers 40/30/30 so that it survives losing a 30,
// checkpoint period 5). The subnet is registered on the parent through the
// CLI; each subnet validator's node runs with `dure start --subnet`, which
// records its checkpoint signatures on the subnet chain; two relayers on the parent
// side (`dure subnet relay --watch`) submit checkpoints. It checks, in
// order: checkpoints land; a withdrawal made on the subnet is released on
// the parent by its outbox proof, once; a relayer killed, checkpoints go
// on; a subnet validator killed, checkpoints go on; every
// relayer down for four periods, a fresh one catches up in one submission;
// a checkpoint verified by the CLI; the lag figures; the whole subnet
// stopped, a holder escapes on the parent by a state proof.

const subnetPeriod = 5

// newSubnetNet generates a network like newNet, with chainID and a
// subnet genesis section giving it checkpoint period k.
func newSubnetNet(t *testing.T, validators int, chainID string, k uint64) *e2eNet {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "subnet")
	base := freeBasePort(t, validators)
	gen := exec.Command(dureBin, "testnet", "--generate-only", "--dir", dir, "--validators", fmt.Sprint(validators),
		"--base-port", fmt.Sprint(base), "--heartbeat", "300ms", "--chain-id", chainID)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("generate subnet: %v\n%s", err, out)
	}
	m, err := LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	section := fmt.Sprintf(`{"params": {"min_collateral": 1000000, "power_reduction": 1000000, "escape_after": 1000, "unbonding_blocks": 1000, "slash_bp": 10000, "checkpoint_period": %d}}`, k)
	for _, nd := range m.Nodes {
		p := filepath.Join(nd.Home, "genesis.json")
		g, err := genesis.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		g.AppState["subnet"] = json.RawMessage(section)
		if err := g.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	n, err := Open(dureBin, dir)
	if err != nil {
		t.Fatal(err)
	}
	en := &e2eNet{Net: n, t: t, codec: chain.MustCodec(), chainID: chainID, base: base}
	t.Cleanup(func() {
		if t.Failed() {
			en.dumpLogs(40)
		}
		if err := n.StopAll(5 * time.Second); err != nil {
			t.Logf("stop subnet: %v", err)
		}
	})
	return en
}

// dure runs the binary and returns its output and exit code.
func dure(ctx context.Context, t *testing.T, args ...string) (string, int) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, dureBin, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String() + errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("dure %v: %v", args, err)
	}
	return out.String() + errb.String(), 0
}

func mustDure(ctx context.Context, t *testing.T, args ...string) string {
	t.Helper()
	out, code := dure(ctx, t, args...)
	if code != 0 {
		t.Fatalf("dure %v: exit %d\n%s", args, code, out)
	}
	return out
}

// background starts a long-running dure command, logging to a file, and
// returns it; the test's cleanup kills it.
func background(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dureBin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) > 30 {
				lines = lines[len(lines)-30:]
			}
			t.Logf("---- %s ----\n%s", name, strings.Join(lines, "\n"))
		}
		logf.Close()
	})
	return cmd
}

type subnetStatus struct {
	Subnet struct {
		Last struct {
			Height       uint64 `json:"height"`
			MsgCount     uint64 `json:"msg_count"`
			ParentHeight uint64 `json:"parent_height"`
		} `json:"last"`
		Checkpoints uint64 `json:"checkpoints"`
		Locked      uint64 `json:"locked"`
		Halted      bool   `json:"halted"`
	} `json:"subnet"`
	ParentBlocksSince uint64 `json:"parent_blocks_since_checkpoint"`
	Verified          string `json:"verified"`
}

func TestSubnetCheckpointsAndWithdrawal(t *testing.T) {
	slow(t)
	parallelScenario(t)
	ctx := context.Background()
	parent := newNet(t, netOpts{validators: 4})
	// the parent lets holders escape a subnet silent for 15 blocks
	for _, p := range parent.Procs {
		path := filepath.Join(p.Node.Home, "genesis.json")
		g, err := genesis.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		g.AppState["subnet"] = json.RawMessage(`{"params": {"min_collateral": 1000000, "power_reduction": 1000000, "escape_after": 15, "unbonding_blocks": 1000, "slash_bp": 10000}}`)
		if err := g.Write(path); err != nil {
			t.Fatal(err)
		}
	}
	// three subnet validators of unequal power: without a 30 the other
	// two carry 70 of 100, more than 2/3 (with equal power, three cannot
	// lose one)
	sub := newSubnetNet(t, 3, "garden-coop", subnetPeriod)
	setPowers(t, sub, []uint64{40, 30, 30})
	followParent(ctx, t, sub, parent, "garden-coop") // top-down: the subnet mints the parent's deposits
	parent.start(ctx)
	papi, sapi := parent.Procs[0].Node.API, sub.Procs[0].Node.API
	pk := []string{"--home", parent.Dir, "--keyring-backend", "test"}
	sk := []string{"--home", sub.Dir, "--keyring-backend", "test"}

	// Register the subnet with its genesis validators at their power.
	g, err := genesis.Load(filepath.Join(sub.Procs[0].Node.Home, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	gh, err := g.Hash()
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, v := range g.Validators {
		vals = append(vals, fmt.Sprintf("%s:%d", v.PubKey, v.Power*1_000_000))
	}
	mustDure(ctx, t, append([]string{"subnet", "create", "--node", papi, "--from", "alice", "--id", "garden-coop",
		"--genesis-hash", gh.String(), "--period", fmt.Sprint(subnetPeriod), "--validators", strings.Join(vals, ",")}, pk...)...)

	// Value in: alice locks 100000 on the parent for dave on the subnet.
	daveSub := demoAddr(t, sub.Dir, "dave")
	daveParent := demoAddr(t, parent.Dir, "dave")
	daveSubBase := genesisBalance(t, sub, daveSub)
	mustDure(ctx, t, append([]string{"tx", "subnet", "deposit", "--node", papi, "--from", "alice", "--subnet", "garden-coop",
		"--to", daveSub.String(), "--amount", "100000"}, pk...)...)

	// Every subnet validator's node signs (dure start --subnet); two
	// relayers submit.
	for _, p := range sub.Procs {
		p.Extra = append(p.Extra, "--subnet", "garden-coop", "--subnet-parent", papi, "--subnet-interval", "500ms")
	}
	sub.start(ctx)
	relayA := background(t, "relay-alice", append([]string{"subnet", "relay", "--subnet", "garden-coop", "--node", sapi,
		"--parent", papi, "--from", "bob", "--watch", "700ms"}, pk...)...)
	relayC := background(t, "relay-carol", append([]string{"subnet", "relay", "--subnet", "garden-coop", "--node", sub.Procs[1].Node.API,
		"--parent", parent.Procs[1].Node.API, "--from", "carol", "--watch", "700ms"}, pk...)...)

	status, waitFor := subnetWatch(ctx, t, papi, pk, true, 500*time.Millisecond)
	start := time.Now()
	st := waitFor("first checkpoint", 90*time.Second, func(s subnetStatus) bool { return s.Subnet.Last.Height >= subnetPeriod })
	t.Logf("first checkpoint landed after %s: subnet height %d at parent height %d", time.Since(start).Round(time.Millisecond), st.Subnet.Last.Height, st.Subnet.Last.ParentHeight)
	// A `dure start --subnet` node's status carries its subnet's lag, read
	// from the parent with proofs.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		row, ok := subnetRow(ctx, t, sub.Procs[0].Client, "garden-coop")
		if ok && row.Running && row.Registered && row.LastCheckpoint >= subnetPeriod {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the subnet node's status lacks its lag: %+v (found %v)", row, ok)
		}
	}

	// Value in: alice's deposit is minted to dave on the subnet.
	checkDepositMinted(ctx, t, parent, sub, daveSub, daveSubBase, 100000)
	checkLiveDeposit(ctx, t, parent, sub, daveSub, 2500)
	checkParkedDeposit(ctx, t, parent, sub, 777)
	checkFollowTrust(ctx, t, parent)
	checkRetrustRefusedWhileFresh(ctx, t, parent, sub)
	checkTopDownCLI(ctx, t, parent, sub, daveSub, 300)

	// Value out: dave withdraws 1234 on the subnet to his parent account.
	mustDure(ctx, t, append([]string{"tx", "subnet", "withdraw", "--node", sapi, "--from", "dave", "--to", daveParent.String(), "--amount", "1234"}, sk...)...)
	st = waitFor("checkpoint carrying the withdrawal", 90*time.Second, func(s subnetStatus) bool { return s.Subnet.Last.MsgCount >= 1 })
	before := balanceOf(ctx, t, parent, daveParent)
	out := mustDure(ctx, t, append([]string{"subnet", "release", "--subnet", "garden-coop", "--nonce", "0", "--node", sapi, "--parent", papi, "--from", "alice"}, pk...)...)
	if !strings.Contains(out, `"code": 0`) {
		t.Fatalf("release: %s", out)
	}
	if got := balanceOf(ctx, t, parent, daveParent) - before; got != 1234 {
		t.Fatalf("dave received %d on the parent, want 1234", got)
	}
	if out, code := dure(ctx, t, append([]string{"subnet", "release", "--subnet", "garden-coop", "--nonce", "0", "--node", sapi, "--parent", papi, "--from", "alice"}, pk...)...); code != 1 || !strings.Contains(out, "already released") {
		t.Fatalf("second release: exit %d\n%s", code, out)
	}

	// One relayer dies; checkpoints keep landing through the other.
	_ = relayA.Process.Kill()
	was := st.Subnet.Last.Height
	st = waitFor("checkpoints after a relayer died", 60*time.Second, func(s subnetStatus) bool { return s.Subnet.Last.Height >= was+8*subnetPeriod })

	// A subnet validator dies: the other two carry 70 of 100, more than
	// 2/3, and checkpoints go on.
	if err := sub.Procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	was = st.Subnet.Last.Height
	st = waitFor("checkpoints after a subnet validator died", 60*time.Second, func(s subnetStatus) bool { return s.Subnet.Last.Height >= was+3*subnetPeriod })
	t.Logf("subnet validator 2 (power 30 of 100) killed at checkpoint %d: checkpoints went on to %d", was, st.Subnet.Last.Height)

	// Every relayer stops while the subnet goes on for four periods; a
	// relayer started afresh catches up with one submission of the latest
	// checkpoint (fast-forward), not one per missed period.
	_ = relayC.Process.Kill()
	time.Sleep(time.Second)
	st = status()
	missedTo := st.Subnet.Last.Height + 4*subnetPeriod
	sub.waitHeight(ctx, 60*time.Second, missedTo+1, sub.Procs[0])
	n0 := st.Subnet.Checkpoints
	relayD := background(t, "relay-dave", append([]string{"subnet", "relay", "--subnet", "garden-coop", "--node", sub.Procs[1].Node.API,
		"--parent", papi, "--from", "dave", "--watch", "700ms"}, pk...)...)
	st = waitFor("catch-up after the relayers stopped", 60*time.Second, func(s subnetStatus) bool { return s.Subnet.Checkpoints > n0 })
	// the newest checkpoint may still be collecting signatures: the
	// relayer takes the newest with a quorum
	if st.Subnet.Checkpoints != n0+1 || st.Subnet.Last.Height < missedTo-subnetPeriod {
		t.Fatalf("catch-up: %d checkpoints (had %d), last %d, want one submission reaching %d", st.Subnet.Checkpoints, n0, st.Subnet.Last.Height, missedTo-subnetPeriod)
	}
	caughtUp := st.Subnet.Last.Height
	t.Logf("relayers down for 4+ periods: caught up with one submission, checkpoint %d → %d", missedTo-4*subnetPeriod, caughtUp)

	// A checkpoint, verified here: parent proof and subnet signatures.
	out = mustDure(ctx, t, append([]string{"query", "subnet", "checkpoint", "garden-coop", fmt.Sprint(st.Subnet.Last.Height), "--node", parent.Procs[2].Node.API}, pk...)...)
	if !strings.Contains(out, "signatures from its registered set") {
		t.Fatalf("checkpoint query not verified:\n%s", out)
	}
	var list struct {
		Checkpoints []struct {
			Height       uint64 `json:"height"`
			ParentHeight uint64 `json:"parent_height"`
		} `json:"checkpoints"`
	}
	out = mustDure(ctx, t, append([]string{"subnet", "checkpoints", "garden-coop", "--node", papi}, pk...)...)
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	for _, c := range list.Checkpoints {
		if c.Height%subnetPeriod != 0 {
			t.Fatalf("checkpoint at %d", c.Height)
		}
	}
	t.Logf("%d checkpoints accepted (last subnet height %d)", len(list.Checkpoints), st.Subnet.Last.Height)
	// Lag: from the subnet block a checkpoint names to the parent block
	// that accepted it, by the two chains' block times (all on one host).
	var lags []time.Duration
	for _, c := range list.Checkpoints {
		sb, err := sub.Procs[0].Client.Block(ctx, c.Height)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := parent.Procs[0].Client.Block(ctx, c.ParentHeight)
		if err != nil {
			t.Fatal(err)
		}
		if c.Height == caughtUp {
			continue // its lag is the relayer outage
		}
		lags = append(lags, time.Duration(pb.Header.Time-sb.Header.Time))
	}
	slices.Sort(lags)
	t.Logf("checkpoint lag, subnet block to parent inclusion, over %d checkpoints: median %s, p95 %s, max %s",
		len(lags), lags[len(lags)/2].Round(time.Millisecond), lags[(len(lags)*95+99)/100-1].Round(time.Millisecond), lags[len(lags)-1].Round(time.Millisecond))

	// The way out: dave pays 5000 to a fresh holder on the subnet; once a
	// checkpoint covers it the whole subnet stops. The parent keeps
	// committing; after 15 silent blocks the holder's balance is proven
	// from a stopped subnet node's store and paid on the parent.
	fresh, err := chain.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	holder := fresh.PubKey().Address()
	mustDure(ctx, t, append([]string{"tx", "currency", "send", "--node", sapi, "--from", "dave", "--to", holder.String(), "--amount", "5000"}, sk...)...)
	subAt, err := sub.Procs[0].Height(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st = waitFor("a checkpoint after the payment", 60*time.Second, func(s subnetStatus) bool { return s.Subnet.Last.Height > subAt })
	_ = relayD.Process.Kill()
	if err := sub.StopAll(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	last := st.Subnet.Last.Height
	st = waitFor("parent blocks past escape_after", 60*time.Second, func(s subnetStatus) bool {
		return s.ParentBlocksSince > 15 && s.Subnet.Last.Height == last
	})
	escape := append([]string{"subnet", "escape", "--subnet", "garden-coop", "--data", sub.Procs[0].Node.Home, "--holder", holder.String(),
		"--from", "carol", "--node", papi, "--parent", papi}, pk...)
	out = mustDure(ctx, t, escape...)
	if got := balanceOf(ctx, t, parent, holder); got != 5000 {
		t.Fatalf("escaped holder has %d on the parent, want 5000\n%s", got, out)
	}
	if out, code := dure(ctx, t, escape...); code != 1 || !strings.Contains(out, "already escaped") {
		t.Fatalf("second escape: exit %d\n%s", code, out)
	}
	st = status()
	t.Logf("subnet stopped at checkpoint %d; after %d parent blocks the holder escaped with 5000 by a state proof; halted=%v",
		last, st.ParentBlocksSince, st.Subnet.Halted)
	if !st.Subnet.Halted {
		t.Fatal("subnet not halted after an escape")
	}
	checkAppliedNotRefunded(ctx, t, parent)
	checkReclaim(ctx, t, parent, sub, 2, 777)
}

func demoAddr(t *testing.T, dir, name string) chain.Address {
	t.Helper()
	ks, err := keystore.Open(filepath.Join(dir, "keys"), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ks.Signer(name)
	if err != nil {
		t.Fatal(err)
	}
	return k.PubKey().Address()
}

func balanceOf(ctx context.Context, t *testing.T, n *e2eNet, a chain.Address) uint64 {
	t.Helper()
	acct, err := n.Procs[0].Client.Account(ctx, a, false)
	if err != nil {
		t.Fatal(err)
	}
	return dureBalance(t, acct)
}

// subnetWatch returns status, which reads `dure subnet status garden-coop`
// from the parent's API papi (with the keyring flags pk) and fails the test
// unless it decodes (and, with proven, says it was proven against a parent
// block), and waitFor, which reads it every poll until ok holds or d has
// passed.
func subnetWatch(ctx context.Context, t *testing.T, papi string, pk []string, proven bool, poll time.Duration) (
	status func() subnetStatus, waitFor func(what string, d time.Duration, ok func(subnetStatus) bool) subnetStatus) {
	status = func() subnetStatus {
		var st subnetStatus
		out := mustDure(ctx, t, append([]string{"subnet", "status", "garden-coop", "--node", papi}, pk...)...)
		if err := json.Unmarshal([]byte(out), &st); err != nil || proven && !strings.Contains(st.Verified, "proven against parent block") {
			t.Fatalf("status: %v\n%s", err, out)
		}
		return st
	}
	waitFor = func(what string, d time.Duration, ok func(subnetStatus) bool) subnetStatus {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			st := status()
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s; last status %+v", what, d, st.Subnet)
			}
			time.Sleep(poll)
		}
	}
	return status, waitFor
}

// dureBalance is acct's balance of "dure" (0 if it holds none).
func dureBalance(t *testing.T, acct api.Account) uint64 {
	t.Helper()
	raw, _ := json.Marshal(acct.Balances)
	var bs []struct {
		Denom  string          `json:"denom"`
		Amount json.RawMessage `json:"amount"`
	}
	if err := json.Unmarshal(raw, &bs); err != nil {
		t.Fatalf("balances %s: %v", raw, err)
	}
	for _, b := range bs {
		if b.Denom == "dure" {
			var n uint64
			fmt.Sscan(strings.Trim(string(b.Amount), `"`), &n)
			return n
		}
	}
	return 0
}
