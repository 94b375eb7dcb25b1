package api

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Past max_connections a connection is answered 503 in the API's error
// shape at once, and a freed slot is usable again; past max_event_streams
// a subscriber gets 503 too_many_event_streams.
func TestConnectionAndStreamLimits(t *testing.T) {
	b := newChainBackend()
	b.commit()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := NewLimitListener(ln, 3)
	srv := &http.Server{Handler: New(b, Config{MaxEventStreams: 2})}
	go srv.Serve(lim)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	tr := &http.Transport{DisableKeepAlives: true}
	cl := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	var streams []io.Closer
	codes := []string{}
	for i := 0; i < 3; i++ {
		resp, err := cl.Get(base + "/v1/events")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusOK {
			streams = append(streams, resp.Body)
			codes = append(codes, "200")
			continue
		}
		var eb ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		codes = append(codes, eb.Error.Code)
	}
	if strings.Join(codes, ",") != "200,200,too_many_event_streams" {
		t.Fatalf("3 subscribers with max_event_streams = 2: %v", codes)
	}
	// Two streams and one idle connection fill max_connections = 3 (once
	// the server has closed the refused subscriber's connection).
	waitOpen(t, lim, 2)
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	waitOpen(t, lim, 3)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("over max_connections: %v", err)
	}
	var eb ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil || resp.StatusCode != 503 || eb.Error.Code != "too_many_connections" {
		t.Fatalf("over max_connections: %d %+v %v", resp.StatusCode, eb, err)
	}
	c.Close()
	if lim.Rejected() != 1 {
		t.Errorf("rejected %d, want 1", lim.Rejected())
	}
	// Closing a stream frees its slot.
	streams[0].Close()
	waitOpen(t, lim, 2)
	resp2, err := cl.Get(base + "/v1/status")
	if err != nil || resp2.StatusCode != 200 {
		t.Fatalf("status after a slot was freed: %v %v", resp2, err)
	}
	resp2.Body.Close()
	for _, s := range streams[1:] {
		s.Close()
	}
}

func waitOpen(t *testing.T, l *LimitListener, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); l.Open() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("open connections %d, want %d", l.Open(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// One non-loopback address holds at most a quarter of max_connections;
// the next from it is answered 503 while another address (here
// 127.0.0.1, exempt) still gets a slot. A body sent a byte at a time
// is cut off by the body read deadline.
func TestConnectionShareAndSlowBody(t *testing.T) {
	b := newChainBackend()
	b.commit()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := NewLimitListener(ln, 8)
	srv := &http.Server{Handler: New(b, Config{}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(lim)
	defer srv.Close()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range lim.PerAddr() {
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	waitOpen(t, lim, lim.PerAddr())
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("over the address's share of %d: %v %v", lim.PerAddr(), resp, err)
	}
	c.Close()
	cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err = cl.Get("http://" + ln.Addr().String() + "/v1/status")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("another address: %v %v", resp, err)
	}
	resp.Body.Close()

	// A slow body: the connection is closed within the deadline.
	slow := held[0]
	if _, err := io.WriteString(slow, "POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/cbor\r\nContent-Length: 1000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		buf := make([]byte, 512)
		_ = slow.SetReadDeadline(time.Now().Add(3 * bodyReadTimeout))
		for {
			if _, err := slow.Read(buf); err != nil {
				return
			}
		}
	}()
	for {
		select {
		case <-closed:
			if took := time.Since(start); took > 2*bodyReadTimeout {
				t.Fatalf("slow body held the connection %v", took)
			}
			return
		case <-time.After(time.Second):
			_, _ = slow.Write([]byte{0x80})
		}
	}
}
