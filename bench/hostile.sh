#!/usr/bin/env bash
# Hostile load: the `hello` example against nginx, one after the other in
# the same run, each with one worker pinned to SERVER_CPU and the clients
# (bench/hostile.py) pinned to CLIENT_CPU, all on 127.0.0.0/8.
#
#   bench/hostile.sh                                   # every scenario, full scale
#   SCENARIOS="b d" bench/hostile.sh                   # some of them
#   SCENARIO_SECONDS=10 SLOW_ATTACKERS=500 IDLE_CONNS=3000 IDLE_BIG=0 \
#     FULL_CLIENTS=600 FULL_SLOTS=512 bench/hostile.sh # a quick pass
#
# Scenarios:
#   a  slowloris: SLOW_ATTACKERS connections each drip one byte of a request
#      head every SLOW_DRIP s (reconnecting when closed) while one normal
#      client sends a GET every SLOW_INTERVAL_MS on a keep-alive connection
#      for SCENARIO_SECONDS; its latency and how many answers it got.
#   b  silent connections: SILENT_CONNS connections that send nothing, then
#      GETs on fresh connections: their latency (connect to last byte).
#      Run again with SILENT_SLOTS slots when hello takes a max-connections
#      option.
#   c  idle memory: IDLE_CONNS keep-alive connections that each sent one
#      GET and read the answer, on one server process; then IDLE_BIG spread
#      over IDLE_SERVERS server processes (one process may hold at most
#      ~20,000 descriptors here), with one client process and one source
#      address (127.0.0.2, 127.0.0.3, ...) per server. Server memory per
#      connection = (VmRSS after - VmRSS before) / connections held, summed
#      over the server processes (nginx: master and worker); Pss from
#      smaps_rollup beside it. Kernel socket memory is not in either.
#   d  full server: FULL_SLOTS slots (hello: the max-connections option when
#      it exists; nginx: worker_connections FULL_NGINX_CONNECTIONS, default
#      the same), FULL_CLIENTS keep-alive clients each sending one GET at a
#      time (a pause of about FULL_THINK_MS between) for FULL_SECONDS: how
#      many clients had a request unanswered within 1 s, the longest wait.
#   e  shutdown: SHUT_BUSY clients sending GETs in a loop (each sends a
#      request again, once, on a new connection when the server closed a
#      reused one before answering, as HTTP/1.1 clients do), then SHUT_WAITING
#      connections that each send a whole GET and wait (most of them in the
#      listen backlog when hello has SHUT_SLOTS slots); then SIGTERM to hello
#      (SIGQUIT, graceful, to nginx): requests sent whole before the signal
#      and never answered (the target), and every request lost.
#
# hello's max-connections option: MAXCONN_FLAG names it (e.g.
# "--max-connections"; "none": never pass one); unset, the script passes
# --max-connections only when hello's --help lists it or a trial run
# accepts it. Without it hello keeps its default slots (1,024 today) and
# the table says so.
#
# Environment (defaults in brackets):
#   SCENARIOS ["a b c d e"]  SCENARIO_SECONDS [60]  PEREGRINE_ARGS [""]
#   SLOW_ATTACKERS [2000]  SLOW_DRIP [5]  SLOW_INTERVAL_MS [10]
#   SILENT_CONNS [1100]  SILENT_SLOTS [1000]
#   IDLE_CONNS [15000]  IDLE_BIG [100000, 0 to skip]  IDLE_SERVERS [6]
#   FULL_SLOTS [2048]  FULL_NGINX_CONNECTIONS [FULL_SLOTS]  FULL_CLIENTS [2500]
#   FULL_SECONDS [10]  FULL_THINK_MS [500]
#   SHUT_BUSY [200]  SHUT_WAITING [1200]  SHUT_SLOTS [512]
#   BACKLOG [4096]: both servers' listen backlog (Linux caps it at
#      net.core.somaxconn); e needs room for SHUT_WAITING plus the busy
#      clients' reconnections, or the kernel holds some half-open (their
#      SYN answered, their request sent) and resets them when the port
#      closes
#   SERVER_CPU [0]  CLIENT_CPU [1]  BASE_PORT [18100]  MAXCONN_FLAG [detected]
#   HELLO_BIN [target/release/examples/hello, built first]: another hello binary
#
# The Markdown report goes to standard output and bench/results/hostile-*.md;
# each client run's JSON goes to bench/results/hostile-*.log.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SCENARIOS=${SCENARIOS:-a b c d e}
SCENARIO_SECONDS=${SCENARIO_SECONDS:-60}
PEREGRINE_ARGS=${PEREGRINE_ARGS:-}
SLOW_ATTACKERS=${SLOW_ATTACKERS:-2000}
SLOW_DRIP=${SLOW_DRIP:-5}
SLOW_INTERVAL_MS=${SLOW_INTERVAL_MS:-10}
SILENT_CONNS=${SILENT_CONNS:-1100}
SILENT_SLOTS=${SILENT_SLOTS:-1000}
IDLE_CONNS=${IDLE_CONNS:-15000}
IDLE_BIG=${IDLE_BIG:-100000}
IDLE_SERVERS=${IDLE_SERVERS:-6}
FULL_SLOTS=${FULL_SLOTS:-2048}
FULL_NGINX_CONNECTIONS=${FULL_NGINX_CONNECTIONS:-$FULL_SLOTS}
FULL_CLIENTS=${FULL_CLIENTS:-2500}
FULL_SECONDS=${FULL_SECONDS:-10}
FULL_THINK_MS=${FULL_THINK_MS:-500}
BACKLOG=${BACKLOG:-4096}
SHUT_BUSY=${SHUT_BUSY:-200}
SHUT_WAITING=${SHUT_WAITING:-1200}
SHUT_SLOTS=${SHUT_SLOTS:-512}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BASE_PORT=${BASE_PORT:-18100}
CLIENT=$BENCH_DIR/hostile.py

