package node

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/keystore"
)

const benchSenders = 5000

// benchNode opens a node (no network) whose genesis funds benchSenders
// accounts; edit may add to currency's genesis section.
func benchNode(b *testing.B, edit func(g *currency.Genesis, keys []chain.PrivKey)) (*Node, []chain.PrivKey, chain.PrivKey) {
	b.Helper()
	return benchNodeIndex(b, true, edit)
}

// benchNodeIndex is benchNode with genesis range_proofs set as asked.
func benchNodeIndex(b *testing.B, rangeProofs bool, edit func(g *currency.Genesis, keys []chain.PrivKey)) (*Node, []chain.PrivKey, chain.PrivKey) {
	b.Helper()
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
	keys := make([]chain.PrivKey, benchSenders)
	accts := make([]GenesisAccount, benchSenders)
	for i := range keys {
		var seed [chain.SeedLen]byte
		binary.BigEndian.PutUint64(seed[:], uint64(i)+1)
		keys[i], _ = chain.PrivKeyFromSeed(seed[:])
		accts[i] = GenesisAccount{Addr: keys[i].PubKey().Address(), Amount: 1_000_000_000}
	}
	gen, err := BuildGenesis("bench-1", time.Now().Add(-time.Hour), []GenesisValidator{{PubKey: vkey.PubKey(), Stake: DefaultValidatorStake}}, accts)
	if err != nil {
		b.Fatal(err)
	}
	gen.Params.RangeProofs = rangeProofs
	if edit != nil {
		var cg currency.Genesis
		if err := json.Unmarshal(gen.AppState["currency"], &cg); err != nil {
			b.Fatal(err)
		}
		edit(&cg, keys)
		if gen.AppState["currency"], err = json.Marshal(cg); err != nil {
			b.Fatal(err)
		}
	}
	if err := gen.Write(cfg.GenesisPath()); err != nil {
		b.Fatal(err)
	}
	n, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), vkey)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(n.closeStorage)
	return n, keys, vkey
}

// runBlocks times, per iteration, the node's own block path on real
// Badger: PrepareBlock (execute every tx, stage the state root) and the
// atomic commit of block, results, indexes and state. Each iteration's txs
// are signed and admitted to the mempool (signatures verified once, there)
// outside the timer.
func runBlocks(b *testing.B, n *Node, keys []chain.PrivKey, vkey chain.PrivKey, msg func(i, j int) chain.Msg) {
	c := n.codec
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		raws := make([][]byte, len(keys))
		for j, k := range keys {
			tx := chain.Tx{ChainID: "bench-1", Nonce: uint64(i), MaxFee: 10, Msgs: []chain.Msg{msg(i, j)}}
			var err error
			if raws[j], err = tx.Sign(c, k); err != nil {
				b.Fatal(err)
			}
		}
		if _, errs := n.pool.AddBatch(raws); errs[0] != nil {
			b.Fatal(errs[0])
		}
		b.StartTimer()
		c0 := cpuTime()
		h := n.head.Height + 1
		cand, err := n.buildBlock(h, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(cand.block.Txs) != len(keys) {
			b.Fatalf("block has %d txs, want %d", len(cand.block.Txs), len(keys))
		}
		for k, r := range cand.out.Results {
			if r.Code != chain.CodeOK {
				b.Fatalf("tx %d failed: %s", k, r.Log)
			}
		}
		cm := &chain.Commit{Height: h, BlockID: cand.id, Sigs: []chain.CommitSig{{Validator: n.self,
			Sig: vkey.Sign(chain.VoteSignBytes(c, "bench-1", chain.Precommit, h, 0, cand.id))}}}
		if err := n.applyBlock(cand, cm); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(b.N*len(keys))/b.Elapsed().Seconds(), "tx/s")
	// CPU time of the timed part (all goroutines): steadier than wall
	// time on a shared machine.
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/op")
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkExecuteAndCommit5000Transfers: a block of 5,000 signed native
// transfers from 5,000 senders, executed and committed.
func BenchmarkExecuteAndCommit5000Transfers(b *testing.B) {
	n, keys, vkey := benchNode(b, nil)
	runBlocks(b, n, keys, vkey, func(i, j int) chain.Msg {
		m, _ := currency.MsgSend(n.codec, keys[(j+1)%len(keys)].PubKey().Address(), NativeDenom, 1)
		return m
	})
}

// BenchmarkRangeProofOverhead: the write cost of the key-order index, off
// (a genesis without range_proofs: the state root as before) and on, in
// one run so the two interleave (-count repeats the pair): a block of
// 5,000 transfers between existing accounts (values change, no key is
// created: no next-key record is written), 5,000 transfers each to a new
// account (5,000 balance keys created: the worst case), and 5,000 merchant
// payments (each creates the merchant's new expiry lot, or adds to it:
// records of created keys and their predecessors are written).
func BenchmarkRangeProofOverhead(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("transfers/range_proofs=%v", on), func(b *testing.B) {
			n, keys, vkey := benchNodeIndex(b, on, nil)
			if n.state.Indexed() != on {
				b.Fatalf("state indexed %v", n.state.Indexed())
			}
			runBlocks(b, n, keys, vkey, func(i, j int) chain.Msg {
				m, _ := currency.MsgSend(n.codec, keys[(j+1)%len(keys)].PubKey().Address(), NativeDenom, 1)
				return m
			})
		})
	}
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("to-new-accounts/range_proofs=%v", on), func(b *testing.B) {
			n, keys, vkey := benchNodeIndex(b, on, nil)
			runBlocks(b, n, keys, vkey, func(i, j int) chain.Msg {
				var to chain.Address
				binary.BigEndian.PutUint64(to[:], uint64(i)<<32|uint64(j)+1)
				m, _ := currency.MsgSend(n.codec, to, NativeDenom, 1)
				return m
			})
		})
	}
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("payments/range_proofs=%v", on), func(b *testing.B) {
			n, merchants, payers, vkey := merchantNode(b, on)
			runBlocks(b, n, payers, vkey, func(i, j int) chain.Msg {
				m, _ := currency.MsgPay(n.codec, merchants[j%len(merchants)], "nw", 1, "food")
				return m
			})
		})
	}
}

