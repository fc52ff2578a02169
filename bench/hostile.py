#!/usr/bin/env python3
"""Hostile-load clients for bench/hostile.sh: one subcommand per scenario,
each printing one JSON object on standard output.

    bench/hostile.py slowloris --port 18080 --attackers 2000 --seconds 60
    bench/hostile.py silent    --port 18080 --silent 1100
    bench/hostile.py idle      --port 18080 --connections 15000 --ready F --release G
    bench/hostile.py full      --port 18080 --clients 2500 --seconds 10
    bench/hostile.py shutdown  --port 18080 --pid PID --signal TERM

Standard library only. Every run is bounded in time and in connections,
and talks only to 127.0.0.0/8. The request is the one wrk sends
(`GET / HTTP/1.1` and a Host header); an answer counts when its head and
its Content-Length bytes of body have arrived.
"""

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import random
import resource
import signal
import socket
import sys
import time

IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def raise_nofile():
    """Raises the soft descriptor limit to the hard one; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def loopback(host):
    """Refuses any address outside 127.0.0.0/8."""
    if not host.startswith("127."):
        sys.exit(f"hostile.py: {host} is not a 127.0.0.0/8 address")
    return host


def request_bytes(host, port):
    return f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()


def now():
    return time.monotonic()


def pct(sorted_values, q):
    """Nearest-rank percentile of an ascending list; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def ms(seconds):
    return None if seconds is None else round(seconds * 1000.0, 3)


def emit(result):
    print(json.dumps(result), flush=True)


class Closed(Exception):
    """The peer closed (or reset) before a whole answer arrived; `partial`
    says whether any byte of it had come."""

    def __init__(self, partial=False):
        super().__init__("closed before a whole answer" if partial else "closed before any answer")
        self.partial = partial


