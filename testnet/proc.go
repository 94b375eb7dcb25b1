package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/dure-network/dure/node/api"
)

// Manifest is D/testnet.json, written by `dure testnet --generate-only`.
type Manifest struct {
	ChainID string         `json:"chain_id"`
	Nodes   []ManifestNode `json:"nodes"`
	// Accounts are the funded demo key names in D/keys.
	Accounts []string `json:"accounts"`
}

// ManifestNode describes one node of the network.
type ManifestNode struct {
	Name      string `json:"name"`
	Home      string `json:"home"`
	API       string `json:"api"`
	P2P       string `json:"p2p"`
	PeerID    string `json:"peer_id"`
	Validator string `json:"validator"`
}

// LoadManifest reads D/testnet.json.
func LoadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "testnet.json"))
	if err != nil {
		return nil, fmt.Errorf("read testnet manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, "testnet.json"), err)
	}
	return &m, nil
}

// Proc is one node process.
type Proc struct {
	Node   ManifestNode
	Bin    string
	Client *api.Client
	Extra  []string // extra `dure start` flags
	// Env is added to the harness's environment, e.g.
	// "DURE_TEST_DOUBLE_SIGN=1" for a byzantine validator.
	Env []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	exit   error
	paused bool
}

// Running reports whether the process is alive.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Start launches `dure start --home <home>`; output goes to home/node.log.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s already running (pid %d)", p.Node.Name, p.cmd.Process.Pid)
		}
	}
	logf, err := os.OpenFile(filepath.Join(p.Node.Home, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log for %s: %w", p.Node.Name, err)
	}
	args := append([]string{"start", "--home", p.Node.Home}, p.Extra...)
	cmd := exec.Command(p.Bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), p.Env...)
	// The child dies with its parent: no node is left behind if the
	// harness itself is killed.
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.Node.Name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.exit, p.paused = cmd, done, nil, false
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.exit = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// PID returns the process ID, or 0 when not running.
func (p *Proc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *Proc) signal(sig syscall.Signal) error {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return fmt.Errorf("%s is not running", p.Node.Name)
	}
	return cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	return p.wait(10 * time.Second)
}

// Stop sends SIGTERM, waits up to grace, then SIGKILL.
func (p *Proc) Stop(grace time.Duration) error {
	if !p.Running() {
		return nil
	}
	if p.isPaused() {
		_ = p.signal(sigCont)
	}
	if err := p.signal(syscall.SIGTERM); err != nil {
		return p.Kill() // Windows delivers no SIGTERM: kill is all there is
	}
	if err := p.wait(grace); err == nil {
		return nil
	}
	return p.Kill()
}

// Pause freezes the process (SIGSTOP); Resume thaws it.
func (p *Proc) Pause() error {
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
	return p.signal(sigStop)
}

// Resume sends SIGCONT.
func (p *Proc) Resume() error {
	p.mu.Lock()
	p.paused = false
	p.mu.Unlock()
	return p.signal(sigCont)
}

func (p *Proc) isPaused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

func (p *Proc) wait(d time.Duration) error {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-time.After(d):
		return fmt.Errorf("%s did not exit within %s", p.Node.Name, d)
	}
}

// Exited returns the process's exit error once it has ended.
func (p *Proc) Exited() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false, nil
	}
	select {
	case <-p.done:
		return true, p.exit
	default:
		return false, nil
	}
}

// Net is a running local network.
type Net struct {
	Dir      string
	Bin      string
	Manifest *Manifest
	Procs    []*Proc
}

// Open loads a generated network directory without starting anything.
func Open(bin, dir string) (*Net, error) {
	m, err := LoadManifest(dir)
	if err != nil {
		return nil, err
	}
	n := &Net{Dir: dir, Bin: bin, Manifest: m}
	for _, mn := range m.Nodes {
		n.Procs = append(n.Procs, &Proc{Node: mn, Bin: bin, Client: api.NewClient(mn.API)})
	}
	return n, nil
}

// StartAll starts every node.
func (n *Net) StartAll() error {
	for _, p := range n.Procs {
		if err := p.Start(); err != nil {
			n.StopAll(5 * time.Second)
			return err
		}
	}
	return nil
}

// StopAll stops every node (SIGTERM, then SIGKILL after grace).
func (n *Net) StopAll(grace time.Duration) error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, p := range n.Procs {
		wg.Add(1)
		go func(p *Proc) {
			defer wg.Done()
			if err := p.Stop(grace); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(p)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ErrExited is returned by Height (and so WaitHeight) for a node whose
// process has ended: whatever answers on its API address then is another
// process that took the port, not this node.
var ErrExited = errors.New("node process exited")

// Height returns a node's committed height, or an error if unreachable
// or its process has exited.
func (p *Proc) Height(ctx context.Context) (uint64, error) {
	if exited, err := p.Exited(); exited {
		return 0, fmt.Errorf("%s: %w (%v)", p.Node.Name, ErrExited, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := p.Client.Status(ctx)
	if err != nil {
		return 0, err
	}
	return st.Height, nil
}

// WaitHeight waits until every given node reports height ≥ h.
func WaitHeight(ctx context.Context, h uint64, procs ...*Proc) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	// The last height each node reported, so a timeout names where a
	// slow node really is rather than the cancelled last request.
	seen := make(map[*Proc]uint64, len(procs))
	for {
		behind := ""
		for _, p := range procs {
			got, err := p.Height(ctx)
			if errors.Is(err, ErrExited) {
				return fmt.Errorf("waiting for height %d: %w", h, err)
			}
			if err == nil {
				seen[p] = got
			}
			if err != nil || got < h {
				if last, ok := seen[p]; ok && ctx.Err() != nil {
					behind = fmt.Sprintf("%s last reported height %d", p.Node.Name, last)
				} else {
					behind = fmt.Sprintf("%s at %d (%v)", p.Node.Name, got, err)
				}
				break
			}
		}
		if behind == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for height %d: %s: %w", h, behind, ctx.Err())
		case <-tick.C:
		}
	}
}
