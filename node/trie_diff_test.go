package node

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"testing"
	"time"

	"github.com/pokt-network/smt"
	"github.com/pokt-network/smt/kvstore/simplemap"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/state"
	"github.com/dure-network/dure/node/keystore"
)

// TestCommittedRootsAreSMTs: blocks of signed transfers (to existing
// accounts and to new ones, so next-key records are written), executed
// and committed by the node's own block path on real Badger: after every
// block the header's state root is the root pokt-network/smt builds, one
// Update at a time from an empty trie, for the committed key/value pairs
// and the next-key records their order implies.
func TestCommittedRootsAreSMTs(t *testing.T) {
	_, cfg := initHome(t, "diff-1")
	cfg.Consensus.TimeoutPropose = "60s"
	ks, err := keystore.Open(cfg.KeysPath(), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := ks.Signer("validator")
	if err != nil {
		t.Fatal(err)
	}
	const senders = 300
	keys := make([]chain.PrivKey, senders)
	accts := make([]GenesisAccount, senders)
	for i := range keys {
		var seed [chain.SeedLen]byte
		binary.BigEndian.PutUint64(seed[:], uint64(i)+1)
		keys[i], _ = chain.PrivKeyFromSeed(seed[:])
		accts[i] = GenesisAccount{Addr: keys[i].PubKey().Address(), Amount: 1_000_000_000}
	}
	gen, err := BuildGenesis("diff-1", time.Now().Add(-time.Hour), []GenesisValidator{{PubKey: vkey.PubKey(), Stake: DefaultValidatorStake}}, accts)
	if err != nil {
		t.Fatal(err)
	}
	gen.Params.RangeProofs = true
	if err := gen.Write(cfg.GenesisPath()); err != nil {
		t.Fatal(err)
	}
	n, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), vkey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.closeStorage)
	c := n.codec
	checkRoot(t, n)
	for i := 0; i < 4; i++ {
		raws := make([][]byte, len(keys))
		for j, k := range keys {
			to := keys[(j+1)%len(keys)].PubKey().Address()
			if j%3 == i%3 { // a new account
				var seed [chain.SeedLen]byte
				binary.BigEndian.PutUint64(seed[:], uint64(1_000_000+i*senders+j))
				nk, _ := chain.PrivKeyFromSeed(seed[:])
				to = nk.PubKey().Address()
			}
			m, err := currency.MsgSend(c, to, NativeDenom, uint64(1+j))
			if err != nil {
				t.Fatal(err)
			}
			tx := chain.Tx{ChainID: "diff-1", Nonce: uint64(i), MaxFee: 10, Msgs: []chain.Msg{m}}
			if raws[j], err = tx.Sign(c, k); err != nil {
				t.Fatal(err)
			}
		}
		if _, errs := n.pool.AddBatch(raws); errs[0] != nil {
			t.Fatal(errs[0])
		}
		h := n.head.Height + 1
		cand, err := n.buildBlock(h, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(cand.block.Txs) != len(keys) {
			t.Fatalf("block has %d txs, want %d", len(cand.block.Txs), len(keys))
		}
		for k, r := range cand.out.Results {
			if r.Code != chain.CodeOK {
				t.Fatalf("tx %d failed: %s", k, r.Log)
			}
		}
		cm := &chain.Commit{Height: h, BlockID: cand.id, Sigs: []chain.CommitSig{{Validator: n.self,
			Sig: vkey.Sign(chain.VoteSignBytes(c, "diff-1", chain.Precommit, h, 0, cand.id))}}}
		if err := n.applyBlock(cand, cm); err != nil {
			t.Fatal(err)
		}
		if got := checkRoot(t, n); got != cand.block.Header.StateRoot {
			t.Fatalf("height %d: state root %v, header %v", h, got, cand.block.Header.StateRoot)
		}
	}
}

// checkRoot compares the node's committed state root with smt's for the
// committed state and returns it.
func checkRoot(t *testing.T, n *Node) chain.Hash {
	t.Helper()
	head, root := n.state.Head()
	m := map[string][]byte{}
	tr := smt.NewSparseMerkleTrie(simplemap.NewSimpleMapWithMap(m), sha256.New())
	var prev []byte
	first := true
	err := n.state.Reader(head).Iterate(nil, func(k, v []byte) (bool, error) {
		if err := tr.Update(k, v); err != nil {
			return true, err
		}
		if first {
			first = false
			if err := tr.Update(state.LinkKey(nil), state.LinkValue(k)); err != nil {
				return true, err
			}
		} else if err := tr.Update(state.LinkKey(prev), state.LinkValue(k)); err != nil {
			return true, err
		}
		prev = k
		return false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if prev != nil {
		if err := tr.Update(state.LinkKey(prev), state.LinkValue(nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	if want := chain.Hash(tr.Root()); root != want {
		t.Fatalf("version %d: state root %v, smt from nothing %v", head, root, want)
	}
	return root
}
