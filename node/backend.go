package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/execution"
	"github.com/dure-network/dure/chain/mempool"
	"github.com/dure-network/dure/chain/state"
	"github.com/dure-network/dure/chain/store"
	"github.com/dure-network/dure/consensus"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/p2p"
)

// peerNet is what the API shows and changes of the peer-to-peer network.
// The backend reaches it only through the node's transport: the
// production one (gossipTransport, a libp2p node) has it, in-process test
// transports do not, and then the API shows no peers.
type peerNet interface {
	ID() peer.ID
	Addrs() []string
	Peers() []p2p.PeerInfo
	Topics() []p2p.TopicInfo
	Stats() p2p.Stats
	Denied() []peer.ID
	Reachability() p2p.Reachability
	Deny(peer.ID)
	Allow(peer.ID)
}

var _ peerNet = gossipTransport{}

func (n *Node) peerNet() (peerNet, bool) {
	pn, ok := n.tr.(peerNet)
	return pn, ok
}

// backend implements api.Backend over the node.
type backend struct{ n *Node }

var (
	_ api.Backend      = backend{}
	_ api.ModuleLister = backend{}
)

func (b backend) view() (head struct {
	h   uint64
	id  chain.ID
	t   chain.Time
	rt  chain.Hash
	syn bool
}, vals *chain.ValidatorSet, cs consensus.Status) {
	n := b.n
	n.mu.RLock()
	defer n.mu.RUnlock()
	head.h, head.id, head.t, head.rt, head.syn = n.head.Height, n.head.BlockID, n.head.Time, n.head.StateRoot, n.syncing
	return head, n.nextVals, n.consState
}

func (b backend) Status(ctx context.Context) (api.Status, error) {
	n := b.n
	head, vals, cs := b.view()
	cnt, bytes := n.pool.Size()
	st := api.Status{ChainID: n.gen.ChainID, Moniker: n.cfg.Moniker, Version: Version,
		Height: head.h, BlockID: head.id, BlockTime: head.t, StateRoot: head.rt, Syncing: head.syn,
		Mempool: api.MempoolStatus{Txs: cnt, Bytes: bytes}, Consensus: toConsensusJSON(cs), Signatures: n.signatureStatus(),
		Fees: &api.FeeParams{MinFee: n.gen.Params.MinFee, GasPerFeeUnit: n.gen.Params.GasPerFeeUnit}}
	if pn, ok := n.peerNet(); ok {
		st.PeerID = pn.ID().String()
		st.ListenAddrs = pn.Addrs()
		st.Peers = len(pn.Peers())
		st.P2P = map[string]any{"topics": toTopics(pn.Topics()), "stats": toGossipStats(pn.Stats()), "denied": pn.Denied(),
			"reachability": pn.Reachability()}
	}
	st.Health = api.Health{OK: true, MaxConnections: n.cfg.API.MaxConnections, OpenFileLimit: n.fds.limit}
	if n.apiLn != nil {
		st.Health.Connections, st.Health.MaxConnections = n.apiLn.Open(), n.apiLn.Max()
	}
	n.disk.health(&st.Health)
	st.Subnets = n.subnetStatuses()
	if !n.key.IsZero() {
		ref := &api.ValidatorRef{Address: n.self}
		if v, _, ok := vals.ByAddress(n.self); ok {
			ref.Power = v.Power
		}
		st.Validator = ref
	}
	return st, nil
}

var _ api.BatchBackend = backend{}

func (b backend) SubmitTx(ctx context.Context, raw []byte) (chain.ID, error) {
	n := b.n
	id, err := n.pool.Add(raw)
	if err != nil {
		return id, n.submitRefused(err)
	}
	if err := n.tr.PublishTx(ctx, raw); err != nil {
		n.log.Debug("gossip tx", "id", id, "err", err)
	}
	n.wake()
	return id, nil
}

// SubmitTxs admits a POST /v1/txs/batch through the mempool's AddBatch
// (one batch signature check), then gossips what it admitted; each
// refusal is counted and mapped as SubmitTx's would be.
func (b backend) SubmitTxs(ctx context.Context, raws [][]byte) ([]chain.ID, []error) {
	n := b.n
	ids, errs := n.pool.AddBatch(raws)
	admitted := 0
	for i, err := range errs {
		if err != nil {
			errs[i] = n.submitRefused(err)
			continue
		}
		admitted++
		if err := n.tr.PublishTx(ctx, raws[i]); err != nil {
			n.log.Debug("gossip tx", "id", ids[i], "err", err)
		}
	}
	if admitted > 0 {
		n.wake()
	}
	return ids, errs
}

