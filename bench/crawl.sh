#!/usr/bin/env bash
# Benchmark (issue #7): speed and peak memory of one full scan of a generated site served
# by nginx on 127.0.0.1 with several virtual hosts, side by side with wget --recursive.
#
#   bash bench/crawl.sh [PAGES ...]        # default: 20000 100000
#
# For each PAGES: generates the site (bench/gen_site.py, 10 hosts, PAGES/100 PDFs), serves it
# with nginx, runs the release `mailpatrol scan` (delay 0, concurrency 32, 8 per host) under
# /usr/bin/time -v, then `wget --recursive` over ONE host of the same site on the same port
# (wget cannot map several virtual hosts to one port: it has no --resolve, and it would
# need a hosts-file entry per host, so it crawls www only), and prints pages, seconds,
# pages/s and peak RSS for both. Installs nginx, wget and time from Debian if missing.
# Environment: PORT (default 18081), DOCS (documents, default PAGES/100), SITES (where
# generated sites are kept for the next run, default /tmp/mailpatrol-sites), KEEP=1 keeps
# the work folder (reports, state, logs), SKIP_BUILD=1 uses the existing release binary, BIN another binary.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(20000 100000)
PORT=${PORT:-18081}
DOCS_ENV=${DOCS:-}
SITES=${SITES:-/tmp/mailpatrol-sites}

need() { command -v "$1" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need nginx nginx-light || need nginx nginx
need wget wget
[ -x /usr/bin/time ] || need /usr/bin/time time
python3 -c "import reportlab" 2>/dev/null || pip install -q reportlab
[ "${SKIP_BUILD:-}" = 1 ] || cargo build --release -q
BIN=${BIN:-$(pwd)/${CARGO_TARGET_DIR:-target}/release/mailpatrol}

# Prints "seconds peak_rss_kb" from a /usr/bin/time -v log.
timings() {
  awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
              /Maximum resident set size/ { r = $2 } END { printf "%.2f %d\n", s, r }' "$1"
}

row() { # name pages seconds rss_kb
  printf '%-22s %8d pages %8.1f s %8.1f pages/s %8.1f MB peak RSS\n' "$1" "$2" "$3" \
    "$(echo "scale=1; $2 / $3" | bc)" "$(echo "scale=1; $4 / 1024" | bc)"
}

for PAGES in "${SIZES[@]}"; do
  WORK=$(mktemp -d /tmp/mailpatrol-crawl.XXXXXX)
  DOCS=${DOCS_ENV:-$((PAGES / 100))}
  # The generated site is deterministic: keep it between runs.
  SITE=$SITES/$PAGES-$DOCS
  [ -f "$SITE/hosts.txt" ] || python3 bench/gen_site.py "$SITE" --pages "$PAGES" --docs "$DOCS" >&2
  ln -s "$SITE" "$WORK/site"
  chmod -R a+rX "$WORK" "$SITE"
  {
    echo "worker_processes 2; pid $WORK/nginx.pid; error_log $WORK/error.log;"
    echo "events { worker_connections 1024; }"
    echo "http { access_log off; default_type text/html; keepalive_requests 100000;"
    echo "  types { text/html html; text/plain txt; application/pdf pdf; }"
    while read -r host; do
      echo "  server { listen 127.0.0.1:$PORT; server_name $host; root $WORK/site/$host; charset utf-8; }"
    done < "$WORK/site/hosts.txt"
    echo "}"
  } > "$WORK/nginx.conf"
  nginx -c "$WORK/nginx.conf" -p "$WORK"
  trap 'nginx -c "$WORK/nginx.conf" -p "$WORK" -s stop 2>/dev/null || true' EXIT

  RESOLVE=()
  while read -r host; do RESOLVE+=(--resolve "$host:80:127.0.0.1:$PORT"); done < "$WORK/site/hosts.txt"

  echo "== $PAGES pages, $DOCS documents, $(wc -l < "$WORK/site/hosts.txt") hosts, nginx on 127.0.0.1:$PORT"
  CMD=("$BIN" scan -q --profile "$WORK/site/profile.toml" --out "$WORK/reports"
       --delay-ms 0 --concurrency 32 --per-host-concurrency 8 "${RESOLVE[@]}")
  echo "\$ /usr/bin/time -v mailpatrol scan -q --profile profile.toml --out reports --delay-ms 0 --concurrency 32 --per-host-concurrency 8 --resolve HOST:80:127.0.0.1:$PORT ..."
  /usr/bin/time -v -o "$WORK/mp.time" "${CMD[@]}" > "$WORK/mp.out" || echo "(exit $?)"
  tail -3 "$WORK/mp.out"
  # Pages fetched, as the run recorded them (summary.csv sums, or the store's page count).
  MP_PAGES=$(sqlite3 "$WORK/reports/state.sqlite" \
    "SELECT COUNT(*) FROM pages WHERE run_id = (SELECT MAX(id) FROM runs)" 2>/dev/null || echo 0)
  read -r MP_S MP_RSS < <(timings "$WORK/mp.time")

  WWW=$(head -1 "$WORK/site/hosts.txt")
  echo "\$ /usr/bin/time -v wget --recursive --level=inf --no-verbose --delete-after --header \"Host: $WWW\" http://127.0.0.1:$PORT/   (one host: $WWW)"
  (cd "$WORK" && /usr/bin/time -v -o "$WORK/wget.time" wget --recursive --level=inf --no-verbose \
     --delete-after --no-host-directories --directory-prefix "$WORK/wget" \
     --header "Host: $WWW" "http://127.0.0.1:$PORT/" 2> "$WORK/wget.log" || true)
  WGET_PAGES=$(grep -c ' URL:' "$WORK/wget.log" || true)
  read -r WG_S WG_RSS < <(timings "$WORK/wget.time")

  row "mailpatrol (10 hosts)" "$MP_PAGES" "$MP_S" "$MP_RSS"
  row "wget (1 host)" "$WGET_PAGES" "$WG_S" "$WG_RSS"
  nginx -c "$WORK/nginx.conf" -p "$WORK" -s stop 2>/dev/null || true
  trap - EXIT
  [ "${KEEP:-}" = 1 ] && echo "kept $WORK" || rm -rf "$WORK"
done
