#!/bin/bash
# The job page of a real `basalt server` (SQLite) on a job with a SIZE log
# (default 200M), measured through the binary:
#
#   1. one job is submitted over XML-RPC and taken by bench/web/weblog, a
#      synthetic worker speaking the real worker protocol, which streams a
#      LAVA-shaped log of SIZE into it and keeps the job Running;
#   2. bench/web/pageload opens /scheduler/job/N in headless Chromium RUNS
#      times (a new browser each run): first paint, FCP, DOMContentLoaded,
#      load, bytes received, and when the log's last line (BASALT-FILL-END)
#      appears in the page;
#   3. the live tail: the page is opened once more, then weblog appends
#      TAIL lines (one every TAIL_EVERY) and pageload counts those the page
#      shows and their delay after the server acknowledged each;
#   4. weblog finishes the job Complete and the finished job's page is
#      opened RUNS times again; curl times the page's HTML from the server
#      alone (RUNS runs, running and finished), LAVA's
#      log_pipeline_incremental from line 0 and for the last 100 lines,
#      the Timing tab (which reads the whole log once: first and second
#      view) and the whole log downloaded (log_file/plain).
#
# The server's VmRSS and VmHWM are sampled every 0.2 s through every phase
# (samples.tsv: phase, seconds, RSS KiB, peak KiB). Nothing here asserts a
# time. A run whose page failed (status, marker never shown) is kept in
# runs.jsonl with its error and left out of the medians.
#
#   bench/web/joblog.sh [SIZE] [RUNS]
#   TAIL=100 TAIL_EVERY=200ms bench/web/joblog.sh 200M 5
#
# Results: build/bench/web/joblog-<time>/runs.jsonl, samples.tsv,
# summary.txt. The data folder (SIZE of log) is removed unless KEEP=1.
set -euo pipefail
. "$(dirname "$0")/../server/lib.sh"
SIZE=${1:-200M}
RUNS=${2:-5}
TAIL=${TAIL:-100}
TAIL_EVERY=${TAIL_EVERY:-200ms}
SEED=${SEED:-12}
export BENCH_OUT=${BENCH_OUT:-$ROOT/build/bench/web/joblog-$(date -u +%Y%m%dT%H%M%S)}
bench_init joblog
(cd "$ROOT" && go build -o "$OUT/weblog" ./bench/web/weblog && go build -o "$OUT/pageload" ./bench/web/pageload)
RES=$OUT/runs.jsonl
: >"$RES"

new_lab "$OUT/lab"
add_worker weblog
manage devices add web01 --device-type qemu --worker weblog --dictionary "$ROOT/examples/qemu/device.jinja2" >/dev/null
manage devices update web01 --health Good >/dev/null
start_server

echo idle >"$OUT/phase"
sampler() {
  local t0 phase r h
  t0=$(date +%s.%N)
  while kill -0 "$SERVER_PID" 2>/dev/null; do
    phase=$(cat "$OUT/phase")
    read -r r h < <(rss_kib "$SERVER_PID") || break
    printf '%s\t%.1f\t%s\t%s\n' "$phase" "$(echo "$(date +%s.%N) - $t0" | bc)" "$r" "$h"
    sleep 0.2
  done
}
sampler >"$OUT/samples.tsv" &
PIDS+=("$!")
sleep 1

$PY "$ROOT/bench/server/submit.py" "$RPC" "$ROOT/examples/qemu/job.yaml" 1 1 120 >"$OUT/submit.json"
[ "$(jq -r .ok "$OUT/submit.json")" = 1 ] || { echo "submission failed:" >&2; cat "$OUT/submit.json" >&2; exit 1; }
JOB=$(jq -r .first_id "$OUT/submit.json")
PAGE=$URL/scheduler/job/$JOB

echo fill >"$OUT/phase"
CTL=$OUT/control
mkdir -p "$CTL"
"$OUT/weblog" -url "$URL" -worker weblog -token-file "$DATA/weblog.token" -bytes "$SIZE" -seed "$SEED" \
  -control "$CTL" -tail "$TAIL" -tail-every "$TAIL_EVERY" >"$OUT/weblog.jsonl" 2>"$OUT/weblog.err" &
WEBLOG_PID=$!
PIDS+=("$WEBLOG_PID")
while [ ! -s "$CTL/filled" ]; do
  kill -0 "$WEBLOG_PID" 2>/dev/null || { echo "weblog died:" >&2; cat "$OUT/weblog.err" >&2; exit 1; }
  sleep 0.5
