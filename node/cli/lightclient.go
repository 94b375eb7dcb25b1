package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/chain/light"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
)

// Errors of the CLI's header verification.
var (
	// ErrNoGenesis: the light client has no trusted state and the home has
	// no genesis to start from (and no --trust-checkpoint was given).
	ErrNoGenesis = errors.New("no genesis to trust")
	// ErrBadCheckpoint: --trust-checkpoint is not height:block_id.
	ErrBadCheckpoint = errors.New("bad --trust-checkpoint")
)

// apiProvider serves light blocks from a node's HTTP API: the header and
// commit of GET /v1/blocks/{h} and the set of GET /v1/validators?height=h.
// Nothing it returns is trusted; chain/light verifies it.
type apiProvider struct{ cl *api.Client }

var _ light.Provider = apiProvider{}

func (p apiProvider) LightBlock(ctx context.Context, height uint64) (*light.LightBlock, error) {
	b, err := p.cl.Block(ctx, height)
	if err != nil {
		return nil, err
	}
	if b.Header.Height != height {
		return nil, fmt.Errorf("%w: asked for block %d, got %d", light.ErrInvalidHeader, height, b.Header.Height)
	}
	vs, err := p.ValidatorSet(ctx, height)
	if err != nil {
		return nil, err
	}
	return &light.LightBlock{Header: b.Header, Commit: b.Commit, Validators: vs}, nil
}

func (p apiProvider) ValidatorSet(ctx context.Context, height uint64) (*chain.ValidatorSet, error) {
	v, err := p.cl.Validators(ctx, height)
	if err != nil {
		return nil, err
	}
	if v.Height != height {
		return nil, fmt.Errorf("%w: asked for the validators of %d, got %d", light.ErrInvalidHeader, height, v.Height)
	}
	vs, err := chain.NewValidatorSet(v.Validators)
	if err != nil {
		return nil, fmt.Errorf("validators of %d: %w", height, err)
	}
	return vs, nil
}

// trustFlags are the query commands' verification options.
type trustFlags struct {
	trustNode  bool
	checkpoint string
	witnesses  []string
}

func (t *trustFlags) register(f interface {
	BoolVar(*bool, string, bool, string)
	StringVar(*string, string, string, string)
	StringArrayVar(*[]string, string, []string, string)
}) {
	f.BoolVar(&t.trustNode, "trust-node", false, "take the validator set from the node (checked only against the header's hash) instead of the light client")
	f.StringVar(&t.checkpoint, "trust-checkpoint", "", "start the light client's trust at height:block_id (got out of band) instead of the home's genesis")
	f.StringArrayVar(&t.witnesses, "witness", nil, "API address of another node to cross-check headers with (repeatable; adds to [light] witnesses)")
}

// clientHome is what a client command reads from --home: the node's
// config, or for a testnet directory (testnet.json, no config.toml) the
// first node's, with the other nodes as witnesses. Keys stay in home.
type clientHome struct {
	cfg       config.Config
	witnesses []string
}

func loadClientHome(home string) clientHome {
	if _, err := os.Stat(filepath.Join(home, config.FileName)); err == nil {
		cfg := keyringCfg(home)
		return clientHome{cfg: cfg, witnesses: cfg.Light.Witnesses}
	}
	raw, err := os.ReadFile(filepath.Join(home, "testnet.json"))
	if err != nil {
		return clientHome{cfg: keyringCfg(home)}
	}
	var m struct {
		Nodes []struct {
			Home string `json:"home"`
			API  string `json:"api"`
		} `json:"nodes"`
	}
	if json.Unmarshal(raw, &m) != nil || len(m.Nodes) == 0 {
		return clientHome{cfg: keyringCfg(home)}
	}
	first := m.Nodes[0].Home
	if !filepath.IsAbs(first) {
		first = filepath.Join(home, first)
	}
	cfg := keyringCfg(first)
	cfg.KeysDir = filepath.Join(home, "keys")
	if m.Nodes[0].API != "" {
		cfg.API.ListenAddr = m.Nodes[0].API
	}
	ch := clientHome{cfg: cfg}
	for _, n := range m.Nodes[1:] {
		if n.API != "" {
			ch.witnesses = append(ch.witnesses, n.API)
		}
	}
	return ch
}