for s in $SCENARIOS; do [[ $s =~ ^[a-e]$ ]] || die "SCENARIOS: a, b, c, d or e, not '$s'"; done
for v in SCENARIO_SECONDS SLOW_ATTACKERS SLOW_DRIP SLOW_INTERVAL_MS SILENT_CONNS SILENT_SLOTS \
    IDLE_CONNS IDLE_BIG IDLE_SERVERS FULL_SLOTS FULL_NGINX_CONNECTIONS FULL_CLIENTS \
    FULL_SECONDS FULL_THINK_MS SHUT_BUSY SHUT_WAITING SHUT_SLOTS BACKLOG BASE_PORT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[ "$IDLE_SERVERS" -ge 1 ] || die "IDLE_SERVERS must be at least 1"
[ "$(nproc)" -ge 2 ] || note "only $(nproc) CPU: servers and clients will share it"

need_commands nginx:nginx-light curl:curl taskset:util-linux python3:python3
if [ -n "${HELLO_BIN:-}" ]; then
    HELLO=$HELLO_BIN
    [ -x "$HELLO" ] || die "HELLO_BIN=$HELLO_BIN is not an executable"
else
    build_hello
fi
raise_fd_limit
NOFILE=$(ulimit -Hn)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
# Connections one process can hold, leaving room for its other descriptors.
PER_PROCESS=$((NOFILE - 200))
[ "$IDLE_CONNS" -le "$PER_PROCESS" ] ||
    die "IDLE_CONNS=$IDLE_CONNS exceeds what one process may hold here ($PER_PROCESS)"
if [ "$IDLE_BIG" -gt 0 ]; then
    [ $(((IDLE_BIG + IDLE_SERVERS - 1) / IDLE_SERVERS)) -le "$PER_PROCESS" ] ||
        die "IDLE_BIG=$IDLE_BIG over IDLE_SERVERS=$IDLE_SERVERS is more than $PER_PROCESS a process"
    [ "$IDLE_SERVERS" -le 250 ] || die "IDLE_SERVERS: at most 250 (one source address each)"
fi
NGINX_CONNECTIONS=$((NOFILE - 100)) # nginx's worker_connections when not FULL_NGINX_CONNECTIONS

tmp=$(mktemp -d "${TMPDIR:-/tmp}/peregrine-hostile.XXXXXX")
chmod 755 "$tmp" # nginx's worker runs as another user when started as root
start_report hostile TERM

# ------------------------------------------------------------ the option

