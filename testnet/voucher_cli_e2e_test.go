package testnet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/api"
)

// cliRun runs the dure binary with args against p (the testnet's keys in
// its directory) and returns stdout, stderr and the exit code.
func (n *e2eNet) cliRun(ctx context.Context, p *Proc, args ...string) (string, string, int) {
	n.t.Helper()
	full := append(args, "--home", n.Dir, "--keyring-backend", "test")
	if len(args) > 0 && args[0] != "keys" {
		full = append(full, "--node", p.Client.Base)
	}
	cmd := exec.CommandContext(ctx, dureBin, full...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		n.t.Fatalf("dure %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// cliTxAnswer is what `dure tx` prints.
type cliTxAnswer struct {
	ID     chain.ID      `json:"id"`
	Height uint64        `json:"height"`
	Code   uint32        `json:"code"`
	Log    string        `json:"log"`
	Events []chain.Event `json:"events"`
}

// cliTx runs `dure tx …` and requires the exit code want; it returns the
// committed answer.
func (n *e2eNet) cliTx(ctx context.Context, p *Proc, want int, args ...string) cliTxAnswer {
	n.t.Helper()
	n.caughtUp(ctx, p)
	out, stderr, code := n.cliRun(ctx, p, append([]string{"tx"}, args...)...)
	if code != want {
		n.t.Fatalf("dure tx %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, stderr)
	}
	var r cliTxAnswer
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		n.t.Fatalf("dure tx %s: answer %q: %v", strings.Join(args, " "), out, err)
	}
	return r
}

// blockEvents reads the node's event stream from height from until
// done returns true for a block, or ctx ends.
func blockEvents(ctx context.Context, base string, from uint64, done func(api.BlockEvents) bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v1/events?from_height=%d", base, from), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev api.BlockEvents
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return fmt.Errorf("event %q: %w", data, err)
		}
		if done(ev) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return ctx.Err()
}

func attr(e chain.Event, k string) string {
	for _, a := range e.Attrs {
		if a.Key == k {
			return a.Value
		}
	}
	return ""
}

// TestVoucherEndThroughCLI: a voucher created with `dure tx currency
// create --voucher-end <a few seconds ahead>` ends then: after the first
// block past the end, pay and mint are refused, and the holder's rest
// returns to the issuer with a currency.voucher_return event (before the
// fix the CLI stored nanoseconds where the ledger compared seconds, so
// the voucher never ended).
func TestVoucherEndThroughCLI(t *testing.T) {
	slow(t)
	parallelScenario(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	alice, dave := n.wallet("alice"), n.wallet("dave")
	p := n.Procs[0]
	const denom = "cli-voucher"

	// Everything before the end must commit first: leave room on a
	// loaded machine, then wait for the end by block time.
	end := time.Now().Add(12 * time.Second).UTC().Truncate(time.Second)
	r := n.cliTx(ctx, p, 0, "currency", "create", "--from", "alice", "--denom", denom, "--transfer", "merchants",
		"--categories", "food", "--voucher-end", end.Format(time.RFC3339))
	n.cliTx(ctx, p, 0, "currency", "register-merchant", "--from", "alice", "--denom", denom, "--merchant", "carol", "--categories", "food")
	n.cliTx(ctx, p, 0, "currency", "mint", "--from", "alice", "--denom", denom, "--to", "dave", "--amount", "1000")
	paid := n.cliTx(ctx, p, 0, "currency", "pay", "--from", "dave", "--denom", denom, "--merchant", "carol", "--amount", "300", "--category", "food")
	if bt := n.blockSeconds(ctx, p, paid.Height); bt >= end.Unix() {
		t.Fatalf("the machine is too slow for this test: pay committed at block time %d, after the voucher end %d", bt, end.Unix())
	}

	// Watch the blocks from the create on: the return happens in the
	// EndBlock of the first block whose time reaches the end.
	var returned, closed bool
	var at uint64
	ectx, ecancel := context.WithTimeout(ctx, 60*time.Second)
	defer ecancel()
	err := blockEvents(ectx, p.Client.Base, r.Height, func(ev api.BlockEvents) bool {
		for _, e := range ev.Block {
			if attr(e, "denom") != denom {
				continue
			}
			switch e.Type {
			case "currency.voucher_return":
				if attr(e, "holder") != dave.addr.String() || attr(e, "amount") != "700" {
					t.Errorf("block %d: voucher_return %+v, want dave's 700", ev.Height, e.Attrs)
				}
				returned, at = true, ev.Height
			case "currency.voucher_closed":
				closed = true
			}
		}
		return returned && closed
	})
	if err != nil || !returned || !closed {
		t.Fatalf("no voucher return and close seen (returned %v, closed %v): %v", returned, closed, err)
	}
	if bt := n.blockSeconds(ctx, p, at); bt < end.Unix() {
		t.Fatalf("voucher returned at block %d, time %d, before its end %d", at, bt, end.Unix())
	}

	// The rest is the issuer's again; the merchant keeps its takings.
	n.waitHeight(ctx, 15*time.Second, at, p)
	if b := n.balance(ctx, p, dave.addr, denom); b.Amount != 0 {
		t.Fatalf("dave still holds %d after the end", b.Amount)
	}
	if b := n.balance(ctx, p, alice.addr, denom); b.Amount != 700 {
		t.Fatalf("the issuer holds %d after the end, want 700", b.Amount)
	}
	if b := n.balance(ctx, p, n.wallet("carol").addr, denom); b.Amount != 300 {
		t.Fatalf("the merchant holds %d after the end, want 300", b.Amount)
	}
	// Spending and minting are refused (exit 1: committed with a code).
	for _, args := range [][]string{
		{"currency", "pay", "--from", "alice", "--denom", denom, "--merchant", "carol", "--amount", "1", "--category", "food"},
		{"currency", "mint", "--from", "alice", "--denom", denom, "--to", "dave", "--amount", "1"},
	} {
		got := n.cliTx(ctx, p, 1, args...)
		if got.Code == 0 || !strings.Contains(got.Log, "voucher has ended") {
			t.Fatalf("dure tx %s after the end: %+v, want refused with \"voucher has ended\"", strings.Join(args, " "), got)
		}
	}
}
