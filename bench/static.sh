#!/usr/bin/env bash
# Static files: the `static` example against nginx (`sendfile on`,
# `open_file_cache` on, as a tuned nginx serves them), both with one
# worker pinned to one CPU, wrk with one thread pinned to the other, on
# 127.0.0.1, 100 keep-alive connections, for files of 1 KiB, 64 KiB and
# 1 MiB served from the same directory.
#
#   bench/static.sh
#   ROUNDS=1 DURATION=3s SIZES="1024 65536" bench/static.sh
#
# Server CPU per request is the server's utime + stime (/proc/PID/stat
# fields 14 and 15, nginx's master and worker added) over the wrk run,
# divided by the requests wrk completed.
#
# Environment (defaults in brackets):
#   ROUNDS [3]  DURATION [10s]  WARMUP [2s, 0 for none]  CONNS [100]
#   SIZES ["1024 65536 1048576"]  SERVER_CPU [0]  CLIENT_CPU [1]
#   PEREGRINE_PORT [18090]  NGINX_PORT [18091]  REVALIDATE_MS [1000]
#
# The Markdown report goes to standard output and to
# bench/results/static-*.md; the raw wrk output to bench/results/static-*.log.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-100}
SIZES=${SIZES:-1024 65536 1048576}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PEREGRINE_PORT=${PEREGRINE_PORT:-18090}
NGINX_PORT=${NGINX_PORT:-18091}
REVALIDATE_MS=${REVALIDATE_MS:-1000}
STATIC=$ROOT/target/release/examples/static

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer, not '$CONNS'"
[[ $REVALIDATE_MS =~ ^[0-9]+$ ]] || die "REVALIDATE_MS must be a number, not '$REVALIDATE_MS'"
for s in $SIZES; do [[ $s =~ ^[1-9][0-9]*$ ]] || die "SIZES: not a size: $s"; done
[ "$(nproc)" -ge 2 ] || note "only $(nproc) CPU: server and wrk will share it"

need_commands wrk:wrk nginx:nginx-light curl:curl taskset:util-linux
note "building static (release)"
(cd "$ROOT" && cargo build --release --quiet -p peregrine-examples --example static) ||
    die "cargo build failed"
raise_fd_limit

tmp=$(mktemp -d "${TMPDIR:-/tmp}/peregrine-static.XXXXXX")
chmod 755 "$tmp" # nginx's worker runs as another user when started as root
start_report static TERM

# The site: index.html (what wait_ready asks for: 5 bytes) and one file
# per size, readable by nginx's worker.
site=$tmp/site
mkdir -p "$site"
printf 'ready' >"$site/index.html"
for size in $SIZES; do
    head -c "$size" /dev/urandom >"$site/file-$size.bin"
done
chmod -R a+rX "$site"

# Peregrine checks a cached file on disk once a second, as nginx's
# `open_file_cache_valid 1s` does (REVALIDATE_MS=0: at every request).
start_peregrine() {
    start_static_peregrine --revalidate-ms "$REVALIDATE_MS"
}

start_nginx() {
    start_static_nginx '    types { text/html html; }' ''
}


echo "# Peregrine vs nginx: static files"
echo
machine_line
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "servers: one worker, taskset -c $SERVER_CPU; wrk -t1 -c$CONNS, taskset -c $CLIENT_CPU; nginx $(nginx -v 2>&1 | sed 's/.*\///') (sendfile on, open_file_cache on, valid 1s); peregrine --revalidate-ms $REVALIDATE_MS"
echo "rounds: $ROUNDS × $DURATION per server and size, interleaved (warm-up $WARMUP); medians below"
echo "raw: ${log#"$ROOT"/}"
echo

start_peregrine
start_nginx
for size in $SIZES; do
    path=/file-$size.bin
    got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$PEREGRINE_PORT$path")
    [ "$got" = "200 $size" ] || die "peregrine answered $path with '$got'"
    got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$NGINX_PORT$path")
    [ "$got" = "200 $size" ] || die "nginx answered $path with '$got'"
    if [ "$WARMUP" != 0 ]; then
        run_wrk peregrine "$peregrine_pid" warmup "$WARMUP" -c"$CONNS" "http://127.0.0.1:$PEREGRINE_PORT$path"
        run_wrk nginx "$nginx_pid" warmup "$WARMUP" -c"$CONNS" "http://127.0.0.1:$NGINX_PORT$path"
    fi
    for _ in $(seq "$ROUNDS"); do
        run_wrk peregrine "$peregrine_pid" "$size" "$DURATION" -c"$CONNS" "http://127.0.0.1:$PEREGRINE_PORT$path"
        run_wrk nginx "$nginx_pid" "$size" "$DURATION" -c"$CONNS" "http://127.0.0.1:$NGINX_PORT$path"
    done
done
stop_pid "$peregrine_pid" INT 10 || note "peregrine did not stop on SIGINT; killed"
stop_pid "$nginx_pid" QUIT 10 || note "nginx did not stop on SIGQUIT; killed"
pids=()

echo "| file | peregrine req/s | nginx req/s | req/s ratio | peregrine µs CPU/req | nginx µs CPU/req | CPU ratio | peregrine µs user/req | nginx µs user/req | errors |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $SIZES; do
    p_rps=$(med "$size" peregrine 4)
    n_rps=$(med "$size" nginx 4)
    p_us=$(med "$size" peregrine 7)
    n_us=$(med "$size" nginx 7)
    p_user=$(med "$size" peregrine 10)
    n_user=$(med "$size" nginx 10)
    errors=$(awk -v l="$size" '$1 == "run" && $2 == l { s += $9 } END { print s + 0 }' "$log")
    printf '| %s B | %.0f | %.0f | %s | %.2f | %.2f | %s | %.2f | %.2f | %s |\n' "$size" "$p_rps" "$n_rps" \
        "$(fmt_ratio "$p_rps" "$n_rps")" "$p_us" "$n_us" "$(fmt_ratio "$p_us" "$n_us")" \
        "$p_user" "$n_user" "$errors"
done
echo
echo "req/s ratio: peregrine over nginx (above 1: peregrine serves more); CPU ratio: peregrine's CPU per request over nginx's (below 1: peregrine spends less); µs user/req: the part of the CPU per request spent in user space (the rest is the kernel's: system calls, and on loopback the receiving side's TCP work, which runs in the sender's context)."
