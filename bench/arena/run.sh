#!/usr/bin/env bash
# HttpArena's HTTP/1.1, HTTP/2, WebSocket and TLS profiles on this machine: the
# arena example against the entries HttpArena runs for each profile, with
# HttpArena's own load generators and request files.
#
#   bench/arena/run.sh
#   ROUNDS=1 DURATION=3s PROFILES="baseline json" CONNS=512 bench/arena/run.sh
#
# Servers: the arena example (`--workers 1`), HttpArena's rust-epoll,
# may-minihttp, hyper and actix entries (../shared/httparena/peers, built
# here with `cargo build --release`, run with WORKERS=1), and for the
# static profile nginx (gzip_static, brotli_static, sendfile, open file
# cache) and h2o (file.send-compressed), installed with apt when missing.
# A server is measured only in the profiles its HttpArena entry takes
# part in (meta.json); json-tls, echo-ws, baseline-h2c and json-h2c have
# no such peer here (no peer serves h2c), so Peregrine runs them alone.
# actix and hyper serve baseline-h2 and static-h2 on port 8443, which
# they do not let move: when those profiles run, each of them runs in a
# network namespace of its own (unshare --net, as root), where its load
# generator and readiness checks join it (nsenter), with HttpArena's
# certificate (TLS_CERT, TLS_KEY).
#
# Each server runs on CPU $SERVER_CPU (taskset; one worker), the load
# generator on CPU $CLIENT_CPU with one thread: gcannon (io_uring, built
# from HttpArena's sources) for the connection, JSON and upload profiles
# and, with --ws, for echo-ws; wrk with HttpArena's Lua rotation for
# static and json-tls; h2load (nghttp2-client, one thread) for the
# HTTP/2 profiles, with HttpArena's URI lists (-i) and -m 100 or 32.
# Options as HttpArena's scripts/lib/tools pass
# them (templates, -p 16, -r 10/25/5), connections as its profiles.sh
# (CONNS overrides every profile's list). Every server, and each run of
# the load generator, is in a session of its own, hence an autogroup of
# its own, which as root is given nice NICE: Linux shares a CPU between
# autogroups before threads, so without this a server with many threads
# (actix's blocking pool) outweighs one with a single thread on a machine
# that runs anything else, and nice values set inside a group count for
# nothing against other groups.
#
# In each profile and connection count the servers take turns, ROUNDS
# times (after one warm-up run each), and the report gives medians:
# requests (or WebSocket echoes) per second, server CPU per request
# (utime + stime of the server's process and children, /proc/PID/stat,
# over the run, divided by the responses counted), response bytes per
# response (the load generator's bandwidth over its rate; HttpArena
# scores json-comp by it), and errors (non-2xx, socket errors).
#
# Environment (defaults in brackets):
#   PROFILES ["baseline pipelined limited-conn json json-comp upload static json-tls echo-ws
#             baseline-h2 static-h2 baseline-h2c json-h2c"]
#   PEERS ["rust-epoll may-minihttp hyper actix nginx h2o"]
#   ROUNDS [3]  DURATION [5s]  WARMUP [1s, 0 for none]  CONNS [HttpArena's, per profile]
#   SERVER_CPU [0]  CLIENT_CPU [1]  BASE_PORT [18500]  NICE [-19]  VMEM_MB [4096]
#   ARENA_SHARED [<repo>/../shared/httparena]
#
# The Markdown report goes to standard output and bench/results/arena-*.md,
# every run's raw output to bench/results/arena-*.log.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

SHARED=${ARENA_SHARED:-$ROOT/../shared/httparena}
PROFILES=${PROFILES:-baseline pipelined limited-conn json json-comp upload static json-tls echo-ws baseline-h2 static-h2 baseline-h2c json-h2c}
PEERS=${PEERS:-rust-epoll may-minihttp hyper actix nginx h2o}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
CONNS=${CONNS:-}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BASE_PORT=${BASE_PORT:-18500}
NICE=${NICE:--19}
VMEM_MB=${VMEM_MB:-4096}
ARENA=$ROOT/target/release/examples/arena
PEER_TARGET=$ROOT/target/arena-peers
CACHE=$ROOT/target/arena-bench