# hello's option for its connection slots, or nothing.
detect_maxconn_flag() {
    if [ -n "${MAXCONN_FLAG:-}" ]; then
        [ "$MAXCONN_FLAG" = none ] || echo "$MAXCONN_FLAG"
        return 0
    fi
    if "$HELLO" --help 2>&1 | grep -q -- '--max-connections'; then
        echo --max-connections
        return 0
    fi
    # A trial run: an unknown option makes hello exit at once.
    local port=$((BASE_PORT + 99)) pid alive=0
    port_free "$port"
    "$HELLO" --port "$port" --workers 1 --max-connections 16 >/dev/null 2>&1 &
    pid=$!
    sleep 0.5
    kill -0 "$pid" 2>/dev/null && alive=1
    stop_pid "$pid" INT 5 || true
    [ "$alive" -eq 0 ] || echo --max-connections
}
MAXFLAG=$(detect_maxconn_flag)

# Options giving hello SLOTS slots, when it can be told.
slots_args() {
    [ -n "$MAXFLAG" ] && [ -n "${1:-}" ] && echo "$MAXFLAG $1"
    return 0
}
# How the report names hello's slots for SLOTS asked.
slots_label() {
    if [ -n "$MAXFLAG" ] && [ -n "${1:-}" ]; then echo "$1"; else echo "default"; fi
}

# ------------------------------------------------------------ servers

# Starts hello on PORT with SLOTS slots (empty: its default); sets srv_pid.
start_peregrine() { # PORT [SLOTS]
    local port=$1 out=$tmp/hello-$1.out extra
    extra=$(slots_args "${2:-}")
    port_free "$port"
    # shellcheck disable=SC2086 # extra and PEREGRINE_ARGS are lists of options
    taskset -c "$SERVER_CPU" "$HELLO" --port "$port" --workers 1 --backlog "$BACKLOG" $extra $PEREGRINE_ARGS >"$out" 2>&1 &
    srv_pid=$!
    pids+=("$srv_pid")
    wait_ready "$port" "$srv_pid" 13 30 "$out"
}

# Starts nginx (master and one worker) on 127.0.0.1:PORT with CONNS
# worker_connections; sets srv_pid to the master's pid.
start_nginx() { # PORT CONNS
    local port=$1 conns=$2 dir=$tmp/nginx-$1
    port_free "$port"
    mkdir -p "$dir/tmp"
    chmod 755 "$dir"
    cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $NOFILE;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections $conns;
    multi_accept on;
}
http {
    access_log off;
    server_tokens off;
    default_type text/plain;
    client_header_timeout 10s;
    keepalive_timeout 75s;
    keepalive_requests 1000000000;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    server {
        listen 127.0.0.1:$port backlog=$BACKLOG;
        location = / {
            return 200 "Hello, World!";
        }
    }
}
EOF
    nginx -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" ||
        die "nginx rejected $dir/nginx.conf"
    taskset -c "$SERVER_CPU" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
        >"$dir/stdout" 2>&1 &
    srv_pid=$!
    pids+=("$srv_pid")
    wait_ready "$port" "$srv_pid" 13 30 "$dir/error.log"
}

# Starts SERVER (peregrine or nginx) on the next unused port, which it
# leaves in srv_port (a fresh port each time: no TIME_WAIT from an earlier
# run in the way); SLOTS for hello, CONNS for nginx.
next_port=$BASE_PORT
start_server() { # SERVER SLOTS CONNS
    srv_port=$next_port
    next_port=$((next_port + 1))
    if [ "$1" = peregrine ]; then start_peregrine "$srv_port" "$2"; else start_nginx "$srv_port" "$3"; fi
}

# Waits up to TIMEOUT seconds for PID (signalled already) to exit, then
# kills it; prints how long it took.
wait_exit() { # PID TIMEOUT
    local t0=$SECONDS
    while kill -0 "$1" 2>/dev/null && [ $((SECONDS - t0)) -lt "$2" ]; do sleep 0.1; done
    if kill -0 "$1" 2>/dev/null; then
        kill -s KILL "$1" 2>/dev/null || true
        echo "killed after $2 s"
    else
        echo "exited within $((SECONDS - t0 + 1)) s"
    fi
    wait "$1" 2>/dev/null || true
}

