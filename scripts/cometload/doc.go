// Command cometload loads a CometBFT kvstore testnet for scripts/compare.sh:
// unique txs of a fixed size (default 250 bytes, "k<run>-<n>=<padding>")
// sent with broadcast_tx_async over a bounded number of HTTP connections at
// a bounded rate, for a warm-up and then a measured window. The committed
// count comes from block metadata (num_txs of every block from the height
// at the window's start, exclusive, to the height at its end, inclusive,
// read from /blockchain), over the same wall-clock window dure's bench
// uses, and the result is one JSON object on stdout.
//
//	go run ./scripts/cometload -rpc http://127.0.0.1:26657,http://127.0.0.2:26657 \
//		-rate 8000 -conns 4 -warmup 10s -duration 30s
//
// A full mempool answers broadcast_tx_async with an error; the sender then
// backs off for 5 ms and sends a new tx (the refused one is counted, not
// resent), so the offered load follows what the network takes. It talks
// only to the addresses it is given and stops by itself after
// warm-up + duration.
package main
