#!/usr/bin/env bash
# Growth: the same refresh at 1M and 10M rows, alternating 1M, 10M, 1M, 10M, 1M (a `sync`,
# not timed, before each run), and the ratios of the 10M runs' median time and peak memory
# to the 1M runs'. On the peer's data (`gen_data.py --locale en`, the source declaring
# `decimal = "."`) where python3 has numpy, else on `examples/gen_data.rs`'s.
#   benches/growth.sh [peer|gen]
set -euo pipefail
kind="${1:-peer}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bench="$root/../shared/bench"
bin="${CARGO_TARGET_DIR:-$HOME/.cache/tradeflow-target}/release/tradeflow"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
if [ "$kind" = peer ] && ! python3 -c "import numpy" 2>/dev/null; then kind=gen; fi
. "$root/benches/common.sh"
for rows in 1000000 10000000; do
  d="$work/$rows"; mkdir -p "$d"
  if [ "$kind" = peer ]; then
    (cd "$bench" && python3 gen_data.py --out "$d" --rows "$rows" --locale en --only long >/dev/null)
    config "$d" "$d/long.csv" "."
  else
    gen_rows "$d" "$rows"
    config "$d" "$d/long.csv"
  fi
done
echo "data: $kind; runs alternate; wall seconds and peak RSS MB"
declare -A times mems
for rows in 1000000 10000000 1000000 10000000 1000000; do
  sync
  read -r t m < <(cd "$work/$rows" && /usr/bin/time -f "%e %M" "$bin" -q run --full-refresh 2>&1 >/dev/null | tail -1)
  echo "$rows rows: ${t}s $((m / 1024)) MB"
  times[$rows]="${times[$rows]:-} $t"; mems[$rows]="${mems[$rows]:-} $((m / 1024))"
done
median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print (a[int((NR+1)/2)] + a[int(NR/2)+1]) / 2}'; }
max() { printf '%s\n' $1 | sort -g | tail -1; }
t1=$(median "${times[1000000]}"); t10=$(median "${times[10000000]}")
m1=$(max "${mems[1000000]}"); m10=$(max "${mems[10000000]}")
awk -v a="$t1" -v b="$t10" -v c="$m1" -v d="$m10" 'BEGIN {
  printf "medians 1M %.2f s, 10M %.2f s: %.1fx the time (target <= 11x)\n", a, b, b / a
  printf "highest peaks 1M %d MB, 10M %d MB: %.1fx the memory (target <= 2x)\n", c, d, d / c }'
