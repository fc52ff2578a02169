#!/usr/bin/env bash
# Per-request costs of the `hello` example and of nginx answering the same
# bytes: user-space instructions (valgrind callgrind), heap allocations
# (valgrind dhat) and system calls (strace -f -c).
#
#   bench/profile.sh
#   BODIES=13 TOOLS=callgrind bench/profile.sh
#
# Difference method: each server runs once per tool for SMALL (5,000) and
# once for LARGE (25,000) requests from bench/loadgen.py, a closed loop
# over 50 keep-alive connections that sends exactly that many requests; the
# figure is (total(LARGE) - total(SMALL)) / (LARGE - SMALL). Start-up,
# shutdown and the 50 connections' accepts and closes are the same in both
# runs and cancel out. The server stops on SIGINT so valgrind writes its
# output, and is started only once nothing but the readiness check (a look
# at /proc/net/tcp, no connection) has happened.
#
# Environment (defaults in brackets):
#   BODIES ["13 6150"]  SERVERS ["peregrine nginx"]  TOOLS ["callgrind dhat strace"]
#   SMALL [5000]  LARGE [25000]  CONNECTIONS [50]
#   PEREGRINE_PORT [18180]  NGINX_PORT [18181]  SERVER_CPU [0]  CLIENT_CPU [1]
#
# The table goes to standard output and bench/results/profile-*.md; totals
# and per-syscall counts go to bench/results/profile-*.log.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BODIES=${BODIES:-13 6150}
SERVERS=${SERVERS:-peregrine nginx}
TOOLS=${TOOLS:-callgrind dhat strace}
SMALL=${SMALL:-5000}
LARGE=${LARGE:-25000}
CONNECTIONS=${CONNECTIONS:-50}
PEREGRINE_PORT=${PEREGRINE_PORT:-18180}
NGINX_PORT=${NGINX_PORT:-18181}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

for v in SMALL LARGE CONNECTIONS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
[ "$LARGE" -gt "$SMALL" ] || die "LARGE ($LARGE) must exceed SMALL ($SMALL)"
for b in $BODIES; do [[ $b =~ ^[1-9][0-9]*$ ]] || die "BODIES: not a size: $b"; done
for s in $SERVERS; do [[ $s == peregrine || $s == nginx ]] || die "SERVERS: peregrine or nginx, not $s"; done
for t in $TOOLS; do [[ $t == callgrind || $t == dhat || $t == strace ]] || die "TOOLS: callgrind, dhat or strace, not $t"; done

need_commands nginx:nginx-light valgrind:valgrind strace:strace python3:python3 taskset:util-linux
build_hello
raise_fd_limit
# Two CPUs or more: server and load generator on their own.
if [ "$(nproc)" -lt 2 ]; then CLIENT_CPU=$SERVER_CPU; fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/peregrine-profile.XXXXXX")
chmod 755 "$tmp"
start_report profile KILL

# Whether something listens on TCP port PORT (any address), from
# /proc/net/tcp{,6}: no connection is made, so nothing is counted.
listening() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { found = 1 }
        END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# The process that serves: PID itself, or for strace, its child.
