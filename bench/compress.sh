#!/usr/bin/env bash
# Compressed responses: the `static` example's /api/items (a 2 KiB JSON
# list made for each request, gzip level 1) against nginx serving the
# same JSON as a static file with `gzip on; gzip_comp_level 1;`, both
# with one worker pinned to one CPU, wrk with one thread pinned to the
# other, on 127.0.0.1, 100 keep-alive connections, every request saying
# `Accept-Encoding: gzip`.
#
#   bench/compress.sh
#   ROUNDS=1 DURATION=3s bench/compress.sh
#
# Peregrine builds its JSON and compresses it per request; nginx reads
# its file from the page cache (open_file_cache on) and compresses it
# per request: both pay for deflate at level 1 each time.
#
# Environment (defaults in brackets):
#   ROUNDS [3]  DURATION [10s]  WARMUP [2s, 0 for none]  CONNS [100]
#   SERVER_CPU [0]  CLIENT_CPU [1]  PEREGRINE_PORT [18092]  NGINX_PORT [18093]
#
# The Markdown report goes to standard output and to
# bench/results/compress-*.md; the raw wrk output to bench/results/compress-*.log.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-100}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PEREGRINE_PORT=${PEREGRINE_PORT:-18092}
NGINX_PORT=${NGINX_PORT:-18093}
STATIC=$ROOT/target/release/examples/static
API=/api/items

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer, not '$CONNS'"
[ "$(nproc)" -ge 2 ] || note "only $(nproc) CPU: server and wrk will share it"

need_commands wrk:wrk nginx:nginx-light curl:curl taskset:util-linux
note "building static (release)"
(cd "$ROOT" && cargo build --release --quiet -p peregrine-examples --example static) ||
    die "cargo build failed"
raise_fd_limit

tmp=$(mktemp -d "${TMPDIR:-/tmp}/peregrine-compress.XXXXXX")
chmod 755 "$tmp" # nginx's worker runs as another user when started as root
start_report compress TERM

# The site: index.html (what wait_ready asks for: 5 bytes), and for
# nginx the JSON Peregrine answers, fetched from it once it is up.
site=$tmp/site
mkdir -p "$site"
printf 'ready' >"$site/index.html"
chmod -R a+rX "$site"

start_peregrine() {
    start_static_peregrine --compress --gzip-level 1
}

start_nginx() {
    start_static_nginx '    types { text/html html; application/json json; }
    gzip on;
    gzip_comp_level 1;
    gzip_types application/json;
    gzip_vary on;' "        location = $API {
            default_type application/json;
            alias $site/items.json;
        }"
}

# Checks that PORT answers $API gzip-compressed, decoding to the JSON;
# prints the compressed size.
check_gzip() {
    local port=$1 name=$2 headers body
    headers=$(curl -s --max-time 5 -H 'Accept-Encoding: gzip' -D - -o "$tmp/$name.gz" \
        "http://127.0.0.1:$port$API") || die "$name did not answer $API"
    grep -qi '^content-encoding: gzip' <<<"$headers" || die "$name did not gzip $API: $headers"
    body=$(gzip -dc "$tmp/$name.gz") || die "$name sent gzip that does not decode"
    [ "$body" = "$(cat "$site/items.json")" ] || die "$name's JSON differs from Peregrine's"
    wc -c <"$tmp/$name.gz"
}

echo "# Peregrine vs nginx: a 2 KiB JSON answer, gzip level 1"
echo
machine_line
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "servers: one worker, taskset -c $SERVER_CPU; wrk -t1 -c$CONNS -H 'Accept-Encoding: gzip', taskset -c $CLIENT_CPU; nginx $(nginx -v 2>&1 | sed 's/.*\///') (gzip on, gzip_comp_level 1, the JSON as a static file)"
echo "rounds: $ROUNDS × $DURATION per server, interleaved (warm-up $WARMUP); medians below"
echo "raw: ${log#"$ROOT"/}"
echo

start_peregrine
curl -s --max-time 5 -H 'Accept-Encoding: identity' -o "$site/items.json" \
    "http://127.0.0.1:$PEREGRINE_PORT$API" || die "peregrine did not answer $API"
chmod a+r "$site/items.json"
start_nginx
json_bytes=$(wc -c <"$site/items.json")
p_gz=$(check_gzip "$PEREGRINE_PORT" peregrine)
n_gz=$(check_gzip "$NGINX_PORT" nginx)
echo "JSON: $json_bytes bytes; gzip level 1: Peregrine $p_gz bytes, nginx $n_gz bytes"
echo

wrk_args=(-c"$CONNS" -H "Accept-Encoding: gzip")
if [ "$WARMUP" != 0 ]; then
    run_wrk peregrine - warmup "$WARMUP" "${wrk_args[@]}" "http://127.0.0.1:$PEREGRINE_PORT$API"
    run_wrk nginx - warmup "$WARMUP" "${wrk_args[@]}" "http://127.0.0.1:$NGINX_PORT$API"
fi
for _ in $(seq "$ROUNDS"); do
    run_wrk peregrine - json "$DURATION" "${wrk_args[@]}" "http://127.0.0.1:$PEREGRINE_PORT$API"
    run_wrk nginx - json "$DURATION" "${wrk_args[@]}" "http://127.0.0.1:$NGINX_PORT$API"
done
stop_pid "$peregrine_pid" INT 10 || note "peregrine did not stop on SIGINT; killed"
stop_pid "$nginx_pid" QUIT 10 || note "nginx did not stop on SIGQUIT; killed"
pids=()

p_rps=$(med json peregrine 4)
n_rps=$(med json nginx 4)
errors=$(awk '$1 == "run" && $2 == "json" { s += $9 } END { print s + 0 }' "$log")
echo "| answer | peregrine req/s | nginx req/s | ratio | errors |"
echo "|---|---:|---:|---:|---:|"
printf '| %s B JSON, gzip 1 | %.0f | %.0f | %s |  %s |\n' "$json_bytes" "$p_rps" "$n_rps" \
    "$(fmt_ratio "$p_rps" "$n_rps")" "$errors"
echo
echo "ratio: peregrine's req/s over nginx's (above 1: peregrine serves more)."