# HttpArena's connection counts (scripts/lib/profiles.sh), but for two
# limits of this machine: gcannon in one thread stops short of 16,384
# connections (it opens none; 12,000 work), so json-comp and echo-ws take
# 8,192 as their largest; and one core makes about 700 RSA-2048 TLS
# handshakes a second, so 4,096 json-tls connections would spend the
# whole run handshaking (wrk counts no request in 5 s): 256 spend under a
# tenth of it, about what 4,096 spend on HttpArena's 64 cores.
declare -A CONNS_OF=(
    [baseline]="512 4096" [pipelined]="512 4096" [limited-conn]="512 4096"
    [json]="4096" [json-comp]="512 4096 8192" [upload]="32 256"
    [static]="1024 4096 6800" [json-tls]="256" [echo-ws]="512 4096 8192"
    [baseline-h2]="256 1024" [static-h2]="256 1024" [baseline-h2c]="256 1024 4096" [json-h2c]="1024 4096"
)
# The peers whose HttpArena entry takes part in each profile.
declare -A PEERS_OF=(
    [baseline]="rust-epoll may-minihttp hyper actix"
    [pipelined]="rust-epoll may-minihttp hyper actix"
    [limited-conn]="rust-epoll may-minihttp hyper actix"
    [json]="actix" [json-comp]="actix" [upload]="actix"
    [static]="actix nginx h2o" [json-tls]="" [echo-ws]=""
    [baseline-h2]="actix hyper" [static-h2]="actix hyper" [baseline-h2c]="" [json-h2c]=""
)
declare -A PORT_OF=(
    [peregrine]=$BASE_PORT [rust-epoll]=$((BASE_PORT + 10)) [may-minihttp]=$((BASE_PORT + 11))
    [hyper]=$((BASE_PORT + 12)) [actix]=$((BASE_PORT + 13)) [nginx]=$((BASE_PORT + 14))
    [h2o]=$((BASE_PORT + 15))
)
TLS_PORT=$((BASE_PORT + 1))
H2C_PORT=$((BASE_PORT + 2))
H2_PORT=$((BASE_PORT + 3))
# The HTTP/2 TLS port of actix and hyper, fixed (in their own namespaces).
PEER_H2_PORT=8443

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
for p in $PROFILES; do [ -n "${CONNS_OF[$p]+x}" ] || die "PROFILES: no profile '$p'"; done
for p in $PEERS; do [ -n "${PORT_OF[$p]+x}" ] || die "PEERS: no server '$p'"; done
for c in $CONNS; do [[ $c =~ ^[1-9][0-9]*$ ]] || die "CONNS: not a count: $c"; done
[ -f "$SHARED/validate-local.sh" ] || die "HttpArena's material not found at $SHARED (set ARENA_SHARED)"
[ "$(nproc)" -ge 2 ] || note "only $(nproc) CPU: server and load generator will share it"

# The servers measured in PROFILE: peregrine first, then its peers.
servers_of() {
    local p out=peregrine
    for p in ${PEERS_OF[$1]}; do
        [[ " $PEERS " == *" $p "* ]] && out+=" $p"
    done
    echo "$out"
}
# Connection counts of PROFILE.
conns_of() { echo "${CONNS:-${CONNS_OF[$1]}}"; }

declare -A wanted=() netns=()
uses_wrk=false uses_gcannon=false uses_h2load=false
for profile in $PROFILES; do
    for s in $(servers_of "$profile"); do
        wanted[$s]=1
        case $profile:$s in *-h2:actix | *-h2:hyper) netns[$s]=1 ;; esac
    done
    case $profile in
    static | json-tls) uses_wrk=true ;;
    *-h2 | *-h2c) uses_h2load=true ;;
    *) uses_gcannon=true ;;
    esac
