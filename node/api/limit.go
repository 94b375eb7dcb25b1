package api

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Each open connection holds a file descriptor, and a node that runs out
// of descriptors cannot append to its consensus WAL. LimitListener bounds
// the API's share: past max open connections, a new one is answered at
// once with 503 too_many_connections and closed, so the count (and the
// descriptors) never grow past max plus a few answers in flight.

// maxRejecting bounds the connections being answered 503 at once (each
// holds its descriptor for up to rejectLinger while the request drains);
// past it they are answered and closed at once.
const (
	maxRejecting = 16
	rejectLinger = 500 * time.Millisecond
)

// LimitListener wraps ln so at most max accepted connections are open,
// and at most a quarter of them (PerAddr) from one remote IP address:
// otherwise one client that keeps its connections busy (a body sent a
// byte at a time, redialled as soon as it is closed) took every slot and
// the API answered everyone else 503. 127.0.0.1 and ::1 are exempt: a
// local reverse proxy or a local testnet connects from there.
type LimitListener struct {
	net.Listener
	mu        sync.Mutex
	max       int
	open      int
	perAddr   map[string]int
	rejecting atomic.Int32
	rejected  atomic.Uint64
	busy      []byte // the complete 503 answer
	busyAddr  []byte // the 503 answer for an address over its share
}

// NewLimitListener bounds ln to max open connections (max ≥ 1).
func NewLimitListener(ln net.Listener, max int) *LimitListener {
	return &LimitListener{Listener: ln, max: max, perAddr: map[string]int{},
		busy: busyAnswer(fmt.Sprintf("%v: the API already has %d connections open ([api] max_connections); retry later", ErrTooManyConnections, max)),
		busyAddr: busyAnswer(fmt.Sprintf("%v: this address already has its share (a quarter of [api] max_connections) open; retry later",
			ErrTooManyConnections))}
}

func busyAnswer(msg string) []byte {
	body, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Code: "too_many_connections", Message: msg}})
	body = append(body, '\n')
	return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + string(body))
}

// PerAddr is the most connections one non-loopback address may hold.
func (l *LimitListener) PerAddr() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.perAddrLocked()
}

func (l *LimitListener) perAddrLocked() int { return max(1, l.max/4) }

// remoteKey names c's remote IP, or "" for 127.0.0.1, ::1 and non-IP
// addresses (exempt, as in p2p's IP book).
func remoteKey(c net.Conn) string {
	a, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok || a.IP.Equal(net.IPv4(127, 0, 0, 1)) || a.IP.Equal(net.IPv6loopback) {
		return ""
	}
	return a.IP.String()
}

// SetMax changes the bound; connections already open are not closed.
func (l *LimitListener) SetMax(max int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.max = max
}

// Max is the current bound.
func (l *LimitListener) Max() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max
}

// Open is the number of connections being served.
func (l *LimitListener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Rejected counts connections answered 503 (or closed) for being over max.
func (l *LimitListener) Rejected() uint64 { return l.rejected.Load() }

// Accept returns the next connection under the limit; those over it are
// answered and closed here.
func (l *LimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := remoteKey(c)
		l.mu.Lock()
		full := l.open >= l.max
		share := key != "" && l.perAddr[key] >= l.perAddrLocked()
		if !full && !share {
			l.open++
			if key != "" {
				l.perAddr[key]++
			}
			l.mu.Unlock()
			return &limitConn{Conn: c, l: l, key: key}, nil
		}
		l.mu.Unlock()
		l.rejected.Add(1)
		if full {
			l.reject(c, l.busy)
		} else {
			l.reject(c, l.busyAddr)
		}
	}
}

// reject answers c with the 503 and closes it. The answer is written,
// then the write side shut and the request drained briefly, so the client
// reads the 503 rather than a connection reset.
func (l *LimitListener) reject(c net.Conn, busy []byte) {
	if l.rejecting.Add(1) > maxRejecting {
		// Too many lingering already: answer without waiting. A fresh
		// socket's send buffer takes the answer at once; a client that
		// already sent its request may see a reset instead.
		l.rejecting.Add(-1)
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
		_, _ = c.Write(busy)
		_ = c.Close()
		return
	}
	go func() {
		defer l.rejecting.Add(-1)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(rejectLinger))
		if _, err := c.Write(busy); err != nil {
			return
		}
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		buf := make([]byte, 4096)
		for n := 0; n < 64<<10; {
			k, err := c.Read(buf)
			n += k
			if err != nil {
				return
			}
		}
	}()
}

type limitConn struct {
	net.Conn
	l    *LimitListener
	key  string // remote IP counted against its share; "" for none
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		if c.key != "" {
			if c.l.perAddr[c.key]--; c.l.perAddr[c.key] <= 0 {
				delete(c.l.perAddr, c.key)
			}
		}
		c.l.mu.Unlock()
	})
	return err
}

// FDsPerConn is the descriptors one API connection may hold, and
// RejectFDs those the 503 answers in flight may; the node budgets
// max_connections × FDsPerConn + RejectFDs under its open-file limit.
const (
	FDsPerConn = 1
	RejectFDs  = maxRejecting + 1 // and the listener itself
)