# Stops every server started so far, gracefully.
stop_servers() {
    local pid
    for pid in "${pids[@]}"; do
        stop_pid "$pid" TERM 15 || note "server $pid did not stop on SIGTERM; killed"
    done
    pids=()
}

# PID and its children (nginx's worker).
proc_tree() {
    local pid=$1
    echo "$pid"
    cat /proc/"$pid"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . || true
}

# VmRSS, Pss (smaps_rollup) and RssAnon, in kB, summed over the trees of
# the pids given: "rss pss anon".
memory_kb() {
    local root pid rss=0 pss=0 anon=0 r p a
    for root in "$@"; do
        for pid in $(proc_tree "$root"); do
            r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || r=0
            a=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || a=0
            p=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null) || p=0
            rss=$((rss + ${r:-0}))
            pss=$((pss + ${p:-0}))
            anon=$((anon + ${a:-0}))
        done
    done
    echo "$rss $pss $anon"
}

# ------------------------------------------------------------ clients

# Runs hostile.py on the client CPU with at most LIMIT seconds, its JSON to
# FILE (and to the log).
run_client() { # FILE LIMIT ARGS...
    local file=$1 limit=$2 status=0
    shift 2
    echo "### hostile.py $*" >>"$log"
    timeout -k 5 "$limit" taskset -c "$CLIENT_CPU" python3 "$CLIENT" "$@" >"$file" 2>>"$log" || status=$?
    cat "$file" >>"$log"
    [ "$status" -eq 0 ] || die "hostile.py $1 failed (exit $status); see $log"
}

# A value from a client's JSON: FILE and a Python expression over `d`;
# "-" for none.
jv() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print("-" if v is None else v)' "$1" "$2"
}

# ------------------------------------------------------------ the table

