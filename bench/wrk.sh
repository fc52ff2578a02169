#!/usr/bin/env bash
# Throughput, latency and server CPU per request: the `hello` example
# against nginx, both with one worker pinned to one CPU, wrk with one
# thread pinned to the other, on 127.0.0.1.
#
#   bench/wrk.sh                       # the full matrix, 3 rounds of 10 s
#   ROUNDS=1 DURATION=3s BODIES=13 CONNS=100 MODES=pipelined bench/wrk.sh
#
# Matrix: body 13 B and 6150 B × 100 and 1000 connections × plain and
# pipelined (16 requests per write, bench/pipeline.lua). In each cell the
# servers take turns, peregrine then nginx, ROUNDS times, and the report
# gives the medians. Cells without pipelining also run the `floor` example
# in the same turns: one recv and one send of the same answer per request
# and nothing else, the kernel's share of a request, against which both
# servers' CPU per request can be read. Server CPU per request is the server's utime + stime
# (/proc/PID/stat fields 14 and 15, nginx's master and worker added) over
# the wrk run, divided by the requests wrk completed.
#
# Environment (defaults in brackets):
#   PEREGRINE_ARGS [""]: more options for hello, e.g. "--backend std --model pool"
#   (one worker or thread either way; `--model single` or `per-connection`
#   measure the std backend's other models)
#   ROUNDS [3]  DURATION [10s]  WARMUP [2s, 0 for none]  PAUSE [1, seconds between runs]
#   BODIES ["13 6150"]  CONNS ["100 1000"]  MODES ["plain pipelined"]  DEPTH [16]
#   FLOOR [1, 0 to leave the floor out]
#   SERVER_CPU [0]  CLIENT_CPU [1]  PEREGRINE_PORT [18080]  NGINX_PORT [18081]
#   FLOOR_PORT [18082]
#
# The Markdown report goes to standard output and to bench/results/wrk-*.md;
# every run's raw wrk output and figures go to bench/results/wrk-*.log.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PEREGRINE_ARGS=${PEREGRINE_ARGS:-}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
PAUSE=${PAUSE:-1}
BODIES=${BODIES:-13 6150}
CONNS=${CONNS:-100 1000}
MODES=${MODES:-plain pipelined}
DEPTH=${DEPTH:-16}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PEREGRINE_PORT=${PEREGRINE_PORT:-18080}
NGINX_PORT=${NGINX_PORT:-18081}
FLOOR=${FLOOR:-1}
FLOOR_PORT=${FLOOR_PORT:-18082}
FLOOR_BIN=$ROOT/target/release/examples/floor

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
[[ $DEPTH =~ ^[1-9][0-9]*$ ]] || die "DEPTH must be a positive integer, not '$DEPTH'"
duration_s=$(seconds "$DURATION")
[[ $duration_s =~ ^[0-9]+$ && $duration_s -gt 0 ]] || die "DURATION must be at least 1s, not '$DURATION'"
[ "$WARMUP" = 0 ] || seconds "$WARMUP" >/dev/null
for b in $BODIES; do [[ $b =~ ^[1-9][0-9]*$ ]] || die "BODIES: not a size: $b"; done
for c in $CONNS; do [[ $c =~ ^[1-9][0-9]*$ ]] || die "CONNS: not a count: $c"; done
for m in $MODES; do [[ $m == plain || $m == pipelined ]] || die "MODES: plain or pipelined, not $m"; done
[ "$(nproc)" -ge 2 ] || note "only $(nproc) CPU: server and wrk will share it"

need_commands wrk:wrk nginx:nginx-light curl:curl taskset:util-linux
build_hello
if [ "$FLOOR" != 0 ]; then
    note "building floor (release)"
    (cd "$ROOT" && cargo build --release --quiet -p peregrine-examples --example floor) ||
        die "cargo build of the floor example failed"
fi
raise_fd_limit

