#!/usr/bin/env bash
# HttpArena's validation of the `arena` example, run natively (no docker):
# the checks of HttpArena's scripts/validate.sh for every profile the
# entry takes part in, against the example started here.
#
#   bench/arena/validate.sh [PORT]       # PORT [18080]; HTTP/1.1 over TLS
#                                        # on PORT+1, h2c on PORT+2, h2 over
#                                        # TLS on PORT+3
#
# - baseline, limited-conn, pipelined: HttpArena's own checks, through
#   ../shared/httparena/validate-local.sh (its port of validate.sh's
#   sections, with the fragmented requests and randomized inputs), and
#   its three extra pipelining/limited-conn checks;
# - json, json-comp, json-tls, upload, static, baseline-h2, static-h2,
#   baseline-h2c, json-h2c, echo-ws: validate.sh's sections ported here
#   check for check (same requests, same randomized anti-cheat inputs,
#   same pass conditions, HTTP/2 through curl --http2 and
#   --http2-prior-knowledge), echo-ws through validate-ws.py itself;
# - extra (not in validate.sh, counted apart): the malformed requests of
#   requests/noise-*.raw each get a 4xx or a close, and the server still
#   answers afterwards.
#
# Prints one line per check and a summary; exits 1 on any failure. The
# server it starts is stopped however the script ends, and a watchdog
# ends the whole run after VALIDATE_TIMEOUT seconds.
#
# Environment (defaults in brackets):
#   ARENA_SHARED [<repo>/../shared/httparena]: HttpArena's material
#   ARENA_BIN [target/release/examples/arena, built here unless set]
#   VALIDATE_TIMEOUT [300]
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${ARENA_SHARED:-$ROOT/../shared/httparena}
PORT=${1:-18080}
TLS_PORT=$((PORT + 1))
H2C_PORT=$((PORT + 2))
H2_PORT=$((PORT + 3))
HOST=127.0.0.1
VALIDATE_TIMEOUT=${VALIDATE_TIMEOUT:-300}
DATA_DIR=$SHARED/data
DOCS_BASE="https://www.http-arena.com/docs/test-profiles"
PASS=0 FAIL=0 SKIP=0 XPASS=0 XFAIL=0

die() {
    echo "validate: $*" >&2
    exit 1
}

[[ $PORT =~ ^[0-9]+$ ]] || die "not a port: $PORT"
[ -d "$SHARED" ] || die "HttpArena's material not found at $SHARED (set ARENA_SHARED)"
for f in validate-local.sh tools/validate-ws.py.orig certs/server.crt certs/server.key \
    data/dataset.json data/static; do
    [ -e "$SHARED/$f" ] || die "$SHARED/$f missing"
done

# What the checks need: curl with brotli (for --compressed) and HTTP/2,
# python3.
need() {
    local missing=()
    command -v curl >/dev/null && curl -V | grep -qw brotli && curl -V | grep -qw HTTP2 ||
        missing+=(curl)
    command -v python3 >/dev/null || missing+=(python3)
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "validate: installing ${missing[*]}" >&2
    local sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
        ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; then
        die "could not install ${missing[*]}"
    fi
    curl -V | grep -qw brotli || die "curl lacks brotli"
    curl -V | grep -qw HTTP2 || die "curl lacks HTTP/2"
}
need

if [ -z "${ARENA_BIN:-}" ]; then
    echo "[build] cargo build --release -p peregrine-examples --example arena" >&2
    (cd "$ROOT" && cargo build --release --quiet -p peregrine-examples --example arena) ||
        die "cargo build failed"
    ARENA_BIN=$ROOT/target/release/examples/arena
fi
[ -x "$ARENA_BIN" ] || die "$ARENA_BIN is not an executable"