rows=()
row() { rows+=("| $1 | $2 | $3 | $4 | $5 | $6 |"); }
# pass or FAIL: an awk condition over p (Peregrine's value) and n (nginx's).
verdict() { # COND P N
    awk -v p="$2" -v n="$3" "BEGIN { if (p == \"-\") { print \"FAIL\"; exit }
        print (($1) ? \"pass\" : \"FAIL\") }"
}

# ------------------------------------------------------------ scenarios

scenario_a() {
    note "a: slowloris, $SLOW_ATTACKERS attackers, ${SCENARIO_SECONDS}s"
    local s
    for s in peregrine nginx; do
        start_server "$s" "" "$NGINX_CONNECTIONS"
        run_client "$tmp/a-$s.json" $((SCENARIO_SECONDS + 120)) slowloris --port "$srv_port" \
            --attackers "$SLOW_ATTACKERS" --drip "$SLOW_DRIP" --seconds "$SCENARIO_SECONDS" \
            --interval-ms "$SLOW_INTERVAL_MS"
        stop_servers
    done
    local pf=$tmp/a-peregrine.json nf=$tmp/a-nginx.json pp99 np99
    pp99=$(jv "$pf" 'd["p99_ms"]') np99=$(jv "$nf" 'd["p99_ms"]')
    local what
    what="a slowloris ($SLOW_ATTACKERS × 1 B/${SLOW_DRIP}s, ${SCENARIO_SECONDS}s; hello slots $(slots_label))"
    row "$what" "normal client p50 ms" "$(jv "$pf" 'd["p50_ms"]')" "$(jv "$nf" 'd["p50_ms"]')" "" ""
    row "$what" "normal client p99 ms" "$pp99" "$np99" "≤ 2 and ≤ 1.5× nginx" \
        "$(verdict 'p + 0 <= 2 && (n == "-" || p + 0 <= 1.5 * n)' "$pp99" "$np99")"
    row "$what" "normal client max ms" "$(jv "$pf" 'd["max_ms"]')" "$(jv "$nf" 'd["max_ms"]')" "" ""
    row "$what" "first answer ms (incl. connect)" "$(jv "$pf" 'd["first_ms"]')" "$(jv "$nf" 'd["first_ms"]')" "" ""
    local pa pn ps ns
    pa=$(jv "$pf" 'd["answered"]') ps=$(jv "$pf" 'd["sent"]')
    pn=$(jv "$nf" 'd["answered"]') ns=$(jv "$nf" 'd["sent"]')
    local expect=$((SCENARIO_SECONDS * 1000 / SLOW_INTERVAL_MS))
    row "$what" "answered / sent (of ~$expect scheduled)" "$pa / $ps" "$pn / $ns" "all, ≥ 90% of scheduled" \
        "$(verdict "p + 0 >= 0.9 * $expect && p + 0 == $ps" "$pa" "$pn")"
    row "$what" "attacker connections (server closes)" \
        "$(jv "$pf" 'd["attack"]["connects"]') ($(jv "$pf" 'd["attack"]["server_closes"]'))" \
        "$(jv "$nf" 'd["attack"]["connects"]') ($(jv "$nf" 'd["attack"]["server_closes"]'))" "" ""
}

# One silent run against SERVER with SLOTS (hello).
silent_run() { # SERVER SLOTS FILE
    start_server "$1" "$2" "$NGINX_CONNECTIONS"
    run_client "$3" 180 silent --port "$srv_port" --silent "$SILENT_CONNS"
    stop_servers
}

scenario_b() {
    note "b: $SILENT_CONNS silent connections"
    silent_run peregrine "" "$tmp/b-peregrine.json"
    silent_run nginx "" "$tmp/b-nginx.json"
    local pf=$tmp/b-peregrine.json nf=$tmp/b-nginx.json p n what
    what="b silent ($SILENT_CONNS silent; hello slots $(slots_label))"
    p=$(jv "$pf" 'd["max_probe_ms"]') n=$(jv "$nf" 'd["max_probe_ms"]')
    row "$what" "fresh GET ms, worst of 3 (connect to answer)" "$p" "$n" "≤ 100" "$(verdict 'p + 0 <= 100' "$p" "$n")"
    row "$what" "silent connections still open at end" "$(jv "$pf" 'd["silent_open_at_end"]')" "$(jv "$nf" 'd["silent_open_at_end"]')" "" ""
    if [ -n "$MAXFLAG" ]; then
        silent_run peregrine "$SILENT_SLOTS" "$tmp/b2-peregrine.json"
        pf=$tmp/b2-peregrine.json
        what="b silent ($SILENT_CONNS silent; hello slots $SILENT_SLOTS)"
        p=$(jv "$pf" 'd["max_probe_ms"]')
        row "$what" "fresh GET ms, worst of 3 (connect to answer)" "$p" "$n" "≤ 100" "$(verdict 'p + 0 <= 100' "$p" "$n")"
    else
        row "b silent, hello slots < $SILENT_CONNS" "(hello has no max-connections option; its default slots are the run above)" "-" "-" "" ""
    fi
}

# Holds TOTAL idle connections over COUNT servers of kind SERVER; sets
# idle_held, idle_rss_b, idle_pss_b, idle_anon_b, idle_all_b (bytes per
# connection; all: the whole RSS after over the connections) and idle_line.
# nginx gets every descriptor for worker_connections: when fewer than 1/16
# of them are free it closes idle keep-alive connections to make room.
idle_run() { # SERVER TOTAL COUNT
    local server=$1 total=$2 count=$3 per i roots=() ports=() before after held=0 f
    per=$(((total + count - 1) / count))
    for ((i = 0; i < count; i++)); do
        start_server "$server" $((per + 64)) "$NGINX_CONNECTIONS"
        roots+=("$srv_pid")
        ports+=("$srv_port")
    done
    sleep 1
    before=$(memory_kb "${roots[@]}")
    rm -f "$tmp"/idle-ready-* "$tmp/idle-release"
    local clients=()
    for ((i = 0; i < count; i++)); do
        (run_client "$tmp/idle-$server-$i.json" 900 idle --port "${ports[$i]}" \
            --source "127.0.0.$((2 + i))" --connections "$per" \
            --ready "$tmp/idle-ready-$i" --release "$tmp/idle-release" --hold 600) &
        clients+=($!)
    done
    # Waits (at most 10 minutes) until every client holds its connections.
    local deadline=$((SECONDS + 600)) ready
    while [ $SECONDS -lt $deadline ]; do
        ready=0
        for ((i = 0; i < count; i++)); do [ -e "$tmp/idle-ready-$i" ] && ready=$((ready + 1)); done
        [ "$ready" -eq "$count" ] && break
        sleep 0.5
    done
    sleep 2
    after=$(memory_kb "${roots[@]}")
    touch "$tmp/idle-release"
    for i in "${clients[@]}"; do wait "$i" || die "an idle client failed; see $log"; done
    for ((i = 0; i < count; i++)); do
        f=$tmp/idle-$server-$i.json
        held=$((held + $(jv "$f" 'd["open_at_release"]')))
    done
    stop_servers
    idle_held=$held
    local rb pb ab ra pa aa
    read -r rb pb ab <<<"$before"
    read -r ra pa aa <<<"$after"
    idle_rss_b=$(per_conn "$ra" "$rb" "$held")
    idle_pss_b=$(per_conn "$pa" "$pb" "$held")
    idle_anon_b=$(per_conn "$aa" "$ab" "$held")
    idle_all_b=$(per_conn "$ra" 0 "$held")
    idle_line="RSS ${rb}→${ra} kB, Pss ${pb}→${pa} kB, RssAnon ${ab}→${aa} kB"
    echo "idle $server total=$total servers=$count held=$held $idle_line" >>"$log"
}

# Bytes per connection: (AFTER - BEFORE) kB over N.
per_conn() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (n > 0) printf "%.0f", (a - b) * 1024 / n; else print "-" }'; }