tmp=$(mktemp -d "${TMPDIR:-/tmp}/peregrine-wrk.XXXXXX")
chmod 755 "$tmp" # nginx's worker runs as another user when started as root
start_report wrk TERM

start_peregrine() { # BODY_FILE SIZE
    local out=$tmp/peregrine-$2.out
    port_free "$PEREGRINE_PORT"
    # shellcheck disable=SC2086 # PEREGRINE_ARGS is a list of options
    taskset -c "$SERVER_CPU" "$HELLO" --port "$PEREGRINE_PORT" --workers 1 \
        --body-file "$1" --grace-ms 1000 $PEREGRINE_ARGS >"$out" 2>&1 &
    peregrine_pid=$!
    pids+=("$peregrine_pid")
    wait_ready "$PEREGRINE_PORT" "$peregrine_pid" "$2" 30 "$out"
}

start_floor() { # BODY_FILE SIZE
    local out=$tmp/floor-$2.out
    port_free "$FLOOR_PORT"
    taskset -c "$SERVER_CPU" "$FLOOR_BIN" --port "$FLOOR_PORT" --body-file "$1" >"$out" 2>&1 &
    floor_pid=$!
    pids+=("$floor_pid")
    wait_ready "$FLOOR_PORT" "$floor_pid" "$2" 30 "$out"
}

start_nginx() { # BODY_FILE SIZE
    local dir=$tmp/nginx-$2
    port_free "$NGINX_PORT"
    mkdir -p "$dir"
    chmod 755 "$dir"
    write_nginx_conf "$dir" "$NGINX_PORT" "$1" on
    taskset -c "$SERVER_CPU" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
        >"$dir/stdout" 2>&1 &
    nginx_pid=$!
    pids+=("$nginx_pid")
    wait_ready "$NGINX_PORT" "$nginx_pid" "$2" 30 "$dir/error.log"
}

stop_servers() {
    stop_pid "$peregrine_pid" INT 10 || note "peregrine did not stop on SIGINT; killed"
    stop_pid "$nginx_pid" QUIT 10 || note "nginx did not stop on SIGQUIT; killed"
    # The floor has no graceful shutdown: SIGTERM ends it.
    [ -z "$floor_pid" ] || stop_pid "$floor_pid" TERM 10 || note "floor did not stop on SIGTERM; killed"
    floor_pid=
    pids=()
}

# The pid and port of peregrine, nginx or floor.
server_pid() {
    case $1 in
    peregrine) echo "$peregrine_pid" ;;
    nginx) echo "$nginx_pid" ;;
    floor) echo "$floor_pid" ;;
    esac
}
server_port() {
    case $1 in
    peregrine) echo "$PEREGRINE_PORT" ;;
    nginx) echo "$NGINX_PORT" ;;
    floor) echo "$FLOOR_PORT" ;;
    esac
}

# One wrk run against S (peregrine, nginx or floor): CONNS MODE DURATION
# LABEL, through run_wrk (bench/common.sh), pipelined DEPTH deep in mode
# `pipelined`.
wrk_cell() { # S CONNS MODE DURATION LABEL
    local s=$1 conns=$2 mode=$3 duration=$4 label=$5
    local args=(-c"$conns" --latency)
    [ "$mode" = pipelined ] && args+=(-s "$BENCH_DIR/pipeline.lua")
    args+=("http://127.0.0.1:$(server_port "$s")/")
    [ "$mode" = pipelined ] && args+=(-- "$DEPTH")
    run_wrk "$s" "$(server_pid "$s")" "$label" "$duration" "${args[@]}"
}

