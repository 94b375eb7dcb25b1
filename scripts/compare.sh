#!/usr/bin/env bash
# compare.sh: CometBFT v1.0.1's kvstore and dure side by side on this machine,
# 4 validators each on loopback, the same warm-up and measured window, and the
# ratio of committed tx/s. Installs CometBFT if missing; stops every process it
# started (by PID) and removes its temp dirs.
#
#   scripts/compare.sh                  # ≈ 4-5 min: CometBFT default + tuned, then dure MODE=long
#
# CometBFT: `cometbft testnet --v 4 --starting-ip-address 127.0.0.1`, node i's
# p2p and RPC on 127.0.0.(i+1) (ports P2P_PORT, RPC_PORT), proxy_app = "kvstore",
# allow_duplicate_ip = true; "tuned" also raises the mempool to 100,000 txs
# (cache 200,000). Load: scripts/cometload, unique 250-byte txs through
# broadcast_tx_async to all four RPCs; committed txs are summed from num_txs in
# the block metadata (/blockchain) of the blocks made during the window.
# dure: scripts/bench.sh MODE=long (signed currency transfers, closed loop)
# with the same WARMUP and WINDOW.
#
# Overrides (env): WINDOW (30s), WARMUP (10s), RATE (offered tx/s to CometBFT,
# 8000), CONNS (HTTP connections per CometBFT node, 16), VARIANTS ("default
# tuned"), SKIP_DURE=1, P2P_PORT (26656), RPC_PORT (26657), KEEP=1 (keep logs),
# OUT (also write the summary here).
set -euo pipefail

: "${WINDOW:=30s}" "${WARMUP:=10s}" "${RATE:=8000}" "${CONNS:=16}" "${VARIANTS:=default tuned}"
: "${P2P_PORT:=26656}" "${RPC_PORT:=26657}" "${SKIP_DURE:=0}"
NODES=4
COMET_VERSION=v1.0.1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dure-compare.XXXXXX")
PIDS=()
LOAD_PID=

