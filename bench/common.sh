# shellcheck shell=bash
# Helpers shared by the scripts of bench/ (wrk.sh, profile.sh, static.sh,
# compress.sh, tls.sh, ws-deflate.sh); sourced, not run.
#
# Both scripts compare the `hello` example with nginx answering the same
# bytes: "Hello, World!" (13 B) or a 6150-byte body (the body size of the
# published benchmark of the Zig server we compare against elsewhere).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
HELLO=$ROOT/target/release/examples/hello

die() {
    echo "error: $*" >&2
    exit 1
}

note() { echo "-- $*" >&2; }

# Installs the Debian packages named in "$@" (command:package pairs) when
# their command is missing.
need_commands() {
    local missing=() pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    note "installing ${missing[*]}"
    local sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
        die "apt-get update failed"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
        die "could not install ${missing[*]}"
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || die "${pair%%:*} still missing after installing ${pair#*:}"
    done
}

# nginx lives in /usr/sbin, which a non-root PATH may lack.
export PATH=$PATH:/usr/sbin:/sbin

build_hello() {
    note "building hello (release)"
    (cd "$ROOT" && cargo build --release --quiet -p peregrine-examples --example hello) ||
        die "cargo build failed"
    [ -x "$HELLO" ] || die "$HELLO not built"
}

# Writes the body of SIZE bytes (13 or any other size) to FILE. The
# 13-byte body is "Hello, World!"; others are a repeating [a-z0-9] pattern,
# so the same text can sit in an nginx config string without escaping.
write_body() {
    local size=$1 file=$2
    if [ "$size" -eq 13 ]; then
        printf 'Hello, World!' >"$file"
    else
        awk -v n="$size" 'BEGIN { s = "abcdefghijklmnopqrstuvwxyz0123456789"
            while (length(out) < n) out = out s
            printf "%s", substr(out, 1, n) }' >"$file"
    fi
    [ "$(wc -c <"$file")" -eq "$size" ] || die "could not write a $size-byte body"
}

