#!/usr/bin/env bash
# End-to-end benchmark: tradeflow against the Python polars peer of ../shared/bench/,
# side by side, alternating runs, on the peer's own 1M-row CSV (gen_data.py --locale en),
# read + normalise + Parquet + CSV. Prints wall time and peak RSS of each run and the
# median ratio. Needs python3 with polars, numpy, xlsxwriter, fastexcel, pyarrow
# (pip install ...); without them only tradeflow runs.
#   benches/e2e.sh [REPS=3] [ROWS=1000000]
set -euo pipefail
reps="${1:-3}"; rows="${2:-1000000}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bench="$root/../shared/bench"
bin="${CARGO_TARGET_DIR:-$HOME/.cache/tradeflow-target}/release/tradeflow"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
data=$(mktemp -d); work=$(mktemp -d); trap 'rm -rf "$data" "$work"' EXIT
if python3 -c "import polars, numpy, xlsxwriter, fastexcel, pyarrow" 2>/dev/null; then
  peer=1; (cd "$bench" && python3 gen_data.py --out "$data" --rows "$rows" --locale en --only long >/dev/null)
else
  peer=0; cargo run --release --quiet --manifest-path "$root/Cargo.toml" --example gen_data -- --out "$data" --rows "$rows" --xlsx-rows 0
fi
cat > "$work/pipeline.toml" <<TOML
[[sources]]
path = "$data/long.csv"
decimal = "."
[output]
dir = "out"
formats = ["parquet", "csv"]
TOML
measure() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }
echo "machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "rows: $rows; runs alternate; wall seconds and peak RSS MB"
ours=(); theirs=()
for i in $(seq "$reps"); do
  read -r t m < <(cd "$work" && measure "$bin" -q run --full-refresh)
  echo "tradeflow     run $i: ${t}s $((m / 1024)) MB"; ours+=("$t")
  if [ "$peer" = 1 ]; then
    read -r t m < <(measure python3 "$bench/ref_polars.py" "$data/long.csv" "$work/peer" --stages read,parquet,csv)
    echo "polars peer   run $i: ${t}s $((m / 1024)) MB"; theirs+=("$t")
  fi
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mo=$(median "${ours[@]}"); echo "tradeflow median: ${mo}s"
if [ "$peer" = 1 ]; then
  mp=$(median "${theirs[@]}"); echo "polars peer median: ${mp}s"
  awk -v a="$mo" -v b="$mp" 'BEGIN { printf "ratio tradeflow / polars peer: %.2f\n", a / b }'
fi
