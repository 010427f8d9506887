#!/bin/bash
# What Debian's lava-server 2023.01 (the anchor, ../shared/anchor/lava-server/)
# costs to show a job page on the log of bench/web/joblog.sh: the same
# bytes (bench/web/weblog -write, same seed and size) put as output.yaml
# (and LAVA's output.idx) in the folder of a finished LAVA job, then:
#
#   - the job page /scheduler/job/N in the same headless Chromium
#     (bench/web/pageload: first paint, FCP, DOMContentLoaded, load, bytes,
#     when the log's last line appears; a run that has not finished loading
#     after CHROMIUM_WAIT (180s) is kept with its error), RUNS runs;
#   - the server's time for the page and for log_pipeline_incremental
#     (from line 0, and the last 100 lines: what LAVA's page polls while a
#     job runs), curl, RUNS runs each (one run of each for a log of 100 MB
#     or more that LAVA renders: minutes a request);
#   - gunicorn's memory: its 4 workers' RSS and peak (VmHWM), summed and
#     the largest, before and after each size, and sampled every 0.5 s
#     (gunicorn.tsv; a worker killed by gunicorn's timeout loses its VmHWM).
#
# LAVA refuses to show a log of LOG_SIZE_LIMIT (5 MB by default) or more
# on the job page: it shows "This log file is too large to view" and
# log_pipeline_incremental answers [] with X-Size-Warning. So the sizes run
# twice: with Debian's settings (SIZES_DEFAULT, one under the limit, one
# at 200 MB), then with LOG_SIZE_LIMIT raised to 1024 MB by a settings
# file (/etc/lava-server/settings.d/60-bench-web.yaml, removed at the end)
# and gunicorn restarted (SIZES_RAISED): what the page costs when LAVA
# does render the log.
#
#   bench/web/lava-joblog.sh [RUNS]
#   SIZES_DEFAULT="4M 200M" SIZES_RAISED="20M 200M" bench/web/lava-joblog.sh 5
#
# It starts the anchor's LAVA with its setup.sh when it is not running and
# always stops it with stop.sh at the end (the machine is shared); the
# jobs it made are deleted. Results: build/bench/web/lava-joblog-<time>/
# runs.jsonl, summary.txt.
set -euo pipefail
. "$(dirname "$0")/../server/lib.sh"
RUNS=${1:-5}
SIZES_DEFAULT=${SIZES_DEFAULT-4M 200M}
SIZES_RAISED=${SIZES_RAISED-20M 200M}
SEED=${SEED:-12}
CHROMIUM_WAIT=${CHROMIUM_WAIT:-180s}
ANCHOR=${LAVA_ANCHOR:-$ROOT/../shared/anchor/lava-server}
OUT=${BENCH_OUT:-$ROOT/build/bench/web/lava-joblog-$(date -u +%Y%m%dT%H%M%S)}
mkdir -p "$OUT"
echo "output: $OUT" >&2
(cd "$ROOT" && go build -o "$OUT/weblog" ./bench/web/weblog && go build -o "$OUT/pageload" ./bench/web/pageload)
RES=$OUT/runs.jsonl
: >"$RES"

LAVA_STATE=/var/lib/lava-server-anchor
LAVA_RUN=/run/lava-anchor
SETTINGS=/etc/lava-server/settings.d/60-bench-web.yaml
lava_start() {
  echo "starting Debian's lava-server: $ANCHOR/setup.sh (log in $OUT/lava-setup.log)" >&2
  (cd "$ROOT" && "$ANCHOR/setup.sh") >>"$OUT/lava-setup.log" 2>&1 ||
    { tail -20 "$OUT/lava-setup.log" >&2; exit 1; }
}
lava_stop() {
  "$ANCHOR/stop.sh" >>"$OUT/lava-stop.log" 2>&1 || echo "lava stop.sh failed: see $OUT/lava-stop.log" >&2
}
lava_manage() { # MODE [VAR=VALUE...]: lava-joblog.py; prints its BENCH JSON
  local mode=$1
  shift
  env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin BENCH_MODE="$mode" "$@" \
    lava-server manage shell <"$ROOT/bench/web/lava-joblog.py" >"$OUT/lava-$mode.out" 2>&1 || true
  grep '^BENCH ' "$OUT/lava-$mode.out" | tail -1 | cut -c7- | grep . ||
    { echo "lava-joblog.py $mode failed:" >&2; tail -20 "$OUT/lava-$mode.out" >&2; return 1; }
}
on_exit() {
  stop_all
  lava_manage clean >/dev/null 2>&1 || true
  rm -f "$SETTINGS"
  lava_stop
  rm -f "$OUT"/log-*.yaml
}
trap on_exit EXIT
trap 'on_exit; exit 130' INT TERM

