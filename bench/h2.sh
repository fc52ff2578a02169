#!/usr/bin/env bash
# HTTP/2 with prior knowledge (h2c): `hello --http2` against nginx
# (`listen ... http2`) and h2o, each with one worker (thread) pinned to
# one CPU, h2load with one thread pinned to the other, on 127.0.0.1.
#
#   bench/h2.sh
#   ROUNDS=1 DURATION=3 BODIES=13 LOADS="100x10" bench/h2.sh
#
# Cells: each body (13 B and 6150 B) under each load, written CxM: C
# connections with M streams in flight on each (h2load -c C -m M). In each
# cell the servers take turns, peregrine, nginx, h2o, ROUNDS times, and
# the report gives the medians. The body is answered from memory by
# peregrine and nginx (`return 200`), and by h2o from a file it caches
# (`file.file`: h2o has no in-memory answer).
#
# Server CPU per request is the server's utime + stime (/proc/PID/stat,
# nginx's master and worker added) over the h2load run, divided by the
# requests that succeeded.
#
# Environment (defaults in brackets):
#   ROUNDS [3]  DURATION [10, seconds]  WARMUP [2, 0 for none]
#   BODIES ["13 6150"]  LOADS ["100x10 10x100"]  SERVERS ["peregrine nginx h2o"]
#   SERVER_CPU [0]  CLIENT_CPU [1]
#   PEREGRINE_PORT [18090]  NGINX_PORT [18091]  H2O_PORT [18092]
#
# The Markdown report goes to standard output and to
# bench/results/h2-*.md; the raw h2load output to bench/results/h2-*.log.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
BODIES=${BODIES:-13 6150}
LOADS=${LOADS:-100x10 10x100}
SERVERS=${SERVERS:-peregrine nginx h2o}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PEREGRINE_PORT=${PEREGRINE_PORT:-18090}
NGINX_PORT=${NGINX_PORT:-18091}
H2O_PORT=${H2O_PORT:-18092}

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be whole seconds, not '$DURATION'"
for b in $BODIES; do [[ $b =~ ^[1-9][0-9]*$ ]] || die "BODIES: not a size: $b"; done
for l in $LOADS; do [[ $l =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] || die "LOADS: not CxM: $l"; done
[ "$(nproc)" -ge 2 ] || note "only $(nproc) CPU: servers and h2load will share it"

need_commands h2load:nghttp2-client nginx:nginx-light h2o:h2o curl:curl taskset:util-linux
build_hello
raise_fd_limit

tmp=$(mktemp -d "${TMPDIR:-/tmp}/peregrine-h2.XXXXXX")
chmod 755 "$tmp" # nginx's and h2o's workers run as another user when started as root
start_report h2 TERM

# Waits up to 30 s for an h2c GET / on PORT to answer SIZE bytes over
# HTTP/2 while process PID lives; LOG is shown when it fails.
wait_h2c() { # PORT PID SIZE LOG
    local port=$1 pid=$2 size=$3 log=$4 deadline got
    deadline=$((SECONDS + 30))
    while [ $SECONDS -lt $deadline ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$log" >&2 2>/dev/null
            die "server (pid $pid, port $port) died while starting; log: $log"
        fi
        got=$(curl -s --http2-prior-knowledge --max-time 2 -o /dev/null \
            -w '%{http_code} %{size_download} %{http_version}' "http://127.0.0.1:$port/" 2>/dev/null) || got=
        [ "$got" = "200 $size 2" ] && return 0
        sleep 0.2
    done
    tail -n 20 "$log" >&2 2>/dev/null
    die "server (pid $pid) did not answer h2c GET / on port $port with 200 and $size bytes within 30s (last: '${got:-no answer}')"
}

start_peregrine() { # BODY_FILE SIZE
    local out=$tmp/peregrine-$2.out
    port_free "$PEREGRINE_PORT"
    taskset -c "$SERVER_CPU" "$HELLO" --port "$PEREGRINE_PORT" --workers 1 --http2 \
        --body-file "$1" --grace-ms 1000 >"$out" 2>&1 &
    peregrine_pid=$!
    pids+=("$peregrine_pid")
    wait_h2c "$PEREGRINE_PORT" "$peregrine_pid" "$2" "$out"
}

# nginx as bench/wrk.sh configures it (the body from memory, one worker,
# no request limit per connection), its listener speaking HTTP/2.
start_nginx() { # BODY_FILE SIZE
    local dir=$tmp/nginx-$2
    port_free "$NGINX_PORT"
    mkdir -p "$dir"
    chmod 755 "$dir"
    write_nginx_conf "$dir" "$NGINX_PORT" "$1" on
    local listen="listen 127.0.0.1:$NGINX_PORT backlog=1024;"
    grep -qF "$listen" "$dir/nginx.conf" || die "nginx config: no '$listen' line to add http2 to"
    sed -i "s|$listen|listen 127.0.0.1:$NGINX_PORT http2 backlog=1024;|" "$dir/nginx.conf"
    nginx -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" || die "nginx rejected $dir/nginx.conf"
    taskset -c "$SERVER_CPU" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
        >"$dir/stdout" 2>&1 &
    nginx_pid=$!
    pids+=("$nginx_pid")
    wait_h2c "$NGINX_PORT" "$nginx_pid" "$2" "$dir/error.log"
}

# h2o with one thread serving the body's file at /.
start_h2o() { # BODY_FILE SIZE
    local dir=$tmp/h2o-$2
    port_free "$H2O_PORT"
    mkdir -p "$dir"
    chmod 777 "$dir"
    chmod 644 "$1"
    local user=
    [ "$(id -u)" = 0 ] && user="user: nobody"
    cat >"$dir/h2o.conf" <<EOF
listen:
  host: 127.0.0.1
  port: $H2O_PORT
num-threads: 1
$user
pid-file: $dir/h2o.pid
error-log: $dir/error.log
hosts:
  default:
    paths:
      /:
        file.file: $1
EOF
    taskset -c "$SERVER_CPU" h2o -c "$dir/h2o.conf" >"$dir/stdout" 2>&1 &
    h2o_pid=$!
    pids+=("$h2o_pid")
    wait_h2c "$H2O_PORT" "$h2o_pid" "$2" "$dir/stdout"
}

stop_servers() {
    [ -z "${peregrine_pid:-}" ] || stop_pid "$peregrine_pid" INT 10 || note "peregrine did not stop on SIGINT; killed"
    [ -z "${nginx_pid:-}" ] || stop_pid "$nginx_pid" QUIT 10 || note "nginx did not stop on SIGQUIT; killed"
    [ -z "${h2o_pid:-}" ] || stop_pid "$h2o_pid" TERM 10 || note "h2o did not stop on SIGTERM; killed"
    peregrine_pid= nginx_pid= h2o_pid=
    pids=()
}

# One h2load run against SERVER: LOAD (CxM) for SECONDS; unless LABEL is
# `warmup`, a record line in $log like run_wrk's:
#   run <label> <server> <req/s> - - <µs CPU/request> <requests> <errors>
h2load_run() { # SERVER LOAD SECONDS LABEL
    local server=$1 load=$2 duration=$3 label=$4 pid port out status=0 t0 t1
    case $server in
    peregrine) pid=$peregrine_pid port=$PEREGRINE_PORT ;;
    nginx) pid=$nginx_pid port=$NGINX_PORT ;;
    h2o) pid=$h2o_pid port=$H2O_PORT ;;
    esac
    local args=(-t1 -c"${load%x*}" -m"${load#*x}" -D"$duration" "http://127.0.0.1:$port/")
    t0=$(cpu_ticks "$pid")
    out=$(timeout -k 5 $((duration + 60)) taskset -c "$CLIENT_CPU" h2load "${args[@]}" 2>&1) || status=$?
    t1=$(cpu_ticks "$pid" 2>/dev/null) || t1=
    {
        echo "### $label $server: taskset -c $CLIENT_CPU h2load ${args[*]}"
        echo "$out"
    } >>"$log"
    [ "$status" -eq 0 ] || die "h2load against $server failed (exit $status); see $log"
    kill -0 "$pid" 2>/dev/null && [ -n "$t1" ] || die "$server (pid $pid) died during the run ($label); see $log"
    [ "$label" = warmup ] && return 0
    local rps succeeded errors hz us
    rps=$(awk '/^finished in/ { gsub(",", ""); print $4; exit }' <<<"$out")
    succeeded=$(awk '/^requests:/ { print $8; exit }' <<<"$out")
    errors=$(awk '/^requests:/ { print $10 + $12 + $14; exit }' <<<"$out")
    [[ ${succeeded:-0} =~ ^[0-9]+$ && $succeeded -gt 0 ]] ||
        die "h2load completed no request against $server ($label); see $log"
    hz=$(getconf CLK_TCK)
    us=$(awk -v d="$((t1 - t0))" -v hz="$hz" -v n="$succeeded" 'BEGIN { printf "%.3f", d * 1e6 / hz / n }')
    echo "run $label $server $rps - - $us $succeeded $errors" | tee -a "$log" | sed 's/^/-- /' >&2
}