// BenchmarkMerchantPayments5000: a block of 5,000 payments in a Nowon-style
// local currency (merchants only, holding cap, 3-year expiry lots) to
// approved merchants, through the executor and committed.
func BenchmarkMerchantPayments5000(b *testing.B) {
	n, merchants, payers, vkey := merchantNode(b, true)
	runBlocks(b, n, payers, vkey, func(i, j int) chain.Msg {
		m, _ := currency.MsgPay(n.codec, merchants[j%len(merchants)], "nw", 1, "food")
		return m
	})
}

// merchantNode is a bench node with the "nw" currency, 50 merchants and
// every key but the first holding 40,000 nw.
func merchantNode(b *testing.B, rangeProofs bool) (*Node, []chain.Address, []chain.PrivKey, chain.PrivKey) {
	merchants := make([]chain.Address, 50)
	n, keys, vkey := benchNodeIndex(b, rangeProofs, func(g *currency.Genesis, keys []chain.PrivKey) {
		issuer := keys[0].PubKey().Address()
		g.Currencies = append(g.Currencies, currency.Currency{Denom: "nw", Issuer: issuer,
			Rules: currency.Rules{HoldingCap: 50_000, ExpirySeconds: 3 * 365 * 24 * 3600, Transfer: currency.TransferMerchants, Redeemable: true, HourlyRate: 700}})
		for i := range merchants {
			var seed [chain.SeedLen]byte
			seed[0], seed[1] = 0xee, byte(i)
			k, _ := chain.PrivKeyFromSeed(seed[:])
			merchants[i] = k.PubKey().Address()
			g.Merchants = append(g.Merchants, currency.GenesisMerchant{Denom: "nw", Address: merchants[i], Categories: []string{"food"}})
		}
		for _, k := range keys[1:] {
			g.Balances = append(g.Balances, currency.GenesisBalance{Address: k.PubKey().Address(), Denom: "nw", Amount: 40_000})
		}
	})
	return n, merchants, keys[1:], vkey
}