// headerVerifier checks headers for the query commands: by default with
// a light client whose trusted state lives in <home>/light, with
// --trust-node against the validator set the node reports.
type headerVerifier struct {
	cl    *api.Client
	flags *trustFlags
	home  string
	lc    *light.Client
	cfg   light.Config     // lc's, for a second client from genesis
	gen   *genesis.Genesis // nil without a genesis in the home
}

// maxBackSteps is how far below the trusted height a header is reached by
// parent links (two API calls a height); farther down it is verified
// forward from the genesis instead, in a client whose trusted state is
// not kept.
const maxBackSteps = 32

// memStore is a light.Store that keeps nothing.
type memStore struct{ st *light.TrustedState }

func (m *memStore) Load() (light.TrustedState, error) {
	if m.st == nil {
		return light.TrustedState{}, light.ErrNoTrust
	}
	return *m.st, nil
}

func (m *memStore) Save(st light.TrustedState) error { m.st = &st; return nil }

func newHeaderVerifier(g *globals, cl *api.Client, tf *trustFlags) *headerVerifier {
	return &headerVerifier{cl: cl, flags: tf, home: g.home}
}

// how says, for the "verified" text, what the commit was checked against.
func (v *headerVerifier) how() string {
	if v.flags.trustNode {
		return "signed by >2/3 of the validator set the node reports (--trust-node: that set is not verified)"
	}
	return "signed by >2/3 of a validator set the light client carried forward from its trusted state"
}

// client builds the light client on first use, trusting the genesis in
// the home (or the checkpoint) if it has no trusted state yet.
func (v *headerVerifier) client(ctx context.Context) (*light.Client, error) {
	if v.lc != nil {
		return v.lc, nil
	}
	ch := loadClientHome(v.home)
	var gen *genesis.Genesis
	if g, err := genesis.Load(ch.cfg.GenesisPath()); err == nil {
		gen = g
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("genesis %s: %w", ch.cfg.GenesisPath(), err)
	}
	chainID := ""
	if gen != nil {
		chainID = gen.ChainID
	} else {
		st, err := v.cl.Status(ctx)
		if err != nil {
			return nil, err
		}
		chainID = st.ChainID // pinned by the checkpoint's block ID below
	}
	var wit []light.Provider
	for _, w := range append(append([]string{}, ch.witnesses...), v.flags.witnesses...) {
		wc := api.NewClient(w)
		wc.HTTP.Timeout = 10 * time.Second
		wit = append(wit, apiProvider{cl: wc})
	}
	cfg := light.Config{ChainID: chainID, Codec: chain.MustCodec(), Primary: apiProvider{cl: v.cl}, Witnesses: wit,
		Store: light.NewFileStore(filepath.Join(v.home, "light", chainID+".json")), Now: time.Now}
	v.cfg, v.gen = cfg, gen
	lc, err := light.New(cfg)
	switch {
	case err == nil && v.flags.checkpoint == "":
	case err == nil || errors.Is(err, light.ErrNoTrust):
		if lc == nil {
			return nil, err
		}
		if err := v.trust(ctx, lc, gen); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("light client: %w", err)
	}
	v.lc = lc
	return lc, nil
}

