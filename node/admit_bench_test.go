package node

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/p2p"
)

// dropTransport is a transport that publishes nowhere: the admission
// benchmarks measure one node's own work.
type dropTransport struct{}

func (dropTransport) PublishTx(context.Context, []byte) error        { return nil }
func (dropTransport) PublishConsensus(context.Context, []byte) error { return nil }
func (dropTransport) PublishBlock(context.Context, []byte) error     { return nil }
func (dropTransport) PublishEvidence(context.Context, []byte) error  { return nil }
func (dropTransport) PeerCount() int                                 { return 0 }
func (dropTransport) Sync(context.Context, uint64, func(p2p.SyncItem) error) (p2p.SyncReport, error) {
	return p2p.SyncReport{}, nil
}

// admitTxs signs one transfer from each of the bench node's 5,000 funded
// senders (real keys, real state on Badger).
func admitTxs(b *testing.B, n *Node, keys []chain.PrivKey) ([][]byte, []chain.ID) {
	raws := make([][]byte, len(keys))
	ids := make([]chain.ID, len(keys))
	for j, k := range keys {
		m, _ := currency.MsgSend(n.codec, keys[(j+1)%len(keys)].PubKey().Address(), NativeDenom, 1)
		tx := chain.Tx{ChainID: "bench-1", Nonce: 0, MaxFee: 10, Msgs: []chain.Msg{m}}
		var err error
		if raws[j], err = tx.Sign(n.codec, k); err != nil {
			b.Fatal(err)
		}
		ids[j] = chain.IDOf(raws[j])
	}
	return raws, ids
}

// BenchmarkAdmit: the node's mempool admission of 5,000 signed transfers
// against committed state on Badger (nonce and fee balance read, signature
// checked), one by one (Add, the single API submission) and in batches of
// 64 (AddBatch: a batch submission or a gossiped batch). Each iteration
// removes them again outside the timer. cpu-µs/tx is all goroutines.
func BenchmarkAdmit(b *testing.B) {
	n, keys, _ := benchNode(b, nil)
	raws, ids := admitTxs(b, n, keys)
	for _, batch := range []int{1, 64} {
		name := "add"
		if batch > 1 {
			name = fmt.Sprintf("addbatch%d", batch)
		}
		b.Run(name, func(b *testing.B) {
			var cpu time.Duration
			for range b.N {
				c0 := cpuTime()
				for lo := 0; lo < len(raws); lo += batch {
					if batch == 1 {
						if _, err := n.pool.Add(raws[lo]); err != nil {
							b.Fatal(err)
						}
						continue
					}
					_, errs := n.pool.AddBatch(raws[lo:min(lo+batch, len(raws))])
					for _, err := range errs {
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				cpu += cpuTime() - c0
				b.StopTimer()
				n.pool.Remove(ids)
				b.StartTimer()
			}
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*len(raws)), "cpu-µs/tx")
		})
	}
}

// BenchmarkSubmitHTTP: the same 5,000 transfers through a real HTTP server
// on 127.0.0.1 and api.Client, 8 clients at once: each tx in its own POST
// /v1/txs, or 64 per POST /v1/txs/batch. cpu-µs/tx counts client and
// server (one process).
func BenchmarkSubmitHTTP(b *testing.B) {
	n, keys, _ := benchNode(b, nil)
	n.tr = dropTransport{}
	raws, ids := admitTxs(b, n, keys)
	srv := httptest.NewServer(api.New(backend{n}, api.Config{}))
	defer srv.Close()
	cl := api.NewClient(srv.URL)
	cl.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	ctx := context.Background()
	const clients = 8
	for _, batch := range []int{1, 64} {
		name := "single"
		if batch > 1 {
			name = fmt.Sprintf("batch%d", batch)
		}
		b.Run(name, func(b *testing.B) {
			var cpu time.Duration
			for range b.N {
				c0 := cpuTime()
				var wg sync.WaitGroup
				errs := make([]error, clients)
				for w := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for lo := w * batch; lo < len(raws); lo += clients * batch {
							if batch == 1 {
								if _, err := cl.Submit(ctx, raws[lo], false); err != nil {
									errs[w] = err
									return
								}
								continue
							}
							res, err := cl.SubmitBatch(ctx, raws[lo:min(lo+batch, len(raws))])
							if err == nil && res.Accepted != len(res.Results) {
								err = fmt.Errorf("accepted %d of %d: %+v", res.Accepted, len(res.Results), res.Results[0].Error)
							}
							if err != nil {
								errs[w] = err
								return
							}
						}
					}()
				}
				wg.Wait()
				cpu += cpuTime() - c0
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				n.pool.Remove(ids)
				b.StartTimer()
			}
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*len(raws)), "cpu-µs/tx")
		})
	}
}