server_process() {
    local pid=$1 tool=$2 child
    if [ "$tool" = strace ]; then
        child=$(cat /proc/"$pid"/task/*/children 2>/dev/null | awk '{ print $1 }')
        echo "${child:-}"
    else
        echo "$pid"
    fi
}

# One measured run: SERVER TOOL SIZE REQUESTS. Sets $run_total to the run's
# total (instructions, blocks or syscalls) and $rundir to the directory
# holding the tool's output. Runs in this shell, not a subshell, so that a
# failure stops the servers through the exit trap.
run_once() {
    local server=$1 tool=$2 size=$3 requests=$4 port cmd=() wrap=()
    rundir=$tmp/$server-$tool-$size-$requests
    mkdir -p "$rundir"
    chmod 755 "$rundir"
    local body=$tmp/body-$size
    if [ "$server" = peregrine ]; then
        port=$PEREGRINE_PORT
        cmd=("$HELLO" --port "$port" --workers 1 --body-file "$body" --grace-ms 2000)
    else
        port=$NGINX_PORT
        write_nginx_conf "$rundir" "$port" "$body" off
        cmd=(nginx -p "$rundir" -e "$rundir/error.log" -c "$rundir/nginx.conf")
    fi
    case $tool in
    callgrind) wrap=(valgrind --tool=callgrind --trace-children=yes
        "--callgrind-out-file=$rundir/callgrind.out.%p" "--log-file=$rundir/valgrind.%p.log") ;;
    dhat) wrap=(valgrind --tool=dhat --trace-children=yes
        "--dhat-out-file=$rundir/dhat.out.%p" "--log-file=$rundir/valgrind.%p.log") ;;
    strace) wrap=(strace -f -c -o "$rundir/strace.txt") ;;
    esac
    if listening "$port"; then
        die "something already listens on port $port (set another port in the environment)"
    fi

    taskset -c "$SERVER_CPU" "${wrap[@]}" "${cmd[@]}" >"$rundir/server.out" 2>&1 &
    local top=$! pid deadline=$((SECONDS + 120))
    pids+=("$top")
    until listening "$port"; do
        kill -0 "$top" 2>/dev/null || {
            tail -n 20 "$rundir"/*.log "$rundir/server.out" >&2 2>/dev/null
            die "$server under $tool exited while starting (see above)"
        }
        [ $SECONDS -lt $deadline ] || die "$server under $tool did not listen on port $port within 120s"
        sleep 0.2
    done
    pid=$(server_process "$top" "$tool")
    [ -n "$pid" ] || die "no server process under $tool (pid $top)"
    pids+=("$pid")

    taskset -c "$CLIENT_CPU" python3 "$BENCH_DIR/loadgen.py" --port "$port" --requests "$requests" \
        --connections "$CONNECTIONS" --body-len "$size" --timeout 600 >>"$log" 2>&1 ||
        die "load generator failed against $server under $tool; see $log"
    kill -0 "$pid" 2>/dev/null || die "$server died under $tool during the run"
    # The load generator has closed its connections; a graceful stop now
    # has nothing to wait for.
    stop_pid "$pid" INT 120 || die "$server under $tool did not stop on SIGINT within 120s"
    stop_pid "$top" TERM 60 || die "$tool did not finish within 60s of $server stopping"
    pids=()

    local total
    case $tool in
    callgrind)
        # "totals: N" (or "summary: N") is the run's Ir; one file per process.
        total=$(awk '/^(totals|summary):/ { t[FILENAME] = $2 } END { for (f in t) s += t[f]; print s + 0 }' \
            "$rundir"/callgrind.out.*)
        ;;
    dhat)
        # "Total:     1,234 bytes in 56 blocks" in each process's log.
        total=$(awk '/ Total: / { gsub(",", ""); for (i = 1; i < NF; i++) if ($(i + 1) == "blocks") s += $i }
            END { print s + 0 }' "$rundir"/valgrind.*.log)
        ;;
    strace)
        total=$(awk '$NF == "total" { print $4 }' "$rundir/strace.txt")
        ;;
    esac
    [[ $total =~ ^[0-9]+$ && $total -gt 0 ]] || die "no $tool total for $server ($size B, $requests requests); see $rundir"
    echo "total $server $tool ${size}B $requests $total" >>"$log"
    run_total=$total
}

# Per-syscall calls per request from the two strace runs: "read 1.00, ...".
syscall_breakdown() {
    local small=$1 large=$2
    awk -v n="$((LARGE - SMALL))" '
        FNR == 1 { file++ }
        $NF != "total" && $4 ~ /^[0-9]+$/ { if (file == 1) a[$NF] = $4; else b[$NF] = $4 }
        END {
            for (k in b) { d = (b[k] - a[k]) / n; if (d >= 0.005 || d <= -0.005) printf "%s %.2f\n", k, d }
            for (k in a) if (!(k in b)) printf "%s %.2f\n", k, -a[k] / n
        }' "$small" "$large" | sort -k2,2gr -k1,1 | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 } END { print "" }'
}

echo "# Peregrine vs nginx: per-request costs"
echo
machine_line
echo "tools: $(valgrind --version), $(strace -V | head -n1 | sed 's/ -- version//'), nginx $(nginx -v 2>&1 | sed 's/.*\///')"
echo "method: ($LARGE-request total - $SMALL-request total) / $((LARGE - SMALL)), closed loop over $CONNECTIONS keep-alive connections"
echo "raw: ${log#"$ROOT"/}"

for size in $BODIES; do
    write_body "$size" "$tmp/body-$size"
done

declare -A figure breakdown
for server in $SERVERS; do
    for tool in $TOOLS; do
        for size in $BODIES; do
            note "$server, $tool, $size B: $SMALL then $LARGE requests"
            run_once "$server" "$tool" "$size" "$SMALL"
            small=$run_total small_dir=$rundir
            run_once "$server" "$tool" "$size" "$LARGE"
            large=$run_total large_dir=$rundir
            value=$(awk -v a="$small" -v b="$large" -v n="$((LARGE - SMALL))" 'BEGIN { printf "%.2f", (b - a) / n }')
            figure[$server,$tool,$size]=$value
            note "$server $tool ${size}B: $small, $large -> $value per request"
            echo "per-request $server $tool ${size}B $value" >>"$log"
            if [ "$tool" = strace ]; then
                breakdown[$server,$size]=$(syscall_breakdown "$small_dir/strace.txt" "$large_dir/strace.txt")
                {
                    echo "strace $server ${size}B $SMALL requests:"
                    cat "$small_dir/strace.txt"
                    echo "strace $server ${size}B $LARGE requests:"
                    cat "$large_dir/strace.txt"
                } >>"$log"
            fi
        done
    done
done

# Instructions as integers with separators; the others with two decimals.
fmt_cell() {
    local server=$1 tool=$2 out='' size v
    for size in $BODIES; do
        v=${figure[$server,$tool,$size]:-}
        if [ -z "$v" ]; then
            v=-
        elif [ "$tool" = callgrind ]; then
            v=$(printf '%.0f' "$v" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')
        fi
        out+="${out:+ / }$v"
    done
    echo "$out"
}

# shellcheck disable=SC2086 # one word per size
sizes=$(printf '%s B / ' $BODIES)
echo
echo "| server | instructions/request (${sizes% / }) | allocations/request | syscalls/request |"
echo "|---|---:|---:|---:|"
for server in $SERVERS; do
    echo "| $server | $(fmt_cell "$server" callgrind) | $(fmt_cell "$server" dhat) | $(fmt_cell "$server" strace) |"
done
if [[ " $TOOLS " == *" strace "* ]]; then
    echo
    echo "System calls per request:"
    echo
    for server in $SERVERS; do
        for size in $BODIES; do
            echo "- $server, $size B: ${breakdown[$server,$size]}"
        done
    done
fi
