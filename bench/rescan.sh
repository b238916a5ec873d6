#!/usr/bin/env bash
# Benchmark (issue #5): scan a generated 5,000-page site served by nginx twice; the second
# scan of the unchanged site should take at most 15% of the first and parse nothing.
#
#   bash bench/rescan.sh [PAGES] [DOCS]
#
# Installs nginx from Debian if missing, serves the site on 127.0.0.1 only, prints both
# times, their ratio and the parse counters. Uses the release build. Then prints the floor
# of a re-scan on this machine: the same conditional requests alone, through the same HTTP
# client, with nothing parsed, recorded or reported (examples/bench_revalidate.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
PAGES=${1:-5000}
DOCS=${2:-200}
WORK=$(mktemp -d /tmp/mailpatrol-bench.XXXXXX)
PORT=${PORT:-18080}

command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
cargo build --release -q --bin mailpatrol --example bench_revalidate
BIN=${CARGO_TARGET_DIR:-target}/release/mailpatrol
FLOOR=${CARGO_TARGET_DIR:-target}/release/examples/bench_revalidate

python3 -c "import reportlab" 2>/dev/null || pip install -q reportlab
python3 bench/gen_site.py "$WORK/site" --pages "$PAGES" --docs "$DOCS"
# nginx workers run unprivileged: let them read the site.
chmod -R a+rX "$WORK"
{
  echo "worker_processes 2; pid $WORK/nginx.pid; error_log $WORK/error.log;"
  echo "events { worker_connections 1024; }"
  echo "http { access_log off; default_type text/html; types { text/html html; text/plain txt; application/pdf pdf; }"
  while read -r host; do
    echo "server { listen 127.0.0.1:$PORT; server_name $host; root $WORK/site/$host; charset utf-8; }"
  done < "$WORK/site/hosts.txt"
  echo "}"
} > "$WORK/nginx.conf"
nginx -c "$WORK/nginx.conf" -p "$WORK"
trap 'nginx -c "$WORK/nginx.conf" -p "$WORK" -s stop 2>/dev/null || true' EXIT

RESOLVE=()
while read -r host; do RESOLVE+=(--resolve "$host:80:127.0.0.1:$PORT"); done < "$WORK/site/hosts.txt"

run() {
  local start end
  start=$(date +%s.%N)
  "$BIN" scan -q --profile "$WORK/site/profile.toml" --out "$WORK/reports" "${RESOLVE[@]}" | tail -1
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
echo "first scan:"
T1=$(run | tee /dev/stderr | tail -1)
echo "second scan (site unchanged):"
T2=$(run | tee /dev/stderr | tail -1)
echo "first: ${T1}s  second: ${T2}s  ratio: $(echo "scale=3; $T2 / $T1" | bc)"
echo "the conditional requests alone (same client, concurrency 32, nothing recorded):"
"$FLOOR" "$WORK/reports/state.sqlite" "$PORT" 32
