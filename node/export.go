package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/execution"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/chain/state"
	"github.com/dure-network/dure/chain/store"
	"github.com/dure-network/dure/node/config"
)

// ExportGenesis builds the genesis of a chain restarting from the committed
// head of cfg's data directory (a stopped node's: the directory is locked
// while one runs), and returns that head. The genesis re-imports to the
// same state root; chainID, if not empty, replaces the chain's ID. Errors
// the operator fixes (no genesis, no chain, a locked or damaged directory)
// are marked ErrSetup.
func ExportGenesis(cfg config.Config, chainID string) (*genesis.Genesis, store.Head, error) {
	var head store.Head
	gen, err := genesis.Load(cfg.GenesisPath())
	if err != nil {
		return nil, head, setupErr(err)
	}
	codec := chain.MustCodec()
	st, err := store.Open(cfg.DataPath(), store.Options{Logger: slog.New(slog.DiscardHandler), Codec: codec})
	if err != nil {
		return nil, head, setupErr(fmt.Errorf("open data directory %s: %w", cfg.DataPath(), err))
	}
	defer st.Close()
	if !st.Initialized() {
		return nil, head, setupErr(fmt.Errorf("%s holds no chain yet", cfg.DataPath()))
	}
	head = st.Head()
	sv, err := state.New(st.DB(), store.TS(head.Height), head.StateRoot)
	if err != nil {
		return nil, head, fmt.Errorf("open state at height %d: %w", head.Height, err)
	}
	a, err := newApp(codec)
	if err != nil {
		return nil, head, err
	}
	ex, err := execution.New(execution.Config{Codec: codec, ChainID: gen.ChainID, Modules: a.entries, Fees: a.fees,
		MinFee: gen.Params.MinFee, GasPerFeeUnit: gen.Params.GasPerFeeUnit})
	if err != nil {
		return nil, head, err
	}
	appState, err := ex.ExportGenesis(sv.Reader(store.TS(head.Height)))
	if err != nil {
		return nil, head, fmt.Errorf("export at height %d: %w", head.Height, err)
	}
	out := &genesis.Genesis{ChainID: gen.ChainID, GenesisTime: gen.GenesisTime, Params: gen.Params, AppState: appState,
		Validators: gen.Validators}
	if chainID != "" {
		out.ChainID = chainID
	}
	if head.Time > 0 {
		out.GenesisTime = head.Time.Std().Truncate(time.Second)
	}
	if a.valSet != nil {
		vals, err := a.valSet.GenesisValidators(appState[a.valName])
		if err != nil {
			return nil, head, fmt.Errorf("export: validators: %w", err)
		}
		out.Validators = out.Validators[:0:0]
		for _, v := range vals {
			out.Validators = append(out.Validators, genesis.Validator{PubKey: v.PubKey, Power: v.Power})
		}
	}
	// Round-trip through the file format, as a node reading it will.
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, head, err
	}
	var back genesis.Genesis
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&back); err != nil {
		return nil, head, err
	}
	if err := back.Validate(); err != nil {
		return nil, head, fmt.Errorf("export: %w", err)
	}
	if err := checkGenesisValidators(&back); err != nil {
		return nil, head, fmt.Errorf("export: %w", err)
	}
	return out, head, nil
}

// ProveStored reads key at height h from the store of a stopped node (cfg's
// data directory) and proves it against root, which must be block h's
// state root (`dure subnet escape`: a balance at a subnet's last
// checkpoint). The state is read at version h, so the proof does not depend
// on the head's proof window, but the store must still hold that height's
// trie. An absent key is a nil value and a nil proof. Errors opening the
// data directory are marked ErrSetup.
func ProveStored(cfg config.Config, h uint64, root chain.Hash, key []byte) ([]byte, *state.Proof, error) {
	codec := chain.MustCodec()
	st, err := store.Open(cfg.DataPath(), store.Options{Logger: slog.New(slog.DiscardHandler), Codec: codec})
	if err != nil {
		return nil, nil, setupErr(fmt.Errorf("open data directory %s (is the node stopped?): %w", cfg.DataPath(), err))
	}
	defer st.Close()
	if !st.Initialized() || st.Head().Height < h {
		return nil, nil, fmt.Errorf("%s does not hold height %d", cfg.DataPath(), h)
	}
	blk, err := st.Block(h)
	if err != nil {
		return nil, nil, err
	}
	if blk.Header.StateRoot != root {
		return nil, nil, fmt.Errorf("block %d of this store has state root %s, the checkpoint %s: another chain?", h, blk.Header.StateRoot, root)
	}
	// The state as of height h: its snapshot and changesets read at that
	// version (Badger keeps every version unless pruned).
	sv, err := state.New(st.DB(), store.TS(h), root)
	if err != nil {
		return nil, nil, fmt.Errorf("open the state of height %d (pruned?): %w", h, err)
	}
	value, err := sv.Reader(store.TS(h)).Get(key)
	if err != nil || len(value) == 0 {
		return nil, nil, err
	}
	p, err := sv.Prove(store.TS(h), key)
	if errors.Is(err, state.ErrProofPruned) {
		return nil, nil, fmt.Errorf("this store no longer holds the trie of height %d, so it cannot prove a balance there "+
			"(the state store keeps proofs for its last %d versions, and after a restart only from its last snapshot on): %w",
			h, state.DefaultProofWindow, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("prove at height %d: %w", h, err)
	}
	if err := state.VerifyProof(root, key, value, p); err != nil {
		return nil, nil, err
	}
	return value, p, nil
}