// submitRefused counts a refused API submission and maps the mempool's
// capacity and duplicate errors to the API's sentinels.
func (n *Node) submitRefused(err error) error {
	n.m.txRejected.WithLabelValues(rejectReason(err)).Inc()
	switch {
	case errors.Is(err, mempool.ErrDuplicate):
		return fmt.Errorf("%w: %v", api.ErrDuplicate, err)
	case errors.Is(err, mempool.ErrFull), errors.Is(err, mempool.ErrSenderFull):
		return fmt.Errorf("%w: %v", api.ErrMempoolFull, err)
	}
	return err
}

func rejectReason(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{
		{chain.ErrTxTooLarge, "too_large"}, {chain.ErrTxMalformed, "malformed"}, {chain.ErrBadSignature, "bad_signature"},
		{chain.ErrWrongChain, "wrong_chain"}, {chain.ErrNonceTooLow, "nonce_too_low"}, {chain.ErrNonceTooHigh, "nonce_too_high"},
		{chain.ErrFeeTooLow, "fee_too_low"}, {chain.ErrFeeUnpayable, "fee_unpayable"}, {mempool.ErrDuplicate, "duplicate"}, {mempool.ErrFull, "full"}, {mempool.ErrSenderFull, "sender_full"},
	} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "other"
}

func (b backend) WaitTx(ctx context.Context, id chain.ID) (api.TxInfo, error) {
	for {
		changed := b.HeadChanged()
		info, err := b.Tx(ctx, id, false)
		if err == nil {
			return info, nil
		}
		if !errors.Is(err, chain.ErrNotFound) {
			return info, err
		}
		select {
		case <-ctx.Done():
			return api.TxInfo{}, ctx.Err()
		case <-changed:
		}
	}
}

func (b backend) Tx(ctx context.Context, id chain.ID, prove bool) (api.TxInfo, error) {
	n := b.n
	h, idx, err := n.store.TxLocation(id)
	if err != nil {
		return api.TxInfo{}, fmt.Errorf("tx %s: %w", id, err)
	}
	blk, err := n.store.Block(h)
	if err != nil {
		return api.TxInfo{}, err
	}
	if int(idx) >= len(blk.Txs) {
		return api.TxInfo{}, fmt.Errorf("tx %s: index %d beyond block %d", id, idx, h)
	}
	res, err := n.store.Results(h)
	if err != nil {
		return api.TxInfo{}, err
	}
	raw := blk.Txs[idx]
	info := api.TxInfo{ID: id, Height: h, Index: int(idx), BlockID: blk.Header.ID(n.codec), Raw: raw}
	if int(idx) < len(res) {
		info.Result = &res[idx]
	}
	if tx, err := chain.DecodeTx(n.codec, raw); err == nil {
		info.Tx = tx
	}
	if prove {
		p, err := chain.MerkleProve(blk.Txs, int(idx))
		if err != nil {
			return api.TxInfo{}, err
		}
		root := blk.Header.TxRoot
		info.Proof, info.TxRoot = &p, &root
		leaves := make([][]byte, len(res))
		for i := range res {
			if leaves[i], err = n.codec.Marshal(&res[i]); err != nil {
				return api.TxInfo{}, err
			}
		}
		if len(leaves) > int(idx) {
			rp, err := chain.MerkleProve(leaves, int(idx))
			if err != nil {
				return api.TxInfo{}, err
			}
			info.ResultProof = &rp
		}
	}
	return info, nil
}

func (b backend) Block(ctx context.Context, height uint64) (api.BlockInfo, error) {
	n := b.n
	if height == 0 {
		height = n.headHeight()
		if height == 0 {
			return api.BlockInfo{}, fmt.Errorf("%w: no block yet (the chain is at genesis)", chain.ErrNotFound)
		}
	}
	blk, err := n.store.Block(height)
	if err != nil {
		return api.BlockInfo{}, fmt.Errorf("block %d: %w", height, err)
	}
	info := api.BlockInfo{ID: blk.Header.ID(n.codec), Header: blk.Header, Evidence: blk.Evidence, Txs: blk.Txs}
	info.TxIDs = make([]chain.ID, len(blk.Txs))
	for i, tx := range blk.Txs {
		info.TxIDs[i] = chain.IDOf(tx)
	}
	if res, err := n.store.Results(height); err == nil {
		info.Results = res
	}
	if cm, err := n.store.SeenCommit(height); err == nil {
		info.Commit = cm
	}
	return info, nil
}