func (v *headerVerifier) trust(ctx context.Context, lc *light.Client, gen *genesis.Genesis) error {
	if cp := v.flags.checkpoint; cp != "" {
		hs, ids, ok := strings.Cut(cp, ":")
		h, err := strconv.ParseUint(hs, 10, 64)
		if !ok || err != nil || h == 0 {
			return withCode(ExitUsage, fmt.Errorf("%w: %q: want height:block_id, e.g. 1200:bafyrei…", ErrBadCheckpoint, cp))
		}
		id, err := chain.ParseID(ids)
		if err != nil {
			return withCode(ExitUsage, fmt.Errorf("%w: %q: %w", ErrBadCheckpoint, cp, err))
		}
		return lc.TrustCheckpoint(ctx, h, id)
	}
	if gen == nil {
		return withCode(ExitUsage, fmt.Errorf("%w: %s has no genesis.json and no trusted state: give --trust-checkpoint height:block_id, or --trust-node", ErrNoGenesis, v.home))
	}
	vs, err := gen.ValidatorSet()
	if err != nil {
		return withCode(ExitUsage, err)
	}
	return lc.TrustGenesis(vs.Validators, chain.TimeOf(gen.GenesisTime))
}

// verifyErr is a verification failure (exit 1) unless err already
// carries its exit code (bad flags, missing genesis).
func verifyErr(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return withCode(ExitError, fmt.Errorf("verification failed: %w", err))
}

// header returns the header at height once verified.
func (v *headerVerifier) header(ctx context.Context, height uint64) (chain.Header, error) {
	h, _, err := v.signed(ctx, height)
	return h, err
}

// signed returns the header at height and the commit it was verified by.
func (v *headerVerifier) signed(ctx context.Context, height uint64) (chain.Header, *chain.Commit, error) {
	if v.flags.trustNode {
		return v.cl.HeaderTrustingNode(ctx, height)
	}
	lc, err := v.client(ctx)
	if err != nil {
		return chain.Header{}, nil, err
	}
	var lb *light.LightBlock
	if st, terr := lc.Trusted(); terr == nil && v.gen != nil && height+maxBackSteps < st.Height {
		lb, err = v.fromGenesis(ctx, height)
	} else {
		lb, err = lc.Verify(ctx, height)
	}
	if err != nil {
		var ce *light.ConflictError
		if errors.As(err, &ce) {
			return chain.Header{}, nil, fmt.Errorf("block %d: fork evidence: %w", height, err)
		}
		if errors.Is(err, light.ErrTrustExpired) {
			return chain.Header{}, nil, fmt.Errorf("block %d: %w; trust a recent block with --trust-checkpoint height:block_id got from a source you trust", height, err)
		}
		return chain.Header{}, nil, fmt.Errorf("block %d: %w", height, err)
	}
	return lb.Header, lb.Commit, nil
}

// fromGenesis verifies height forward from the home's genesis in a
// client that keeps no state.
func (v *headerVerifier) fromGenesis(ctx context.Context, height uint64) (*light.LightBlock, error) {
	cfg := v.cfg
	cfg.Store = &memStore{}
	c, err := light.New(cfg)
	if err != nil && !errors.Is(err, light.ErrNoTrust) {
		return nil, err
	}
	vs, err := v.gen.ValidatorSet()
	if err != nil {
		return nil, err
	}
	if err := c.TrustGenesis(vs.Validators, chain.TimeOf(v.gen.GenesisTime)); err != nil {
		return nil, err
	}
	return c.Verify(ctx, height)
}

// nextValidators returns the validator set signing height+1, verified
// against the header at height.
func (v *headerVerifier) nextValidators(ctx context.Context, height uint64) (chain.Header, *chain.ValidatorSet, error) {
	hdr, _, err := v.signed(ctx, height)
	if err != nil {
		return chain.Header{}, nil, err
	}
	vs, err := apiProvider{cl: v.cl}.ValidatorSet(ctx, height+1)
	if err != nil {
		return chain.Header{}, nil, err
	}
	if vs.Hash(chain.MustCodec()) != hdr.NextValidatorsHash {
		return chain.Header{}, nil, fmt.Errorf("validators of %d do not hash to block %d's next validators hash", height+1, height)
	}
	return hdr, vs, nil
}