idle_rows() { # TOTAL COUNT
    local total=$1 count=$2 p_held p_rss p_pss p_anon p_all p_line what
    note "c: $total idle connections over $count server(s)"
    idle_run peregrine "$total" "$count"
    p_held=$idle_held p_rss=$idle_rss_b p_pss=$idle_pss_b p_anon=$idle_anon_b p_all=$idle_all_b p_line=$idle_line
    idle_run nginx "$total" "$count"
    what="c idle $total over $count server(s) (hello slots $(slots_label $(((total + count - 1) / count + 64))))"
    row "$what" "connections held" "$p_held" "$idle_held" "$total" "$(verdict "p + 0 >= $total" "$p_held" "$idle_held")"
    row "$what" "RSS bytes/connection" "$p_rss" "$idle_rss_b" "≤ 256 and ≤ nginx" \
        "$(verdict 'p + 0 <= 256 && p + 0 <= n + 0' "$p_rss" "$idle_rss_b")"
    row "$what" "Pss bytes/connection" "$p_pss" "$idle_pss_b" "" ""
    row "$what" "RssAnon bytes/connection" "$p_anon" "$idle_anon_b" "" ""
    row "$what" "whole RSS after ÷ connections" "$p_all" "$idle_all_b" "" ""
    row "$what" "memory before→after" "$p_line" "$idle_line" "" ""
}

scenario_c() {
    idle_rows "$IDLE_CONNS" 1
    [ "$IDLE_BIG" -eq 0 ] || idle_rows "$IDLE_BIG" "$IDLE_SERVERS"
}

scenario_d() {
    note "d: $FULL_CLIENTS clients, $FULL_SLOTS slots, ${FULL_SECONDS}s"
    local s
    for s in peregrine nginx; do
        start_server "$s" "$FULL_SLOTS" "$FULL_NGINX_CONNECTIONS"
        run_client "$tmp/d-$s.json" $((FULL_SECONDS + 120)) full --port "$srv_port" \
            --clients "$FULL_CLIENTS" --seconds "$FULL_SECONDS" --think-ms "$FULL_THINK_MS"
        stop_servers
    done
    local pf=$tmp/d-peregrine.json nf=$tmp/d-nginx.json p n
    local what
    what="d full ($FULL_CLIENTS clients; hello slots $(slots_label "$FULL_SLOTS"), nginx worker_connections $FULL_NGINX_CONNECTIONS)"
    p=$(jv "$pf" 'd["clients_failing"]') n=$(jv "$nf" 'd["clients_failing"]')
    row "$what" "clients with a request unanswered within 1 s" "$p" "$n" "0" "$(verdict 'p + 0 == 0' "$p" "$n")"
    row "$what" "clients never answered" "$(jv "$pf" 'd["clients_never_answered"]')" "$(jv "$nf" 'd["clients_never_answered"]')" "" ""
    row "$what" "max latency ms" "$(jv "$pf" 'd["max_ms"]')" "$(jv "$nf" 'd["max_ms"]')" "≤ 1000" \
        "$(verdict 'p + 0 <= 1000' "$(jv "$pf" 'd["max_ms"]')" "")"
    row "$what" "p99 latency ms" "$(jv "$pf" 'd["p99_ms"]')" "$(jv "$nf" 'd["p99_ms"]')" "" ""
    row "$what" "answered / sent" "$(jv "$pf" 'd["answered"]') / $(jv "$pf" 'd["sent"]')" \
        "$(jv "$nf" 'd["answered"]') / $(jv "$nf" 'd["sent"]')" "" ""
    row "$what" "requests sent again (keep-alive closed before any answer)" \
        "$(jv "$pf" 'd["stale_retries"]')" "$(jv "$nf" 'd["stale_retries"]')" "" ""
}