// maxProvenReads bounds the state keys and ranges one proven answer may
// read: past it the answer is refused with prove=true rather than sent
// with proofs the client would find missing.
const maxProvenReads = 4096

// prefixReader is a module's read-only view of committed state; it
// records every key read and every range iterated, so a query can be
// answered with proofs (state.ProveReads).
type prefixReader struct {
	r      chain.KVReader
	prefix []byte
	mu     sync.Mutex
	reads  state.Reads
	over   bool
}

func (p *prefixReader) full(k []byte) []byte {
	return append(append([]byte{}, p.prefix...), k...)
}

func (p *prefixReader) note(k []byte) {
	p.mu.Lock()
	if len(p.reads.Keys) < maxProvenReads {
		p.reads.Keys = append(p.reads.Keys, k)
	} else {
		p.over = true
	}
	p.mu.Unlock()
}

func (p *prefixReader) Get(k []byte) ([]byte, error) {
	fk := p.full(k)
	p.note(fk)
	return p.r.Get(fk)
}

func (p *prefixReader) Iterate(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	rr := state.RangeRead{Prefix: p.full(prefix)}
	err := p.r.Iterate(rr.Prefix, func(k, v []byte) (bool, error) {
		p.note(append([]byte{}, k...))
		rr.Through = append(rr.Through[:0], k...)
		return fn(k[len(p.prefix):], v)
	})
	p.mu.Lock()
	p.reads.Ranges = append(p.reads.Ranges, rr)
	p.mu.Unlock()
	return err
}

func (n *Node) module(name string) (chain.Module, bool) { return n.app.module(name) }

// proofs proves what pr recorded at height: each key's value (or
// absence) and each iterated range's next-key records.
func (n *Node) proofs(height uint64, pr *prefixReader) ([]api.KeyProof, error) {
	if pr.over || len(pr.reads.Ranges) > maxProvenReads {
		return nil, fmt.Errorf("%w: the answer reads more than %d state keys, too many to prove; narrow it (limit) or ask without prove", api.ErrBadRequest, maxProvenReads)
	}
	kps, err := n.state.ProveReads(store.TS(height), pr.reads)
	if err != nil {
		return nil, fmt.Errorf("prove at %d: %w", height, err)
	}
	out := make([]api.KeyProof, 0, len(kps))
	for _, kp := range kps {
		pj, err := json.Marshal(kp.Proof)
		if err != nil {
			return nil, err
		}
		out = append(out, api.KeyProof{Key: kp.Key, Value: kp.Value, Proof: pj})
	}
	return out, nil
}

func (b backend) Account(ctx context.Context, addr chain.Address, prove bool) (api.Account, error) {
	n := b.n
	n.mu.RLock()
	head := n.head
	n.mu.RUnlock()
	r := n.state.Reader(store.TS(head.Height))
	nonce, err := execution.Nonce(r, addr)
	if err != nil {
		return api.Account{}, err
	}
	pr := &prefixReader{r: r, prefix: []byte(n.app.bankNm + "/")}
	var bal any = []any{}
	if n.app.bank != nil {
		if bal, err = n.app.bank.AccountBalances(pr, addr); err != nil {
			return api.Account{}, err
		}
	}
	acct := api.Account{Address: addr, Height: head.Height, StateRoot: head.StateRoot, Nonce: nonce, Balances: bal}
	if prove {
		pr.reads.Keys = append([][]byte{nonceKey(addr)}, pr.reads.Keys...)
		if acct.Proofs, err = n.proofs(head.Height, pr); err != nil {
			return api.Account{}, err
		}
	}
	return acct, nil
}

// nonceKey is the executor's nonce key for addr (see execution.Nonce).
func nonceKey(a chain.Address) []byte {
	return append([]byte(execution.AuthPrefix+"n/"), a[:]...)
}

