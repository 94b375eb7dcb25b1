#!/usr/bin/env bash
# bench.sh: build dure, start a 4-validator testnet on loopback, load it with
# signed currency transfers and print throughput, latency, CPU, memory and
# disk figures. Stops every process it started; exits non-zero if a single
# accepted tx is lost or the load fails.
#
#   MODE=short scripts/bench.sh   # CI smoke: ~10 s measured at a modest open-loop rate
#   MODE=long  scripts/bench.sh   # real figures: 60 s measured, closed loop (max)
#
# Overrides (env): RATE (tx/s, 0 = closed loop), DURATION, WARMUP, ACCOUNTS,
# CONCURRENCY, MAX_PENDING (closed loop: most txs awaiting a block),
# BATCH (txs per POST /v1/txs/batch; 0 = one POST /v1/txs per tx; default 64 in MODE=long, 0 in short), IDLE_SECS, DURE_BIN (use this binary instead of building),
# KEEP=1 (keep the work dir with node logs), OUT (also write the summary here),
# PRUNE=1 (the nodes prune: [storage] keep_blocks = keep_recent = PRUNE_KEEP, 16 by default,
# written into each node's config.toml; the disk figures are then those of a pruning validator).
# PPROF=host:port (node0 serves Go's profiler there: [api] pprof_listen_addr).
set -euo pipefail

MODE=${MODE:-short}
case "$MODE" in
short)
	: "${RATE:=300}" "${DURATION:=10s}" "${WARMUP:=3s}" "${ACCOUNTS:=500}" "${CONCURRENCY:=32}" "${IDLE_SECS:=5}" "${BATCH:=0}"
	;;
long)
	: "${RATE:=0}" "${DURATION:=60s}" "${WARMUP:=10s}" "${ACCOUNTS:=2000}" "${CONCURRENCY:=64}" "${IDLE_SECS:=10}" "${BATCH:=64}"
	;;
*)
	echo "bench.sh: MODE must be short or long, not '$MODE'" >&2
	exit 2
	;;
esac
NODES=4
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dure-bench.XXXXXX")
NET=$WORK/net
PIDS=()
BENCH_PID=

