package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestLastEventIDStrict: a Last-Event-ID that is not a height the stream
// can continue from is refused with 400 bad_request. 18446744073709551615
// used to wrap to height 0 and replay the chain from genesis; garbage was
// ignored and the stream silently started at the head.
func TestLastEventIDStrict(t *testing.T) {
	b := newChainBackend()
	for i := 0; i < 5; i++ {
		b.commit()
	}
	srv := httptest.NewServer(New(b, Config{}))
	defer srv.Close()
	for _, id := range []string{"18446744073709551615", "18446744073709551616", "99999999999999999999999", "-1", "+4", "x", "0x4", "4.0"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/events", nil)
		req.Header.Set("Last-Event-ID", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		var eb ErrorBody
		if resp.StatusCode == 400 {
			json.NewDecoder(resp.Body).Decode(&eb)
		}
		resp.Body.Close()
		cancel()
		if resp.StatusCode != 400 || eb.Error.Code != "bad_request" {
			t.Errorf("Last-Event-ID %q: status %d code %q, want 400 bad_request", id, resp.StatusCode, eb.Error.Code)
		}
	}
	// An ordinary id still resumes after it.
	if got := readSSE(t, srv.URL+"/v1/events", "3", 2); len(got) != 2 || got[0] != 4 || got[1] != 5 {
		t.Errorf("Last-Event-ID 3: ids %v, want [4 5]", got)
	}
}
