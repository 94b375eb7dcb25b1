package testnet

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// An API client that is not on the node's own machine (here 127.0.0.2)
// asks two of four validators to deny every other validator's peer ID
// (POST /v1/peers/{id}/deny, the operator's partition tool). Before, both
// obeyed: cut off from each other, neither half had 2/3 of the power and
// the chain stopped. Now the peer-deny routes answer only 127.0.0.1 and
// ::1 (403 forbidden to anyone else) and the chain keeps its pace.
func TestRemoteAPIClientCannotPartitionValidators(t *testing.T) {
	slow(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	n.waitHeight(ctx, 30*time.Second, 3, n.Procs...)

	const window = 10 * time.Second
	h0 := maxHeight(ctx, n.Procs...)
	time.Sleep(window)
	normal := maxHeight(ctx, n.Procs...) - h0
	if normal < 3 {
		t.Fatalf("only %d blocks in %v before any attack", normal, window)
	}

	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	remote := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	codes := map[int]int{}
	for _, victim := range n.Procs[:2] {
		for _, other := range n.Procs {
			if other == victim {
				continue
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, victim.Node.API+"/v1/peers/"+other.Node.PeerID+"/deny", nil)
			resp, err := remote.Do(req)
			if err != nil {
				t.Fatalf("deny request: %v", err)
			}
			_ = resp.Body.Close()
			codes[resp.StatusCode]++
		}
	}
	hStart := maxHeight(ctx, n.Procs...)
	time.Sleep(window)
	made := maxHeight(ctx, n.Procs...) - hStart
	t.Logf("deny requests from 127.0.0.2 answered %v; %d blocks in %v after (unattacked pace %d per %v)", codes, made, window, normal, window)
	if codes[http.StatusForbidden] != 6 {
		t.Errorf("deny requests from a remote client answered %v, want 6 × 403", codes)
	}
	if made < normal/2 {
		t.Errorf("chain slowed after remote deny requests: %d blocks in %v, normal pace gives %d", made, window, normal)
	}
}
