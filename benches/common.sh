# Shared by the benchmark scripts (sourced, not run); needs `root`, the repository.

# gen_rows DIR ROWS: examples/gen_data.rs's long CSV of ROWS rows, as DIR/long.csv.
gen_rows() {
  cargo run --release --quiet --manifest-path "$root/Cargo.toml" --example gen_data -- \
    --out "$1" --rows "$2" --xlsx-rows 0 >/dev/null
}

# config DIR CSV [DECIMAL]: DIR/pipeline.toml reading CSV (with DECIMAL declared as its
# decimal mark, if given) to Parquet + CSV in DIR/out, rejecting up to 5% of the figures.
config() {
  local decimal=""
  [ -n "${3:-}" ] && decimal="decimal = \"$3\""
  cat > "$1/pipeline.toml" <<TOML
[[sources]]
path = "$2"
$decimal
[validate]
max_rejected_share = 0.05
[output]
dir = "out"
formats = ["parquet", "csv"]
TOML
}