# Writes an nginx config to DIR/nginx.conf answering GET / with the bytes of
# BODY_FILE on 127.0.0.1:PORT. MASTER is "on" or "off" (off: one process,
# for valgrind and strace).
#
# The body is sent by `return 200`, the same in-memory path for both sizes.
# nginx refuses a config token over 4096 bytes, so a larger body is split
# into `map` constants of at most 4000 bytes and joined by the `return`
# string ("$body_0$body_1"). That costs nginx one copy of the body per
# request into a pool buffer, which the literal 13-byte string does not.
# The alternative, a static file, adds an open (or an open_file_cache
# lookup) and a read or sendfile per request: further from the path
# Peregrine takes, which answers from memory with one writev.
write_nginx_conf() {
    local dir=$1 port=$2 body_file=$3 master=${4:-on}
    local body maps='' ret='' i=0 off=0 chunk=4000
    body=$(cat "$body_file")
    if [ ${#body} -le $chunk ]; then
        ret=$body
    else
        while [ $off -lt ${#body} ]; do
            maps+="    map \"\" \$body_$i { default \"${body:$off:$chunk}\"; }"$'\n'
            ret+="\$body_$i"
            off=$((off + chunk))
            i=$((i + 1))
        done
    fi
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process $master;
worker_processes 1;
worker_rlimit_nofile 65536;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections 8192;
    multi_accept on;
}
http {
    access_log off;
    server_tokens off;
    default_type text/plain;
    keepalive_timeout 75s;
    keepalive_requests 1000000000;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
$maps    server {
        listen 127.0.0.1:$port backlog=1024;
        location = / {
            return 200 "$ret";
        }
    }
}
EOF
    nginx -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" ||
        die "nginx rejected $dir/nginx.conf"
}

# Fails unless nothing listens on 127.0.0.1:PORT.
port_free() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        die "something already listens on 127.0.0.1:$1 (set another port in the environment)"
    fi
}

# Waits up to TIMEOUT seconds for 127.0.0.1:PORT to answer GET / with
# SIZE bytes, while process PID lives. LOG is shown when it fails.
wait_ready() {
    local port=$1 pid=$2 size=$3 timeout=$4 log=$5 deadline got
    deadline=$((SECONDS + timeout))
    while [ $SECONDS -lt $deadline ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$log" >&2 2>/dev/null
            die "server (pid $pid, port $port) died while starting; log: $log"
        fi
        got=$(curl -s --max-time 2 -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$port/" 2>/dev/null) || got=
        if [ "$got" = "200 $size" ]; then
            return 0
        fi
        sleep 0.2
    done
    tail -n 20 "$log" >&2 2>/dev/null
    die "server (pid $pid) did not answer GET / on 127.0.0.1:$port with 200 and $size bytes within ${timeout}s (last: '${got:-no answer}'); log: $log"
}

# Sends SIGNAL to PID and waits up to TIMEOUT seconds for it to exit;
# SIGKILL after that. Returns 1 if it had to be killed.
stop_pid() {
    local pid=$1 signal=$2 timeout=$3 deadline
    kill -0 "$pid" 2>/dev/null || return 0
    kill -s "$signal" "$pid" 2>/dev/null
    deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -s KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 1
    fi
    wait "$pid" 2>/dev/null
    return 0
}

# utime + stime, in clock ticks, of PID (all its threads) and its
# children (nginx's worker): /proc/PID/stat fields 14 and 15; with a
# second argument `user`, utime alone (field 14).
cpu_ticks() {
    local pid=$1 total child t sum='$12 + $13'
    [ "${2:-}" = user ] && sum='$12'
    total=$(sed 's/.*) //' "/proc/$pid/stat" | awk "{ print $sum }") || return 1
    # shellcheck disable=SC2013 # the file is one line of pids
    for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
        t=$(sed 's/.*) //' "/proc/$child/stat" 2>/dev/null | awk "{ print $sum }") || continue
        total=$((total + ${t:-0}))
    done
    echo "$total"
}

# Median of the numbers on standard input (mean of the middle two when
# their count is even); "-" when there are none.
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

raise_fd_limit() {
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 4096 ] ||
        note "open-file limit is $(ulimit -n): runs with 1000 connections may fail"
}

machine_line() {
    local model
    model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
    echo "machine: $(nproc) CPUs, ${model:-unknown CPU}, $(uname -sr)"
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')"
}

# Sets up a run whose report is named NAME: servers whose pids the script
# adds to `pids` are stopped with SIGNAL (KILL after 5 s) however the
# script ends, the temporary directory `$tmp` is removed, `log` names the
# raw log, and everything printed to standard output also goes to the
# report, bench/results/NAME-STAMP.md.
start_report() { # NAME SIGNAL
    pids=()
    tee_pid=
    stop_signal=$2
    trap cleanup EXIT
    trap 'exit 130' INT TERM HUP
    mkdir -p "$BENCH_DIR/results"
    local stamp
    stamp=$(date -u +%Y%m%d-%H%M%S)
    log=$BENCH_DIR/results/$1-$stamp.log
    report=$BENCH_DIR/results/$1-$stamp.md
    : >"$log"
    exec > >(tee "$report")
    tee_pid=$!
}

# Stops what start_report's run started and flushes its report.
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        stop_pid "$pid" "$stop_signal" 5 || true
    done
    # shellcheck disable=SC2154 # tmp is set by the script that sources this file
    rm -rf "$tmp"
    if [ -n "$tee_pid" ]; then
        exec >&-
        wait "$tee_pid" 2>/dev/null || true
    fi
}

# Starts the static example (`$STATIC`, one worker, on $SERVER_CPU)
# serving $site on $PEREGRINE_PORT, with any further options given; sets
# peregrine_pid. For bench/static.sh and bench/compress.sh.
start_static_peregrine() {
    port_free "$PEREGRINE_PORT"
    taskset -c "$SERVER_CPU" "$STATIC" --port "$PEREGRINE_PORT" --workers 1 \
        --root "$site" --grace-ms 1000 "$@" >"$tmp/peregrine.out" 2>&1 &
    peregrine_pid=$!
    pids+=("$peregrine_pid")
    wait_ready "$PEREGRINE_PORT" "$peregrine_pid" 5 30 "$tmp/peregrine.out"
}

# Starts nginx (one worker, on $SERVER_CPU) serving $site on $NGINX_PORT
# as a static file server (sendfile, open file cache, keep-alive without
# a request limit): HTTP_EXTRA is added to its http block, SERVER_EXTRA
# to its server block, MAIN_EXTRA (optional: `load_module`) to its main
# context. $SERVER_LAUNCH, if set, is the command nginx is started
# through (a wrapper that execs its arguments). Sets nginx_pid.
start_static_nginx() { # HTTP_EXTRA SERVER_EXTRA [MAIN_EXTRA]
    local dir=$tmp/nginx http_extra=$1 server_extra=$2 main_extra=${3:-}
    port_free "$NGINX_PORT"
    mkdir -p "$dir/tmp"
    chmod 755 "$dir"
    cat >"$dir/nginx.conf" <<CONF
$main_extra
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 65536;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections 8192;
    multi_accept on;
}
http {
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    open_file_cache max=1024 inactive=60s;
    open_file_cache_valid 1s;
    default_type application/octet-stream;
    keepalive_timeout 75s;
    keepalive_requests 1000000000;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
$http_extra
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=1024;
        root $site;
$server_extra
    }
}
CONF
    nginx -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" || die "nginx rejected its config"
    ${SERVER_LAUNCH:-} taskset -c "$SERVER_CPU" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
        >"$dir/stdout" 2>&1 &
    nginx_pid=$!
    pids+=("$nginx_pid")
    wait_ready "$NGINX_PORT" "$nginx_pid" 5 30 "$dir/error.log"
}

# Seconds in a wrk duration ("10", "10s", "2m", "1h").
seconds() {
    case $1 in
    *[0-9]s | *[0-9]) echo "${1%s}" ;;
    *[0-9]m) echo $((${1%m} * 60)) ;;
    *[0-9]h) echo $((${1%h} * 3600)) ;;
    *) die "not a duration: $1" ;;
    esac
}

