#!/usr/bin/env bash
# HTTPS: the `hello` example (`--tls-cert`) against nginx (`ssl`, the same
# certificate, TLS 1.3 only, keep-alive), both with one worker pinned to
# one CPU, wrk over HTTPS with one thread pinned to the other, on
# 127.0.0.1.
#
#   bench/tls.sh
#   ROUNDS=1 DURATION=3s BODIES=13 HANDSHAKES=0 PIPELINED=0 bench/tls.sh
#
# Cells: bodies of 13 B and 6150 B over CONNS keep-alive connections
# (one handshake each, then requests); unless PIPELINED=0, 13 B over the
# same connections pipelined DEPTH deep (DEPTH requests a write, the next
# write once all are answered: bench/pipeline.lua); and, unless
# HANDSHAKES=0, the handshake-heavy cell: `Connection: close` on every request, so each
# request is a new TCP connection and a full TLS 1.3 handshake (wrk
# resumes no session), 13 B body. In each cell the servers take turns,
# peregrine then nginx, ROUNDS times, and the report gives the medians.
# The certificate is an ECDSA P-256 one made for the run; both servers
# negotiate the cipher suite and key exchange wrk's OpenSSL prefers.
#
# Server CPU per request is the server's utime + stime (/proc/PID/stat
# fields 14 and 15, nginx's master and worker added) over the wrk run,
# divided by the requests wrk completed.
#
# Environment (defaults in brackets):
#   ROUNDS [3]  DURATION [10s]  WARMUP [2s, 0 for none]  CONNS [100]
#   BODIES ["13 6150"]  HANDSHAKES [1, 0 to leave the handshake cell out]
#   PIPELINED [1, 0 to leave the pipelined cell out]  DEPTH [16]
#   HANDSHAKE_CONNS [20: enough to keep both busy]  SERVER_CPU [0]  CLIENT_CPU [1]
#   PEREGRINE_PORT [18070]  NGINX_PORT [18071]
#
# The Markdown report goes to standard output and to
# bench/results/tls-*.md; the raw wrk output to bench/results/tls-*.log.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-100}
BODIES=${BODIES:-13 6150}
HANDSHAKES=${HANDSHAKES:-1}
PIPELINED=${PIPELINED:-1}
DEPTH=${DEPTH:-16}
HANDSHAKE_CONNS=${HANDSHAKE_CONNS:-20}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PEREGRINE_PORT=${PEREGRINE_PORT:-18070}
NGINX_PORT=${NGINX_PORT:-18071}
HELLO=$ROOT/target/release/examples/hello

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer, not '$CONNS'"
[[ $DEPTH =~ ^[1-9][0-9]*$ ]] || die "DEPTH must be a positive integer, not '$DEPTH'"
[[ $HANDSHAKE_CONNS =~ ^[1-9][0-9]*$ ]] || die "HANDSHAKE_CONNS must be a positive integer, not '$HANDSHAKE_CONNS'"
for b in $BODIES; do [[ $b =~ ^[1-9][0-9]*$ ]] || die "BODIES: not a size: $b"; done
[ "$(nproc)" -ge 2 ] || note "only $(nproc) CPU: server and wrk will share it"

need_commands wrk:wrk nginx:nginx-light curl:curl taskset:util-linux openssl:openssl
note "building hello (release)"
(cd "$ROOT" && cargo build --release --quiet -p peregrine-examples --example hello) ||
    die "cargo build failed"
[ -x "$HELLO" ] || die "$HELLO not built"
raise_fd_limit

tmp=$(mktemp -d "${TMPDIR:-/tmp}/peregrine-tls.XXXXXX")
chmod 755 "$tmp" # nginx's worker runs as another user when started as root
start_report tls TERM

# The certificate both servers present.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost >/dev/null 2>&1 || die "openssl could not make a certificate"
chmod 644 "$tmp/key.pem" "$tmp/cert.pem"