# Formatting for the report.
fmt_int() { printf '%.0f' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
fmt_lat() { awk -v u="$1" 'BEGIN { if (u == "-" || u == "nan") print "-"; else if (u < 1000) printf "%.0f µs\n", u; else printf "%.2f ms\n", u / 1000 }'; }

summary=()
floor_pid=

echo "# Peregrine vs nginx: wrk"
echo
machine_line
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "servers: one worker, taskset -c $SERVER_CPU; wrk -t1, taskset -c $CLIENT_CPU; nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)"
echo "rounds: $ROUNDS × $DURATION per server and cell, interleaved (warm-up $WARMUP); medians below"
echo "raw: ${log#"$ROOT"/}"

for size in $BODIES; do
    body=$tmp/body-$size
    write_body "$size" "$body"
    start_peregrine "$body" "$size"
    start_nginx "$body" "$size"
    [ "$FLOOR" = 0 ] || [[ " $MODES " != *" plain "* ]] || start_floor "$body" "$size"
    for conns in $CONNS; do
        for mode in $MODES; do
            label="${size}B-c${conns}-${mode}"
            note "cell $label"
            errors_seen=0
            servers=(peregrine nginx)
            [ "$mode" = plain ] && [ -n "$floor_pid" ] && servers+=(floor)
            if [ "$WARMUP" != 0 ]; then
                for s in "${servers[@]}"; do
                    wrk_cell "$s" "$conns" "$mode" "$WARMUP" warmup
                    sleep "$PAUSE"
                done
            fi
            for round in $(seq "$ROUNDS"); do
                note "round $round/$ROUNDS"
                for s in "${servers[@]}"; do
                    wrk_cell "$s" "$conns" "$mode" "$DURATION" "$label"
                    sleep "$PAUSE"
                done
            done

            title="$size B, $conns connections, "
            [ "$mode" = plain ] && title+="no pipelining" || title+="pipelined ×$DEPTH"
            echo
            echo "### $title"
            echo
            rps_ratio=$(fmt_ratio "$(med "$label" peregrine 4)" "$(med "$label" nginx 4)")
            cpu_ratio=$(fmt_ratio "$(med "$label" peregrine 7)" "$(med "$label" nginx 7)")
            echo "| server | req/s | p50 | p99 | server CPU µs/request |"
            echo "|---|---:|---:|---:|---:|"
            for s in "${servers[@]}"; do
                if [ "$mode" = plain ]; then
                    p50=$(fmt_lat "$(med "$label" "$s" 5)") p99=$(fmt_lat "$(med "$label" "$s" 6)")
                else
                    p50=n/a p99=n/a
                fi
                echo "| $s | $(fmt_int "$(med "$label" "$s" 4)") | $p50 | $p99 | $(printf '%.2f' "$(med "$label" "$s" 7)") |"
            done
            echo "| peregrine/nginx | $rps_ratio | | | $cpu_ratio |"
            floor_cpu=- floor_ratio=-
            if [[ " ${servers[*]} " == *" floor "* ]]; then
                floor_cpu=$(printf '%.2f' "$(med "$label" floor 7)")
                floor_ratio=$(fmt_ratio "$(med "$label" floor 7)" "$(med "$label" nginx 7)")
                echo "| floor/nginx | | | | $floor_ratio |"
            fi
            if [ "$mode" = pipelined ]; then
                echo
                echo "Latency n/a: under pipelining wrk 4.1's latency correction assumes one request per write and its percentiles come out wrong (p99 often 0); the raw figures are in the log."
            fi
            if [ "$errors_seen" -ne 0 ]; then
                echo
                echo "wrk reported socket errors or non-2xx responses in this cell; see the log."
            fi
            summary+=("| $size B | $conns | $mode | $(fmt_int "$(med "$label" peregrine 4)") | $(fmt_int "$(med "$label" nginx 4)") | $rps_ratio | $(printf '%.2f' "$(med "$label" peregrine 7)") | $(printf '%.2f' "$(med "$label" nginx 7)") | $cpu_ratio | $floor_cpu | $floor_ratio |")
        done
    done
    stop_servers
done

echo
echo "### Summary (medians)"
echo
echo "| body | connections | mode | peregrine req/s | nginx req/s | ratio | peregrine µs/req | nginx µs/req | ratio | floor µs/req | floor/nginx |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${summary[@]}"
