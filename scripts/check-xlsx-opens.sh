#!/usr/bin/env bash
# Checks that a workbook tradeflow published opens in another spreadsheet program:
# LibreOffice (Debian's libreoffice-calc-nogui) converts it to PDF headlessly, and the PDF
# must hold every sheet's first heading. Usage: scripts/check-xlsx-opens.sh [processed/trade.xlsx]
set -euo pipefail
xlsx="${1:-processed/trade.xlsx}"
command -v libreoffice >/dev/null || { echo "needs libreoffice: apt-get install -y libreoffice-calc-nogui poppler-utils" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp "$xlsx" "$tmp/book.xlsx"
(cd "$tmp" && timeout 180 libreoffice --headless --convert-to pdf book.xlsx >convert.log 2>&1) || { cat "$tmp/convert.log" >&2; echo "FAIL: LibreOffice could not convert $xlsx" >&2; exit 1; }
[ -s "$tmp/book.pdf" ] || { echo "FAIL: no PDF produced" >&2; exit 1; }
text=$(pdftotext "$tmp/book.pdf" - 2>/dev/null || true)
for want in "reporter" "Trade by partner and year" "check" "source_ref" "sha256"; do
  grep -q "$want" <<<"$text" || { echo "FAIL: '$want' not found in the PDF" >&2; exit 1; }
done
pages=$(pdfinfo "$tmp/book.pdf" 2>/dev/null | awk '/^Pages:/ {print $2}')
echo "OK: $xlsx opens in LibreOffice ($pages PDF pages)"