scenario_e() {
    note "e: shutdown under $SHUT_BUSY busy clients and $SHUT_WAITING waiting requests"
    local s sig
    for s in peregrine nginx; do
        start_server "$s" "$SHUT_SLOTS" "$NGINX_CONNECTIONS"
        [ "$s" = peregrine ] && sig=TERM || sig=QUIT
        run_client "$tmp/e-$s.json" 120 shutdown --port "$srv_port" --pid "$srv_pid" --signal "$sig" \
            --busy "$SHUT_BUSY" --waiting "$SHUT_WAITING"
        echo "shutdown $s: after the client finished, the server $(wait_exit "$srv_pid" 30)" >>"$log"
        pids=()
    done
    local pf=$tmp/e-peregrine.json nf=$tmp/e-nginx.json p n
    local what
    what="e shutdown ($SHUT_BUSY busy + $SHUT_WAITING waiting; hello slots $(slots_label "$SHUT_SLOTS"); SIGTERM / nginx SIGQUIT)"
    p=$(jv "$pf" 'd["lost_sent_before_signal"]') n=$(jv "$nf" 'd["lost_sent_before_signal"]')
    row "$what" "requests sent whole before the signal, never answered" "$p" "$n" "0" "$(verdict 'p + 0 == 0' "$p" "$n")"
    row "$what" "requests sent, never answered (lost), before or after the signal" \
        "$(jv "$pf" 'd["lost"]')" "$(jv "$nf" 'd["lost"]')" "" ""
    row "$what" "of which waiting (backlog) requests" "$(jv "$pf" 'd["lost_waiting"]')" "$(jv "$nf" 'd["lost_waiting"]')" "" ""
    row "$what" "of which sent again after a keep-alive close, and lost again" \
        "$(jv "$pf" 'd["lost_keepalive_race"]')" "$(jv "$nf" 'd["lost_keepalive_race"]')" "" ""
    row "$what" "requests sent again (keep-alive closed before any answer)" \
        "$(jv "$pf" 'd["stale_retries"]')" "$(jv "$nf" 'd["stale_retries"]')" "" ""
    row "$what" "of which lost before the signal" "$(jv "$pf" 'd["lost_before_signal"]')" "$(jv "$nf" 'd["lost_before_signal"]')" "" ""
    row "$what" "waiting requests unanswered at the signal" "$(jv "$pf" 'd["waiting_unanswered_at_signal"]')" "$(jv "$nf" 'd["waiting_unanswered_at_signal"]')" "" ""
    row "$what" "answered / sent" "$(jv "$pf" 'd["answered"]') / $(jv "$pf" 'd["sent"]')" \
        "$(jv "$nf" 'd["answered"]') / $(jv "$nf" 'd["sent"]')" "" ""
}

# ------------------------------------------------------------ the run

echo "# Peregrine vs nginx: hostile load"
echo
machine_line
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "servers: one worker, taskset -c $SERVER_CPU; clients bench/hostile.py, taskset -c $CLIENT_CPU; nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(python3 --version)"
echo "hello slots option: ${MAXFLAG:-none (default slots)}; descriptors per process: $NOFILE"
echo "scenarios: $SCENARIOS; raw: ${log#"$ROOT"/}"

for s in $SCENARIOS; do
    "scenario_$s"
done

echo
echo "| scenario | measure | Peregrine | nginx | target | Peregrine verdict |"
echo "|---|---|---:|---:|---|---|"
printf '%s\n' "${rows[@]}"