# A wrk latency ("812.00us", "1.20ms", "2.00s") in µs; "nan" if unreadable.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) f = 1; else if (v ~ /ms$/) f = 1000
        else if (v ~ /m$/) f = 60000000; else if (v ~ /h$/) f = 3600000000
        else if (v ~ /s$/) f = 1000000; else f = -1
        if (f < 0) print "nan"; else printf "%.1f\n", n * f }'
}

# One wrk run: SERVER PID LABEL DURATION WRK_ARGS... (the connections,
# the URL and any other option of wrk's; PID "-" when the server's CPU is
# not measured). wrk runs with one thread pinned to $CLIENT_CPU, for
# DURATION, with a 5 s request timeout. Its output goes to $log and, unless
# LABEL is `warmup`, a record line
#   run <label> <server> <req/s> <p50 µs> <p99 µs> <µs CPU/request> <requests> <errors> <µs user CPU/request>
# (the latencies "-" without --latency, the CPUs "-" without a PID; the
# last is the part of the CPU spent in user space, utime alone), and
# $errors_seen is set when wrk reported socket errors or non-2xx answers.
# Server CPU per request is the server's utime + stime (cpu_ticks) over
# the run, divided by the requests wrk completed.
run_wrk() {
    local server=$1 pid=$2 label=$3 duration=$4
    shift 4
    local args=(-t1 -d"$duration" --timeout 5s "$@")
    local t0='' t1='' u0='' u1='' out status=0 hz
    if [ "$pid" != - ]; then
        kill -0 "$pid" 2>/dev/null || die "$server (pid $pid) is not running"
        t0=$(cpu_ticks "$pid")
        u0=$(cpu_ticks "$pid" user)
    fi
    out=$(timeout -k 5 $(($(seconds "$duration") + 110)) taskset -c "$CLIENT_CPU" wrk "${args[@]}" 2>&1) ||
        status=$?
    [ "$pid" = - ] || t1=$(cpu_ticks "$pid" 2>/dev/null) || t1=
    [ "$pid" = - ] || u1=$(cpu_ticks "$pid" user 2>/dev/null) || u1=
    {
        echo "### $label $server: taskset -c $CLIENT_CPU wrk ${args[*]}"
        echo "$out"
    } >>"$log"
    [ "$status" -eq 0 ] || die "wrk against $server failed (exit $status); see $log"
    if [ "$pid" != - ] && { ! kill -0 "$pid" 2>/dev/null || [ -z "$t1" ]; }; then
        # shellcheck disable=SC2154 # tmp is set by the script that sources this file
        tail -n 20 "$tmp"/*.out "$tmp"/nginx*/error.log >&2 2>/dev/null || true
        die "$server (pid $pid) died during the run ($label); its output is above, wrk's in $log"
    fi
    [ "$label" = warmup ] && return 0

    local requests rps p50=- p99=- errors us=- us_user=-
    requests=$(awk '/requests in/ { print $1; exit }' <<<"$out")
    rps=$(awk '/^Requests\/sec:/ { print $2; exit }' <<<"$out")
    [[ ${requests:-0} =~ ^[0-9]+$ && $requests -gt 0 ]] ||
        die "wrk completed no request against $server ($label); see $log"
    if [[ " ${args[*]} " == *" --latency "* ]]; then
        p50=$(to_us "$(awk '$1 == "50%" { print $2; exit }' <<<"$out")")
        p99=$(to_us "$(awk '$1 == "99%" { print $2; exit }' <<<"$out")")
    fi
    errors=$(awk '/Socket errors:/ { gsub(",", ""); s += $4 + $6 + $8 + $10 }
        /Non-2xx/ { s += $NF } END { print s + 0 }' <<<"$out")
    # shellcheck disable=SC2034 # read by the script that sources this file
    [ "$errors" -eq 0 ] || errors_seen=1
    if [ "$pid" != - ]; then
        hz=$(getconf CLK_TCK)
        us=$(awk -v d="$((t1 - t0))" -v hz="$hz" -v n="$requests" 'BEGIN { printf "%.3f", d * 1e6 / hz / n }')
        us_user=$(awk -v d="$((${u1:-$u0} - u0))" -v hz="$hz" -v n="$requests" 'BEGIN { printf "%.3f", d * 1e6 / hz / n }')
    fi
    echo "run $label $server $rps $p50 $p99 $us $requests $errors $us_user" | tee -a "$log" | sed 's/^/-- /' >&2
}

# Median of column COL of the record lines of LABEL and SERVER in $log
# (run_wrk's: 4 req/s, 5 and 6 p50 and p99 µs, 7 µs CPU/request, 8
# requests, 9 errors).
med() { awk -v l="$1" -v s="$2" -v c="$3" '$1 == "run" && $2 == l && $3 == s { print $c }' "$log" | median; }

# A over B as "1.23×"; "-" when B is 0.
fmt_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f×\n", a / b }'; }
