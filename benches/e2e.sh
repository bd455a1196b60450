#!/usr/bin/env bash
# End-to-end benchmark: tradeflow against the Python polars peer of ../shared/bench/,
# side by side, alternating runs, on the peer's own 1M-row CSV (gen_data.py --locale en),
# read + normalise + Parquet + CSV. Prints wall time and peak RSS of each run and the
# median ratio; a `sync` before each run keeps one run's disk writes out of the next.
# Needs python3 with polars, numpy, xlsxwriter, fastexcel, pyarrow (pip install ...);
# without them only tradeflow runs.
#   benches/e2e.sh [REPS=3] [ROWS=1000000] [more]
# With `more` (and the peers' Python packages) it also runs, side by side: the limit
# (polars CSV -> Parquet, no transformation; `phys.py pl_csv2pq`, in the same rotation
# as tradeflow and the peer), the 200,000-row
# workbook to Parquet + CSV against calamine's bare read (`phys.py calamine`) and the
# polars peer, and, once each, the CSV job with XLSX output against the polars peer's
# write_excel.
set -euo pipefail
reps="${1:-3}"; rows="${2:-1000000}"; more="${3:-}"
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
# Each run starts with no file data of the run before still waiting to go to the disk
# (`sync`, not timed): tradeflow flushes its outputs before it ends and pays for that
# itself, the Python peers leave theirs to the kernel, whose writeback (130 MB after the
# 1M-row job) then ran inside the next timed run, on the same two cores (tradeflow after
# a peer run: 1.35 s median of 5, after a peer run and a sync: 1.28 s).
measure() { sync; /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }
echo "machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "rows: $rows; runs alternate; wall seconds and peak RSS MB"
# with `more`, the limit runs in the same rotation (tradeflow, peer, limit), so that the
# machine's drift between hours falls on all three alike
ours=(); theirs=(); lim=()
for i in $(seq "$reps"); do
  read -r t m < <(cd "$work" && measure "$bin" -q run --full-refresh)
  echo "tradeflow     run $i: ${t}s $((m / 1024)) MB"; ours+=("$t")
  if [ "$peer" = 1 ]; then
    read -r t m < <(measure python3 "$bench/ref_polars.py" "$data/long.csv" "$work/peer" --stages read,parquet,csv)
    echo "polars peer   run $i: ${t}s $((m / 1024)) MB"; theirs+=("$t")
    if [ "$more" = more ]; then
      read -r t m < <(cd "$bench" && measure python3 phys.py pl_csv2pq "$data/long.csv" "$work/phys")
      echo "limit         run $i: ${t}s $((m / 1024)) MB"; lim+=("$t")
    fi
  fi
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mo=$(median "${ours[@]}"); echo "tradeflow median: ${mo}s"
if [ "$peer" = 1 ]; then
  mp=$(median "${theirs[@]}"); echo "polars peer median: ${mp}s"
  awk -v a="$mo" -v b="$mp" 'BEGIN { printf "ratio tradeflow / polars peer: %.2f\n", a / b }'
fi

[ "$more" = more ] && [ "$peer" = 1 ] || exit 0
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "the limit (polars CSV -> Parquet, no transformation; runs above)"
ml=$(median "${lim[@]}"); echo "limit median: ${ml}s; tradeflow / limit: $(ratio "$mo" "$ml")"

echo
echo "200,000-row workbook (gen_data.py wide_big.xlsx, 20 sheets) to Parquet + CSV"
(cd "$bench" && python3 gen_data.py --out "$data" --xlsx-rows 200000 --only wide_big >/dev/null)
mkdir -p "$work/wb"
cat > "$work/wb/pipeline.toml" <<TOML
[[sources]]
path = "$data/wide_big.xlsx"
reporter = "TUR"
[output]
dir = "out"
formats = ["parquet", "csv"]
TOML
wo=(); wc=(); wp=()
for i in $(seq "$reps"); do
  read -r t m < <(cd "$work/wb" && measure "$bin" -q run --full-refresh)
  echo "tradeflow     run $i: ${t}s $((m / 1024)) MB"; wo+=("$t")
  read -r t m < <(cd "$bench" && measure python3 phys.py calamine "$data/wide_big.xlsx")
  echo "calamine read run $i: ${t}s $((m / 1024)) MB"; wc+=("$t")
  read -r t m < <(measure python3 "$bench/ref_polars.py" "$data/wide_big.xlsx" "$work/peerwb" --stages read,parquet,csv)
  echo "polars peer   run $i: ${t}s $((m / 1024)) MB"; wp+=("$t")
done
a=$(median "${wo[@]}"); b=$(median "${wc[@]}"); c=$(median "${wp[@]}")
echo "medians: tradeflow ${a}s, calamine bare read ${b}s, polars peer ${c}s; tradeflow / calamine: $(ratio "$a" "$b"); tradeflow / polars peer: $(ratio "$a" "$c")"

echo
echo "the CSV job with XLSX output as well (once each)"
sed -i 's/formats = \["parquet", "csv"\]/formats = ["parquet", "csv", "xlsx"]/' "$work/pipeline.toml"
read -r t m < <(cd "$work" && measure "$bin" -q run --full-refresh)
echo "tradeflow   + xlsx: ${t}s $((m / 1024)) MB"; x1="$t"
read -r t m < <(measure python3 "$bench/ref_polars.py" "$data/long.csv" "$work/peerx" --stages read,parquet,csv,xlsx)
echo "polars peer + xlsx: ${t}s $((m / 1024)) MB"; x2="$t"
echo "polars peer / tradeflow: $(ratio "$x2" "$x1")"
