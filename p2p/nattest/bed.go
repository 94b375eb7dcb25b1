package nattest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// NAT is the behaviour of a home router.
type NAT int

const (
	// Cone keeps a flow's source port (endpoint-independent mapping) and
	// drops unsolicited inbound packets: hole punching works.
	Cone NAT = iota
	// Symmetric gives every flow a random source port (endpoint-dependent
	// mapping): hole punching cannot work, only a relay.
	Symmetric
)

func (n NAT) String() string {
	if n == Symmetric {
		return "symmetric"
	}
	return "cone"
}

// Addresses of the bed. PublicNet is the public segment; home LAN k is
// 192.168.(10+k).0/24 with the router at .1.
const (
	PublicNet    = "11.0.0.0/24"
	publicPrefix = "11.0.0."
	nsPrefix     = "dnat-"
	cmdTimeout   = 10 * time.Second
)

// ErrUnavailable says namespaces cannot be made here; New skips with it.
var ErrUnavailable = errors.New("nattest: network namespaces unavailable")

var beds atomic.Int32

// Bed is one test's set of namespaces. Its methods fail the test (t.Fatal)
// when a setup command fails, so they must be called from the test's
// goroutine.
type Bed struct {
	t      testing.TB
	prefix string
	inet   string // namespace holding the public bridge

	mu      sync.Mutex
	nss     []string
	procs   []*Proc
	pubs    int
	routers int
	ports   int
}

// Available reports why namespaces cannot be made here (nil if they can):
// not root, or ip(8) / nft(8) missing.
func Available() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("%w: Linux only (this is %s)", ErrUnavailable, runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root (running as uid %d)", ErrUnavailable, os.Geteuid())
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s not found (apt-get install -y iproute2 nftables): %v", ErrUnavailable, tool, err)
		}
	}
	return nil
}

// New makes an empty bed: the public segment's bridge namespace. It skips
// the test when Available says no, or when making a namespace fails (e.g.
// in a container without CAP_SYS_ADMIN), and removes stale beds first.
func New(t testing.TB) *Bed {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip(err.Error())
	}
	RemoveStale()
	b := &Bed{t: t, prefix: fmt.Sprintf("%s%d-%d-", nsPrefix, os.Getpid(), beds.Add(1))}
	t.Cleanup(b.Close)
	b.inet = b.prefix + "inet"
	if err := b.addNS(b.inet); err != nil {
		t.Skipf("%v: %v", ErrUnavailable, err)
	}
	// nft(8) may be installed on a kernel without nf_tables NAT.
	if err := runInput("table ip dnat_probe {\n\tchain p { type nat hook postrouting priority srcnat; policy accept; masquerade; }\n}\ndelete table ip dnat_probe\n",
		"ip", "netns", "exec", b.inet, "nft", "-f", "-"); err != nil {
		t.Skipf("%v: nftables NAT does not work here: %v", ErrUnavailable, err)
	}
	b.must("ip", "-n", b.inet, "link", "add", "br0", "type", "bridge")
	b.must("ip", "-n", b.inet, "link", "set", "br0", "up")
	return b
}

// RemoveStale deletes beds whose test process is gone: every namespace
// named dnat-<pid>-… whose pid is not running, after killing what runs in
// it. It touches nothing else.
func RemoveStale() {
	ents, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, nsPrefix)
		if !ok {
			continue
		}
		pidStr, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || pidAlive(pid) {
			continue
		}
		killNS(name)
		_ = run("ip", "netns", "delete", name)
	}
}

// killNS SIGKILLs every process in namespace ns.
func killNS(ns string) {
	out, err := output("ip", "netns", "pids", ns)
	if err != nil {
		return
	}
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			killPID(pid)
		}
	}
}

// Close kills the bed's processes and deletes its namespaces. t.Cleanup
// calls it; calling it again does nothing.
func (b *Bed) Close() {
	b.mu.Lock()
	procs, nss := b.procs, b.nss
	b.procs, b.nss = nil, nil
	b.mu.Unlock()
	for _, p := range procs {
		p.Kill()
	}
	for i := len(nss) - 1; i >= 0; i-- {
		killNS(nss[i])
		if err := run("ip", "netns", "delete", nss[i]); err != nil {
			b.t.Logf("nattest: delete namespace %s: %v", nss[i], err)
		}
	}
}

