#!/usr/bin/env bash
# A UN Comtrade-style bulk file against the 1M-row benchmark job: the bulk CSV of
# benches/comtrade_bulk.py (its 35 columns, one row in eleven a breakdown set aside, the
# World among the partners) to Parquet + CSV with nothing but its path in the config,
# beside the peer's 1M-row job of benches/e2e.sh, alternating runs, a `sync` before each.
# Prints each run's wall time and peak RSS, the medians, their ratio (target: the bulk
# job within 1.5x the 1M-row job) and the size of the bulk job's report.json (target:
# under 5 MB).
#   benches/bulk.sh [REPS=3] [ROWS=1000000]
set -euo pipefail
reps="${1:-3}"; rows="${2:-1000000}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bench="$root/../shared/bench"
bin="${CARGO_TARGET_DIR:-$HOME/.cache/tradeflow-target}/release/tradeflow"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
data=$(mktemp -d); work=$(mktemp -d); trap 'rm -rf "$data" "$work"' EXIT
python3 "$root/benches/comtrade_bulk.py" "$data/bulk.csv" "$rows"
if python3 -c "import polars, numpy" 2>/dev/null; then
  (cd "$bench" && python3 gen_data.py --out "$data" --rows "$rows" --locale en --only long >/dev/null)
else
  cargo run --release --quiet --manifest-path "$root/Cargo.toml" --example gen_data -- --out "$data" --rows "$rows" --xlsx-rows 0
fi
mkdir -p "$work/bulk" "$work/long"
printf '[[sources]]\npath = "%s"\n[output]\ndir = "out"\nformats = ["parquet", "csv"]\n' "$data/bulk.csv" > "$work/bulk/pipeline.toml"
printf '[[sources]]\npath = "%s"\ndecimal = "."\n[output]\ndir = "out"\nformats = ["parquet", "csv"]\n' "$data/long.csv" > "$work/long/pipeline.toml"
measure() { sync; /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }
echo "machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "rows: $rows ($(du -m "$data/bulk.csv" | cut -f1) MB bulk, $(du -m "$data/long.csv" | cut -f1) MB long); wall seconds and peak RSS MB"
b=(); l=()
for i in $(seq "$reps"); do
  read -r t m < <(cd "$work/bulk" && measure "$bin" -q run --full-refresh)
  echo "bulk (Comtrade, 35 columns) run $i: ${t}s $((m / 1024)) MB"; b+=("$t")
  read -r t m < <(cd "$work/long" && measure "$bin" -q run --full-refresh)
  echo "1M-row benchmark job        run $i: ${t}s $((m / 1024)) MB"; l+=("$t")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mb=$(median "${b[@]}"); ml=$(median "${l[@]}")
echo "medians: bulk ${mb}s, 1M-row job ${ml}s; bulk / 1M-row job: $(awk -v a="$mb" -v b="$ml" 'BEGIN { printf "%.2f", a / b }')"
echo "bulk report.json: $(du -k "$work/bulk/out/report.json" | cut -f1) KB; trade.csv rows: $(($(wc -l < "$work/bulk/out/trade.csv") - 1))"
