#!/usr/bin/env bash
# Benchmark (issue #7): speed and peak memory of one full scan of a generated site served
# by nginx on 127.0.0.1 with several virtual hosts, side by side with wget --recursive and
# spider_cli (the spider-rs crawler) over the same site.
#
#   bash bench/crawl.sh [PAGES ...]        # default: 20000 100000
#
# For each PAGES: generates the site (bench/gen_site.py, 10 hosts, PAGES/100 PDFs) and
# serves it with nginx: every host on one shared port (by Host header) and also on a port
# of its own. mailpatrol crawls all hosts in one process through the shared port
# (`--resolve`, delay 0, concurrency 32, 8 per host) under /usr/bin/time -v. wget and
# spider_cli cannot map host names to one local port (no --resolve), so each crawls every
# host through its own port, one process per host, all hosts at once; their time is the
# wall time of the group and their memory the sum of the processes' peaks (they all run
# together) and the largest one. Cross-host links are not followed by them (each stays on
# its host); every page is reachable within its host, so all three read the same pages.
# Prints pages, seconds, pages/s and peak RSS for each.
# Needs nginx, wget, time (installed from Debian if missing) and spider_cli on PATH or in
# SPIDER (install: cargo install spider_cli --no-default-features --features status_code;
# skipped with a note when absent).
# Environment: PORT (default 18081; the hosts use PORT+1..PORT+N), DOCS (documents, default
# PAGES/100), SITES (where generated sites are kept for the next run, default
# /tmp/mailpatrol-sites), KEEP=1 keeps the work folder (reports, state, logs),
# SKIP_BUILD=1 uses the existing release binary, BIN another binary.
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
    i=0
    while read -r host; do
      i=$((i + 1))
      echo "  server { listen 127.0.0.1:$PORT; listen 127.0.0.1:$((PORT + i)); server_name $host; root $WORK/site/$host; charset utf-8; }"
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

  row "mailpatrol (1 process)" "$MP_PAGES" "$MP_S" "$MP_RSS"

  # One process per host, all at once; prints "pages seconds rss_sum_kb rss_max_kb".
  group() { # name count_cmd cmd... (HOSTPORT in cmd is replaced by each host's port)
    local name=$1 count=$2; shift 2
    local n i=0 start end pids=()
    n=$(wc -l < "$WORK/site/hosts.txt")
    start=$(date +%s.%N)
    for i in $(seq 1 "$n"); do
      local cmd=("${@//HOSTPORT/$((PORT + i))}")
      (cd "$WORK" && /usr/bin/time -v -o "$WORK/$name.$i.time" "${cmd[@]}" > "$WORK/$name.$i.out" 2> "$WORK/$name.$i.log" || true) &
      pids+=($!)
    done
    wait "${pids[@]}"
    end=$(date +%s.%N)
    local pages=0 sum=0 max=0 s r
    for i in $(seq 1 "$n"); do
      pages=$((pages + $($count "$WORK/$name.$i")))
      read -r s r < <(timings "$WORK/$name.$i.time")
      sum=$((sum + r)); [ "$r" -gt "$max" ] && max=$r
    done
    echo "$pages $(echo "$end - $start" | bc) $sum $max"
  }
  wget_pages() { grep -c ' URL:' "$1.log" || true; }
  echo "\$ wget --recursive --level=inf --no-verbose --delete-after http://127.0.0.1:PORT+i/   (one per host, all at once)"
  read -r WG_P WG_S WG_SUM WG_MAX < <(group wget wget_pages wget --recursive --level=inf \
      --no-verbose --delete-after --no-host-directories --directory-prefix "$WORK/wget" \
      "http://127.0.0.1:HOSTPORT/")
  row "wget ($(wc -l < "$WORK/site/hosts.txt") processes)" "$WG_P" "$WG_S" "$WG_SUM"
  echo "   (largest single wget process: $(echo "scale=1; $WG_MAX / 1024" | bc) MB)"

  SPIDER_BIN=${SPIDER:-$(command -v spider || true)}
  if [ -n "$SPIDER_BIN" ] && [ -x "$SPIDER_BIN" ]; then
    spider_pages() { grep -c '^http' "$1.out" || true; }
    echo "\$ spider --url http://127.0.0.1:PORT+i/ crawl --output-links   (one per host, all at once)"
    read -r SP_P SP_S SP_SUM SP_MAX < <(group spider spider_pages "$SPIDER_BIN" \
        --url "http://127.0.0.1:HOSTPORT/" crawl --output-links)
    row "spider_cli ($(wc -l < "$WORK/site/hosts.txt") processes)" "$SP_P" "$SP_S" "$SP_SUM"
    echo "   (largest single spider process: $(echo "scale=1; $SP_MAX / 1024" | bc) MB)"
  else
    echo "note: spider_cli not found (set SPIDER=/path/to/spider); skipped"
  fi
  nginx -c "$WORK/nginx.conf" -p "$WORK" -s stop 2>/dev/null || true
  trap - EXIT
  [ "${KEEP:-}" = 1 ] && echo "kept $WORK" || rm -rf "$WORK"
done