func (b *Bed) addNS(name string) error {
	if err := run("ip", "netns", "add", name); err != nil {
		return err
	}
	b.mu.Lock()
	b.nss = append(b.nss, name)
	b.mu.Unlock()
	if err := run("ip", "-n", name, "link", "set", "lo", "up"); err != nil {
		return err
	}
	// IPv6 off: the bed is IPv4 only, and link-local v6 would only add
	// addresses libp2p then tries.
	return run("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
}

func (b *Bed) must(args ...string) {
	b.t.Helper()
	if err := run(args...); err != nil {
		b.t.Fatalf("nattest: %v", err)
	}
}

// plug connects namespace ns to the public bridge with interface ifname
// holding addr (CIDR).
func (b *Bed) plug(ns, ifname, addr string) {
	b.t.Helper()
	b.mu.Lock()
	b.ports++
	port := fmt.Sprintf("p%d", b.ports)
	b.mu.Unlock()
	b.must("ip", "link", "add", "name", ifname, "netns", ns, "type", "veth", "peer", "name", port, "netns", b.inet)
	b.must("ip", "-n", b.inet, "link", "set", port, "master", "br0", "up")
	b.must("ip", "-n", ns, "addr", "add", addr, "dev", ifname)
	b.must("ip", "-n", ns, "link", "set", ifname, "up")
}

// Host is a machine of the bed: one namespace with one address.
type Host struct {
	bed  *Bed
	Name string
	NS   string // namespace name, for ip netns exec
	IP   string // its address (private for a home host)
	// PublicIP is the address others see: IP for a public host, the
	// router's WAN address for a home host.
	PublicIP string
}

// PublicHost adds a host on the public segment (11.0.0.10, .11, …).
func (b *Bed) PublicHost(name string) *Host {
	b.t.Helper()
	b.mu.Lock()
	i := b.pubs
	b.pubs++
	b.mu.Unlock()
	if i >= 80 {
		b.t.Fatal("nattest: at most 80 public hosts")
	}
	h := &Host{bed: b, Name: name, NS: b.prefix + name, IP: fmt.Sprintf("%s%d", publicPrefix, 10+i)}
	h.PublicIP = h.IP
	if err := b.addNS(h.NS); err != nil {
		b.t.Fatalf("nattest: %v", err)
	}
	b.plug(h.NS, "eth0", h.IP+"/24")
	return h
}

// Router is a home router: WAN on the public segment, LAN behind NAT.
type Router struct {
	bed   *Bed
	Name  string
	NS    string
	WANIP string
	NAT   NAT
	lan   int // 10+k: the LAN is 192.168.lan.0/24
	hosts int
}

// Router adds a home router doing masquerading NAT of kind nat.
func (b *Bed) Router(name string, nat NAT) *Router {
	b.t.Helper()
	b.mu.Lock()
	k := b.routers
	b.routers++
	b.mu.Unlock()
	if k >= 100 {
		b.t.Fatal("nattest: at most 100 routers")
	}
	r := &Router{bed: b, Name: name, NS: b.prefix + name, WANIP: fmt.Sprintf("%s%d", publicPrefix, 100+k), NAT: nat, lan: 10 + k}
	if err := b.addNS(r.NS); err != nil {
		b.t.Fatalf("nattest: %v", err)
	}
	b.plug(r.NS, "wan", r.WANIP+"/24")
	b.must("ip", "-n", r.NS, "link", "add", "br0", "type", "bridge")
	b.must("ip", "-n", r.NS, "addr", "add", fmt.Sprintf("192.168.%d.1/24", r.lan), "dev", "br0")
	b.must("ip", "-n", r.NS, "link", "set", "br0", "up")
	b.must("ip", "netns", "exec", r.NS, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	// With br_netfilter loaded, frames bridged between two LAN hosts also
	// pass the forward hook: the first rule keeps the LAN one segment.
	masq := "masquerade"
	if nat == Symmetric {
		masq = "masquerade fully-random"
	}
	rules := fmt.Sprintf(`table ip dnat_nat {
	chain wan_post { type nat hook postrouting priority srcnat; policy accept; oifname "wan" %s; }
}
table ip dnat_filter {
	chain wan_fwd {
		type filter hook forward priority filter; policy drop;
		iifname "br0" oifname "br0" accept
		iifname "br0" oifname "wan" accept
		iifname "wan" oifname "br0" ct state established,related accept
	}
	chain wan_in {
		type filter hook input priority filter; policy accept;
		iifname "wan" ct state new drop
	}
}
`, masq)
	if err := runInput(rules, "ip", "netns", "exec", r.NS, "nft", "-f", "-"); err != nil {
		b.t.Fatalf("nattest: router %s rules: %v", name, err)
	}
	return r
}

// Host adds a home host on the router's LAN (192.168.x.2, .3, …) whose
// only route off the LAN is the public segment through the router.
func (r *Router) Host(name string) *Host {
	b := r.bed
	b.t.Helper()
	b.mu.Lock()
	i := r.hosts
	r.hosts++
	b.mu.Unlock()
	h := &Host{bed: b, Name: name, NS: b.prefix + name, IP: fmt.Sprintf("192.168.%d.%d", r.lan, 2+i), PublicIP: r.WANIP}
	if err := b.addNS(h.NS); err != nil {
		b.t.Fatalf("nattest: %v", err)
	}
	b.mu.Lock()
	b.ports++
	port := fmt.Sprintf("l%d", b.ports)
	b.mu.Unlock()
	b.must("ip", "link", "add", "name", "eth0", "netns", h.NS, "type", "veth", "peer", "name", port, "netns", r.NS)
	b.must("ip", "-n", r.NS, "link", "set", port, "master", "br0", "up")
	b.must("ip", "-n", h.NS, "addr", "add", h.IP+"/24", "dev", "eth0")
	b.must("ip", "-n", h.NS, "link", "set", "eth0", "up")
	b.must("ip", "-n", h.NS, "route", "add", PublicNet, "via", fmt.Sprintf("192.168.%d.1", r.lan))
	// Multicast (mDNS) stays on the LAN: the router does not forward it.
	b.must("ip", "-n", h.NS, "route", "add", "224.0.0.0/4", "dev", "eth0")
	return h
}

// Exec runs a short command in the host's namespace and returns its
// combined output.
func (h *Host) Exec(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
	cmd.SysProcAttr = childAttr()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s in %s: %w: %s", name, h.Name, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Proc is a long-running process in a namespace. Its stdout is read line
// by line into Lines; stderr goes to Stderr (if set before Start, else
// discarded).
type Proc struct {
	Host  *Host
	Cmd   *exec.Cmd
	Lines chan string // stdout lines; closed at EOF
	stdin io.WriteCloser
	done  chan struct{}
	err   error
	once  sync.Once
}

// Command prepares name args in the host's namespace; change its Env, Dir
// or Stderr, then call Start.
func (h *Host) Command(name string, args ...string) *Proc {
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
	cmd.SysProcAttr = childAttr()
	return &Proc{Host: h, Cmd: cmd, Lines: make(chan string, 1024), done: make(chan struct{})}
}

// Start starts the process; the bed kills it at cleanup.
func (p *Proc) Start() error {
	out, err := p.Cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("nattest: %s: %w", p.Host.Name, err)
	}
	p.stdin, err = p.Cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("nattest: %s: %w", p.Host.Name, err)
	}
	if err := p.Cmd.Start(); err != nil {
		return fmt.Errorf("nattest: start in %s: %w", p.Host.Name, err)
	}
	b := p.Host.bed
	b.mu.Lock()
	b.procs = append(b.procs, p)
	b.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			select {
			case p.Lines <- sc.Text():
			default: // a reader that fell behind loses lines, never blocks the child
			}
		}
		close(p.Lines)
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	return nil
}

// Send writes one line to the process's stdin.
func (p *Proc) Send(line string) error {
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		return fmt.Errorf("nattest: send to %s: %w", p.Host.Name, err)
	}
	return nil
}

// Done is closed when the process has exited; Err is then its exit error.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error once Done is closed.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Stop sends SIGTERM, waits up to grace, then SIGKILLs.
func (p *Proc) Stop(grace time.Duration) {
	if p.Cmd.Process == nil {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Kill()
	}
}

// Kill SIGKILLs the process and waits for it.
func (p *Proc) Kill() {
	p.once.Do(func() {
		if p.Cmd.Process == nil {
			return
		}
		_ = p.Cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	})
}

func run(args ...string) error {
	_, err := output(args...)
	return err
}

func runInput(input string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func output(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}
