#!/usr/bin/env bash
# mutate-consensus.sh: shows that the consensus tests defend every rule of
# the algorithm. Each mutant below removes or weakens one upon-rule of
# Tendermint's Algorithm 1, the double-sign guard, the WAL replay or the
# re-broadcast of a re-proposal's proof-of-lock. The
# script copies the module's consensus and chain packages to a temporary
# directory, applies one mutant at a time, runs `go test ./consensus/...`
# there and expects it to FAIL. It exits non-zero if any mutant survives
# (the tests still pass) or no longer applies (its text is not found exactly
# once: the code moved, update the mutant).
#
#   scripts/mutate-consensus.sh               # every mutant
#   scripts/mutate-consensus.sh line22-lock   # only the named ones
#   LIST=1 scripts/mutate-consensus.sh        # print the mutants, run nothing
#
# Env: GOTEST_FLAGS for the mutant runs (default "-count=1 -failfast
# -vet=off -timeout 120s"; the baseline run keeps vet),
# DURE_SIM_SEEDS (default 200, as in CI), KEEP=1 keeps the temp copy,
# VERBOSE=1 prints each mutant's failing test output.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dure-mutate.XXXXXX")
: "${GOTEST_FLAGS:=-count=1 -failfast -vet=off -timeout 120s}"
: "${DURE_SIM_SEEDS:=200}"
export DURE_SIM_SEEDS

