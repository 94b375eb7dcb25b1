// Package nattest builds a small, self-contained Internet out of Linux
// network namespaces, so tests can show NAT traversal working: a "public"
// segment (one bridge) with public hosts such as a bootstrap/relay node,
// home routers that masquerade a private LAN behind one public address, and
// home hosts behind them.
//
//	bed := nattest.New(t)                    // skips unless root with ip(8) and nft(8)
//	seed := bed.PublicHost("seed")           // 11.0.0.10 on the public segment
//	home := bed.Router("r1", nattest.Cone)   // WAN 11.0.0.100, LAN 192.168.10.0/24
//	h := home.Host("h1")                     // 192.168.10.2, reaches 11.0.0.0/24 via the router
//	p := h.Command("/path/to/dure", "start", "--home", dir)
//	err := p.Start()                         // killed at cleanup; p.Lines has its stdout
//	out, err := h.Exec(ctx, "/path/to/dure", "status", "--home", dir)
//
// The package's tests run real p2p.Node hosts (the test binary re-executed
// as a helper in a namespace, reporting its connections and AutoNAT
// verdicts on stdout) and real dure processes; see README, "A home node
// behind NAT", for what they show and the figures.
//
// # NAT kinds
//
// Cone is what most home routers do: nftables masquerade, which keeps a
// flow's source port when it is free, so one private ip:port appears as the
// same public ip:port to every destination (endpoint-independent mapping);
// unsolicited inbound packets are dropped (the filter is
// endpoint-dependent, "port-restricted cone"), so only a hole punch gets
// through. Symmetric maps every new flow to a random port (masquerade
// fully-random), as carrier-grade and some corporate NATs do: the address a
// peer observes is useless to anyone else, so only a relay works.
//
// # Isolation
//
// Every veth pair is created directly between two of the bed's namespaces
// (never in the namespace the test runs in), no namespace has a default
// route, and the public segment is a bridge inside its own namespace: no
// packet can reach the machine's real interfaces, and the machine's own
// interfaces, routes and firewall tables are never touched. The public
// addresses (11.0.0.0/24) exist only inside the bed; they are ordinary
// public unicast addresses because libp2p treats documentation ranges
// (192.0.2.0/24 etc.) as unroutable and would not use them for AutoNAT or
// hole punching.
//
// # Cleanup
//
// Namespaces are named "dnat-<pid>-<n>-<name>". t.Cleanup kills every
// process the bed started and deletes its namespaces (which deletes their
// interfaces and nftables tables with them), also when the test fails. A
// bed left behind by a killed test binary is removed by the next New: any
// "dnat-<pid>-…" namespace whose pid is no longer running has its processes
// killed and is deleted. Every command the bed runs has a timeout.
//
// Processes run in a namespace through "ip netns exec", which setns(2)s
// before exec, so whole programs (the dure binary, or the test binary
// re-executed as a helper) run there; no goroutine ever switches namespace.
// On Linux they also get SIGKILL when the test process dies.
package nattest
