#!/usr/bin/env bash
# Benchmark (issue #8): the cost of rendering. A generated one-host site (bench/gen_render_site.py,
# PAGES pages, 5% of them app shells filled by a script after an XHR) served by nginx on
# 127.0.0.1 is scanned three times, with --render never, auto and always; prints pages,
# rendered pages, findings, seconds, pages/s and peak memory of mailpatrol and its Chromium
# together (the sum of PSS, proportional set size, over the run's process tree, sampled every
# 0.2 s: RSS would count the browser's shared pages once per process).
#
#   bash bench/render.sh [PAGES]          # default 400, politeness off (DELAY=0)
#   DELAY=250 bash bench/render.sh        # the default politeness: 250 ms between requests to a host
#   MODES="never auto" bash bench/render.sh 2000   # some modes only
#   SKIP_BUILD=1 uses the existing release binary (under CARGO_TARGET_DIR), BIN another binary.
set -euo pipefail
cd "$(dirname "$0")/.."
PAGES=${1:-400}
PORT=${PORT:-18083}
WORK=$(mktemp -d /tmp/mailpatrol-render.XXXXXX)
command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
[ "${SKIP_BUILD:-}" = 1 ] || cargo build --release -q
TARGET=${CARGO_TARGET_DIR:-target}
case $TARGET in /*) ;; *) TARGET=$(pwd)/$TARGET ;; esac
BIN=${BIN:-$TARGET/release/mailpatrol}
[ -x "$BIN" ] || { echo "no binary at $BIN (build with SKIP_BUILD unset)" >&2; exit 1; }
HOST=$(python3 bench/gen_render_site.py "$WORK/site" --pages "$PAGES")
chmod -R a+rX "$WORK"
cat > "$WORK/nginx.conf" <<CONF
worker_processes 2; pid $WORK/nginx.pid; error_log $WORK/error.log;
events { worker_connections 1024; }
http { access_log off; default_type text/html; types { text/html html; application/json json; }
  server { listen 127.0.0.1:$PORT; server_name $HOST; root $WORK/site/$HOST; charset utf-8; } }
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK"
# Stop nginx before the work folder (with its pid file) goes, or nginx outlives the run.
cleanup() {
  nginx -c "$WORK/nginx.conf" -p "$WORK" -s stop 2>/dev/null || true
  if [ "${KEEP:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

DELAY=${DELAY:-0}
# Sum of PSS (kB) over a process and all its descendants.
tree_rss() {
  local pids=$1 all="" next
  while [ -n "$pids" ]; do
    all="$all $pids"; next=""
    for p in $pids; do next="$next $(cat /proc/$p/task/*/children 2>/dev/null || true)"; done
    pids=$(echo $next)
  done
  for p in $all; do awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup 2>/dev/null; done | awk '{s+=$1} END {print s+0}'
}

echo "== $PAGES pages, 5% app shells, delay ${DELAY} ms"
printf '%-8s %6s %9s %9s %8s %9s %12s\n' mode pages rendered findings seconds pages/s "peak PSS MB"
for MODE in ${MODES:-never auto always}; do
  rm -rf "$WORK/reports"
  start=$(date +%s.%N)
  "$BIN" scan -q --profile "$WORK/site/profile.toml" --out "$WORK/reports" --render "$MODE" --delay-ms "$DELAY" \
    --resolve "$HOST:80:127.0.0.1:$PORT" > "$WORK/$MODE.out" 2> "$WORK/$MODE.err" &
  pid=$!
  peak=0
  while kill -0 $pid 2>/dev/null; do
    # A process may exit between listing and reading: take tree_rss's last line only.
    r=$(tree_rss $pid 2>/dev/null | tail -1 || true); [ "${r:-0}" -gt "$peak" ] && peak=$r
    sleep 0.2
  done
  wait $pid || true
  end=$(date +%s.%N)
  secs=$(echo "$end - $start" | bc)
  line=$(grep '^Run ' "$WORK/$MODE.out" | tail -1)
  pages=$(echo "$line" | sed -E 's/.*: ([0-9]+) pages read.*/\1/')
  rendered=$(echo "$line" | sed -E 's/.* ([0-9]+) rendered\).*/\1/')
  findings=$(echo "$line" | sed -E 's/.*\), ([0-9]+) findings.*/\1/')
  printf '%-8s %6s %9s %9s %8.2f %9.1f %12.1f\n' "$MODE" "$pages" "$rendered" "$findings" "$secs" \
    "$(echo "scale=1; $pages / $secs" | bc)" "$(echo "scale=1; $peak / 1024" | bc)"
done