cleanup() {
	if [ "${KEEP:-0}" = 1 ]; then
		echo "mutate-consensus.sh: temp copy kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

NAMES=()
declare -A FILE OLD NEW WHY

# mutant NAME FILE WHY: reads "old text", a line "====", "new text" from
# stdin. The old text must occur exactly once in FILE.
mutant() {
	local name=$1 file=$2 why=$3 body
	body=$(cat)
	NAMES+=("$name")
	FILE[$name]=$file
	WHY[$name]=$why
	OLD[$name]=${body%%$'\n'====$'\n'*}
	NEW[$name]=${body#*$'\n'====$'\n'}
}

# ---- Algorithm 1, line 22: proposal with validRound = -1 ----
mutant line22-lock consensus/machine.go "prevote a fresh proposal even when locked on another value" <<'EOF'
case m.lockedRound != -1 && m.lockedValue != v, st == validityInvalid:
====
case st == validityInvalid:
EOF
mutant line22-valid consensus/machine.go "prevote an invalid fresh proposal's block instead of nil (drop valid(v))" <<'EOF'
case m.lockedRound != -1 && m.lockedValue != v, st == validityInvalid:
====
case m.lockedRound != -1 && m.lockedValue != v:
EOF
mutant line22-nil consensus/machine.go "never prevote a fresh proposal (always nil)" <<'EOF'
		case st == validityValid:
				m.prevote(v)
			default:
				return false // validation pending
====
		case st == validityValid:
				m.prevote("")
			default:
				return false // validation pending
EOF
# ---- line 28: proposal with a proof-of-lock round vr ----
mutant line28-lock consensus/machine.go "accept a re-proposal whose proof-of-lock is older than the lock" <<'EOF'
case !(m.lockedRound <= vr || m.lockedValue == v), st == validityInvalid:
====
case st == validityInvalid:
EOF
mutant line28-same-value consensus/machine.go "refuse a re-proposal of the locked value itself when its POL is older" <<'EOF'
case !(m.lockedRound <= vr || m.lockedValue == v), st == validityInvalid:
====
case !(m.lockedRound <= vr), st == validityInvalid:
EOF
mutant line28-pol-quorum consensus/machine.go "accept a proof-of-lock of f+1 prevotes instead of 2f+1" <<'EOF'
if !ok || pol.prevotes.byBlock[v] < m.quorum {
====
if !ok || pol.prevotes.byBlock[v] < m.skip {
EOF
# ---- line 34: 2f+1 prevotes of any kind start timeoutPrevote ----
mutant line34 consensus/machine.go "never schedule timeoutPrevote" <<'EOF'
if m.step == StepPrevote && !rs.prevoteWait && rs.prevotes.sum >= m.quorum {
====
if false && m.step == StepPrevote && !rs.prevoteWait && rs.prevotes.sum >= m.quorum {
EOF
# ---- line 36: 2f+1 prevotes for the proposal: lock, precommit, valid ----
mutant line36-lock consensus/machine.go "precommit without locking" <<'EOF'
m.lockedValue, m.lockedRound = prop.BlockID, int32(r)
====
_ = prop
EOF
mutant line36-validvalue consensus/machine.go "never record validValue/validRound" <<'EOF'
m.validValue, m.validRound = prop.BlockID, int32(r)
====
_ = prop
EOF
mutant line36-quorum consensus/machine.go "lock and precommit on f+1 prevotes" <<'EOF'
rs.prevotes.byBlock[prop.BlockID] >= m.quorum {
====
rs.prevotes.byBlock[prop.BlockID] >= m.skip {
EOF
mutant line36-valid consensus/machine.go "lock and precommit a block this node found invalid" <<'EOF'
if prop != nil && !rs.polDone && m.validity[prop.BlockID] == validityValid &&
====
if prop != nil && !rs.polDone && m.validity[prop.BlockID] != validityPending &&
EOF
# ---- line 44: 2f+1 nil prevotes: precommit nil ----
mutant line44 consensus/machine.go "ignore a quorum of nil prevotes (wait for the timeout instead)" <<'EOF'
if m.step == StepPrevote && rs.prevotes.byBlock[""] >= m.quorum {
====
if false && m.step == StepPrevote && rs.prevotes.byBlock[""] >= m.quorum {
EOF
# ---- line 47: 2f+1 precommits of any kind start timeoutPrecommit ----
mutant line47 consensus/machine.go "never schedule timeoutPrecommit" <<'EOF'
if !rs.precommitWait && rs.precommits.sum >= m.quorum {
====
if false && !rs.precommitWait && rs.precommits.sum >= m.quorum {
EOF
# ---- line 49: 2f+1 precommits for a block decide it, in any round ----
mutant line49-current-round consensus/machine.go "decide only on precommits of the current round" <<'EOF'
if id := m.rounds[r].precommits.maj; !id.IsZero() {
====
if id := m.rounds[r].precommits.maj; !id.IsZero() && r == m.round {
EOF
mutant line49-quorum consensus/voteset.go "decide on precommits from more than 1/3 instead of 2/3" <<'EOF'
if p >= quorum && !block.IsZero() {
====
if 2*p >= quorum && !block.IsZero() {
EOF
mutant count-duplicates consensus/machine.go "count a validator's repeated vote for the same block again" <<'EOF'
if vs.has(idx, v.BlockID) || len(vs.alts[idx]) >= maxAlts {
====
if len(vs.alts[idx]) >= maxAlts {
EOF
# ---- line 55: f+1 in a later round: skip to it ----
mutant line55 consensus/machine.go "never skip to a later round" <<'EOF'
if r := m.roundNums[i]; m.rounds[r].seenPower >= m.skip {
====
if r := m.roundNums[i]; false && m.rounds[r].seenPower >= m.skip {
EOF
mutant line55-weak consensus/machine.go "skip on any later-round message, not f+1 of the power" <<'EOF'
if r := m.roundNums[i]; m.rounds[r].seenPower >= m.skip {
====
if r := m.roundNums[i]; m.rounds[r].seenPower >= 1 {
EOF
# ---- lines 57, 61, 65: the three timeouts ----
mutant line57 consensus/machine.go "timeoutPropose does not prevote nil" <<'EOF'
case e.Step == StepPropose && m.step == StepPropose:
====
case false && e.Step == StepPropose && m.step == StepPropose:
EOF
mutant line61 consensus/machine.go "timeoutPrevote does not precommit nil" <<'EOF'
case e.Step == StepPrevote && m.step == StepPrevote:
====
case false && e.Step == StepPrevote && m.step == StepPrevote:
EOF
mutant line65 consensus/machine.go "timeoutPrecommit does not start the next round" <<'EOF'
case e.Step == StepPrecommit:
====
case false && e.Step == StepPrecommit:
EOF
mutant timeout-stale consensus/machine.go "act on a timeout of an earlier round" <<'EOF'
if e.Height != m.height || e.Round != m.round || m.decided != "" {
====
if e.Height != m.height || e.Round > m.round || m.decided != "" {
EOF
# ---- double-sign guard ----
mutant guard-earlier consensus/guard.go "guard signs a step before the last signed one" <<'EOF'
		case -1:
====
		case -2:
EOF
mutant guard-same-step consensus/guard.go "guard re-issues the saved signature for different bytes at the same step" <<'EOF'
if hash != g.last.SignHash {
====
if false {
EOF
mutant guard-bypassed consensus/machine.go "machine signs without asking the guard" <<'EOF'
sig, fresh, err := m.guard.Sign(m.height, r, st, sb)
====
sig, fresh, err := m.guard.signer.Sign(sb), true, error(nil)
EOF
# ---- WAL: log and replay ----
mutant wal-not-logged consensus/machine.go "inputs and own messages are not written to the WAL" <<'EOF'
func (m *Machine) log(e *entry) {
	if m.replaying {
====
func (m *Machine) log(e *entry) {
	if true {
EOF
mutant wal-replay-relogs consensus/machine.go "replay writes the replayed records to the WAL again" <<'EOF'
	m.replaying = true
	m.started = true
====
	m.started = true
EOF
mutant wal-no-preload consensus/machine.go "replay does not re-use the messages signed before the crash" <<'EOF'
		m.preloadOwn(e)
====
		_ = e
EOF
mutant wal-skip-timeouts consensus/machine.go "replay skips the timeouts that took effect" <<'EOF'
			m.onTimeout(TimeoutEvent{Height: e.Height, Round: e.Round, Step: e.Step})
====
			_ = e
EOF
mutant wal-skip-proposals consensus/machine.go "replay skips received proposals" <<'EOF'
			_ = m.onProposal(e.Proposal, true)
====
			_ = e
EOF
mutant wal-skip-votes consensus/machine.go "replay skips received votes" <<'EOF'
			_ = m.onVote(e.Vote, true)
====
			_ = e
EOF
mutant wal-skip-validated consensus/machine.go "replay skips block validity reports" <<'EOF'
			m.onValidated(BlockValidatedEvent{BlockID: e.BlockID, Valid: e.Valid})
====
			_ = e
EOF
# ---- re-broadcast: relay the proof-of-lock of a re-proposal ----
mutant rebroadcast-no-pol consensus/machine.go "re-broadcast only own messages, not the POL prevotes of a re-proposal" <<'EOF'
			out = m.appendPOL(out, uint32(p.POLRound), p.BlockID)
====
			_ = p
EOF
mutant rebroadcast-pol-round consensus/machine.go "relay the prevotes of the current round instead of the POL round" <<'EOF'
			out = m.appendPOL(out, uint32(p.POLRound), p.BlockID)
====
			out = m.appendPOL(out, p.Round, p.BlockID)
EOF

if [ "${LIST:-0}" = 1 ]; then
	for n in "${NAMES[@]}"; do printf '%-22s %-22s %s\n' "$n" "${FILE[$n]}" "${WHY[$n]}"; done
	exit 0
fi

SELECTED=("$@")
if [ ${#SELECTED[@]} = 0 ]; then SELECTED=("${NAMES[@]}"); fi
for n in "${SELECTED[@]}"; do
	if [ -z "${FILE[$n]:-}" ]; then
		echo "mutate-consensus.sh: no mutant named $n (LIST=1 lists them)" >&2
		exit 2
	fi
done

# The copy holds only what `go test ./consensus/...` builds: a module path
# different from the repository's, so the real tree is never touched.
cp "$ROOT/go.mod" "$ROOT/go.sum" "$WORK/"
cp -r "$ROOT/chain" "$ROOT/consensus" "$WORK/"
cp -r "$WORK/consensus" "$WORK/.pristine"

cd "$WORK"
start=$(date +%s)
echo "mutate-consensus.sh: baseline (unmutated) run" >&2
if ! go test -count=1 ./consensus/... >"$WORK/baseline.log" 2>&1; then
	cat "$WORK/baseline.log" >&2
	echo "mutate-consensus.sh: the unmutated tests fail; fix them first" >&2
	exit 1
fi

survived=() stale=()
for n in "${SELECTED[@]}"; do
	rm -rf "$WORK/consensus"
	cp -r "$WORK/.pristine" "$WORK/consensus"
	f=$WORK/${FILE[$n]}
	if ! OLD=${OLD[$n]} NEW=${NEW[$n]} perl -0777 -i -pe '
		BEGIN { $o = $ENV{OLD}; $r = $ENV{NEW} }
		my $c = () = /\Q$o\E/g;
		die "found $c times\n" if $c != 1;
		s/\Q$o\E/$r/;' "$f" 2>"$WORK/apply.log"; then
		printf '%-22s STALE   (%s)\n' "$n" "$(cat "$WORK/apply.log")"
		stale+=("$n")
		continue
	fi
	t0=$(date +%s)
	# shellcheck disable=SC2086
	if go test $GOTEST_FLAGS ./consensus/... >"$WORK/$n.log" 2>&1; then
		printf '%-22s SURVIVED %3ss  %s\n' "$n" $(($(date +%s) - t0)) "${WHY[$n]}"
		survived+=("$n")
		continue
	fi
	# Name the failing tests (the innermost subtests when there are any):
	# those killed the mutant. -failfast stops at the first failing test.
	killer=$(grep -oE -- '--- FAIL: [^ ]+' "$WORK/$n.log" | sed 's/--- FAIL: //' | sort -u |
		awk '{ t[NR] = $0 } END { for (i = 1; i <= NR; i++) { leaf = 1; for (j = 1; j <= NR; j++) if (index(t[j], t[i] "/") == 1) leaf = 0; if (leaf) printf "%s%s", (n++ ? " " : ""), t[i] } }' || true)
	if [ -z "$killer" ]; then killer="(build or vet failure: $(grep -m1 -E 'error|panic|\.go:[0-9]+' "$WORK/$n.log" || true))"; fi
	printf '%-22s killed  %3ss  by %s\n' "$n" $(($(date +%s) - t0)) "$killer"
	if [ "${VERBOSE:-0}" = 1 ]; then sed 's/^/    /' "$WORK/$n.log" | head -40; fi
done

echo "mutate-consensus.sh: ${#SELECTED[@]} mutants, ${#survived[@]} survived, ${#stale[@]} stale, $(($(date +%s) - start))s" >&2
if [ ${#survived[@]} -gt 0 ] || [ ${#stale[@]} -gt 0 ]; then
	echo "mutate-consensus.sh: FAIL: survived: ${survived[*]:-none}; stale: ${stale[*]:-none}" >&2
	exit 1
fi