gunicorn_workers() {
  ps -o pid= --ppid "$(cat "$LAVA_RUN/gunicorn.pid")"
}
# gunicorn_mem: JSON of the workers' RSS sum, largest RSS, largest VmHWM (MiB).
gunicorn_mem() {
  local p r h sum=0 maxr=0 maxh=0
  for p in $(gunicorn_workers); do
    read -r r h < <(rss_kib "$p")
    sum=$((sum + r))
    [ "$r" -gt "$maxr" ] && maxr=$r
    [ "$h" -gt "$maxh" ] && maxh=$h
  done
  echo "{\"workers_rss_mib\": $((sum / 1024)), \"max_worker_rss_mib\": $((maxr / 1024)), \"max_worker_hwm_mib\": $((maxh / 1024))}"
}
# gunicorn_sampler: every 0.5 s, the phase (settings and size), the
# workers' RSS sum and largest RSS (KiB), to gunicorn.tsv: a worker killed
# by gunicorn's timeout takes its peak with it, the samples keep it.
echo start >"$OUT/phase"
gunicorn_sampler() {
  local p r h sum maxr
  while :; do
    sum=0
    maxr=0
    if [ -s "$LAVA_RUN/gunicorn.pid" ]; then
      for p in $(gunicorn_workers 2>/dev/null); do
        read -r r h < <(rss_kib "$p" 2>/dev/null) || continue
        sum=$((sum + r))
        [ "$r" -gt "$maxr" ] && maxr=$r
      done
    fi
    printf '%s\t%s\t%s\n' "$(cat "$OUT/phase")" "$sum" "$maxr"
    sleep 0.5
  done
}
gunicorn_sampler >"$OUT/gunicorn.tsv" 2>/dev/null &
PIDS+=("$!")
to_bytes() {
  case $1 in
  *G) echo $((${1%G} << 30)) ;; *M) echo $((${1%M} << 20)) ;; *K) echo $((${1%K} << 10)) ;; *) echo "$1" ;;
  esac
}
# curl_runs NAME URL: RUNS requests, one JSON line each (server time to
# first byte and total, bytes, status, X-Size-Warning).
curl_runs() {
  local name=$1 url=$2 i line warn
  for i in $(seq "$runs"); do
    line=$(curl -s -o /dev/null -D "$OUT/headers" -m 900 -w '%{http_code} %{time_starttransfer} %{time_total} %{size_download}' "$url" || true)
    warn=$(grep -ci '^x-size-warning' "$OUT/headers" 2>/dev/null || true)
    read -r code ttfb total size <<<"${line:-000 0 0 0}"
    code=$((10#$code)) # curl says 000 when no answer came
    echo "{\"side\": \"lava\", \"settings\": \"$settings\", \"size\": \"$size_name\", \"what\": \"$name\", \"run\": $i, \"status\": $code, \"ttfb_s\": $ttfb, \"total_s\": $total, \"bytes\": $size, \"size_warning\": ${warn:-0}, \"load\": \"$(loadavg)\"}" >>"$RES"
  done
}

measure_sizes() { # SETTINGS_NAME SIZES...
  settings=$1
  shift
  local port base
  port=$(cat "$LAVA_STATE/port" 2>/dev/null || echo 24080)
  base=http://127.0.0.1:$port
  # The first request after gunicorn starts takes seconds (its imports).
  curl -s -o /dev/null -m 120 "$base/scheduler/" || true
  for size_name in "$@"; do
    local log=$OUT/log-$size_name.yaml made id lines marker
    echo "make $settings $size_name" >"$OUT/phase"
    "$OUT/weblog" -write "$log" -bytes "$size_name" -seed "$SEED" >"$OUT/write-$size_name.json"
    made=$(lava_manage make DEF="$LAVA_STATE/jobs/qemu-example.yaml" LOG="$log")
    id=$(jq -r .id <<<"$made")
    lines=$(jq -r .lines <<<"$made")
    echo "{\"side\": \"lava\", \"settings\": \"$settings\", \"size\": \"$size_name\", \"what\": \"job\", \"job\": $made, \"sha256\": \"$(sha256sum "$log" | cut -c1-64)\", \"gunicorn_before\": $(gunicorn_mem)}" >>"$RES"
    rm -f "$log"
    # Rendered: the log's last line is on the page; refused: the notice.
    marker=BASALT-FILL-END
    if [ "$settings" = default ] && [ "$(to_bytes "$size_name")" -ge $((5 << 20)) ]; then
      marker="too large to view"
    fi
    # A log LAVA renders whole at 100 MB or more costs minutes a request:
    # one run of each then.
    runs=$RUNS
    if [ "$settings" = raised ] && [ "$(to_bytes "$size_name")" -ge $((100 << 20)) ]; then
      runs=1
    fi
    echo "$settings $size_name" >"$OUT/phase"
    curl_runs page "$base/scheduler/job/$id"
    "$OUT/pageload" -url "$base/scheduler/job/$id" -runs "$runs" -marker "$marker" -wait "$CHROMIUM_WAIT" 2>>"$OUT/pageload.err" |
      jq -c --arg s "$settings" --arg z "$size_name" --arg m "$marker" '{side: "lava", settings: $s, size: $z, what: "page-chromium", marker: $m} + .' >>"$RES" || true
    curl_runs incremental-0 "$base/scheduler/job/$id/log_pipeline_incremental?line=0"
    curl_runs incremental-last100 "$base/scheduler/job/$id/log_pipeline_incremental?line=$((lines - 100))"
    curl_runs plain "$base/scheduler/job/$id/log_file/plain"
    local peak
    peak=$(awk -F'\t' -v p="$settings $size_name" '$1 == p && $2 > s {s = $2} $1 == p && $3 > m {m = $3} END {printf "{\"workers_rss_mib\": %d, \"max_worker_rss_mib\": %d}", s / 1024, m / 1024}' "$OUT/gunicorn.tsv")
    echo "{\"side\": \"lava\", \"settings\": \"$settings\", \"size\": \"$size_name\", \"what\": \"memory-after\", \"gunicorn\": $(gunicorn_mem), \"gunicorn_sampled_max\": $peak, \"load\": \"$(loadavg)\"}" >>"$RES"
    lava_manage clean >/dev/null
  done
}

rm -f "$SETTINGS"
lava_stop
lava_start
measure_sizes default $SIZES_DEFAULT
if [ -n "$SIZES_RAISED" ]; then
  lava_stop
  printf '# bench/web/lava-joblog.sh: LAVA renders logs up to 1 GB (removed at its end)\nLOG_SIZE_LIMIT: 1024\n' >"$SETTINGS"
  lava_start
  measure_sizes raised $SIZES_RAISED
fi

{
  echo "Debian lava-server 2023.01 job page, $RUNS runs each; $(nproc) cores, load at end $(loadavg)"
  jq -rs '
    def med: sort | if length == 0 then null elif length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
    def r(x): if x == null then "-" else (x * 1000 | round) / 1000 | tostring end;
    group_by([.settings, .size]) | .[] |
    (.[0].settings + " " + .[0].size) as $k |
    ([.[] | select(.what == "page-chromium" and (.error | not))]) as $p |
    ([.[] | select(.what == "page" and .status == 200)]) as $c |
    ([.[] | select(.what == "incremental-0" and .status == 200)]) as $i0 |
    ([.[] | select(.what == "incremental-last100" and .status == 200)]) as $i1 |
    ([.[] | select(.what == "plain" and .status == 200)]) as $pl |
    (.[] | select(.what == "memory-after") | .gunicorn) as $m |
    ([.[] | select(.what == "page-chromium")]) as $all |
    "\($k): chromium ok \($p | length) of \($all | length) (first contentful paint as the browser reported it, every run: \(r($all | map(.lifecycle_ms.firstContentfulPaint // empty) | med)) ms in \($all | map(.lifecycle_ms.firstContentfulPaint // empty) | length)): FP \(r($p | map(.first_paint_ms) | med)) ms, FCP \(r($p | map(.first_contentful_paint_ms) | med)) ms, DCL \(r($p | map(.dom_content_loaded_ms) | med)) ms, marker \(r($p | map(.marker_ms) | med)) ms, received \(r($p | map(.bytes_received) | med)) B; " +
    "page (curl) ok \($c | length): \(r($c | map(.total_s) | med)) s, \(r($c | map(.bytes) | med)) B; " +
    "incremental line=0 ok \($i0 | length): \(r($i0 | map(.total_s) | med)) s \(r($i0 | map(.bytes) | med)) B warn \($i0 | map(.size_warning) | add); last 100: \(r($i1 | map(.total_s) | med)) s \(r($i1 | map(.bytes) | med)) B; plain: \(r($pl | map(.total_s) | med)) s \(r($pl | map(.bytes) | med)) B; " +
    "gunicorn after: \($m); sampled max: \(.[] | select(.what == "memory-after") | .gunicorn_sampled_max)"
  ' "$RES"
} | tee "$OUT/summary.txt"