echo "# Peregrine vs nginx and h2o: HTTP/2 (h2c, prior knowledge)"
echo
machine_line
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "servers: one worker (thread), taskset -c $SERVER_CPU; h2load -t1, taskset -c $CLIENT_CPU; $(nginx -v 2>&1 | sed 's/.*: //'), $(h2o --version 2>&1 | head -n 1), $(h2load --version 2>&1 | head -n 1)"
echo "rounds: $ROUNDS × ${DURATION}s per server and cell, interleaved (warm-up ${WARMUP}s); medians below"
echo "raw: ${log#"$ROOT"/}"
echo

cells=()
for size in $BODIES; do
    body=$tmp/body-$size
    write_body "$size" "$body"
    for server in $SERVERS; do "start_$server" "$body" "$size"; done
    for load in $LOADS; do
        label=$size-$load
        if [ "$WARMUP" != 0 ]; then
            for server in $SERVERS; do h2load_run "$server" "$load" "$WARMUP" warmup; done
        fi
        for _ in $(seq "$ROUNDS"); do
            for server in $SERVERS; do h2load_run "$server" "$load" "$DURATION" "$label"; done
        done
        cells+=("$label|$size B|${load%x*} connections × ${load#*x} streams")
    done
    stop_servers
done

header="| body | load |"
rule="|---:|---|"
for server in $SERVERS; do
    header+=" $server req/s | $server µs CPU/req |"
    rule+="---:|---:|"
done
for server in $SERVERS; do
    [ "$server" = peregrine ] && continue
    header+=" req/s vs $server | CPU vs $server |"
    rule+="---:|---:|"
done
echo "$header errors |"
echo "$rule---:|"
for entry in "${cells[@]}"; do
    IFS='|' read -r label body load <<<"$entry"
    row="| $body | $load |"
    for server in $SERVERS; do
        row+=" $(printf '%.0f' "$(med "$label" "$server" 4)") | $(printf '%.2f' "$(med "$label" "$server" 7)") |"
    done
    for server in $SERVERS; do
        [ "$server" = peregrine ] && continue
        row+=" $(fmt_ratio "$(med "$label" peregrine 4)" "$(med "$label" "$server" 4)") | $(fmt_ratio "$(med "$label" peregrine 7)" "$(med "$label" "$server" 7)") |"
    done
    errors=$(awk -v l="$label" '$1 == "run" && $2 == l { s += $9 } END { print s + 0 }' "$log")
    echo "$row $errors |"
done
echo
echo "req/s vs X: peregrine's over X's (above 1: peregrine serves more); CPU vs X: peregrine's CPU per request over X's (below 1: peregrine spends less)."
