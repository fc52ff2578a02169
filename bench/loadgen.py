#!/usr/bin/env python3
"""Exact-count closed-loop HTTP/1.1 load: sends exactly N requests over C
keep-alive connections, each connection with one request in flight, and
checks every response is a 200 with the expected body length.

    bench/loadgen.py --port 18080 --requests 25000 --connections 50 --body-len 13

The request is the one wrk sends (`GET / HTTP/1.1` and a Host header), so
per-request figures from this and from wrk runs describe the same work.
Exits non-zero, with the reason, if a connection fails, a response is not
a 200 of the expected length, or the run exceeds --timeout seconds.
"""

import argparse
import selectors
import socket
import sys
import time


def fail(message):
    print(f"loadgen: {message}", file=sys.stderr)
    sys.exit(1)


class Conn:
    __slots__ = ("sock", "left", "buf", "need")

    def __init__(self, sock, left):
        self.sock = sock
        self.left = left  # requests still to send on this connection
        self.buf = b""
        self.need = None  # bytes of the response in flight, once the head is in


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--body-len", type=int, required=True, help="expected body length")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds for the whole run")
    args = ap.parse_args()
    if args.requests < 0 or args.connections < 1:
        fail("--requests must be >= 0 and --connections >= 1")

    request = f"GET / HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n\r\n".encode()
    deadline = time.monotonic() + args.timeout
    nconn = min(args.connections, max(args.requests, 1))
    share, extra = divmod(args.requests, nconn)

    sel = selectors.DefaultSelector()
    conns = []
    for i in range(nconn):
        try:
            sock = socket.create_connection((args.host, args.port), timeout=30)
        except OSError as e:
            fail(f"connect {args.host}:{args.port}: {e}")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        conns.append(Conn(sock, share + (1 if i < extra else 0)))

    sent = received = 0
    start = time.monotonic()
    active = 0
    for c in conns:
        if c.left:
            c.sock.sendall(request)  # 40-odd bytes into an empty socket buffer
            c.left -= 1
            sent += 1
            sel.register(c.sock, selectors.EVENT_READ, c)
            active += 1

    while active:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            fail(f"timed out after {args.timeout:.0f}s: {sent} sent, {received} answered")
        for key, _ in sel.select(timeout=min(remaining, 1.0)):
            c = key.data
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                fail(f"recv: {e} after {received} responses")
            if not data:
                fail(f"server closed a connection after {received} responses ({sent} sent)")
            c.buf += data
            while True:
                if c.need is None:
                    end = c.buf.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    head = c.buf[:end].decode("latin-1").split("\r\n")
                    status = head[0].split(" ", 2)
                    if len(status) < 2 or status[1] != "200":
                        fail(f"unexpected status line: {head[0]!r}")
                    length = None
                    for line in head[1:]:
                        name, _, value = line.partition(":")
                        if name.strip().lower() == "content-length":
                            length = int(value.strip())
                    if length != args.body_len:
                        fail(f"expected a {args.body_len}-byte body, got Content-Length {length}")
                    c.need = end + 4 + length
                if len(c.buf) < c.need:
                    break
                if len(c.buf) > c.need:
                    fail("bytes after a response that was not asked for")
                c.buf = b""
                c.need = None
                received += 1
                if c.left:
                    try:
                        c.sock.sendall(request)
                    except OSError as e:
                        fail(f"send: {e}")
                    c.left -= 1
                    sent += 1
                else:
                    sel.unregister(c.sock)
                    active -= 1
                break

    elapsed = time.monotonic() - start
    for c in conns:
        c.sock.close()
    if sent != args.requests or received != args.requests:
        fail(f"sent {sent} and received {received}, wanted {args.requests}")
    rate = received / elapsed if elapsed > 0 else 0.0
    print(f"loadgen: {received} requests over {nconn} connections in {elapsed:.2f}s ({rate:.0f}/s)")


if __name__ == "__main__":
    main()
