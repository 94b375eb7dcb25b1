// Package load is dure's load generator: it signs real currency transfers
// for many accounts, submits them to a running network through the HTTP
// API and accounts for every one of them.
//
// # Use
//
//	rep, err := load.Run(ctx, load.Config{
//		Nodes:    []string{"http://127.0.0.1:26600", "http://127.0.0.1:26610"},
//		Keys:     funders,          // funded keys, e.g. the testnet's demo keys
//		Accounts: 2000,             // derived deterministically from Seed
//		Rate:     1000,             // tx/s; 0 = closed loop, as fast as accepted
//		Warmup:   5 * time.Second,  // load that is not measured
//		Duration: 30 * time.Second, // the measured window
//	})
//
// Run first funds the derived accounts from the funder keys (multi-message
// sends, waited for), then sends `currency send` txs of amount 1 to random
// other accounts, POSTed as application/cbor to the nodes round-robin over
// keep-alive connections. Each account sends sequentially (its next tx
// leaves only after the node answered the previous one), so nonces never
// have gaps; txs are pre-signed ahead of the run, and topped up by a
// refiller goroutine for accounts that run low, so signing stays off the
// submit path. With Batch > 1 a worker takes up to Batch idle accounts and
// sends the next tx of each in one POST /v1/txs/batch (a CBOR array); each
// tx's result in the answer is handled as a single POST's would be, so the
// accounting below is the same in both modes (Report.Posts counts the
// requests). At a rate, batching workers gather one at a time, each
// waiting up to 10 ms for rate tokens to come due, so a batch holds the
// txs of that window rather than one.
//
// # Accounting
//
// Every tx ID is registered before it is POSTed. A node's answer marks it
// accepted, or rejected with the API's error code; a transport error is
// retried with the same bytes on the next node. Commits are observed on
// one node's event stream (GET /v1/events, one event per block listing its
// tx IDs), never by polling per tx. After the load stops, Run waits a grace
// period; an accepted tx that is still not in a block then is Lost, and a
// healthy network loses none.
//
// Throughput (TPS) counts txs committed in blocks observed inside the
// measured window; latency percentiles are submit→commit (as seen by the
// generator) of txs submitted inside the window.
package load
