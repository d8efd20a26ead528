#!/bin/sh
# report-screenshot.sh DRPLAN TEST-JOBREPORT WORKDIR: render the HTML report
# headless with chromium to a PNG and check the PNG is there and not trivial.
# Exit 77 (skipped) when chromium is not installed.
set -u
DRPLAN=$1 GEN=$2 W=$3
B=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$B" ] || { echo "chromium not installed: skipped"; exit 77; }
rm -rf "$W" && mkdir -p "$W" || exit 1
"$GEN" --samples "$W/state" || exit 1
"$DRPLAN" report --state "$W/state" --format html --output "$W/report.html" erp-drill-1 || exit 1
P=$(mktemp -d)
timeout 90 "$B" --headless --no-sandbox --disable-gpu --disable-background-networking \
	--disable-component-update --disable-sync --no-first-run --user-data-dir="$P" \
	--screenshot="$W/report.png" --window-size=1200,900 "file://$W/report.html" \
	>"$W/chromium.log" 2>&1
rm -rf "$P"
[ -f "$W/report.png" ] || { echo "FAIL: no screenshot"; cat "$W/chromium.log"; exit 1; }
size=$(wc -c <"$W/report.png")
# A blank 1200x900 PNG is a few KiB; the report with its timeline is ~70 KiB.
[ "$size" -gt 20000 ] || { echo "FAIL: screenshot is $size bytes"; exit 1; }
head -c 8 "$W/report.png" | od -An -tx1 | grep -q '89 50 4e 47' ||
	{ echo "FAIL: not a PNG"; exit 1; }
echo "report/screenshot: $W/report.png ($size bytes)"
