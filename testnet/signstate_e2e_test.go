package testnet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
)

// holdFor is how long after its start a validator without consensus state
// waits for a block made by the others (node.holdMargin).
const holdFor = 20 * time.Second

// A validator restarted with its store but without cs.wal (lost or deleted
// consensus state) signs nothing until the others have committed a block
// made after its start, then votes again. Restarted on an empty store with
// cs.wal kept (the re-sync the damaged-store message advises), it syncs
// from peers and votes again, without tripping over its own WAL.
func TestValidatorWithoutSignStateWaits(t *testing.T) {
	slow(t)
	parallelScenario(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	victim, others := n.Procs[3], n.Procs[:3]
	addr, err := chain.ParseAddress(victim.Node.Validator)
	if err != nil {
		t.Fatal(err)
	}
	n.waitHeight(ctx, 30*time.Second, 5, n.Procs...)
	data := filepath.Join(victim.Node.Home, "data")
	stop := func() {
		t.Helper()
		if err := victim.Stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}

	// 1. Consensus state gone, store kept.
	stop()
	if err := os.RemoveAll(filepath.Join(data, "cs.wal")); err != nil {
		t.Fatal(err)
	}
	from := maxHeight(ctx, others...)
	t0 := time.Now()
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	// Every height committed during the hold lacks its signature, in every
	// other node's commit.
	h := from + 1
	for ; ; h++ {
		n.waitHeight(ctx, 30*time.Second, h, others...)
		b, _ := n.verifiedHeader(ctx, others[0], h)
		if b.Header.Time.Std().After(t0.Add(holdFor)) {
			break
		}
		for _, p := range others {
			if n.signedBy(ctx, p, h, addr) {
				t.Fatalf("height %d (block time %s, %s after the restart): the validator without consensus state signed it",
					h, b.Header.Time.Std().Format(time.RFC3339Nano), b.Header.Time.Std().Sub(t0))
			}
		}
	}
	if !victim.Running() {
		t.Fatalf("the validator exited:\n%s", tailLog(victim))
	}
	held := h - from - 1
	first := n.waitSigned(ctx, h, addr)
	log := fullLog(victim)
	if !strings.Contains(log, "not signing until the network commits") || !strings.Contains(log, "signing from the next height") {
		t.Errorf("the log does not say what it waited for and when it resumed:\n%s", tailLog(victim))
	}
	t.Logf("without consensus state: %d heights committed by the others during the hold, signs again at %d", held, first)

	// 2. Store moved aside, cs.wal kept: re-sync, then vote again.
	stop()
	ents, err := os.ReadDir(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "cs.wal" {
			if err := os.RemoveAll(filepath.Join(data, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	top := maxHeight(ctx, others...)
	n.waitHeight(ctx, 60*time.Second, top, victim)
	again := n.waitSigned(ctx, top+1, addr)
	if !victim.Running() {
		t.Fatalf("the re-synced validator exited:\n%s", tailLog(victim))
	}
	if log := fullLog(victim); !strings.Contains(log, "re-syncing") || !strings.Contains(log, "re-synced past the consensus state") {
		t.Errorf("the log does not say it re-synced before signing:\n%s", tailLog(victim))
	}
	n.checkAgreement(ctx, 1, n.minHeight(ctx, n.Procs...), n.Procs...)
	t.Logf("re-synced from an empty store with cs.wal kept: caught up to %d, signs again at %d", top, again)
}

// waitSigned waits for the first height from h whose commit (as the first
// node serves it) carries addr's signature.
func (n *e2eNet) waitSigned(ctx context.Context, h uint64, addr chain.Address) uint64 {
	n.t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for ; time.Now().Before(deadline); h++ {
		n.waitHeight(ctx, 30*time.Second, h, n.Procs[0])
		if n.signedBy(ctx, n.Procs[0], h, addr) {
			return h
		}
	}
	n.t.Fatalf("%s signed no commit up to height %d", addr, h)
	return 0
}

func fullLog(p *Proc) string {
	b, _ := os.ReadFile(filepath.Join(p.Node.Home, "node.log"))
	return string(b)
}

func tailLog(p *Proc) string {
	ls := strings.Split(fullLog(p), "\n")
	if len(ls) > 40 {
		ls = ls[len(ls)-40:]
	}
	return strings.Join(ls, "\n")
}
