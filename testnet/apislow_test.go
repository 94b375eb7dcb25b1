package testnet

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// One client address opens more connections than the API allows
// ([api] max_connections, 256) and keeps each busy for as long as the
// server lets it: a POST /v1/txs whose 100 kB body arrives one byte every
// two seconds. Before, the slow bodies were read without a deadline and
// the connections took every slot: every other client got 503
// too_many_connections for as long as the attacker liked. Now one address
// holds at most a quarter of the slots (loopback, where a local proxy or
// testnet connects from, excepted) and a body must arrive within the
// body read deadline, so another client is served while the attack lasts.
func TestAPISlowClientsFromOneAddressLeaveRoom(t *testing.T) {
	long(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{validators: 1})
	n.start(ctx)
	n.waitHeight(ctx, 30*time.Second, 2, n.Procs...)
	p := n.Procs[0]
	addr := strings.TrimPrefix(p.Node.API, "http://")

	// Not 127.0.0.1: the attacker's own address (any of 127/8 is local).
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	const conns = 300
	var (
		mu       sync.Mutex
		held     []net.Conn
		refused  int
		attackWG sync.WaitGroup
	)
	actx, stop := context.WithCancel(ctx)
	defer stop()
	// Each attacker connection is redialled as soon as the node closes it.
	for range conns {
		attackWG.Add(1)
		go func() {
			defer attackWG.Done()
			for actx.Err() == nil {
				c, err := d.DialContext(actx, "tcp", addr)
				if err != nil {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
				_, err = fmt.Fprintf(c, "POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/cbor\r\nContent-Length: 100000\r\n\r\n")
				for err == nil && actx.Err() == nil {
					select {
					case <-actx.Done():
					case <-time.After(2 * time.Second):
					}
					_, err = c.Write([]byte{0x80})
				}
				_ = c.Close()
				mu.Lock()
				refused++
				mu.Unlock()
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	time.Sleep(3 * time.Second) // the slots fill
	defer func() {
		stop()
		mu.Lock()
		for _, c := range held {
			_ = c.Close()
		}
		mu.Unlock()
		attackWG.Wait()
	}()

	// Another client, during the attack.
	ok, busy := 0, 0
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < 20; i++ {
		time.Sleep(time.Second)
		resp, err := hc.Get(p.Node.API + "/v1/status")
		if err != nil {
			continue
		}
		_ = resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			ok++
		case http.StatusServiceUnavailable:
			busy++
		}
	}
	mu.Lock()
	gone := refused
	mu.Unlock()
	t.Logf("%d slow connections from 127.0.0.2 (redialled): %d closed by the node; another client: %d × 200, %d × 503 in 20 s", conns, gone, ok, busy)
	if ok < 15 {
		t.Fatalf("another client was served %d times in 20 s (%d × 503) while one address held slow connections", ok, busy)
	}
	if !p.Running() {
		t.Fatal("node exited")
	}
}
