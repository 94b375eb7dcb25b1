package testnet

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/p2p"
)

// consensusEnvelope mirrors the consensus topic's message: a CBOR array
// of (proposal, vote, commit), exactly one set. The attacker writes it
// from the wire format, not from the node's own type.
type consensusEnvelope struct {
	_        struct{} `cbor:",toarray"`
	Proposal *chain.Proposal
	Vote     *chain.Vote
	Commit   *chain.Commit
}

// attacker is a real libp2p peer with no validator key, connected to
// every node, that relays nothing it receives and publishes only junk.
type attacker struct {
	*p2p.Node
	t      *testing.T
	codec  *chain.Codec
	chain  string
	key    chain.PrivKey
	vals   []chain.Validator
	sent   map[string]int
	nonces uint64
}

func newAttacker(ctx context.Context, t *testing.T, n *e2eNet) *attacker {
	t.Helper()
	return newAttackerAt(ctx, t, n, "127.0.0.2", nil)
}

// newAttackerAt is newAttacker listening on ip (a loopback address other
// than 127.0.0.1), with tune, if set, adding to its p2p deps (a compact
// topic validator, a fill server).
func newAttackerAt(ctx context.Context, t *testing.T, n *e2eNet, ip string, tune func(*p2p.Deps)) *attacker {
	t.Helper()
	var boot []string
	running := 0
	for _, p := range n.Procs {
		if !p.Running() {
			continue // a stopped validator, whose key the attacker may hold
		}
		running++
		st, err := p.Client.Status(ctx)
		if err != nil {
			t.Fatalf("%s: status: %v", p.Node.Name, err)
		}
		for _, a := range st.ListenAddrs {
			if strings.Contains(a, "/tcp/") && strings.HasPrefix(a, "/ip4/127.") {
				boot = append(boot, a+"/p2p/"+st.PeerID)
				break
			}
		}
	}
	if len(boot) != running {
		t.Fatalf("found p2p addresses of %d of %d nodes: %v", len(boot), running, boot)
	}
	accept := func(peer.ID, []byte) p2p.Verdict { return p2p.Accept }
	cfg := p2p.Config{
		ChainID: n.chainID,
		// Not 127.0.0.1: the nodes remember rejected gossip per IP, and
		// exempt only the address a local testnet's nodes share.
		ListenAddrs:          []string{"/ip4/" + ip + "/tcp/0"},
		Bootstrap:            boot,
		ScoreInspectInterval: 500 * time.Millisecond,
	}
	deps := p2p.Deps{
		ValidateTxs:       p2p.PerTx(func([]byte) p2p.Verdict { return p2p.Accept }),
		ValidateConsensus: accept, ValidateBlock: accept, ValidateEvidence: accept,
	}
	if tune != nil {
		tune(&deps)
	}
	node, err := p2p.New(ctx, cfg, deps)
	if err != nil {
		t.Fatalf("attacker host: %v", err)
	}
	t.Cleanup(func() { _ = node.Close() })
	vs, err := n.Procs[0].Client.Validators(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	key, err := chain.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &attacker{Node: node, t: t, codec: n.codec, chain: n.chainID, key: key, vals: vs.Validators, sent: map[string]int{}}
}

// forgedBlock is a well-formed block for height h on parent, "proposed" by
// validator val, with a proposal signed by the attacker's own key; or, with
// signed=false, a zero signature.
func (a *attacker) forgedBlock(h uint64, parent chain.ID, val chain.Address, round uint32, signed bool) []byte {
	// An empty last commit with the matching hash: well-formed, and
	// checkable only against the validator set.
	lc := &chain.Commit{Height: h - 1, BlockID: parent}
	b := chain.Block{Header: chain.Header{ChainID: a.chain, Height: h, Time: chain.TimeOf(time.Now()), Parent: parent,
		TxRoot: chain.TxRoot(nil), Proposer: val, LastCommitHash: chain.CommitHash(a.codec, lc)}, LastCommit: lc}
	id := b.Header.ID(a.codec)
	raw, err := a.codec.Marshal(b)
	if err != nil {
		a.t.Fatal(err)
	}
	prop := chain.Proposal{Height: h, Round: round, POLRound: -1, BlockID: id, Proposer: val, Sig: make([]byte, chain.SigLen)}
	if signed {
		prop.Sig = a.key.Sign(prop.SignBytes(a.codec, a.chain))
	}
	msg, err := a.codec.Marshal(chain.ProposedBlock{Proposal: prop, Block: raw})
	if err != nil {
		a.t.Fatal(err)
	}
	return msg
}

// badTxs are transfers with the right chain ID and a broken signature.
func (a *attacker) badTxs(k int, to chain.Address) [][]byte {
	out := make([][]byte, 0, k)
	for range k {
		m, err := currency.MsgSend(a.codec, to, "dure", 1)
		if err != nil {
			a.t.Fatal(err)
		}
		tx := chain.Tx{ChainID: a.chain, Nonce: a.nonces, MaxFee: 10, Msgs: []chain.Msg{m}}
		a.nonces++
		if _, err := tx.Sign(a.codec, a.key); err != nil {
			a.t.Fatal(err)
		}
		tx.Sig[0] ^= 0xff
		raw, err := a.codec.Marshal(&tx)
		if err != nil {
			a.t.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

// forgedVote is a vote "from" validator val with random signature bytes.
func (a *attacker) forgedVote(h uint64, val chain.Address, typ chain.VoteType) []byte {
	sig := make([]byte, chain.SigLen)
	_, _ = rand.Read(sig)
	v := chain.Vote{Type: typ, Height: h, Round: 0, BlockID: chain.IDOf(sig), Validator: val, Sig: sig}
	msg, err := a.codec.Marshal(consensusEnvelope{Vote: &v})
	if err != nil {
		a.t.Fatal(err)
	}
	return msg
}

// round publishes one burst of every kind of junk at the nodes' head.
func (a *attacker) round(ctx context.Context, head uint64, parent chain.ID, i int) {
	val := a.vals[i%len(a.vals)].Address
	pub := func(kind string, err error) {
		if err == nil {
			a.sent[kind]++
		}
	}
	pub("block", a.PublishBlock(ctx, a.forgedBlock(head+1, parent, val, 0, true)))
	pub("block", a.PublishBlock(ctx, a.forgedBlock(head+2, parent, val, uint32(i%3), false)))
	for _, typ := range []chain.VoteType{chain.Prevote, chain.Precommit} {
		pub("vote", a.PublishConsensus(ctx, a.forgedVote(head+1, val, typ)))
	}
	for _, tx := range a.badTxs(20, a.vals[0].Address) {
		pub("tx", a.PublishTx(ctx, tx))
	}
}

// peerScores reads one node's view of its peers' gossip scores. The field
// names are matched case-insensitively so the check does not depend on
// the peers endpoint's JSON casing.
func peerScores(ctx context.Context, p *Proc) (map[string]float64, error) {
	var raw map[string]json.RawMessage
	if err := p.Client.Peers(ctx, &raw); err != nil {
		return nil, err
	}
	var list []map[string]any
	if err := json.Unmarshal(raw["peers"], &list); err != nil {
		return nil, fmt.Errorf("peers: %w", err)
	}
	out := map[string]float64{}
	for _, e := range list {
		var id string
		var score float64
		for k, v := range e {
			switch strings.ToLower(k) {
			case "id", "peer_id":
				id, _ = v.(string)
			case "score":
				score, _ = v.(float64)
			}
		}
		out[id] = score
	}
	return out, nil
}

// A connected peer with no validator key publishes, for 30 s, blocks for
// the next heights claiming every validator as proposer (with signatures
// of its own key, or none), transfers with broken signatures and votes
// with random signatures for the next height. The chain keeps committing
// at its normal pace — neither stalled by the forged blocks nor spun into
// empty blocks by the forged votes — real transfers sent meanwhile
// commit, every node agrees, and every node ends with the attacker's peer
// ID below the graylist threshold.
func TestAdversarialPeerCannotHaltChain(t *testing.T) {
	slow(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	n.waitHeight(ctx, 30*time.Second, 3, n.Procs...)

	// Normal pace, unattacked.
	const window = 10 * time.Second
	h0 := maxHeight(ctx, n.Procs...)
	time.Sleep(window)
	normal := maxHeight(ctx, n.Procs...) - h0
	if normal < 3 {
		t.Fatalf("only %d blocks in %v before any attack", normal, window)
	}

	a := newAttacker(ctx, t, n)
	eventually(ctx, t, 20*time.Second, "attacker connected to every node", func() bool {
		return len(a.Peers()) == len(n.Procs)
	}, nil)
	time.Sleep(2 * time.Second) // topic subscriptions and mesh

	const attack = 15 * time.Second
	start := time.Now()
	hStart := maxHeight(ctx, n.Procs...)
	var real []chain.ID
	for i := 0; time.Since(start) < attack; i++ {
		p := n.Procs[i%len(n.Procs)]
		head, err := p.Height(ctx)
		if err != nil {
			t.Fatalf("%s: %v", p.Node.Name, err)
		}
		blk, err := p.Client.Block(ctx, head)
		if err != nil {
			t.Fatalf("block %d: %v", head, err)
		}
		a.round(ctx, head, blk.ID, i)
		if i%10 == 0 {
			real = append(real, n.send(ctx, n.wallets[(i/10)%len(n.wallets)], n.Procs[(i/10)%len(n.Procs)], 1)...)
		}
		time.Sleep(100 * time.Millisecond)
	}
	made := maxHeight(ctx, n.Procs...) - hStart
	expect := uint64(float64(normal) * float64(attack) / float64(window))
	t.Logf("attack: sent %v over %v; %d blocks (unattacked pace: %d per %v, %d expected)", a.sent, attack, made, normal, window, expect)
	if made < expect/2 {
		t.Errorf("chain slowed under attack: %d blocks in %v, normal pace gives %d", made, attack, expect)
	}
	if made > 2*expect+5 {
		t.Errorf("forged votes made the chain spin: %d blocks in %v, normal pace gives %d", made, attack, expect)
	}

	// Every node graylists the attacker's peer ID while it is connected.
	self := a.ID().String()
	for _, p := range n.Procs {
		var last map[string]float64
		eventually(ctx, t, 20*time.Second, p.Node.Name+" graylists the attacker", func() bool {
			s, err := peerScores(ctx, p)
			if err != nil {
				return false
			}
			last = s
			sc, ok := s[self]
			return ok && sc < p2p.GraylistThreshold
		}, func() string {
			st, _ := p.Client.Status(ctx)
			return fmt.Sprintf("scores of %s's peers (attacker %s): %v; gossip stats %v", p.Node.Name, self, last, st.P2P)
		})
	}
	n.waitCommitted(ctx, 30*time.Second, n.Procs[0], real)
	top := n.minHeight(ctx, n.Procs...)
	n.checkAgreement(ctx, 1, top, n.Procs...)
	n.checkTxs(ctx, real, n.Procs...)
}

// eventually polls cond every 200 ms until it holds or d passes; detail,
// if set, says what was seen last.
func eventually(ctx context.Context, t *testing.T, d time.Duration, what string, cond func() bool, detail func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			if detail != nil {
				t.Fatalf("timed out after %v waiting for: %s; %s", d, what, detail())
			}
			t.Fatalf("timed out after %v waiting for: %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
