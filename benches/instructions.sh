#!/usr/bin/env bash
# Instruction counts of a run under callgrind: repeatable to about 0.01% on a machine
# whose wall times drift by tens of percent, so a change's effect on the CPU work shows
# even when timings cannot. Runs tradeflow on N rows (default 100,000) made by
# examples/gen_data.rs (or on the CSV given as the third argument) and prints the total
# and the functions with the most instructions.
#   benches/instructions.sh [BIN] [ROWS=100000] [CSV]
# Compare two builds by running it with each binary. Under valgrind sha256 runs in
# software (no SHA extensions), so its share is far larger than on the real CPU.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$HOME/.cache/tradeflow-target}/release/tradeflow}"
rows="${2:-100000}"; csv="${3:-}"
command -v valgrind >/dev/null || { echo "needs valgrind (apt install valgrind)" >&2; exit 2; }
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
. "$root/benches/common.sh"
if [ -z "$csv" ]; then
  gen_rows "$work" "$rows"
  csv="$work/long.csv"
fi
config "$work" "$csv" "."
# the tunable set here keeps the binary from restarting itself outside valgrind
(cd "$work" && GLIBC_TUNABLES=glibc.malloc.hugetlb=1 valgrind --tool=callgrind \
  --callgrind-out-file="$work/cg.out" "$bin" -q run --full-refresh 2>&1 | grep "refs")
callgrind_annotate "$work/cg.out" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | head -16