done
if [ ${#netns[@]} -gt 0 ] && { [ "$(id -u)" -ne 0 ] || ! unshare --net true 2>/dev/null; }; then
    note "no network namespaces (root needed): ${!netns[*]} left out of baseline-h2 and static-h2"
    for p in baseline-h2 static-h2; do PEERS_OF[$p]=""; done
    netns=()
fi

# ───── Tools and builds (at the ordinary priority) ─────

need_commands curl:curl taskset:util-linux python3:python3
$uses_wrk && need_commands wrk:wrk
$uses_h2load && need_commands h2load:nghttp2-client
[ ${#netns[@]} -gt 0 ] && need_commands nsenter:util-linux ip:iproute2
[ -n "${wanted[nginx]:-}" ] && need_commands nginx:nginx-light
[ -n "${wanted[h2o]:-}" ] && need_commands h2o:h2o
BROTLI_MODULE=/usr/lib/nginx/modules/ngx_http_brotli_static_module.so
if [ -n "${wanted[nginx]:-}" ] && [ ! -f "$BROTLI_MODULE" ]; then
    note "installing libnginx-mod-http-brotli-static"
    apt-get install -y -qq libnginx-mod-http-brotli-static >/dev/null 2>&1 ||
        note "no brotli_static for nginx: it serves the .gz siblings only"
fi

note "building arena (release)"
(cd "$ROOT" && cargo build --release --quiet -p peregrine-examples --example arena) ||
    die "cargo build failed"
declare -A BIN_OF=()
for peer in rust-epoll may-minihttp hyper actix; do
    [ -n "${wanted[$peer]:-}" ] || continue
    BIN_OF[$peer]=$PEER_TARGET/$peer/release/httparena-$peer
    if [ ! -x "${BIN_OF[$peer]}" ]; then
        note "building $peer (cargo build --release in $SHARED/peers/$peer)"
        (cd "$SHARED/peers/$peer" && CARGO_TARGET_DIR=$PEER_TARGET/$peer cargo build --release --locked --quiet) ||
            die "could not build $peer"
    fi
done
if $uses_gcannon; then
    GCANNON=$(GC_DIR=$CACHE/gcannon LU_DIR=$CACHE/liburing bash "$SHARED/tools/build-gcannon.sh" | tail -n1)
    [ -x "$GCANNON" ] || die "could not build gcannon"
fi

# HttpArena's request files, and the two uploads its repository leaves
# out, made the same way.
REQ=$CACHE/requests
mkdir -p "$REQ"
for f in "$SHARED"/requests/*; do ln -sf "$f" "$REQ/"; done
for spec in 10m:10485760 20m:20971520; do
    f=$REQ/upload-${spec%%:*}.raw size=${spec##*:}
    if [ ! -f "$f" ] || [ "$(wc -c <"$f")" -le "$size" ]; then
        {
            printf 'POST /upload HTTP/1.1\r\nHost: localhost:8080\r\nContent-Length: %d\r\n\r\n' "$size"
            head -c "$size" /dev/urandom
        } >"$f"
    fi
done

raise_fd_limit
CLK_TCK=$(getconf CLK_TCK)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/arena-bench.XXXXXX")
chmod 755 "$tmp" # nginx's and h2o's workers run as another user when started as root

# Each server and each load generator run starts a session of its own,
# so an autogroup of its own (the scheduler shares a CPU between
# autogroups first, whatever the nice values inside them), which is
# then given NICE: a server gets CPU 0 however many threads it runs, and
# whatever else the machine runs.
cat >"$tmp/launch" <<'LAUNCH'
#!/bin/sh
[ -n "$ARENA_GROUP_NICE" ] && echo "$ARENA_GROUP_NICE" >/proc/self/autogroup 2>/dev/null
[ -n "${ARENA_VMEM_KB:-}" ] && ulimit -v "$ARENA_VMEM_KB"
exec "$@"
LAUNCH
chmod 755 "$tmp/launch"
if [ "$(id -u)" -eq 0 ] && [ -w /proc/self/autogroup ]; then
    export ARENA_GROUP_NICE=$NICE
    PRIORITY="each server and load generator run in an autogroup of its own at nice $NICE"
else
    export ARENA_GROUP_NICE=
    PRIORITY="each server and load generator run in an autogroup of its own (not root: at nice 0)"
fi
LAUNCH=(setsid "$tmp/launch")
# Servers also get at most VMEM_MB of address space: actix, compressing
# HttpArena's static files with brotli for 4,096 connections, grew past
# 24 GB and was killed by the kernel for want of memory (which could as
# well have killed anything else on the machine); now it fails alone.
LAUNCH_SERVER=(env "ARENA_VMEM_KB=$((VMEM_MB * 1024))" setsid "$tmp/launch")
# shellcheck disable=SC2034 # read by start_static_nginx
SERVER_LAUNCH="${LAUNCH_SERVER[*]}"
start_report arena INT
made_data_link=false
arena_cleanup() {
    cleanup
    # shellcheck disable=SC2015 # nothing to do when the link is not ours
    $made_data_link && rm -f /data || true
}
trap arena_cleanup EXIT
for signal in INT TERM HUP; do
    # shellcheck disable=SC2064 # the signal's name, now
    trap "note 'stopped by SIG$signal'; exit 130" "$signal"
done

# The static site of nginx and h2o: /static/* from HttpArena's data, and
# the index.html their readiness check asks for.
site=$tmp/site
mkdir -p "$site"
printf 'ready' >"$site/index.html"
ln -s "$SHARED/data/static" "$site/static"

# HttpArena's URI lists for h2load, on each server's port.
uris_for() { # PROFILE SERVER: prints the file's path
    local file=$tmp/$1-$2-uris.txt port
    case $1 in
    static-h2) [ "$2" = peregrine ] && port=$H2_PORT || port=$PEER_H2_PORT
        sed "s#//localhost:8443/#//127.0.0.1:$port/#" "$SHARED/requests/static-h2-uris.txt" >"$file" ;;
    json-h2c) sed "s#//localhost:8082/#//127.0.0.1:$H2C_PORT/#" "$SHARED/requests/json-h2c-uris.txt" >"$file" ;;
    esac
    echo "$file"
}

# ───── Servers ─────

declare -A PID_OF=()

# The command that runs a program in SERVER's network namespace (nothing
# for a server in this one).
net_of() { # SERVER
    [ -n "${netns[$1]:-}" ] && echo nsenter "--net=/proc/${PID_OF[$1]}/ns/net"
    return 0
}

# Waits for SERVER to answer URL with 200 while PID lives.
wait_url() { # SERVER PID URL LOG
    local server=$1 pid=$2 url=$3 log=$4 deadline=$((SECONDS + 30))
    while [ $SECONDS -lt $deadline ]; do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; die "$server exited while starting; log: $log"; }
        # shellcheck disable=SC2046 # the namespace's command, in words
        [ "$($(net_of "$server") curl -sk --max-time 2 -o /dev/null -w '%{http_code}' "$url" 2>/dev/null)" = 200 ] &&
            return 0
        sleep 0.2
    done
    tail -n 20 "$log" >&2
    die "$server did not answer $url within 30s"
}

start_server() { # SERVER
    local server=$1 port=${PORT_OF[$1]} log=$tmp/$1.log
    port_free "$port"
    case $server in
    peregrine)
        port_free "$TLS_PORT"
        port_free "$H2C_PORT"
        port_free "$H2_PORT"
        "${LAUNCH_SERVER[@]}" taskset -c "$SERVER_CPU" "$ARENA" --port "$port" --tls-port "$TLS_PORT" \
            --h2c-port "$H2C_PORT" --h2-port "$H2_PORT" --workers 1 \
            --data "$SHARED/data" --cert "$SHARED/certs/server.crt" --key "$SHARED/certs/server.key" \
            >"$log" 2>&1 &
        PID_OF[$server]=$!
        wait_url "$server" "${PID_OF[$server]}" "http://127.0.0.1:$port/pipeline" "$log"
        wait_url "$server" "${PID_OF[$server]}" "https://127.0.0.1:$TLS_PORT/json/1?m=1" "$log"
        wait_url "$server" "${PID_OF[$server]}" "https://127.0.0.1:$H2_PORT/baseline2?a=1&b=1" "$log"
        ;;
    rust-epoll | may-minihttp | hyper | actix)
        if { [ "$server" = actix ] || [ "$server" = hyper ]; } && [ ! -e /data ] && [ "$(id -u)" -eq 0 ]; then
            # actix and hyper read their static files from /data/static,
            # always (hyper once, at start). A link left dangling by a run
            # that was killed is replaced.
            ln -sfn "$SHARED/data" /data
            made_data_link=true
            note "/data -> $SHARED/data while the benchmark runs (actix's and hyper's fixed static path)"
        fi
        local own_net=()
        if [ -n "${netns[$server]:-}" ]; then
            # A network namespace of its own, its loopback up, and the
            # certificate that opens its HTTP/2 port (8443).
            # shellcheck disable=SC2016 # expanded by that shell
            own_net=(unshare --net sh -c 'ip link set lo up && exec "$@"' sh)
        fi
        PORT=$port WORKERS=1 DATASET_PATH=$SHARED/data/dataset.json \
            TLS_CERT=$SHARED/certs/server.crt TLS_KEY=$SHARED/certs/server.key \
            "${LAUNCH_SERVER[@]}" "${own_net[@]}" taskset -c "$SERVER_CPU" "${BIN_OF[$server]}" >"$log" 2>&1 &
        PID_OF[$server]=$!
        wait_url "$server" "${PID_OF[$server]}" "http://127.0.0.1:$port/pipeline" "$log"
        if [ -n "${netns[$server]:-}" ]; then
            wait_url "$server" "${PID_OF[$server]}" "https://127.0.0.1:$PEER_H2_PORT/baseline2?a=1&b=1" "$log"
        fi
        ;;
    nginx)
        local main_extra=
        [ -f "$BROTLI_MODULE" ] && main_extra="load_module $BROTLI_MODULE;"
        # shellcheck disable=SC2034 # read by start_static_nginx
        NGINX_PORT=$port
        start_static_nginx "    include /etc/nginx/mime.types;
    gzip_static on;
$([ -n "$main_extra" ] && echo '    brotli_static on;')" '' "$main_extra"
        # shellcheck disable=SC2154 # set by start_static_nginx
        PID_OF[$server]=$nginx_pid
        ;;
    h2o)
        mkdir -p "$tmp/h2o"
        cat >"$tmp/h2o/h2o.conf" <<CONF
listen:
  host: 127.0.0.1
  port: $port
num-threads: 1
$([ "$(id -u)" -eq 0 ] && echo 'user: nobody')
hosts:
  default:
    paths:
      /:
        file.dir: $site
        file.send-compressed: ON
CONF
        "${LAUNCH_SERVER[@]}" taskset -c "$SERVER_CPU" h2o -c "$tmp/h2o/h2o.conf" >"$log" 2>&1 &
        PID_OF[$server]=$!
        wait_url "$server" "${PID_OF[$server]}" "http://127.0.0.1:$port/index.html" "$log"
        ;;
    esac
    pids+=("${PID_OF[$server]}")
}

# Whether SERVER answers PROFILE's requests (a peer that cannot, say
# actix without its /data/static, is left out of the profile).
answers() { # PROFILE SERVER
    local port=${PORT_OF[$2]} url args=() h2=$H2_PORT
    [ "$2" = peregrine ] || h2=$PEER_H2_PORT
    case $1 in
    baseline | limited-conn) url="http://127.0.0.1:$port/baseline11?a=1&b=2" ;;
    pipelined) url="http://127.0.0.1:$port/pipeline" ;;
    json) url="http://127.0.0.1:$port/json/5?m=7" ;;
    json-comp) url="http://127.0.0.1:$port/json/25?m=4" args=(-H "Accept-Encoding: gzip, br") ;;
    upload) url="http://127.0.0.1:$port/upload" args=(--data-binary 0123456789) ;;
    static) url="http://127.0.0.1:$port/static/reset.css" ;;
    json-tls) url="https://127.0.0.1:$TLS_PORT/json/5?m=7" ;;
    echo-ws) return 0 ;;
    baseline-h2) url="https://127.0.0.1:$h2/baseline2?a=1&b=1" args=(--http2) ;;
    static-h2) url="https://127.0.0.1:$h2/static/reset.css" args=(--http2) ;;
    baseline-h2c) url="http://127.0.0.1:$H2C_PORT/baseline2?a=1&b=1" args=(--http2-prior-knowledge) ;;
    json-h2c) url="http://127.0.0.1:$H2C_PORT/json/5?m=7" args=(--http2-prior-knowledge) ;;
    esac
    # An HTTP/2 profile's answer must come over HTTP/2.
    local want=200 format='%{http_code}'
    [[ $1 == *-h2* ]] && want="200 2" format='%{http_code} %{http_version}'
    # shellcheck disable=SC2046 # the namespace's command, in words
    [ "$($(net_of "$2") curl -sk --max-time 5 -o /dev/null -w "$format" "${args[@]}" "$url")" = "$want" ]
}

# ───── Runs ─────

# Bytes per second from gcannon's "206.82KB/s" or wrk's "1.20MB".
to_bytes() {
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u); sub(/\/s$/, "", u)
        m = 1; if (u ~ /^K/) m = 1024; else if (u ~ /^M/) m = 1048576; else if (u ~ /^G/) m = 1073741824
        printf "%.0f", n * m }'
}

# The load generator's command for PROFILE, CONNS connections, DURATION,
# against SERVER, into LOAD.
load_command() { # PROFILE CONNS DURATION SERVER
    local profile=$1 c=$2 d=$3 port=${PORT_OF[$4]} h2=$H2_PORT
    [ "$4" = peregrine ] || h2=$PEER_H2_PORT
    local common=(-c "$c" -t 1 -d "$d") h2common=(-c "$c" -t 1 -D "$d")
    case $profile in
    baseline) LOAD=("$GCANNON" "http://127.0.0.1:$port" --raw "$REQ/get.raw,$REQ/post_cl.raw,$REQ/post_chunked.raw" "${common[@]}" -p 1) ;;
    limited-conn) LOAD=("$GCANNON" "http://127.0.0.1:$port" --raw "$REQ/get.raw,$REQ/post_cl.raw,$REQ/post_chunked.raw" "${common[@]}" -p 1 -r 10) ;;
    pipelined) LOAD=("$GCANNON" "http://127.0.0.1:$port/pipeline" "${common[@]}" -p 16) ;;
    json) LOAD=("$GCANNON" "http://127.0.0.1:$port" --raw "$REQ/json-1.raw,$REQ/json-5.raw,$REQ/json-10.raw,$REQ/json-15.raw,$REQ/json-25.raw,$REQ/json-40.raw,$REQ/json-50.raw" "${common[@]}" -p 1 -r 25) ;;
    json-comp) LOAD=("$GCANNON" "http://127.0.0.1:$port" --raw "$REQ/json-gzip-25.raw,$REQ/json-gzip-40.raw,$REQ/json-gzip-50.raw" "${common[@]}" -p 1 -r 25) ;;
    upload) LOAD=("$GCANNON" "http://127.0.0.1:$port" --raw "$REQ/upload-500k.raw,$REQ/upload-2m.raw,$REQ/upload-10m.raw,$REQ/upload-20m.raw" "${common[@]}" -p 1 -r 5) ;;
    echo-ws) LOAD=("$GCANNON" "http://127.0.0.1:$port/ws" --ws "${common[@]}" -p 1) ;;
    static) LOAD=(wrk -t 1 -c "$c" -d "$d" --timeout 8s -s "$REQ/static-rotate.lua" "http://127.0.0.1:$port") ;;
    json-tls) LOAD=(wrk -t 1 -c "$c" -d "$d" --timeout 8s -s "$REQ/json-tls-rotate.lua" "https://127.0.0.1:$TLS_PORT") ;;
    baseline-h2) LOAD=(h2load "https://127.0.0.1:$h2/baseline2?a=1&b=1" "${h2common[@]}" -m 100) ;;
    static-h2) LOAD=(h2load -i "$(uris_for static-h2 "$4")" -H "Accept-Encoding: br;q=1, gzip;q=0.8" "${h2common[@]}" -m 32) ;;
    baseline-h2c) LOAD=(h2load "http://127.0.0.1:$H2C_PORT/baseline2?a=1&b=1" -p h2c "${h2common[@]}" -m 100) ;;
    json-h2c) LOAD=(h2load -i "$(uris_for json-h2c "$4")" -p h2c "${h2common[@]}" -m 32) ;;
    esac
}

# One run; a record line
#   run <profile> <conns> <server> <rate> <µs CPU/response> <responses> <errors> <bytes/response>
# (nothing recorded for a warm-up).
declare -A DEAD=()
run_one() { # PROFILE CONNS SERVER DURATION LABEL
    local profile=$1 c=$2 server=$3 duration=$4 label=$5 pid=${PID_OF[$3]} t0 t1 out status=0
    [ -n "${DEAD[$server]:-}" ] && return 0
    local -a cmd net
    load_command "$profile" "$c" "$duration" "$server"
    cmd=("${LOAD[@]}")
    read -r -a net <<<"$(net_of "$server")"
    t0=$(cpu_ticks "$pid" 2>/dev/null) || t0=
    out=$(timeout -k 5 120 "${LAUNCH[@]}" "${net[@]}" taskset -c "$CLIENT_CPU" "${cmd[@]}" 2>&1) || status=$?
    t1=$(cpu_ticks "$pid" 2>/dev/null) || t1=
    {
        echo "### $label $profile c=$c $server: ${net[*]}${net[*]:+ }taskset -c $CLIENT_CPU ${cmd[*]}"
        echo "$out"
    } >>"$log"
    if [ -z "$t0" ] || [ -z "$t1" ]; then
        # A peer that dies is left out from then on; the run goes on.
        [ "$server" = peregrine ] && die "peregrine (pid $pid) died during $profile c=$c; see $log"
        note "$server (pid $pid) died during $profile c=$c; left out from now on; see $log"
        DEAD[$server]="$profile c=$c"
        echo "died $profile $c $server" >>"$log"
        return 0
    fi
    [ "$status" -eq 0 ] || note "$profile c=$c $server: the load generator exited with $status; see $log"
    [ "$label" = warmup ] && return 0
    local ok secs errors bw
    if [ "${cmd[0]}" = wrk ]; then
        ok=$(awk '/requests in/ { print $1; exit }' <<<"$out")
        secs=$(awk '/requests in/ { sub(/s,$/, "", $4); print $4; exit }' <<<"$out")
        errors=$(awk '/Socket errors:/ { gsub(",", ""); s += $4 + $6 + $8 + $10 }
            /Non-2xx/ { s += $NF } END { print s + 0 }' <<<"$out")
        bw=$(awk '/^Transfer\/sec:/ { print $2; exit }' <<<"$out")
    elif [ "${cmd[0]}" = h2load ]; then
        # As HttpArena's h2load.sh: 2xx responses over the time taken;
        # errors are the requests that failed and the other statuses.
        ok=$(grep -oP '\d+(?= 2xx)' <<<"$out" | head -n1 || true)
        secs=$(grep -oP 'finished in \K[\d.]+' <<<"$out" | head -n1 || true)
        errors=$( (grep -oP '\d+(?= failed)|\d+(?= [345]xx)' <<<"$out" || true) | awk '{ s += $1 } END { print s + 0 }')
        bw=$(grep -oP 'finished in [\d.]+s, [\d.]+ req/s, \K[\d.]+[KMGT]?B/s' <<<"$out" | head -n1 || true)
    else
        secs=$(grep -oP '(?:requests|frames sent) in \K[\d.]+' <<<"$out" | head -n1 || true)
        if [ "$profile" = echo-ws ]; then
            ok=$(grep -oP '\d+(?=\s+(?:responses|frames received))' <<<"$out" | head -n1 || true)
        else
            ok=$(grep -oP '2xx=\K\d+' <<<"$out" | head -n1 || true)
        fi
        errors=$( (grep -oP '[345]xx=\K\d+' <<<"$out" || true) | awk '{ s += $1 } END { print s + 0 }')
        bw=$(grep -oP 'Bandwidth:\s+\K\S+' <<<"$out" | head -n1 || true)
    fi
    if ! [[ ${ok:-} =~ ^[0-9]+$ && $ok -gt 0 ]]; then
        note "$profile c=$c $server: no response counted; see $log"
        echo "run $profile $c $server 0 - 0 ${errors:-0} -" >>"$log"
        return 0
    fi
    local rate us bpr
    rate=$(awk -v n="$ok" -v s="${secs:-1}" 'BEGIN { printf "%.0f", n / s }')
    us=$(awk -v d="$((t1 - t0))" -v hz="$CLK_TCK" -v n="$ok" 'BEGIN { printf "%.3f", d * 1e6 / hz / n }')
    bpr=$(awk -v b="$(to_bytes "${bw:-0}")" -v r="$rate" 'BEGIN { printf "%.0f", b / r }')
    echo "run $profile $c $server $rate $us $ok $errors $bpr" | tee -a "$log" | sed 's/^/-- /' >&2
}

# Median of column COL of PROFILE, CONNS, SERVER's records.
med() { awk -v p="$1" -v c="$2" -v s="$3" -v col="$4" \
    '$1 == "run" && $2 == p && $3 == c && $4 == s && $col != "-" { print $col }' "$log" | median; }
errors_of() { awk -v p="$1" -v c="$2" -v s="$3" \
    '$1 == "run" && $2 == p && $3 == c && $4 == s { e += $8 }
     $1 == "died" && $2 == p && $3 == c && $4 == s { d = 1 }
     END { print e + 0 (d ? " (died)" : "") }' "$log"; }
fmt_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f×\n", a / b }'; }
fmt_int() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.0f\n", v }' | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
fmt_us() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.2f\n", v }'; }

echo "# HttpArena's profiles: Peregrine's arena entry and HttpArena's peers"
echo
machine_line
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "servers: one worker each, taskset -c $SERVER_CPU; load generator: one thread, taskset -c $CLIENT_CPU; $PRIORITY"
echo "tools: gcannon $(sed -n 's/^gcannon \([0-9a-f]\{8\}\).*/\1/p' "$SHARED/tools/VERSIONS" 2>/dev/null), $(wrk -v 2>&1 | head -n1 | awk '{ print $1, $2 }'), $(h2load --version 2>/dev/null | awk '{ print $2 }'); HttpArena $(sed -n 's/^HttpArena \([0-9a-f]\{8\}\).*/\1/p' "$SHARED/tools/VERSIONS" 2>/dev/null)"
echo "rounds: $ROUNDS × $DURATION per server, interleaved (warm-up $WARMUP each); medians below"
echo "raw: ${log#"$ROOT"/}"
echo

for s in peregrine rust-epoll may-minihttp hyper actix nginx h2o; do
    [ -n "${wanted[$s]:-}" ] && start_server "$s"
done

declare -A measured=()
for profile in $PROFILES; do
    servers=()
    for s in $(servers_of "$profile"); do
        if [ -n "${DEAD[$s]:-}" ]; then
            # A peer that died in an earlier profile gets a fresh start.
            note "restarting $s (it died during ${DEAD[$s]})"
            unset "DEAD[$s]"
            start_server "$s"
        fi
        if answers "$profile" "$s"; then
            servers+=("$s")
        else
            note "$s does not answer $profile's requests: left out of it"
        fi
    done
    measured[$profile]="${servers[*]}"
    for c in $(conns_of "$profile"); do
        if [ "$WARMUP" != 0 ]; then
            for s in "${servers[@]}"; do run_one "$profile" "$c" "$s" "$WARMUP" warmup; done
        fi
        for _ in $(seq "$ROUNDS"); do
            for s in "${servers[@]}"; do run_one "$profile" "$c" "$s" "$DURATION" "$profile"; done
        done
    done
done

for s in "${!PID_OF[@]}"; do
    stop_pid "${PID_OF[$s]}" INT 10 || note "$s did not stop on SIGINT; killed"
done
pids=()

echo "## Summary"
echo
echo "Peregrine against the best peer of each profile: the fastest for req/s, the one spending the least CPU per request for CPU."
echo
echo "| profile | conns | Peregrine req/s | best peer req/s | ratio | Peregrine µs CPU/req | lowest peer µs CPU/req | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for profile in $PROFILES; do
    for c in $(conns_of "$profile"); do
        p_rate=$(med "$profile" "$c" peregrine 5)
        p_us=$(med "$profile" "$c" peregrine 6)
        best_rate=- best_rate_name='' best_us=- best_us_name=''
        for s in ${measured[$profile]}; do
            [ "$s" = peregrine ] && continue
            r=$(med "$profile" "$c" "$s" 5)
            u=$(med "$profile" "$c" "$s" 6)
            if [ "$r" != - ] && { [ "$best_rate" = - ] || awk -v a="$r" -v b="$best_rate" 'BEGIN { exit !(a > b) }'; }; then
                best_rate=$r best_rate_name=$s
            fi
            if [ "$u" != - ] && { [ "$best_us" = - ] || awk -v a="$u" -v b="$best_us" 'BEGIN { exit !(a < b) }'; }; then
                best_us=$u best_us_name=$s
            fi
        done
        printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$profile" "$c" "$(fmt_int "$p_rate")" \
            "$(fmt_int "$best_rate")${best_rate_name:+ ($best_rate_name)}" "$(fmt_ratio "$p_rate" "$best_rate")" \
            "$(fmt_us "$p_us")" "$(fmt_us "$best_us")${best_us_name:+ ($best_us_name)}" "$(fmt_ratio "$p_us" "$best_us")"
    done
done
echo
echo "## Every server"
echo
echo "| profile | conns | server | req/s | µs CPU/req | bytes/response | errors |"
echo "|---|---:|---|---:|---:|---:|---:|"
for profile in $PROFILES; do
    for c in $(conns_of "$profile"); do
        for s in ${measured[$profile]}; do
            printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$profile" "$c" "$s" \
                "$(fmt_int "$(med "$profile" "$c" "$s" 5)")" "$(fmt_us "$(med "$profile" "$c" "$s" 6)")" \
                "$(fmt_int "$(med "$profile" "$c" "$s" 9)")" "$(errors_of "$profile" "$c" "$s")"
        done
    done
done
echo
echo "req/s: responses per second (WebSocket echoes for echo-ws); ratio: Peregrine over the peer (req/s: above 1, Peregrine serves more; CPU: below 1, it spends less)."