// Modules lists the registry's modules, in order, as they describe
// themselves (GET /v1/modules).
func (b backend) Modules(context.Context) (api.Modules, error) {
	out := api.Modules{Modules: make([]api.Module, 0, len(b.n.app.entries))}
	for _, e := range b.n.app.entries {
		m := api.Module{Name: e.Module.Name(), Msgs: []api.ModuleMsg{}, Queries: []api.ModuleQry{}}
		if d, ok := e.Module.(chain.Describer); ok {
			m = api.DescribeModule(e.Module.Name(), d.Describe())
		}
		out.Modules = append(out.Modules, m)
	}
	return out, nil
}

func (b backend) Validators(ctx context.Context, height uint64) (api.Validators, error) {
	n := b.n
	if height == 0 {
		height = n.headHeight() + 1
	}
	vs, err := n.store.ValidatorsAt(height)
	if err != nil {
		return api.Validators{}, fmt.Errorf("validators at %d: %w", height, err)
	}
	out := api.Validators{Height: height, Validators: vs.Validators, Total: vs.TotalPower()}
	if stk, ok := n.module(n.app.valName); ok && n.app.valSet != nil {
		h := n.headHeight()
		if res, err := stk.Query(&prefixReader{r: n.state.Reader(store.TS(h)), prefix: []byte(n.app.valName + "/")}, "validators", nil); err == nil {
			out.Staking = res
		}
	}
	return out, nil
}

func (b backend) Query(ctx context.Context, module, path string, args map[string]string, prove bool) (api.QueryResult, error) {
	n := b.n
	m, ok := n.module(module)
	if !ok {
		return api.QueryResult{}, fmt.Errorf("%w: no module %q", chain.ErrNotFound, module)
	}
	n.mu.RLock()
	h := n.head.Height
	n.mu.RUnlock()
	r := n.state.Reader(store.TS(h))
	pr := &prefixReader{r: r, prefix: []byte(module + "/")}
	res, err := m.Query(pr, path, args)
	if err != nil {
		if errors.Is(err, chain.ErrInvalidMsg) || errors.Is(err, chain.ErrUnknownMsg) {
			err = fmt.Errorf("%w: %w", api.ErrBadRequest, err)
		}
		return api.QueryResult{}, err
	}
	out := api.QueryResult{Height: h, Result: res}
	if prove {
		if out.Proofs, err = n.proofs(h, pr); err != nil {
			return api.QueryResult{}, err
		}
	}
	return out, nil
}

func (b backend) Peers(ctx context.Context) (any, error) {
	pn, ok := b.n.peerNet()
	if !ok {
		return map[string]any{"peers": []any{}}, nil
	}
	return map[string]any{"peer_id": pn.ID().String(), "addrs": pn.Addrs(), "peers": toPeers(pn.Peers()),
		"topics": toTopics(pn.Topics()), "denied": pn.Denied(), "reachability": pn.Reachability()}, nil
}

func (b backend) DenyPeer(ctx context.Context, id string, deny bool) error {
	p, err := peerIDFromString(id)
	if err != nil {
		return fmt.Errorf("%w: peer id %q: %v", api.ErrBadRequest, id, err)
	}
	pn, ok := b.n.peerNet()
	if !ok {
		return fmt.Errorf("%w: no libp2p host", api.ErrNotReady)
	}
	if deny {
		pn.Deny(p)
	} else {
		pn.Allow(p)
	}
	return nil
}

func (b backend) Head() uint64 { return b.n.headHeight() }

func (b backend) HeadChanged() <-chan struct{} {
	b.n.mu.RLock()
	defer b.n.mu.RUnlock()
	return b.n.headCh
}

func (b backend) EventsAt(ctx context.Context, height uint64) (api.BlockEvents, error) {
	n := b.n
	blk, err := n.store.Block(height)
	if err != nil {
		return api.BlockEvents{}, fmt.Errorf("events of block %d: %w", height, err)
	}
	res, err := n.store.Results(height)
	if err != nil {
		return api.BlockEvents{}, fmt.Errorf("events of block %d: %w", height, err)
	}
	ev := api.BlockEvents{Height: height, BlockID: blk.Header.ID(n.codec), Txs: make([]api.TxEvents, len(res))}
	for i, r := range res {
		ev.Txs[i] = api.TxEvents{ID: chain.IDOf(blk.Txs[i]), Code: r.Code, Events: r.Events}
	}
	if ev.Block, err = n.blockEvents(height); err != nil {
		return api.BlockEvents{}, err
	}
	return ev, nil
}