for p in "$PORT" "$TLS_PORT" "$H2C_PORT" "$H2_PORT"; do
    if (exec 3<>"/dev/tcp/$HOST/$p") 2>/dev/null; then
        die "something already listens on $HOST:$p (pass another PORT)"
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/arena-validate.XXXXXX")
server_pid=
watchdog_pid=
cleanup() {
    [ -n "$watchdog_pid" ] && kill "$watchdog_pid" 2>/dev/null
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -INT "$server_pid" 2>/dev/null
        for _ in $(seq 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The watchdog: the whole run ends after VALIDATE_TIMEOUT seconds.
# Its sleep holds no descriptor of ours, and goes with it.
(
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    sleep "$VALIDATE_TIMEOUT" >/dev/null 2>&1 &
    sleeper=$!
    wait "$sleeper"
    echo "FAIL: validation timed out after ${VALIDATE_TIMEOUT}s"
    kill -TERM $$ 2>/dev/null
) &
watchdog_pid=$!

"$ARENA_BIN" --port "$PORT" --tls-port "$TLS_PORT" --h2c-port "$H2C_PORT" --h2-port "$H2_PORT" \
    --data "$DATA_DIR" --workers 2 \
    --cert "$SHARED/certs/server.crt" --key "$SHARED/certs/server.key" >"$tmp/server.log" 2>&1 &
server_pid=$!
for i in $(seq 1 100); do
    curl -s --max-time 2 -o /dev/null "http://$HOST:$PORT/baseline11?a=1&b=1" && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; die "the server exited"; }
    [ "$i" -eq 100 ] && die "the server did not answer within 10s"
    sleep 0.1
done
echo "=== Validating: arena ($(head -n1 "$tmp/server.log")) ==="

# ───── Helpers (validate.sh's, on 127.0.0.1) ─────

pass() {
    echo "  PASS [$1]${2:+ ($2)}"
    PASS=$((PASS + 1))
}
fail_with_link() {
    echo "  FAIL $1"
    [ -n "${2:-}" ] && echo "        → $2"
    FAIL=$((FAIL + 1))
}

check() { # LABEL EXPECTED_BODY DOCS CURL_ARGS...
    local label=$1 expected=$2 docs=$3 response body
    shift 3
    response=$(curl -s --max-time 30 -D- "$@" || true)
    body=$(echo "$response" | tail -1)
    if [ "$body" = "$expected" ]; then
        pass "$label"
    else
        fail_with_link "[$label]: expected body '$expected', got '$body'" "$docs"
    fi
}

check_status() { # LABEL EXPECTED_STATUS DOCS CURL_ARGS...
    local label=$1 expected=$2 docs=$3 code
    shift 3
    code=$(curl -s --max-time 30 -o /dev/null -w '%{http_code}' "$@" || true)
    if [ "$code" = "$expected" ]; then
        pass "$label" "HTTP $code"
    else
        fail_with_link "[$label]: expected HTTP $expected, got HTTP $code" "$docs"
    fi
}

check_header() { # LABEL NAME EXPECTED DOCS CURL_ARGS...
    local label=$1 name=$2 expected=$3 docs=$4 value norm_value norm_expected
    shift 4
    value=$(curl -s --max-time 30 -D- -o /dev/null "$@" | grep -i "^${name}:" |
        sed 's/^[^:]*: *//' | tr -d '\r' || true)
    # text/javascript and application/javascript are the same (RFC 9239).
    norm_value=${value//text\/javascript/application\/javascript}
    norm_expected=${expected//text\/javascript/application\/javascript}
    if [ "$value" = "$expected" ] || [[ $value == "$expected;"* ]] ||
        [ "$norm_value" = "$norm_expected" ] || [[ $norm_value == "$norm_expected;"* ]]; then
        pass "$label" "$name: $value"
    else
        fail_with_link "[$label]: expected $name '$expected', got '$value'" "$docs"
    fi
}

# validate.sh's JSON check: prints "count has_total correct_totals".
json_result() { # M < JSON
    python3 -c "
import sys, json
m = int(sys.argv[1])
d = json.load(sys.stdin)
count = d.get('count', 0)
items = d.get('items', [])
has_total = all('total' in item for item in items) if items else False
correct_totals = True
for item in items:
    if item.get('total', 0) != item['price'] * item['quantity'] * m:
        correct_totals = False
        break
print(f'{count} {has_total} {correct_totals}')
" "$1" 2>/dev/null || echo "0 False False"
}

# Checks /json/COUNT?m=M for each COUNT:M pair; one line for all.
check_json_pairs() { # LABEL DOCS URL_BASE PAIRS CURL_ARGS...
    local label=$1 docs=$2 base=$3 pairs=$4 failed=false p count m result
    local got_count got_total got_correct
    shift 4
    for p in $pairs; do
        count=${p%%:*} m=${p##*:}
        result=$(curl -s --max-time 30 "$@" "$base/json/$count?m=$m" | json_result "$m")
        if [ "$result" != "$count True True" ]; then
            read -r got_count got_total got_correct <<<"$result"
            fail_with_link "[$label /json/$count?m=$m]: count=$got_count, has_total=$got_total, correct_totals=$got_correct" "$docs"
            failed=true
        fi
    done
    $failed || pass "$label" "$(wc -w <<<"$pairs" | tr -d ' ') (count, m) pairs verified"
}

# ───── baseline, limited-conn, pipelined: HttpArena's validate-local.sh ─────

echo "[test] baseline, limited-conn and pipelined (validate-local.sh)"
timeout 120 bash "$SHARED/validate-local.sh" "$PORT" arena >"$tmp/local.out" 2>&1
local_status=$?
grep -E '^\s*(PASS|FAIL|SKIP)|^\s+→' "$tmp/local.out"
summary=$(grep -E '^=== HttpArena checks' "$tmp/local.out" | grep -oE '[0-9]+ passed, [0-9]+ failed')
extra=$(grep -E '^=== extra checks' "$tmp/local.out" | grep -oE '[0-9]+ passed, [0-9]+ failed')
if [ -z "$summary" ]; then
    tail -n 20 "$tmp/local.out"
    fail_with_link "[validate-local.sh]: no summary (exit $local_status)" ""
else
    PASS=$((PASS + $(awk '{ print $1 }' <<<"$summary")))
    FAIL=$((FAIL + $(awk '{ print $3 }' <<<"$summary")))
    XPASS=$((XPASS + $(awk '{ print $1 }' <<<"${extra:-0 passed, 0 failed}")))
    XFAIL=$((XFAIL + $(awk '{ print $3 }' <<<"${extra:-0 passed, 0 failed}")))
fi

# ───── json ─────

JSON_DOCS="$DOCS_BASE/h1/isolated/json-processing/validation"
echo "[test] json endpoint"
check_json_pairs "GET /json/{count}?m=X" "$JSON_DOCS" "http://$HOST:$PORT" "12:3 22:7 31:2 50:5"
check_header "GET /json Content-Type" "Content-Type" "application/json" "$JSON_DOCS" \
    "http://$HOST:$PORT/json/50?m=1"

# ───── json-comp ─────

echo "[test] json-comp endpoint"
jc_encoding=$(curl -s --max-time 30 -D- -o /dev/null -H "Accept-Encoding: gzip, br" \
    "http://$HOST:$PORT/json/50?m=1" | grep -i "^content-encoding:" | sed 's/^[^:]*: *//' |
    tr -d '\r' | awk '{ print tolower($1) }' || true)
if [ "$jc_encoding" = gzip ] || [ "$jc_encoding" = br ]; then
    pass "json-comp Content-Encoding: $jc_encoding"
else
    fail_with_link "[json-comp]: expected Content-Encoding gzip or br, got '$jc_encoding'" "$JSON_DOCS"
fi
check_json_pairs "json-comp response (compressed)" "$JSON_DOCS" "http://$HOST:$PORT" "25:3 40:7 50:2" \
    --compressed -H "Accept-Encoding: gzip, br"
jc_no_enc=$(curl -s --max-time 30 -D- -o /dev/null "http://$HOST:$PORT/json/50?m=1" |
    grep -i "^content-encoding:" | tr -d '\r' || true)
if [ -z "$jc_no_enc" ]; then
    pass "json-comp per-request" "no Content-Encoding without Accept-Encoding"
else
    fail_with_link "[json-comp per-request]: got $jc_no_enc without Accept-Encoding" "$JSON_DOCS"
fi

# ───── json-tls ─────

JSONTLS_DOCS="$DOCS_BASE/h1/isolated/json-tls/validation"
echo "[test] json-tls endpoint"
jt_proto=$(curl -sk --max-time 30 --http1.1 -o /dev/null -w '%{http_version}' \
    "https://$HOST:$TLS_PORT/json/1?m=1" 2>/dev/null || echo 0)
if [ "$jt_proto" = 1.1 ]; then
    pass "json-tls protocol negotiation" "HTTP/$jt_proto over TLS"
else
    fail_with_link "[json-tls protocol negotiation]: expected 1.1, got HTTP/$jt_proto" "$JSONTLS_DOCS"
fi
check_json_pairs "json-tls response" "$JSONTLS_DOCS" "https://$HOST:$TLS_PORT" "7:2 23:11 50:1" -k
jt_ct=$(curl -sk --max-time 30 -D- -o /dev/null "https://$HOST:$TLS_PORT/json/1?m=1" |
    grep -i "^content-type:" | tr -d '\r' || true)
if grep -qi 'application/json' <<<"$jt_ct"; then
    pass "json-tls Content-Type: application/json"
else
    fail_with_link "[json-tls Content-Type]: expected application/json, got '$jt_ct'" "$JSONTLS_DOCS"
fi

# ───── upload ─────

UPLOAD_DOCS="$DOCS_BASE/h1/isolated/upload/validation"
echo "[test] upload endpoint"
UPLOAD_BODY="Hello, HttpArena!"
check "POST /upload small body" "${#UPLOAD_BODY}" "$UPLOAD_DOCS" \
    -X POST -H "Content-Type: application/octet-stream" --data-binary "$UPLOAD_BODY" \
    "http://$HOST:$PORT/upload"
RANDOM_BODY=$(head -c 64 /dev/urandom | base64 | head -c 48)
actual=$(curl -s --max-time 30 -X POST -H "Content-Type: application/octet-stream" \
    --data-binary "$RANDOM_BODY" "http://$HOST:$PORT/upload" || true)
if [ "$actual" = "${#RANDOM_BODY}" ]; then
    pass "POST /upload random body" "bytes: $actual"
else
    fail_with_link "[POST /upload random body]: expected '${#RANDOM_BODY}', got '$actual'" "$UPLOAD_DOCS"
fi
upload_fail=false
for spec in "500K:512000" "2M:2097152" "10M:10485760" "20M:20971520"; do
    label=${spec%%:*} size=${spec##*:}
    actual=$({ dd if=/dev/urandom bs=1024 count=$((size / 1024)) 2>/dev/null |
        curl -s --max-time 60 -X POST -H "Content-Type: application/octet-stream" \
            --data-binary @- "http://$HOST:$PORT/upload"; } || true)
    if [ "$actual" != "$size" ]; then
        fail_with_link "[POST /upload $label]: expected '$size', got '$actual'" "$UPLOAD_DOCS"
        upload_fail=true
    fi
done
$upload_fail || pass "POST /upload" "4 sizes verified: 500K, 2M, 10M, 20M"

# ───── static ─────

STATIC_DOCS="$DOCS_BASE/h1/isolated/static/validation"
STATIC_FILES="reset.css layout.css theme.css components.css utilities.css analytics.js helpers.js
    app.js vendor.js router.js header.html footer.html regular.woff2 bold.woff2 logo.svg
    icon-sprite.svg hero.webp thumb1.webp thumb2.webp manifest.json"
echo "[test] static endpoint"
check_header "GET /static/reset.css Content-Type" "Content-Type" "text/css" "$STATIC_DOCS" \
    "http://$HOST:$PORT/static/reset.css"
check_header "GET /static/app.js Content-Type" "Content-Type" "application/javascript" "$STATIC_DOCS" \
    "http://$HOST:$PORT/static/app.js"
check_header "GET /static/manifest.json Content-Type" "Content-Type" "application/json" "$STATIC_DOCS" \
    "http://$HOST:$PORT/static/manifest.json"
static_fail=false
for sf in $STATIC_FILES; do
    expected=$(wc -c <"$DATA_DIR/static/$sf")
    actual=$(curl -s --max-time 30 -o /dev/null -w '%{size_download}' "http://$HOST:$PORT/static/$sf" || echo 0)
    if [ "$actual" != "$expected" ]; then
        fail_with_link "[static/$sf size]: expected $expected bytes, got $actual" "$STATIC_DOCS"
        static_fail=true
    fi
done
$static_fail || pass "static file sizes" "20 files verified"
comp_fail=false comp_count=0 comp_skip=0
for sf in $STATIC_FILES; do
    expected=$(wc -c <"$DATA_DIR/static/$sf")
    curl -s --max-time 30 --compressed -H "Accept-Encoding: br;q=1, gzip;q=0.8" \
        -D "$tmp/hdr" -o "$tmp/body" "http://$HOST:$PORT/static/$sf" || true
    encoding=$(grep -i "^content-encoding:" "$tmp/hdr" | sed 's/^[^:]*: *//' | tr -d '\r' |
        awk '{ print tolower($1) }' || true)
    decompressed=$(wc -c <"$tmp/body")
    if [ -n "$encoding" ]; then
        if [ "$decompressed" -eq "$expected" ]; then
            comp_count=$((comp_count + 1))
        else
            fail_with_link "[static/$sf compression]: Content-Encoding: $encoding but decompressed size $decompressed != expected $expected" "$STATIC_DOCS"
            comp_fail=true
        fi
    else
        comp_skip=$((comp_skip + 1))
    fi
done
if ! $comp_fail; then
    if [ "$comp_count" -gt 0 ]; then
        pass "static compression" "$comp_count files compressed, $comp_skip skipped"
    else
        echo "  SKIP [static compression] (server does not compress static files)"
        SKIP=$((SKIP + 1))
    fi
fi
check_status "GET /static/nonexistent.txt" 404 "$STATIC_DOCS" "http://$HOST:$PORT/static/nonexistent.txt"

# ───── HTTP/2 over TLS (baseline-h2, static-h2) and h2c (baseline-h2c, json-h2c) ─────

# validate.sh's wait_h2: the h2 port answers, or one failure.
wait_h2() {
    local i
    for i in $(seq 1 15); do
        curl -sk --max-time 30 --http2 -o /dev/null "https://$HOST:$H2_PORT/baseline2?a=1&b=1" 2>/dev/null &&
            return 0
        sleep 1
    done
    fail_with_link "HTTPS port $H2_PORT not responding" ""
    return 1
}

# A check that the protocol curl reports for its request is HTTP/2.
check_http2() { # LABEL DOCS CURL_ARGS...
    local label=$1 docs=$2 version
    shift 2
    version=$(curl -s --max-time 30 -o /dev/null -w '%{http_version}' "$@" 2>/dev/null || echo 0)
    if [ "$version" = 2 ]; then
        pass "$label" "HTTP/$version"
    else
        fail_with_link "[$label]: server responded with HTTP/$version, expected HTTP/2" "$docs"
    fi
}

H2_DOCS="$DOCS_BASE/h2/baseline-h2/validation"
echo "[test] baseline-h2 endpoint"
if wait_h2; then
    check_http2 "HTTP/2 protocol negotiation" "$H2_DOCS" -k --http2 "https://$HOST:$H2_PORT/baseline2?a=1&b=1"
    check "GET /baseline2?a=13&b=42 over HTTP/2" 55 "$H2_DOCS" \
        -k --http2 "https://$HOST:$H2_PORT/baseline2?a=13&b=42"
    a=$((RANDOM % 900 + 100)) b=$((RANDOM % 900 + 100))
    check "GET /baseline2?a=$a&b=$b over HTTP/2 (random)" "$((a + b))" "$H2_DOCS" \
        -k --http2 "https://$HOST:$H2_PORT/baseline2?a=$a&b=$b"
    check_header "GET /baseline2 Content-Type" "Content-Type" "text/plain" "$H2_DOCS" \
        -k --http2 "https://$HOST:$H2_PORT/baseline2?a=1&b=1"
fi

H2C_DOCS="$DOCS_BASE/h2/baseline-h2c/validation"
echo "[test] baseline-h2c endpoint"
for _ in $(seq 1 10); do
    curl -s --http2-prior-knowledge --max-time 2 -o /dev/null "http://$HOST:$H2C_PORT/baseline2?a=1&b=1" &&
        break
    sleep 1
done
check_http2 "HTTP/2 cleartext (prior-knowledge)" "$H2C_DOCS" \
    --http2-prior-knowledge "http://$HOST:$H2C_PORT/baseline2?a=1&b=1"
h1_code=$(curl -s --max-time 5 --http1.1 -o /dev/null -w '%{http_code}' \
    "http://$HOST:$H2C_PORT/baseline2?a=1&b=1" 2>/dev/null || echo 000)
if [ "$h1_code" != 200 ]; then
    pass "h2c-only: port $H2C_PORT rejects plain HTTP/1.1" "got $h1_code"
else
    fail_with_link "[h2c-only]: port $H2C_PORT also answered HTTP/1.1 with 200" "$H2C_DOCS"
fi
check "GET /baseline2?a=13&b=42 over h2c" 55 "$H2C_DOCS" \
    --http2-prior-knowledge "http://$HOST:$H2C_PORT/baseline2?a=13&b=42"
a=$((RANDOM % 900 + 100)) b=$((RANDOM % 900 + 100))
check "GET /baseline2?a=$a&b=$b over h2c (random)" "$((a + b))" "$H2C_DOCS" \
    --http2-prior-knowledge "http://$HOST:$H2C_PORT/baseline2?a=$a&b=$b"
check_header "GET /baseline2 Content-Type (h2c)" "Content-Type" "text/plain" "$H2C_DOCS" \
    --http2-prior-knowledge "http://$HOST:$H2C_PORT/baseline2?a=1&b=1"

JSON_H2C_DOCS="$DOCS_BASE/h2/json-h2c/validation"
echo "[test] json-h2c endpoint"
check_http2 "/json HTTP/2 cleartext" "$JSON_H2C_DOCS" \
    --http2-prior-knowledge "http://$HOST:$H2C_PORT/json/1?m=1"
check_header "GET /json Content-Type (h2c)" "Content-Type" "application/json" "$JSON_H2C_DOCS" \
    --http2-prior-knowledge "http://$HOST:$H2C_PORT/json/1?m=1"
# validate.sh checks count and the number of items (not the totals).
json_h2c_fail=false
for p in 12:3 22:7 31:2 50:5; do
    count=${p%%:*} m=${p##*:}
    got=$(curl -s --max-time 30 --http2-prior-knowledge "http://$HOST:$H2C_PORT/json/$count?m=$m" |
        python3 -c '
import sys, json
d = json.load(sys.stdin)
print(d.get("count", -1), len(d.get("items", [])))
' 2>/dev/null || echo "-1 -1")
    if [ "$got" != "$count $count" ]; then
        fail_with_link "[GET /json/$count?m=$m (h2c)]: count, items = $got, expected $count" "$JSON_H2C_DOCS"
        json_h2c_fail=true
    fi
done
$json_h2c_fail || pass "GET /json/{count}?m=X over h2c" "4 counts verified"

STATIC_H2_DOCS="$DOCS_BASE/h2/static-h2/validation"
echo "[test] static-h2 endpoint"
if wait_h2; then
    for spec in reset.css:text/css app.js:application/javascript manifest.json:application/json; do
        check_header "GET /static/${spec%%:*} Content-Type" "Content-Type" "${spec##*:}" "$STATIC_H2_DOCS" \
            -k --http2 "https://$HOST:$H2_PORT/static/${spec%%:*}"
    done
    size=$(curl -sk --max-time 30 --http2 -o /dev/null -w '%{size_download}' \
        "https://$HOST:$H2_PORT/static/reset.css" || echo 0)
    if [ "$size" -gt 0 ]; then
        pass "static-h2 response size" "$size bytes"
    else
        fail_with_link "[static-h2 response size]: empty response" "$STATIC_H2_DOCS"
    fi
    check_status "GET /static/nonexistent.txt" 404 "$STATIC_H2_DOCS" \
        -k --http2 "https://$HOST:$H2_PORT/static/nonexistent.txt"
fi

# ───── echo-ws: validate-ws.py ─────

WS_DOCS="$DOCS_BASE/ws/echo/validation"
echo "[test] echo-ws endpoint"
ws_output=$(timeout 60 python3 "$SHARED/tools/validate-ws.py.orig" "$HOST" "$PORT" /ws 2>&1) || true
grep -E '^\s*(PASS|FAIL)' <<<"$ws_output"
ws_pass=$(grep -oE '[0-9]+ passed' <<<"$ws_output" | grep -oE '[0-9]+' | tail -1)
ws_fail=$(grep -oE '[0-9]+ failed' <<<"$ws_output" | grep -oE '[0-9]+' | tail -1)
if [ -z "$ws_pass" ]; then
    echo "$ws_output" | tail -n 20
    fail_with_link "[validate-ws.py]: no summary" "$WS_DOCS"
else
    PASS=$((PASS + ws_pass))
    FAIL=$((FAIL + ${ws_fail:-0}))
    [ "${ws_fail:-0}" -gt 0 ] && echo "        → $WS_DOCS"
fi

# ───── Extra: malformed requests (not in validate.sh) ─────

echo "[extra] malformed requests (requests/noise-*.raw; not part of validate.sh, counted apart)"
for raw in "$SHARED"/requests/noise-*.raw; do
    name=$(basename "$raw" .raw)
    # One connection each: the status of the first answer, or "closed".
    got=$(HOST=$HOST PORT=$PORT timeout 10 python3 -c '
import os, socket, sys
s = socket.create_connection((os.environ["HOST"], int(os.environ["PORT"])), timeout=3)
s.sendall(open(sys.argv[1], "rb").read())
try:
    s.shutdown(socket.SHUT_WR)
except OSError:
    pass
buf = b""
try:
    while b"\r\n" not in buf:
        c = s.recv(4096)
        if not c: break
        buf += c
except (socket.timeout, ConnectionResetError):
    pass
line = buf.split(b"\r\n", 1)[0].split()
print(line[1].decode() if len(line) > 1 and buf.startswith(b"HTTP/1.") else "closed")
' "$raw" 2>&1 | tail -1)
    case $name:$got in
    # A request that is valid after all gets its ordinary answer: a path
    # the server lacks, a Content-Length longer than the bytes sent (the
    # client half-closes: a close), a second blank line after a complete
    # GET, an 8 KB header field (the read buffer holds 16 KiB).
    noise-badpath:404 | noise-double-crlf:200 | noise-huge-header:200 | \
        *:4[0-9][0-9] | *:closed)
        echo "  PASS [$name] ($got)"
        XPASS=$((XPASS + 1))
        ;;
    *)
        echo "  FAIL [$name]: got '$got', expected a 4xx or a close"
        XFAIL=$((XFAIL + 1))
        ;;
    esac
done
alive=$(curl -s --max-time 5 "http://$HOST:$PORT/baseline11?a=2&b=3" || true)
if [ "$alive" = 5 ] && kill -0 "$server_pid" 2>/dev/null; then
    echo "  PASS [server alive after the malformed requests]"
    XPASS=$((XPASS + 1))
else
    echo "  FAIL [server alive after the malformed requests]: got '$alive'"
    XFAIL=$((XFAIL + 1))
fi

echo
echo "=== Results: $PASS passed, $FAIL failed, $SKIP skipped (HttpArena's checks); extra: $XPASS passed, $XFAIL failed ==="
[ "$FAIL" -eq 0 ] && [ "$XFAIL" -eq 0 ]
