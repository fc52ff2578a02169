#!/usr/bin/env bash
# WebSocket compression: the `ws-echo` example (epoll, one worker,
# permessage-deflate without context takeover, zlib-rs at level 3) against
# node's `ws` package (bench/ws-echo.js, perMessageDeflate enabled), both
# pinned to one CPU, the load client (bench/ws-load, Rust, one thread)
# pinned to the other, on 127.0.0.1: 100 connections, each sending the
# next 16 KiB JSON-like text message (about 5:1 under zlib) as soon as
# the echo of the previous one is back, compressed (the client offers
# permessage-deflate without context takeover both ways) and not.
#
#   bench/ws-deflate.sh
#   ROUNDS=1 DURATION=3 bench/ws-deflate.sh
#   NODE_LEVEL=3 bench/ws-deflate.sh      # node's ws at Peregrine's zlib level
#
# The client compresses and masks each of its 64 messages once, before the
# run, so its own cost per message is parsing the echo (and decompressing
# one echo in 64, which it checks). Messages per second and the server's
# CPU per message (utime + stime of the whole process, every thread,
# from /proc/PID/stat, over the measured window) are the client's, after
# a warm-up of WARMUP seconds on the same connections. Rounds interleave
# the servers and modes; the table shows medians.
#
# Environment (defaults in brackets):
#   ROUNDS [3]  DURATION [10, seconds]  WARMUP [2, seconds]  CONNS [100]
#   SIZE [16384]  MODES ["deflate plain"]  NODE_LEVEL [ws's default, zlib's 6]
#   SERVER_CPU [0]  CLIENT_CPU [1]  PEREGRINE_PORT [18094]  NODE_PORT [18095]
#   NICE [-15 as root, 0 otherwise]: the servers and the client run at this
#     niceness, and so does the scheduler's autogroup of the session that
#     runs the script (restored when it ends), so that other work on a
#     shared machine (builds in other sessions) takes little of their CPUs:
#     the scheduler shares a busy CPU between sessions first, then between
#     threads, and node's thread pool would otherwise win a larger share
#     of it than ws-echo's one thread
#
# Needs node and npm (Debian's nodejs and npm are installed if missing);
# `ws` is installed with npm into target/bench-node. The Markdown report
# goes to standard output and to bench/results/ws-deflate-*.md; the raw
# client output to bench/results/ws-deflate-*.log.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-100}
SIZE=${SIZE:-16384}
MODES=${MODES:-deflate plain}
NODE_LEVEL=${NODE_LEVEL:-}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PEREGRINE_PORT=${PEREGRINE_PORT:-18094}
NODE_PORT=${NODE_PORT:-18095}
if [ "$(id -u)" -eq 0 ]; then NICE=${NICE:--15}; else NICE=${NICE:-0}; fi
WS_ECHO=$ROOT/target/release/examples/ws-echo
LOAD_TARGET=$ROOT/target/ws-load
LOAD=$LOAD_TARGET/release/ws-load
NODE_DIR=$ROOT/target/bench-node

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer, not '$CONNS'"
[[ $DURATION =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "DURATION is in seconds, not '$DURATION'"
[[ $WARMUP =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "WARMUP is in seconds, not '$WARMUP'"
[[ $NICE =~ ^-?[0-9]+$ ]] || die "NICE must be a niceness, not '$NICE'"
[ -z "$NODE_LEVEL" ] || [[ $NODE_LEVEL =~ ^[0-9]$ ]] || die "NODE_LEVEL is a zlib level, 0 to 9"
for mode in $MODES; do
    [[ $mode = deflate || $mode = plain ]] || die "MODES: deflate or plain, not '$mode'"
done
[ "$(nproc)" -ge 2 ] || note "only $(nproc) CPU: server and client will share it"

need_commands taskset:util-linux node:nodejs npm:npm
note "building ws-echo (release)"
(cd "$ROOT" && cargo build --release --quiet -p peregrine-examples --example ws-echo) ||
    die "cargo build failed"
note "building the load client (bench/ws-load, release)"
(cd "$BENCH_DIR/ws-load" && CARGO_TARGET_DIR=$LOAD_TARGET cargo build --release --quiet) ||
    die "cargo build of bench/ws-load failed"
if [ ! -f "$NODE_DIR/node_modules/ws/package.json" ]; then
    note "installing ws (npm) into ${NODE_DIR#"$ROOT"/}"
    mkdir -p "$NODE_DIR"
    (cd "$NODE_DIR" && npm install --no-audit --no-fund --silent ws@8 >/dev/null) ||
        die "npm install ws failed"
fi
raise_fd_limit

tmp=$(mktemp -d "${TMPDIR:-/tmp}/peregrine-ws-deflate.XXXXXX")
start_report ws-deflate TERM

# The session's autogroup at NICE while the script runs.
autogroup_nice=
if [ "$NICE" != 0 ] && [ -w /proc/self/autogroup ]; then
    autogroup_nice=$(sed -n 's/.* nice \(-\{0,1\}[0-9]*\)$/\1/p' /proc/self/autogroup)
    if echo "$NICE" >/proc/self/autogroup 2>/dev/null; then
        trap 'echo "$autogroup_nice" >/proc/self/autogroup 2>/dev/null || true; cleanup' EXIT
    else
        autogroup_nice=
    fi
fi

# Waits up to 30 s for 127.0.0.1:PORT to accept, while PID lives.
wait_port() {
    local port=$1 pid=$2 out=$3 deadline=$((SECONDS + 30))
    while [ $SECONDS -lt $deadline ]; do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$out" >&2; die "server (pid $pid) died while starting"; }
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "nothing accepted on 127.0.0.1:$port within 30 s; log: $out"
}

start_peregrine() {
    port_free "$PEREGRINE_PORT"
    nice -n "$NICE" taskset -c "$SERVER_CPU" "$WS_ECHO" --port "$PEREGRINE_PORT" --backend epoll --workers 1 \
        --grace-ms 1000 >"$tmp/peregrine.out" 2>&1 &
    peregrine_pid=$!
    pids+=("$peregrine_pid")
    wait_port "$PEREGRINE_PORT" "$peregrine_pid" "$tmp/peregrine.out"
}

start_node() {
    port_free "$NODE_PORT"
    # shellcheck disable=SC2086 # NODE_LEVEL is one word or none
    NODE_PATH=$NODE_DIR/node_modules nice -n "$NICE" taskset -c "$SERVER_CPU" \
        node "$BENCH_DIR/ws-echo.js" "$NODE_PORT" $NODE_LEVEL >"$tmp/node.out" 2>&1 &
    node_pid=$!
    pids+=("$node_pid")
    wait_port "$NODE_PORT" "$node_pid" "$tmp/node.out"
}

# One client run: SERVER PID PORT MODE; a record line
#   run <mode> <server> <msgs/s> <µs CPU/msg> <echo payload bytes> <compressed echoes> <echoes>
run_load() {
    local server=$1 pid=$2 port=$3 mode=$4 out status=0
    local args=(--addr "127.0.0.1:$port" --conns "$CONNS" --duration "$DURATION"
        --warmup "$WARMUP" --size "$SIZE" --pid "$pid")
    [ "$mode" = deflate ] && args+=(--deflate)
    out=$(timeout -k 5 $((${DURATION%.*} + ${WARMUP%.*} + 120)) \
        nice -n "$NICE" taskset -c "$CLIENT_CPU" "$LOAD" "${args[@]}" 2>&1) || status=$?
    {
        echo "### $mode $server: nice -n $NICE taskset -c $CLIENT_CPU ws-load ${args[*]}"
        echo "$out"
    } >>"$log"
    [ "$status" -eq 0 ] || die "the client failed against $server ($mode, exit $status): $(tail -n 3 <<<"$out")"
    kill -0 "$pid" 2>/dev/null || die "$server (pid $pid) died during the run ($mode)"
    local result
    result=$(grep '^result ' <<<"$out") || die "no result from the client against $server; see $log"
    field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$result"; }
    echo "run $mode $server $(field msgs_per_s) $(field cpu_us_per_msg) $(field echo_payload)" \
        "$(field compressed_echoes) $(field echoes)" | tee -a "$log" | sed 's/^/-- /' >&2
}


start_peregrine
start_node
messages=$(taskset -c "$CLIENT_CPU" "$LOAD" --addr "127.0.0.1:$PEREGRINE_PORT" --conns 1 \
    --duration 0.2 --warmup 0.1 --size "$SIZE" | grep '^messages ')

echo "# Peregrine vs node ws: WebSocket echo with permessage-deflate"
echo
machine_line
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)${autogroup_nice:+; session autogroup at nice $NICE (was $autogroup_nice)}"
echo "servers: nice -n $NICE taskset -c $SERVER_CPU; ws-echo --backend epoll --workers 1 (zlib-rs, level 3); node $(node --version), ws $(node -p "require('$NODE_DIR/node_modules/ws/package.json').version") (perMessageDeflate, zlib level ${NODE_LEVEL:-6, its default})"
echo "client: bench/ws-load, one thread, nice -n $NICE taskset -c $CLIENT_CPU, $CONNS connections, one message in flight each; $messages"
echo "rounds: $ROUNDS × ${DURATION}s per server and mode after ${WARMUP}s of warm-up, interleaved; medians below"
echo "raw: ${log#"$ROOT"/}"
echo

for _ in $(seq "$ROUNDS"); do
    for mode in $MODES; do
        run_load peregrine "$peregrine_pid" "$PEREGRINE_PORT" "$mode"
        run_load node "$node_pid" "$NODE_PORT" "$mode"
    done
done
stop_pid "$peregrine_pid" INT 10 || note "ws-echo did not stop on SIGINT; killed"
stop_pid "$node_pid" TERM 10 || note "node did not stop on SIGTERM; killed"
pids=()

echo "| messages | peregrine msg/s | node msg/s | msg/s ratio | peregrine µs CPU/msg | node µs CPU/msg | CPU ratio | echo bytes peregrine / node |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for mode in $MODES; do
    p_rps=$(med "$mode" peregrine 4)
    n_rps=$(med "$mode" node 4)
    p_us=$(med "$mode" peregrine 5)
    n_us=$(med "$mode" node 5)
    p_bytes=$(med "$mode" peregrine 6)
    n_bytes=$(med "$mode" node 6)
    label="$SIZE B, uncompressed"
    [ "$mode" = deflate ] && label="$SIZE B, compressed"
    printf '| %s | %.0f | %.0f | %s | %.1f | %.1f | %s | %.0f / %.0f |\n' "$label" "$p_rps" "$n_rps" \
        "$(fmt_ratio "$p_rps" "$n_rps")" "$p_us" "$n_us" "$(fmt_ratio "$p_us" "$n_us")" "$p_bytes" "$n_bytes"
done
echo
echo "msg/s ratio: peregrine over node (above 1: peregrine echoes more); CPU ratio: peregrine's CPU per message over node's (below 1: peregrine spends less). Echo bytes: the mean payload of an echo on the wire."
