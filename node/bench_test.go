package node

import (
	"context"
	"encoding/binary"
	"log/slog"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/keystore"
)

// BenchmarkExecuteAndCommit5000Transfers runs the node's own block path on
// real Badger with the real currency module: the proposer's PrepareBlock
// (execute 5,000 signed transfers from 5,000 senders, stage the state
// root) and the atomic commit of block, results, indexes and state. The
// signatures were verified once, by the mempool, outside the timer.
func BenchmarkExecuteAndCommit5000Transfers(b *testing.B) {
	const senders = 5000
	_, cfg := initHome(b, "bench-1")
	cfg.Consensus.TimeoutPropose = "60s" // no block-size budget in the way
	ks, err := keystore.Open(cfg.KeysPath(), keystore.BackendTest, nil)
	if err != nil {
		b.Fatal(err)
	}
	vkey, err := ks.Signer("validator")
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]chain.PrivKey, senders)
	accts := make([]genAccount, senders)
	for i := range keys {
		var seed [chain.SeedLen]byte
		binary.BigEndian.PutUint64(seed[:], uint64(i)+1)
		keys[i], _ = chain.PrivKeyFromSeed(seed[:])
		accts[i] = genAccount{Addr: keys[i].PubKey().Address(), Amount: 1_000_000_000}
	}
	gen, err := buildGenesis("bench-1", time.Now().Add(-time.Hour), []genValidator{{PubKey: vkey.PubKey(), Stake: defaultValidatorStake}}, accts)
	if err != nil {
		b.Fatal(err)
	}
	if err := gen.Write(cfg.GenesisPath()); err != nil {
		b.Fatal(err)
	}
	n, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), vkey)
	if err != nil {
		b.Fatal(err)
	}
	defer n.closeStorage()
	c := n.codec
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		raws := make([][]byte, senders)
		for j, k := range keys {
			m, _ := currency.MsgSend(c, keys[(j+1)%senders].PubKey().Address(), NativeDenom, 1)
			tx := chain.Tx{ChainID: "bench-1", Nonce: uint64(i), MaxFee: 10, Msgs: []chain.Msg{m}}
			if raws[j], err = tx.Sign(c, k); err != nil {
				b.Fatal(err)
			}
		}
		if _, errs := n.pool.AddBatch(raws); errs[0] != nil {
			b.Fatal(errs[0])
		}
		b.StartTimer()
		h := n.head.Height + 1
		cand, err := n.buildBlock(h, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(cand.block.Txs) != senders {
			b.Fatalf("block has %d txs, want %d", len(cand.block.Txs), senders)
		}
		cm := &chain.Commit{Height: h, BlockID: cand.id, Sigs: []chain.CommitSig{{Validator: n.self,
			Sig: vkey.Sign(chain.VoteSignBytes(c, "bench-1", chain.Precommit, h, 0, cand.id))}}}
		if err := n.applyBlock(cand, cm); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*senders)/b.Elapsed().Seconds(), "tx/s")
}