# Waits up to TIMEOUT seconds for https://127.0.0.1:PORT/ to answer with
# SIZE bytes over TLS 1.3, while process PID lives. LOG is shown when it
# fails.
wait_https() { # PORT PID SIZE TIMEOUT LOG
    local port=$1 pid=$2 size=$3 timeout=$4 log=$5 deadline got
    deadline=$((SECONDS + timeout))
    while [ $SECONDS -lt $deadline ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$log" >&2 2>/dev/null
            die "server (pid $pid, port $port) died while starting; log: $log"
        fi
        got=$(curl -sk --tlsv1.3 --max-time 2 -o /dev/null -w '%{http_code} %{size_download}' \
            "https://127.0.0.1:$port/" 2>/dev/null) || got=
        [ "$got" = "200 $size" ] && return 0
        sleep 0.2
    done
    tail -n 20 "$log" >&2 2>/dev/null
    die "server (pid $pid) did not answer https://127.0.0.1:$port/ with 200 and $size bytes within ${timeout}s (last: '${got:-no answer}')"
}

# The protocol and cipher suite a TLS 1.3 client gets from PORT.
negotiated() {
    curl -skv --tlsv1.3 --max-time 2 -o /dev/null "https://127.0.0.1:$1/" 2>&1 |
        awk '/SSL connection using/ { sub(/.*using /, ""); print; exit }'
}

start_peregrine() { # BODY_FILE SIZE
    local out=$tmp/peregrine-$2.out
    port_free "$PEREGRINE_PORT"
    taskset -c "$SERVER_CPU" "$HELLO" --port "$PEREGRINE_PORT" --workers 1 \
        --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" --body-file "$1" >"$out" 2>&1 &
    peregrine_pid=$!
    pids+=("$peregrine_pid")
    wait_https "$PEREGRINE_PORT" "$peregrine_pid" "$2" 30 "$out"
}

# nginx as bench/wrk.sh configures it (the body from memory, one worker,
# keep-alive without a request limit), listening with `ssl` on the same
# certificate, TLS 1.3 only.
start_nginx() { # BODY_FILE SIZE
    local dir=$tmp/nginx-$2
    port_free "$NGINX_PORT"
    mkdir -p "$dir"
    chmod 755 "$dir"
    write_nginx_conf "$dir" "$NGINX_PORT" "$1" on
    local listen="listen 127.0.0.1:$NGINX_PORT backlog=1024;"
    grep -qF "$listen" "$dir/nginx.conf" || die "nginx config: no '$listen' line to add ssl to"
    sed -i "s|$listen|listen 127.0.0.1:$NGINX_PORT ssl backlog=1024;\n        ssl_certificate $tmp/cert.pem;\n        ssl_certificate_key $tmp/key.pem;\n        ssl_protocols TLSv1.3;|" \
        "$dir/nginx.conf"
    nginx -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" || die "nginx rejected $dir/nginx.conf"
    taskset -c "$SERVER_CPU" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
        >"$dir/stdout" 2>&1 &
    nginx_pid=$!
    pids+=("$nginx_pid")
    wait_https "$NGINX_PORT" "$nginx_pid" "$2" 30 "$dir/error.log"
}

stop_servers() {
    stop_pid "$peregrine_pid" INT 10 || note "peregrine did not stop on SIGINT; killed"
    stop_pid "$nginx_pid" QUIT 10 || note "nginx did not stop on SIGQUIT; killed"
    pids=()
}


# Every cell of one body: warm-up, then ROUNDS turns of each server.
# MODE: keepalive, pipelined (DEPTH requests a write, bench/pipeline.lua)
# or close (`Connection: close`: a new connection and handshake each).
cell() { # LABEL CONNS MODE
    local label=$1 conns=$2 mode=$3 _
    if [ "$WARMUP" != 0 ]; then
        tls_wrk peregrine "$conns" "$mode" "$WARMUP" warmup
        tls_wrk nginx "$conns" "$mode" "$WARMUP" warmup
    fi
    for _ in $(seq "$ROUNDS"); do
        tls_wrk peregrine "$conns" "$mode" "$DURATION" "$label"
        tls_wrk nginx "$conns" "$mode" "$DURATION" "$label"
    done
}

# One wrk run over HTTPS against SERVER, through run_wrk (bench/common.sh).
tls_wrk() { # SERVER CONNS MODE DURATION LABEL
    local server=$1 conns=$2 mode=$3 duration=$4 label=$5 pid port
    local args=(-c"$conns")
    if [ "$server" = peregrine ]; then pid=$peregrine_pid port=$PEREGRINE_PORT; else pid=$nginx_pid port=$NGINX_PORT; fi
    [ "$mode" = close ] && args+=(-H "Connection: close")
    [ "$mode" = pipelined ] && args+=(-s "$BENCH_DIR/pipeline.lua")
    args+=("https://127.0.0.1:$port/")
    [ "$mode" = pipelined ] && args+=(-- "$DEPTH")
    run_wrk "$server" "$pid" "$label" "$duration" "${args[@]}"
}

echo "# Peregrine vs nginx: HTTPS"
echo
machine_line
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "servers: one worker, taskset -c $SERVER_CPU; wrk -t1, taskset -c $CLIENT_CPU; nginx $(nginx -v 2>&1 | sed 's/.*\///') with $(openssl version | cut -d' ' -f1-2)"
echo "rounds: $ROUNDS × $DURATION per server and cell, interleaved (warm-up $WARMUP); medians below"
echo "raw: ${log#"$ROOT"/}"

cells=()
for size in $BODIES; do
    body=$tmp/body-$size
    write_body "$size" "$body"
    start_peregrine "$body" "$size"
    start_nginx "$body" "$size"
    if [ ${#cells[@]} -eq 0 ]; then
        echo "negotiated: peregrine $(negotiated "$PEREGRINE_PORT"); nginx $(negotiated "$NGINX_PORT")"
        echo
    fi
    cell "$size-keepalive" "$CONNS" keepalive
    cells+=("$size-keepalive|$size B|$CONNS keep-alive")
    if [ "$PIPELINED" != 0 ] && [ "$size" = 13 ]; then
        cell "$size-pipelined" "$CONNS" pipelined
        cells+=("$size-pipelined|$size B|$CONNS keep-alive, pipelined $DEPTH deep")
    fi
    if [ "$HANDSHAKES" != 0 ] && [ "$size" = 13 ]; then
        cell "$size-handshake" "$HANDSHAKE_CONNS" close
        cells+=("$size-handshake|$size B|$HANDSHAKE_CONNS, a new connection (full handshake) per request")
    fi
    stop_servers
done

echo "| body | connections | peregrine req/s | nginx req/s | req/s ratio | peregrine µs CPU/req | nginx µs CPU/req | CPU ratio | errors |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
for entry in "${cells[@]}"; do
    IFS='|' read -r label body conns <<<"$entry"
    p_rps=$(med "$label" peregrine 4)
    n_rps=$(med "$label" nginx 4)
    p_us=$(med "$label" peregrine 7)
    n_us=$(med "$label" nginx 7)
    errors=$(awk -v l="$label" '$1 == "run" && $2 == l { s += $9 } END { print s + 0 }' "$log")
    printf '| %s | %s | %.0f | %.0f | %s | %.2f | %.2f | %s | %s |\n' "$body" "$conns" "$p_rps" "$n_rps" \
        "$(fmt_ratio "$p_rps" "$n_rps")" "$p_us" "$n_us" "$(fmt_ratio "$p_us" "$n_us")" "$errors"
done
echo
echo "req/s ratio: peregrine over nginx (above 1: peregrine serves more); CPU ratio: peregrine's CPU per request over nginx's (below 1: peregrine spends less)."