done
echo "{\"side\": \"basalt\", \"what\": \"filled\", \"job\": $JOB, \"fill\": $(cat "$CTL/filled"), \"sha256\": \"$(sha256sum "$DATA/jobs/$JOB/logs.yaml" | cut -c1-64)\"}" >>"$RES"
echo hold >"$OUT/phase"
sleep 3

pages() { # STATE: RUNS page loads in Chromium, then RUNS curl requests
  echo "page-$1" >"$OUT/phase"
  "$OUT/pageload" -url "$PAGE" -runs "$RUNS" -marker BASALT-FILL-END -wait 60s 2>>"$OUT/pageload.err" |
    jq -c --arg s "$1" '{side: "basalt", what: "page-chromium", state: $s} + .' >>"$RES" || true
  echo "curl-$1" >"$OUT/phase"
  local i line code ttfb total size
  for i in $(seq "$RUNS"); do
    line=$(curl -s -o "$OUT/page.html" -m 120 -w '%{http_code} %{time_starttransfer} %{time_total} %{size_download}' "$PAGE" || true)
    read -r code ttfb total size <<<"${line:-000 0 0 0}"
    code=$((10#$code)) # curl says 000 when no answer came
    local last=0
    grep -q BASALT-FILL-END "$OUT/page.html" && last=1
    echo "{\"side\": \"basalt\", \"what\": \"page-curl\", \"state\": \"$1\", \"run\": $i, \"status\": $code, \"ttfb_s\": $ttfb, \"total_s\": $total, \"bytes\": $size, \"holds_last_line\": $last, \"load\": \"$(loadavg)\"}" >>"$RES"
  done
}
pages running

# LAVA's incremental endpoint (what LAVA's own page polls), from line 0
# and for the last 100 lines, as lava-joblog.sh asks LAVA.
incremental() { # NAME LINE
  local i line code ttfb total size warn
  for i in $(seq "$RUNS"); do
    line=$(curl -s -o /dev/null -D "$OUT/headers" -m 120 -w '%{http_code} %{time_starttransfer} %{time_total} %{size_download}' "$PAGE/log_pipeline_incremental?line=$2" || true)
    warn=$(grep -ci '^x-size-warning' "$OUT/headers" 2>/dev/null || true)
    read -r code ttfb total size <<<"${line:-000 0 0 0}"
    code=$((10#$code)) # curl says 000 when no answer came
    echo "{\"side\": \"basalt\", \"what\": \"$1\", \"run\": $i, \"status\": $code, \"ttfb_s\": $ttfb, \"total_s\": $total, \"bytes\": $size, \"size_warning\": ${warn:-0}, \"load\": \"$(loadavg)\"}" >>"$RES"
  done
}
echo incremental >"$OUT/phase"
LINES=$(jq -r .lines "$CTL/filled")
incremental incremental-0 0
incremental incremental-last100 $((LINES - 100))

# The Timing tab reads the whole log once (then only what was added): its
# first view and a second; and the whole log as a download (log_file/plain).
fetch() { # NAME PATH RUNS
  local i line code ttfb total size
  for i in $(seq "$3"); do
    line=$(curl -s -o /dev/null -m 300 -w '%{http_code} %{time_starttransfer} %{time_total} %{size_download}' "$PAGE/$2" || true)
    read -r code ttfb total size <<<"${line:-000 0 0 0}"
    code=$((10#$code)) # curl says 000 when no answer came
    echo "{\"side\": \"basalt\", \"what\": \"$1\", \"run\": $i, \"status\": $code, \"ttfb_s\": $ttfb, \"total_s\": $total, \"bytes\": $size, \"load\": \"$(loadavg)\"}" >>"$RES"
  done
}
echo timing >"$OUT/phase"
fetch timing timing 2
echo plain >"$OUT/phase"
fetch plain log_file/plain "$RUNS"

echo tail >"$OUT/phase"
"$OUT/pageload" -url "$PAGE" -marker BASALT-FILL-END -wait 60s -tail "$CTL" 2>>"$OUT/pageload.err" |
  jq -c '{side: "basalt", what: "tail"} + .' >>"$RES" || true
echo finish >"$OUT/phase"
: >"$CTL/finish"
wait "$WEBLOG_PID" || { echo "weblog failed:" >&2; cat "$OUT/weblog.err" >&2; exit 1; }
sleep 1
pages finished
echo after >"$OUT/phase"
sleep 2
read -r rss hwm < <(rss_kib "$SERVER_PID")
stop_all

stat() { # PHASE: max RSS (MiB) in the phases matching the pattern
  awk -F'\t' -v p="$1" '$1 ~ p && $3 > m {m = $3} END {printf "%.1f", m / 1024}' "$OUT/samples.tsv"
}
first() { # PHASE: the first RSS sample of the phase (MiB)
  awk -F'\t' -v p="$1" '$1 ~ p {printf "%.1f", $3 / 1024; exit}' "$OUT/samples.tsv"
}
{
  echo "basalt server (SQLite), job $JOB with a $(jq -r .fill.bytes "$RES" | grep -v null | head -1)-byte log ($(jq -r .fill.lines "$RES" | grep -v null | head -1) lines); $(nproc) cores; load at end $(loadavg); $RUNS runs"
  jq -rs '
    def med: sort | if length == 0 then null elif length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
    def r(x): if x == null then "-" else (x * 10 | round) / 10 | tostring end;
    (.[] | select(.what == "filled") | "fill: \(.fill.bytes) bytes, \(.fill.lines) lines in \(r(.fill.t_s)) s (\(r(.fill.mb_per_s)) MiB/s)"),
    (group_by(.state) | .[] | select(.[0].state != null) |
      .[0].state as $s |
      ([.[] | select(.what == "page-chromium" and (.error | not))]) as $p |
      ([.[] | select(.what == "page-chromium")]) as $all |
      ([.[] | select(.what == "page-curl" and .status == 200)]) as $c |
      "page (\($s)): chromium ok \($p | length) of \($all | length): first paint \(r($p | map(.first_paint_ms) | med)) ms, FCP \(r($p | map(.first_contentful_paint_ms) | med)) ms, DCL \(r($p | map(.dom_content_loaded_ms) | med)) ms, load \(r($p | map(.load_ms) | med)) ms, last line shown \(r($p | map(.marker_ms) | med)) ms, received \(r($p | map(.bytes_received) | med)) B in \(r($p | map(.requests) | med)) requests, \(r($p | map(.elements) | med)) elements; HTML from the server (curl, ok \($c | length)): \(r($c | map(.total_s * 1000) | med)) ms, \(r($c | map(.bytes) | med)) B, holds the last line: \($c | map(.holds_last_line) | add)/\($c | length)"),
    ([.[] | select(.what == "incremental-0" and .status == 200)] | select(length > 0) | "log_pipeline_incremental?line=0: \(r(map(.total_s * 1000) | med)) ms, \(r(map(.bytes) | med)) B, X-Size-Warning \(map(.size_warning) | add)/\(length)"),
    ([.[] | select(.what == "incremental-last100" and .status == 200)] | select(length > 0) | "log_pipeline_incremental, last 100 lines: \(r(map(.total_s * 1000) | med)) ms, \(r(map(.bytes) | med)) B, X-Size-Warning \(map(.size_warning) | add)/\(length)"),
    ([.[] | select(.what == "timing")] | select(length > 0) | "Timing tab (reads the whole log once): first \(r(.[0].total_s * 1000)) ms (status \(.[0].status)), then \(r(.[1].total_s * 1000)) ms"),
    ([.[] | select(.what == "plain" and .status == 200)] | select(length > 0) | "log_file/plain: \(r(map(.total_s) | med)) s for \(r(map(.bytes) | med)) B"),
    (.[] | select(.what == "tail") | "live tail: \(.lines_shown) of \(.lines_sent) lines shown; delay after the server acknowledged: median \(.delay_ms_median) ms, p90 \(.delay_ms_p90), max \(.delay_ms_max)\(if .error then " (" + .error + ")" else "" end)")
  ' "$RES"
  printf '%-44s %s\n' "server RSS idle (MiB)" "$(stat '^idle$')"
  printf '%-44s %s\n' "server RSS max while the log streams in" "$(stat '^fill$')"
  printf '%-44s %s\n' "server RSS held (filled, before any page)" "$(first '^hold$')"
  printf '%-44s %s\n' "server RSS max while pages load (running)" "$(stat 'running$')"
  printf '%-44s %s\n' "server RSS max: incremental / Timing / plain" "$(stat '^incremental$') / $(stat '^timing$') / $(stat '^plain$')"
  printf '%-44s %s\n' "server RSS max while the live tail streams" "$(stat '^tail$')"
  printf '%-44s %s\n' "server RSS max while pages load (finished)" "$(stat 'finished$')"
  printf '%-44s %s\n' "server RSS at the end / peak (VmHWM)" "$((rss / 1024)) / $((hwm / 1024))"
} | tee "$OUT/summary.txt"
[ "${KEEP:-0}" = 1 ] || rm -rf "$OUT/lab/jobs"