log() { printf '%s compare.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# stop_nodes: SIGTERM to the nodes this script started, up to 15 s, then
# SIGKILL. Only our own PIDs, never by name.
stop_nodes() {
	local pid i alive
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for i in $(seq 150); do
		alive=0
		for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	PIDS=()
}

cleanup() {
	local rc=$?
	if [ -n "$LOAD_PID" ]; then
		kill -TERM "$LOAD_PID" 2>/dev/null || true
		wait "$LOAD_PID" 2>/dev/null || true
	fi
	stop_nodes
	if [ "${KEEP:-0}" = 1 ] || [ $rc != 0 ]; then
		log "work dir kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

jnum() { grep -o "\"$2\": *[0-9.e+-]*" "$1" | head -1 | sed 's/.*: *//'; }

# --- CometBFT --------------------------------------------------------------
# go install puts it in GOBIN, or GOPATH/bin when GOBIN is unset.
GOBIN_DIR=$(go env GOBIN)
[ -n "$GOBIN_DIR" ] || GOBIN_DIR=$(go env GOPATH)/bin
COMET=$(command -v cometbft || true)
[ -z "$COMET" ] && [ -x "$GOBIN_DIR/cometbft" ] && COMET=$GOBIN_DIR/cometbft
if [ -z "$COMET" ] || ! "$COMET" version 2>/dev/null | grep -qx "${COMET_VERSION#v}"; then
	log "installing CometBFT $COMET_VERSION (go install into $GOBIN_DIR)"
	go install "github.com/cometbft/cometbft/cmd/cometbft@$COMET_VERSION"
	COMET=$GOBIN_DIR/cometbft
fi
log "CometBFT: $COMET ($("$COMET" version))"

log "building the load generator (scripts/cometload)"
(cd "$ROOT" && go build -o "$WORK/cometload" ./scripts/cometload)

for i in $(seq 0 $((NODES - 1))); do
	for port in "$P2P_PORT" "$RPC_PORT"; do
		if (exec 3<>"/dev/tcp/127.0.0.$((i + 1))/$port") 2>/dev/null; then
			echo "compare.sh: 127.0.0.$((i + 1)):$port is in use; set P2P_PORT/RPC_PORT" >&2
			exit 1
		fi
	done
done

# set_key FILE SECTION KEY VALUE: sets KEY in [SECTION] of a TOML file.
set_key() {
	local f=$1 sec=$2 key=$3 val=$4
	awk -v sec="[$sec]" -v key="$key" -v val="$val" '
		/^\[/ { in_sec = ($0 == sec) }
		in_sec && $0 ~ "^" key " *=" { print key " = " val; done = 1; next }
		{ print }
		END { if (!done) exit 3 }' "$f" >"$f.new" || { echo "compare.sh: no $key in [$sec] of $f" >&2; exit 1; }
	mv "$f.new" "$f"
}
set_top() { # top-level key (before any section)
	local f=$1 key=$2 val=$3
	awk -v key="$key" -v val="$val" '
		/^\[/ { in_top = 0 } BEGIN { in_top = 1 }
		in_top && $0 ~ "^" key " *=" { print key " = " val; done = 1; next }
		{ print }
		END { if (!done) exit 3 }' "$f" >"$f.new" || { echo "compare.sh: no top-level $key in $f" >&2; exit 1; }
	mv "$f.new" "$f"
}

comet_height() { curl -fsS --max-time 2 "http://127.0.0.$1:$RPC_PORT/status" 2>/dev/null |
	grep -o '"latest_block_height": *"[0-9]*"' | grep -o '[0-9]*' | head -1; }

declare -A RESULT
run_comet() {
	local variant=$1
	local dir=$WORK/comet-$variant i rpcs= f
	log "CometBFT $variant: generating a $NODES-validator testnet in $dir"
	"$COMET" testnet --v $NODES --starting-ip-address 127.0.0.1 --p2p-port "$P2P_PORT" --o "$dir" >"$WORK/gen-$variant.log" 2>&1
	for i in $(seq 0 $((NODES - 1))); do
		f=$dir/node$i/config/config.toml
		set_top "$f" proxy_app '"kvstore"'
		set_key "$f" rpc laddr "\"tcp://127.0.0.$((i + 1)):$RPC_PORT\""
		set_key "$f" p2p laddr "\"tcp://127.0.0.$((i + 1)):$P2P_PORT\""
		set_key "$f" p2p allow_duplicate_ip true
		if [ "$variant" = tuned ]; then
			set_key "$f" mempool size 100000
			set_key "$f" mempool cache_size 200000
		fi
		rpcs+=${rpcs:+,}http://127.0.0.$((i + 1)):$RPC_PORT
	done
	for i in $(seq 0 $((NODES - 1))); do
		"$COMET" start --home "$dir/node$i" --log_level error >"$dir/node$i/node.log" 2>&1 &
		PIDS+=($!)
	done
	local deadline=$(($(date +%s) + 60)) h
	for i in $(seq 1 $NODES); do
		until h=$(comet_height "$i") && [ -n "$h" ] && [ "$h" -ge 2 ]; do
			for pid in "${PIDS[@]}"; do
				kill -0 "$pid" 2>/dev/null || { echo "compare.sh: CometBFT node pid $pid died; see $dir/node*/node.log" >&2; exit 1; }
			done
			[ "$(date +%s)" -gt "$deadline" ] && { echo "compare.sh: CometBFT node at 127.0.0.$i not at height 2 within 60 s" >&2; exit 1; }
			sleep 0.2
		done
	done
	log "CometBFT $variant: network at height ≥ 2; load: rate $RATE, $CONNS connections per node, warm-up $WARMUP, window $WINDOW"
	local la0 la1 rc=0
	la0=$(cut -d' ' -f1-3 /proc/loadavg)
	"$WORK/cometload" -rpc "$rpcs" -rate "$RATE" -conns "$CONNS" -warmup "$WARMUP" -duration "$WINDOW" \
		-pids "$(IFS=,; echo "${PIDS[*]}")" >"$WORK/comet-$variant.json" 2>"$WORK/comet-$variant.log" &
	LOAD_PID=$!
	wait "$LOAD_PID" || rc=$?
	LOAD_PID=
	la1=$(cut -d' ' -f1-3 /proc/loadavg)
	sed 's/^/  /' "$WORK/comet-$variant.log" >&2
	if [ $rc != 0 ]; then
		echo "compare.sh: CometBFT $variant load failed (exit $rc)" >&2
		exit 1
	fi
	stop_nodes
	local j=$WORK/comet-$variant.json tps
	tps=$(jnum "$j" committed_tps)
	RESULT[${variant}_tps]=$tps
	RESULT[${variant}_line]=$(awk -v tps="$tps" -v btps="$(jnum "$j" committed_tps_block_time)" -v n="$(jnum "$j" committed)" \
		-v b="$(jnum "$j" blocks)" -v subm="$(jnum "$j" submit_tps)" -v ref="$(jnum "$j" refused)" \
		-v cpu="$(jnum "$j" node_cpu_s)" -v w="$(jnum "$j" window_s)" -v nodes=$NODES -v rss="$(jnum "$j" max_rss_mb)" -v lcpu="$(jnum "$j" load_cpu_s)" -v la="$la0 → $la1" \
		'BEGIN { pct = 100 * cpu / w / nodes
			printf "%8.0f tx/s committed (%.0f by block times; %d txs in %d blocks), accepted %.0f/s, refused %d; node CPU %.0f%% of a core each, %.0f µs of CPU per committed tx per node; max RSS %d MB; load generator CPU %.0f%%; load average %s",
				tps, btps, n, b, subm, ref, pct, (n > 0 ? cpu * 1e6 / nodes / n : 0), rss, 100 * lcpu / w, la }')
	rm -rf "$dir"
	log "CometBFT $variant: ${RESULT[${variant}_line]}"
}

for v in $VARIANTS; do
	case $v in default | tuned) run_comet "$v" ;; *)
		echo "compare.sh: VARIANTS: unknown '$v' (default, tuned)" >&2
		exit 2
		;;
	esac
done

# --- dure ------------------------------------------------------------------
DURE_TPS=
if [ "$SKIP_DURE" != 1 ]; then
	log "dure: MODE=long scripts/bench.sh with WARMUP=$WARMUP DURATION=$WINDOW"
	MODE=long WARMUP="$WARMUP" DURATION="$WINDOW" OUT="$WORK/dure.txt" "$ROOT/scripts/bench.sh" >"$WORK/dure.out" 2>"$WORK/dure.log" ||
		{ cat "$WORK/dure.log" "$WORK/dure.out" >&2; echo "compare.sh: dure bench failed" >&2; exit 1; }
	DURE_TPS=$(awk '/committed tx\/s/ {print $3; exit}' "$WORK/dure.txt")
fi

# --- report ----------------------------------------------------------------
{
	echo
	echo "compare.sh — $NODES validators each on loopback, $(nproc) CPUs, window $WINDOW after $WARMUP warm-up, load average now $(cut -d' ' -f1-3 /proc/loadavg)"
	for v in $VARIANTS; do printf '  %-26s %s\n' "CometBFT $COMET_VERSION $v" "${RESULT[${v}_line]}"; done
	if [ -n "$DURE_TPS" ]; then
		echo "  dure (signed transfers):"
		sed 's/^/    /' "$WORK/dure.txt"
		for v in $VARIANTS; do
			printf '  %-26s %s\n' "ratio dure / CometBFT $v" "$(awk -v a="$DURE_TPS" -v b="${RESULT[${v}_tps]}" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "n/a" }')"
		done
	fi
} | tee "${OUT:-/dev/null}"