log() { printf '%s bench.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# stop_nodes sends SIGTERM to the nodes this script started, waits up to 15 s,
# then SIGKILLs what is left. Only our own PIDs, never by name.
stop_nodes() {
	local pid i
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for i in $(seq 150); do
		local alive=0
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
	if [ -n "$BENCH_PID" ]; then kill -TERM "$BENCH_PID" 2>/dev/null || true; fi
	stop_nodes
	if [ "${KEEP:-0}" = 1 ] || [ $rc != 0 ]; then
		log "work dir kept: $WORK (node logs in $NET/node*/node.log)"
	else
		rm -rf "$WORK"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CLK_TCK=$(getconf CLK_TCK)

# cpu_ticks PID: utime+stime of a process, in clock ticks (fields 14, 15 of
# /proc/PID/stat; the command name in field 2 may hold spaces, so cut after ')').
cpu_ticks() {
	local rest
	rest=$(sed 's/^.*) //' "/proc/$1/stat")
	awk '{print $12 + $13}' <<<"$rest"
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# anon_kb PID: the anonymous part of the RSS (Go heap, stacks, Badger's
# memtables and caches), without the pages of Badger's mapped files.
anon_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
now_ms() { date +%s%3N; }
disk_bytes() { du -s --block-size=1 "$1" | awk '{print $1}'; }

# snapshot NAME: records time and CPU ticks of every node (and of the load
# generator when running) into arrays NAME_T and NAME_<i>.
declare -A SNAP
snapshot() {
	local name=$1 i
	SNAP[${name}_t]=$(now_ms)
	for i in "${!PIDS[@]}"; do SNAP[${name}_$i]=$(cpu_ticks "${PIDS[$i]}"); done
	if [ -n "$BENCH_PID" ] && [ -e "/proc/$BENCH_PID" ]; then SNAP[${name}_gen]=$(cpu_ticks "$BENCH_PID"); fi
}
# cpu_pct A B KEY: CPU% of one process between snapshots A and B.
cpu_pct() {
	local a=$1 b=$2 k=$3
	awk -v t0="${SNAP[${a}_t]}" -v t1="${SNAP[${b}_t]}" -v c0="${SNAP[${a}_$k]:-0}" -v c1="${SNAP[${b}_$k]:-0}" -v hz="$CLK_TCK" \
		'BEGIN { e = (t1 - t0) / 1000; if (e <= 0) { print "n/a"; exit } printf "%.1f", 100 * (c1 - c0) / hz / e }'
}

# --- build -----------------------------------------------------------------
if [ -n "${DURE_BIN:-}" ]; then
	BIN=$DURE_BIN
else
	BIN=$WORK/dure
	log "building dure"
	(cd "$ROOT" && go build -o "$BIN" .)
fi
if ! "$BIN" bench --help >/dev/null 2>&1; then
	echo "bench.sh: $BIN has no 'bench' command" >&2
	exit 2
fi

# --- generate and start the network ----------------------------------------
BASE=
for _ in $(seq 20); do
	try=$((20000 + RANDOM % 40000))
	if "$BIN" testnet --generate-only --dir "$NET" --validators $NODES --base-port "$try" --heartbeat 1s >/dev/null 2>"$WORK/gen.err"; then
		BASE=$try
		break
	fi
	rm -rf "$NET"
done
if [ -z "$BASE" ]; then
	cat "$WORK/gen.err" >&2
	echo "bench.sh: could not find free ports" >&2
	exit 1
fi
if [ "${PRUNE:-0}" = 1 ]; then
	: "${PRUNE_KEEP:=16}"
	for i in $(seq 0 $((NODES - 1))); do
		cfg=$NET/node$i/config.toml
		# Only the two keys of the [storage] table: same names elsewhere stay.
		awk -v k="$PRUNE_KEEP" '
			/^\[/ { in_storage = ($0 == "[storage]") }
			in_storage && /^keep_recent *=/ { $0 = "keep_recent = " k }
			in_storage && /^keep_blocks *=/ { $0 = "keep_blocks = " k }
			{ print }' "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
		grep -q "^keep_blocks = $PRUNE_KEEP\$" "$cfg" || { echo "bench.sh: could not set pruning in $cfg" >&2; exit 1; }
	done
	log "pruning on: every node keeps the last $PRUNE_KEEP heights of blocks and state"
fi
if [ -n "${PPROF:-}" ]; then
	# node0 serves Go's profiler on PPROF (host:port), e.g. for
	# `go tool pprof http://127.0.0.1:6060/debug/pprof/heap` during the load.
	cfg=$NET/node0/config.toml
	awk -v a="$PPROF" '
		/^\[/ { in_api = ($0 == "[api]") }
		in_api && /^pprof_listen_addr *=/ { $0 = "pprof_listen_addr = \"" a "\"" }
		{ print }' "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
	grep -q "^pprof_listen_addr = \"$PPROF\"\$" "$cfg" || { echo "bench.sh: could not set pprof_listen_addr in $cfg" >&2; exit 1; }
	log "node0 serves the profiler on $PPROF"
fi
log "starting $NODES validators (API ports $BASE, $((BASE + 10)), ...) in $NET"
for i in $(seq 0 $((NODES - 1))); do
	"$BIN" start --home "$NET/node$i" >>"$NET/node$i/node.log" 2>&1 &
	PIDS+=($!)
done

height() { curl -fsS --max-time 2 "http://127.0.0.1:$1/v1/status" 2>/dev/null | awk -F'[:,]' '/"height"/ {gsub(/ /, "", $2); print $2; exit}'; }
deadline=$(($(date +%s) + 60))
for i in $(seq 0 $((NODES - 1))); do
	until h=$(height $((BASE + 10 * i))) && [ -n "$h" ] && [ "$h" -ge 2 ]; do
		for pid in "${PIDS[@]}"; do
			kill -0 "$pid" 2>/dev/null || {
				echo "bench.sh: node pid $pid died; see $NET/node*/node.log" >&2
				exit 1
			}
		done
		if [ "$(date +%s)" -gt "$deadline" ]; then
			echo "bench.sh: node$i did not reach height 2 within 60 s" >&2
			exit 1
		fi
		sleep 0.2
	done
done
log "network at height ≥ 2"

# --- idle ------------------------------------------------------------------
log "measuring idle CPU and RSS for ${IDLE_SECS}s"
snapshot idle0
sleep "$IDLE_SECS"
snapshot idle1
declare -a IDLE_RSS DISK0 LOAD_RSS LOAD_ANON
for i in "${!PIDS[@]}"; do
	IDLE_RSS[$i]=$(rss_kb "${PIDS[$i]}")
	DISK0[$i]=$(disk_bytes "$NET/node$i/data")
	LOAD_RSS[$i]=0
	LOAD_ANON[$i]=0
done

# --- load ------------------------------------------------------------------
log "load: MODE=$MODE rate=$RATE (0 = closed loop) warm-up=$WARMUP window=$DURATION accounts=$ACCOUNTS concurrency=$CONCURRENCY batch=$BATCH max-pending=${MAX_PENDING:-default}"
"$BIN" bench --dir "$NET" --rate "$RATE" --warmup "$WARMUP" --duration "$DURATION" --accounts "$ACCOUNTS" \
	--concurrency "$CONCURRENCY" --batch "$BATCH" --max-pending "${MAX_PENDING:-0}" -o json >"$WORK/bench.json" 2>"$WORK/bench.log" &
BENCH_PID=$!
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
phase=wait
while kill -0 "$BENCH_PID" 2>/dev/null; do
	case $phase in
	wait) if grep -q 'warm-up over' "$WORK/bench.log" 2>/dev/null; then
		snapshot load0
		phase=window
	fi ;;
	window)
		for i in "${!PIDS[@]}"; do
			r=$(rss_kb "${PIDS[$i]}" 2>/dev/null || echo 0)
			[ "$r" -gt "${LOAD_RSS[$i]}" ] && LOAD_RSS[$i]=$r
			r=$(anon_kb "${PIDS[$i]}" 2>/dev/null || echo 0)
			[ "$r" -gt "${LOAD_ANON[$i]}" ] && LOAD_ANON[$i]=$r
		done
		if grep -q 'load done' "$WORK/bench.log" 2>/dev/null; then
			snapshot load1
			loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)
			phase=grace
		fi
		;;
	esac
	sleep 0.2
done
bench_rc=0
wait "$BENCH_PID" || bench_rc=$?
BENCH_PID=
if [ "$phase" != grace ]; then
	cat "$WORK/bench.log" >&2
	echo "bench.sh: the load did not complete (exit $bench_rc)" >&2
	exit 1
fi
sed 's/^/  /' "$WORK/bench.log" >&2

# --- disk: stop the nodes cleanly so Badger flushes, then measure -----------
stop_nodes_keep_pids=("${PIDS[@]}")
stop_nodes
declare -a DISK1
for i in "${!stop_nodes_keep_pids[@]}"; do DISK1[$i]=$(disk_bytes "$NET/node$i/data"); done

# --- report ----------------------------------------------------------------
num() { grep -o "\"$1\": *[0-9.e+-]*" "$WORK/bench.json" | head -1 | sed 's/.*: *//'; }
TPS=$(num committed_tps)
P50=$(num latency_p50_ms)
P95=$(num latency_p95_ms)
P99=$(num latency_p99_ms)
BI=$(num block_interval_ms)
COMMITTED=$(num committed)
ACCEPTED=$(num accepted)
REJECTED=$(num rejected_total)
LOST=$(num lost)
SUBMIT_TPS=$(num submit_tps)

{
	echo
	echo "dure bench — MODE=$MODE, $NODES validators on loopback, $(nproc) CPUs, load average $loadavg_start (start) / ${loadavg_end:-?} (end of window)"
	if [ "${PRUNE:-0}" = 1 ]; then echo "storage: pruning, keep_blocks = keep_recent = $PRUNE_KEEP"; else echo "storage: archive validators (PRUNE=1 to prune)"; fi
	echo "load: rate=$RATE tx/s (0 = closed loop), warm-up $WARMUP, window $DURATION, $ACCOUNTS accounts, concurrency $CONCURRENCY, batch $BATCH, max pending ${MAX_PENDING:-default (5000 in closed loop, none at a rate)}"
	printf '  %-28s %s\n' "committed tx/s" "$TPS (accepted $SUBMIT_TPS/s)"
	printf '  %-28s p50 %s ms  p95 %s ms  p99 %s ms\n' "latency submit→commit" "$P50" "$P95" "$P99"
	printf '  %-28s %s ms\n' "block interval" "$BI"
	printf '  %-28s accepted %s, committed %s, rejected answers %s\n' "txs" "$ACCEPTED" "$COMMITTED" "$REJECTED"
	printf '  %-28s %s\n' "lost" "$LOST"
	printf '  %-28s %s%%\n' "load generator CPU" "$(cpu_pct load0 load1 gen)"
	echo
	printf '  %-6s %10s %10s %10s %10s %10s %14s\n' node "idle CPU%" "idle RSS" "load CPU%" "load RSS" "load anon" "disk B/tx"
	for i in "${!stop_nodes_keep_pids[@]}"; do
		d=$((DISK1[$i] - DISK0[$i]))
		per=n/a
		[ "${COMMITTED:-0}" -gt 0 ] && per=$((d / COMMITTED))
		printf '  %-6s %10s %9sM %10s %9sM %9sM %14s\n' "node$i" "$(cpu_pct idle0 idle1 "$i")" "$((IDLE_RSS[$i] / 1024))" \
			"$(cpu_pct load0 load1 "$i")" "$((LOAD_RSS[$i] / 1024))" "$((LOAD_ANON[$i] / 1024))" "$per"
	done
	echo "  (CPU% is of one core; load RSS is the max sampled in the window, load anon the max of its anonymous part (RssAnon: heap, stacks; without mapped files); disk is the data dir growth over the whole run / committed txs)"
} | tee "${OUT:-/dev/null}"

if [ "$bench_rc" != 0 ]; then
	echo "bench.sh: dure bench exited $bench_rc" >&2
	exit 1
fi
if [ "${LOST:-1}" != 0 ]; then
	echo "bench.sh: $LOST accepted transactions were lost" >&2
	exit 1
fi
