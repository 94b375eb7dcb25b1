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

// LimitListener wraps ln so at most max accepted connections are open.
type LimitListener struct {
	net.Listener
	mu        sync.Mutex
	max       int
	open      int
	rejecting atomic.Int32
	rejected  atomic.Uint64
	busy      []byte // the complete 503 answer
}

// NewLimitListener bounds ln to max open connections (max ≥ 1).
func NewLimitListener(ln net.Listener, max int) *LimitListener {
	body, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Code: "too_many_connections",
		Message: fmt.Sprintf("%v: the API already has %d connections open ([api] max_connections); retry later", ErrTooManyConnections, max)}})
	body = append(body, '\n')
	busy := "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
	return &LimitListener{Listener: ln, max: max, busy: []byte(busy)}
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
		l.mu.Lock()
		if l.open < l.max {
			l.open++
			l.mu.Unlock()
			return &limitConn{Conn: c, l: l}, nil
		}
		l.mu.Unlock()
		l.rejected.Add(1)
		l.reject(c)
	}
}

// reject answers c with the 503 and closes it. The answer is written,
// then the write side shut and the request drained briefly, so the client
// reads the 503 rather than a connection reset.
func (l *LimitListener) reject(c net.Conn) {
	if l.rejecting.Add(1) > maxRejecting {
		// Too many lingering already: answer without waiting. A fresh
		// socket's send buffer takes the answer at once; a client that
		// already sent its request may see a reset instead.
		l.rejecting.Add(-1)
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
		_, _ = c.Write(l.busy)
		_ = c.Close()
		return
	}
	go func() {
		defer l.rejecting.Add(-1)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(rejectLinger))
		if _, err := c.Write(l.busy); err != nil {
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
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
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