def parse_head(head):
    """Status, Content-Length and whether the answer closes the connection."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    length = 0
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip() or b"0")
        elif name == b"connection" and b"close" in value.lower():
            close = True
    return status, length, close


class Ports:
    """Source ports handed out in turn from the ephemeral range.

    Binding each connection to a port chosen here costs O(1); leaving the
    choice to connect() makes the kernel search past every port the same
    source already uses towards the same destination, which grows with
    the connections held (minutes for 100,000 over a few addresses)."""

    def __init__(self, low=32768, high=60999):
        self.low, self.high = low, high
        self.next = low

    def take(self):
        port = self.next
        self.next = self.low if port >= self.high else port + 1
        return port


def new_socket(source, ports=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if source and ports:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for _ in range(ports.high - ports.low + 1):
            try:
                sock.bind((source, ports.take()))
                break
            except OSError:
                continue
        else:
            sock.close()
            raise OSError("no free source port on " + source)
    elif source:
        # Choose the port at connect time, per destination, so that one
        # source address is not limited to one set of ~28k ports overall.
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
    return sock


# ---------------------------------------------------------------- asyncio


async def aconnect(loop, host, port, source=None, timeout=None, ports=None):
    sock = new_socket(source, ports)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (host, port)), timeout)
    except BaseException:
        sock.close()
        raise
    return sock


async def aread_answer(loop, sock, buf):
    """Reads one answer; returns (status, close, leftover bytes). A reset
    is a Closed too."""
    try:
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            data = await loop.sock_recv(sock, 65536)
            if not data:
                raise Closed(bool(buf))
            buf += data
        status, length, close = parse_head(buf[:end])
        need = end + 4 + length
        while len(buf) < need:
            data = await loop.sock_recv(sock, 65536)
            if not data:
                raise Closed(True)
            buf += data
    except OSError as e:
        raise Closed(bool(buf)) from e
    return status, close, buf[need:]


def still_open(sock):
    """Whether the peer has not closed SOCK (nothing is pending on it)."""
    sock.setblocking(False)
    try:
        data = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return bool(data)


# --------------------------------------------------------------- slowloris


def slowloris_attackers(host, port, count, drip, ramp, stop, started, stats_queue):
    """Child process: COUNT connections, each sending one byte of a request
    head every DRIP seconds and reconnecting whenever the server closes."""
    raise_nofile()
    head = f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nX-Slow: ".encode()
    stats = {
        "connects": 0,
        "connect_errors": 0,
        "server_closes": 0,
        "answers_seen": 0,
        "bytes_dripped": 0,
    }

    async def attacker(loop):
        await asyncio.sleep(random.uniform(0, ramp))
        while not stop.is_set():
            try:
                sock = await aconnect(loop, host, port, timeout=10)
            except (OSError, asyncio.TimeoutError):
                stats["connect_errors"] += 1
                await asyncio.sleep(0.5)
                continue
            stats["connects"] += 1
            sent = 0
            try:
                while not stop.is_set():
                    byte = head[sent : sent + 1] if sent < len(head) else b"a"
                    await loop.sock_sendall(sock, byte)
                    sent += 1
                    stats["bytes_dripped"] += 1
                    # Waits DRIP seconds, noticing a close (or a 408) meanwhile.
                    deadline = now() + drip
                    while not stop.is_set():
                        left = deadline - now()
                        if left <= 0:
                            break
                        try:
                            data = await asyncio.wait_for(loop.sock_recv(sock, 4096), min(left, 1.0))
                        except asyncio.TimeoutError:
                            continue
                        if not data:
                            raise Closed()
                        stats["answers_seen"] += 1
            except (Closed, OSError):
                stats["server_closes"] += 1
            finally:
                sock.close()

    async def main():
        loop = asyncio.get_running_loop()
        tasks = [asyncio.ensure_future(attacker(loop)) for _ in range(count)]
        await asyncio.sleep(ramp)
        started.set()
        while not stop.is_set():
            await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    stats_queue.put(stats)


def read_answer_blocking(sock, buf):
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        data = sock.recv(65536)
        if not data:
            raise Closed()
        buf += data
    status, length, close = parse_head(buf[:end])
    need = end + 4 + length
    while len(buf) < need:
        data = sock.recv(65536)
        if not data:
            raise Closed()
        buf += data
    return status, close, buf[need:]


def cmd_slowloris(args):
    host = loopback(args.host)
    ctx = multiprocessing.get_context("fork")
    stop, started, queue = ctx.Event(), ctx.Event(), ctx.Queue()
    child = ctx.Process(
        target=slowloris_attackers,
        args=(host, args.port, args.attackers, args.drip, args.ramp, stop, started, queue),
        daemon=True,
    )
    child.start()
    started.wait(args.ramp + 30)
    time.sleep(1.0)  # every attacker has dripped its first byte

    # The normal client: one keep-alive connection (reopened when the server
    # closes it), one GET every INTERVAL, blocking calls in this process so
    # the attackers' event loop adds nothing to its timings. Latency is from
    # the send (or, for a reopened connection, from the connect) to the end
    # of the answer.
    request = request_bytes(host, args.port)
    interval = args.interval_ms / 1000.0
    latencies = []
    sent = answered = timeouts = closes = reconnects = bad = 0
    first = None
    sock = None
    buf = b""
    start = now()
    end = start + args.seconds
    tick = start
    while now() < end:
        t0 = now()
        try:
            if sock is None:
                sock = socket.create_connection((host, args.port), timeout=args.timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buf = b""
                reconnects += 1
            sock.settimeout(max(0.1, min(args.timeout, end + args.timeout - now())))
            sock.sendall(request)
            sent += 1
            status, close, buf = read_answer_blocking(sock, buf)
            took = now() - t0
            if status != 200:
                bad += 1
            answered += 1
            latencies.append(took)
            if first is None:
                first = took
            if close:
                sock.close()
                sock = None
        except socket.timeout:
            timeouts += 1
            if sock:
                sock.close()
            sock = None
        except (Closed, OSError):
            closes += 1
            if sock:
                sock.close()
            sock = None
        tick += interval
        pause = tick - now()
        if pause > 0:
            time.sleep(pause)
        else:
            tick = now()
    if sock:
        sock.close()
    stop.set()
    try:
        attack = queue.get(timeout=15)
    except Exception:  # noqa: BLE001 - the child's figures are optional
        attack = None
    child.join(5)
    if child.is_alive():
        child.kill()
    latencies.sort()
    emit({
        "scenario": "slowloris",
        "attackers": args.attackers,
        "seconds": args.seconds,
        "sent": sent,
        "answered": answered,
        "non_200": bad,
        "timeouts": timeouts,
        "closed_unanswered": closes,
        "connections_opened": reconnects,
        "first_ms": ms(first),
        "p50_ms": ms(pct(latencies, 0.50)),
        "p99_ms": ms(pct(latencies, 0.99)),
        "max_ms": ms(latencies[-1] if latencies else None),
        "attack": attack,
    })


# ------------------------------------------------------------------ silent


def cmd_silent(args):
    host = loopback(args.host)
    silent = []
    connect_errors = 0
    t = now()
    for _ in range(args.silent):
        sock = new_socket(None)
        sock.settimeout(args.connect_timeout)
        try:
            sock.connect((host, args.port))
            silent.append(sock)
        except OSError:
            connect_errors += 1
            sock.close()
    opened_in = now() - t
    time.sleep(args.settle)
    probes = []
    request = request_bytes(host, args.port)
    for _ in range(args.probes):
        t0 = now()
        result = None
        try:
            sock = socket.create_connection((host, args.port), timeout=args.probe_timeout)
            try:
                sock.settimeout(max(0.1, args.probe_timeout - (now() - t0)))
                sock.sendall(request)
                status, _, _ = read_answer_blocking(sock, b"")
                result = {"ms": ms(now() - t0), "status": status}
            finally:
                sock.close()
        except socket.timeout:
            result = {"ms": None, "error": f"no answer within {args.probe_timeout} s"}
        except (Closed, OSError) as e:
            result = {"ms": None, "error": f"{type(e).__name__}: {e}"}
        probes.append(result)
        time.sleep(0.2)
    open_at_end = sum(1 for s in silent if still_open(s))
    for s in silent:
        s.close()
    answered = [p["ms"] for p in probes if p["ms"] is not None]
    emit({
        "scenario": "silent",
        "silent": args.silent,
        "silent_opened": len(silent),
        "silent_connect_errors": connect_errors,
        "silent_open_at_end": open_at_end,
        "opened_in_s": round(opened_in, 3),
        "probes": probes,
        "first_probe_ms": probes[0]["ms"] if probes else None,
        "max_probe_ms": max(answered) if len(answered) == len(probes) and answered else None,
    })


# -------------------------------------------------------------------- idle


def cmd_idle(args):
    host = loopback(args.host)
    if args.source:
        loopback(args.source)
    limit = raise_nofile()
    if args.connections + 64 > limit:
        sys.exit(f"hostile.py idle: {args.connections} connections need more than the {limit} descriptors allowed")
    request = request_bytes(host, args.port)
    ports = Ports() if args.source else None
    held = []
    counts = {"answered": 0, "failed": 0, "non_200": 0, "connect_errors": 0, "timeouts": 0, "closed": 0}
    state = {"consecutive_failures": 0, "gave_up": False}

    async def one(loop, sem):
        async with sem:
            if state["gave_up"]:
                return
            sock = None
            try:
                sock = await aconnect(loop, host, args.port, args.source, args.connect_timeout, ports)
            except (OSError, asyncio.TimeoutError):
                counts["connect_errors"] += 1
                counts["failed"] += 1
                state["consecutive_failures"] += 1
            else:
                try:
                    await loop.sock_sendall(sock, request)
                    status, _, _ = await asyncio.wait_for(aread_answer(loop, sock, b""), args.answer_timeout)
                except asyncio.TimeoutError:
                    counts["timeouts"] += 1
                except (Closed, OSError):
                    counts["closed"] += 1
                else:
                    if status != 200:
                        counts["non_200"] += 1
                    counts["answered"] += 1
                    state["consecutive_failures"] = 0
                    held.append(sock)
                    return
                counts["failed"] += 1
                state["consecutive_failures"] += 1
                sock.close()
            if state["consecutive_failures"] >= args.fail_limit:
                state["gave_up"] = True

    async def main():
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(args.concurrency)
        await asyncio.gather(*(one(loop, sem) for _ in range(args.connections)))

    t = now()
    asyncio.run(main())
    opened_in = now() - t
    result = {
        "scenario": "idle",
        "port": args.port,
        "source": args.source,
        "connections": args.connections,
        "held": len(held),
        **counts,
        "gave_up": state["gave_up"],
        "opened_in_s": round(opened_in, 3),
    }
    if args.ready:
        tmp = args.ready + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f)
        os.rename(tmp, args.ready)
    # Holds the connections until the release file appears (the caller has
    # read the servers' memory), for at most --hold seconds.
    deadline = now() + args.hold
    while args.release and not os.path.exists(args.release) and now() < deadline:
        time.sleep(0.1)
    result["open_at_release"] = sum(1 for s in held if still_open(s))
    for s in held:
        s.close()
    emit(result)


# -------------------------------------------------------------------- full


def cmd_full(args):
    host = loopback(args.host)
    raise_nofile()
    request = request_bytes(host, args.port)
    deadline = args.deadline_ms / 1000.0
    think = args.think_ms / 1000.0
    latencies = []
    per_client = []
    totals = {"sent": 0, "answered": 0, "non_200": 0, "closed_unanswered": 0, "stale_retries": 0,
              "reconnects": 0, "connect_errors": 0}

    async def client(loop, start, end):
        await asyncio.sleep(random.uniform(0, args.ramp))
        mine = {"answered": 0, "late": 0, "unanswered": 0, "max": 0.0}
        per_client.append(mine)
        sock = None
        buf = b""
        used = 0  # answers on the current connection
        retry = False
        try:
            while now() < end:
                if not retry:
                    t0 = now()
                if sock is None:
                    try:
                        sock = await aconnect(loop, host, args.port, timeout=max(0.1, end + 3 - now()))
                    except (OSError, asyncio.TimeoutError):
                        totals["connect_errors"] += 1
                        retry = False
                        mine["unanswered"] += 1
                        mine["max"] = max(mine["max"], now() - t0)
                        await asyncio.sleep(0.1)
                        continue
                    buf = b""
                    used = 0
                    totals["reconnects"] += 1
                try:
                    await loop.sock_sendall(sock, request)
                    if not retry:
                        totals["sent"] += 1
                    status, close, buf = await asyncio.wait_for(
                        aread_answer(loop, sock, buf), max(0.1, end + 3 - now()))
                except (asyncio.TimeoutError, Closed, OSError) as e:
                    sock.close()
                    sock = None
                    # A keep-alive connection the server closed before any
                    # byte of the answer: sent again once on a new one, as
                    # HTTP clients do; the wait counts from the first send.
                    stale = used > 0 and not retry and not isinstance(e, asyncio.TimeoutError) \
                        and not getattr(e, "partial", False)
                    if stale:
                        totals["stale_retries"] += 1
                        retry = True
                        continue
                    retry = False
                    totals["closed_unanswered"] += 1
                    mine["unanswered"] += 1
                    mine["max"] = max(mine["max"], now() - t0)
                    continue
                retry = False
                used += 1
                took = now() - t0
                totals["answered"] += 1
                if status != 200:
                    totals["non_200"] += 1
                mine["answered"] += 1
                mine["max"] = max(mine["max"], took)
                if took > deadline:
                    mine["late"] += 1
                latencies.append(took)
                if close:
                    sock.close()
                    sock = None
                await asyncio.sleep(random.uniform(0.5 * think, 1.5 * think))
        finally:
            if sock is not None:
                sock.close()

    async def main():
        loop = asyncio.get_running_loop()
        start = now()
        end = start + args.ramp + args.seconds
        await asyncio.gather(*(client(loop, start, end) for _ in range(args.clients)))

    asyncio.run(main())
    latencies.sort()
    failing = [c for c in per_client if c["late"] or c["unanswered"] or not c["answered"]]
    emit({
        "scenario": "full",
        "clients": args.clients,
        "seconds": args.seconds,
        **totals,
        "clients_failing": len(failing),
        "clients_never_answered": sum(1 for c in per_client if not c["answered"]),
        "clients_late": sum(1 for c in per_client if c["late"]),
        "p50_ms": ms(pct(latencies, 0.50)),
        "p99_ms": ms(pct(latencies, 0.99)),
        "max_ms": ms(max([c["max"] for c in per_client], default=None)),
    })


# ---------------------------------------------------------------- shutdown


def cmd_shutdown(args):
    host = loopback(args.host)
    raise_nofile()
    request = request_bytes(host, args.port)
    sig = getattr(signal, "SIG" + args.signal)
    state = {"signalled_at": None}
    c = {
        "sent": 0, "answered": 0, "lost": 0, "lost_before_signal": 0, "unresolved": 0,
        "lost_sent_before_signal": 0, "stale_retries": 0,
        "lost_keepalive_race": 0, "lost_waiting": 0,
        "waiting_sent": 0, "waiting_answered_before_signal": 0, "waiting_connect_errors": 0,
        "refused_after_signal": 0, "busy_requests": 0,
    }

    async def exchange(loop, sock, buf, end, reused):
        """Sends a request; returns (sock, close, leftover), "unsent", or
        None when it is lost. A request on a REUSED keep-alive connection
        that the server closed before any byte of an answer (the
        keep-alive race) is sent once more on a new connection, as
        HTTP/1.1 clients do (RFC 9112 9.3.1); lost if that fails too."""
        try:
            await loop.sock_sendall(sock, request)
        except OSError:
            return "unsent"
        c["sent"] += 1
        # Sent whole before the signal: a request the server must answer.
        sent_before_signal = state["signalled_at"] is None
        raced = False
        while True:
            try:
                _, close, buf = await asyncio.wait_for(aread_answer(loop, sock, buf), max(0.1, end - now()))
            except asyncio.TimeoutError:
                c["unresolved"] += 1
                break
            except Closed as e:
                if reused and not e.partial and not raced:
                    raced = True
                    c["stale_retries"] += 1
                    sock.close()
                    try:
                        sock = await aconnect(loop, host, args.port, timeout=max(0.1, end - now()))
                        await loop.sock_sendall(sock, request)
                        buf = b""
                        continue
                    except (OSError, asyncio.TimeoutError):
                        pass
                break
            c["answered"] += 1
            return sock, close, buf
        c["lost"] += 1
        c["lost_keepalive_race"] += raced
        c["lost_sent_before_signal"] += sent_before_signal
        if state["signalled_at"] is None:
            c["lost_before_signal"] += 1
        sock.close()
        return None

    async def busy(loop, end):
        sock = None
        buf = b""
        used = 0
        while now() < end:
            if sock is None:
                used = 0
                try:
                    sock = await aconnect(loop, host, args.port, timeout=max(0.1, end - now()))
                except (OSError, asyncio.TimeoutError):
                    if state["signalled_at"] is not None:
                        c["refused_after_signal"] += 1
                        return
                    await asyncio.sleep(0.01)
                    continue
                buf = b""
            got = await exchange(loop, sock, buf, end, used > 0)
            if got is None or got == "unsent":
                sock.close()
                sock = None
                if got is None and state["signalled_at"] is not None:
                    return
                continue
            c["busy_requests"] += 1
            used += 1
            sock, close, buf = got
            if close:
                sock.close()
                sock = None

    async def waiting(loop, end, sent_event):
        try:
            sock = await aconnect(loop, host, args.port, timeout=max(0.1, end - now()))
        except (OSError, asyncio.TimeoutError):
            c["waiting_connect_errors"] += 1
            sent_event()
            return
        try:
            try:
                await loop.sock_sendall(sock, request)
            except OSError:
                sent_event()
                return
            c["sent"] += 1
            c["waiting_sent"] += 1
            sent_before_signal = state["signalled_at"] is None
            sent_event()
            try:
                await asyncio.wait_for(aread_answer(loop, sock, b""), max(0.1, end - now()))
            except asyncio.TimeoutError:
                c["unresolved"] += 1
                c["lost"] += 1
                c["lost_waiting"] += 1
                c["lost_sent_before_signal"] += sent_before_signal
                return
            except Closed:
                c["lost"] += 1
                c["lost_sent_before_signal"] += sent_before_signal
                c["lost_waiting"] += 1
                if state["signalled_at"] is None:
                    c["lost_before_signal"] += 1
                return
            c["answered"] += 1
            if state["signalled_at"] is None:
                c["waiting_answered_before_signal"] += 1
        finally:
            sock.close()

    async def main():
        loop = asyncio.get_running_loop()
        end = now() + args.warmup + args.burst_wait + args.wait
        tasks = [asyncio.ensure_future(busy(loop, end)) for _ in range(args.busy)]
        await asyncio.sleep(args.warmup)
        done = asyncio.Event()
        pending = [args.waiting]

        def one_sent():
            pending[0] -= 1
            if pending[0] <= 0:
                done.set()

        tasks += [asyncio.ensure_future(waiting(loop, end, one_sent)) for _ in range(args.waiting)]
        try:
            await asyncio.wait_for(done.wait(), args.burst_wait)
        except asyncio.TimeoutError:
            pass
        c["waiting_unanswered_at_signal"] = c["waiting_sent"] - c["waiting_answered_before_signal"]
        state["signalled_at"] = now()
        os.kill(args.pid, sig)
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    emit({"scenario": "shutdown", "busy": args.busy, "waiting": args.waiting, "signal": args.signal, **c})


# -------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, required=True)

    p = sub.add_parser("slowloris", help="drip-feeding attackers beside one normal client")
    common(p)
    p.add_argument("--attackers", type=int, default=2000)
    p.add_argument("--drip", type=float, default=5.0, help="seconds between an attacker's bytes")
    p.add_argument("--ramp", type=float, default=3.0, help="seconds over which attackers connect")
    p.add_argument("--seconds", type=float, default=60.0, help="how long the normal client runs")
    p.add_argument("--interval-ms", type=float, default=10.0)
    p.add_argument("--timeout", type=float, default=15.0, help="seconds a request may wait")
    p.set_defaults(func=cmd_slowloris)

    p = sub.add_parser("silent", help="connections that send nothing, then a probe")
    common(p)
    p.add_argument("--silent", type=int, default=1100)
    p.add_argument("--connect-timeout", type=float, default=3.0)
    p.add_argument("--settle", type=float, default=1.0)
    p.add_argument("--probes", type=int, default=3)
    p.add_argument("--probe-timeout", type=float, default=15.0)
    p.set_defaults(func=cmd_silent)

    p = sub.add_parser("idle", help="idle keep-alive connections held open")
    common(p)
    p.add_argument("--source", default=None, help="source address (127.x.y.z)")
    p.add_argument("--connections", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=256)
    p.add_argument("--connect-timeout", type=float, default=5.0)
    p.add_argument("--answer-timeout", type=float, default=5.0)
    p.add_argument("--fail-limit", type=int, default=300,
                   help="stop opening after this many failures in a row")
    p.add_argument("--ready", help="file written (JSON) once the connections are open")
    p.add_argument("--release", help="file whose appearance ends the hold")
    p.add_argument("--hold", type=float, default=300.0, help="longest hold, seconds")
    p.set_defaults(func=cmd_idle)

    p = sub.add_parser("full", help="more keep-alive clients than the server has slots")
    common(p)
    p.add_argument("--clients", type=int, default=2500)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--ramp", type=float, default=1.0)
    p.add_argument("--think-ms", type=float, default=500.0, help="mean pause between a client's requests")
    p.add_argument("--deadline-ms", type=float, default=1000.0)
    p.set_defaults(func=cmd_full)

    p = sub.add_parser("shutdown", help="requests lost across a graceful shutdown")
    common(p)
    p.add_argument("--pid", type=int, required=True, help="process to signal")
    p.add_argument("--signal", default="TERM", choices=["TERM", "QUIT", "INT"])
    p.add_argument("--busy", type=int, default=200)
    p.add_argument("--waiting", type=int, default=1200)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--burst-wait", type=float, default=3.0, help="longest wait for the waiting requests to be sent")
    p.add_argument("--wait", type=float, default=20.0, help="seconds after the signal before giving up")
    p.set_defaults(func=cmd_shutdown)

    args = ap.parse_args()
    raise_nofile()
    args.func(args)


if __name__ == "__main__":
    main()
