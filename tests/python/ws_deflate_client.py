"""A permessage-deflate client for tests/tests/ws_deflate_clients.rs: the
`websockets` package (RFC 6455 and 7692, compressing by default) echoes
text and binary messages of several sizes, whole and fragmented, through
the server at argv[1], checks every echo, and prints one JSON line: the
extension negotiated and what was sent.

Usage: python3 ws_deflate_client.py ws://127.0.0.1:PORT/ [takeover|no-takeover]
"""

import asyncio
import inspect
import json
import random
import sys

import websockets

try:  # websockets 13 and later
    from websockets.asyncio.client import connect
except ImportError:  # older ones: the legacy client
    from websockets import connect


def json_like(size, rng):
    """Deterministic JSON-ish text of `size` characters that compresses a few times over."""
    names = ["alice", "bob", "carol", "dave", "erin", "frank"]
    parts = []
    n = 0
    while n < size:
        item = '{"id":%d,"user":"%s","score":%d,"tags":["a","b"],"ok":%s},' % (
            rng.randrange(1 << 20),
            rng.choice(names),
            rng.randrange(1000),
            rng.choice(["true", "false"]),
        )
        parts.append(item)
        n += len(item)
    return "".join(parts)[:size]


def messages():
    """(label, message, fragments) to echo: fragments > 1 sends it in that many frames."""
    rng = random.Random(7692)
    small_text = "hi, under 64 bytes"
    text_16k = json_like(16 << 10, rng)
    binary_16k = json_like(16 << 10, rng).encode()
    noise_16k = bytes(rng.randrange(256) for _ in range(16 << 10))
    text_1m = json_like(1 << 20, rng)
    binary_1m = json_like(1 << 20, rng).encode()
    return [
        ("small text", small_text, 1),
        ("small binary", b"\x00\x01\x02 small", 1),
        ("16 KiB text", text_16k, 1),
        ("16 KiB binary", binary_16k, 1),
        ("16 KiB incompressible", noise_16k, 1),
        ("16 KiB text, 4 fragments", text_16k, 4),
        ("16 KiB binary, 3 fragments", binary_16k, 3),
        ("1 MiB text", text_1m, 1),
        ("1 MiB binary, 8 fragments", binary_1m, 8),
        # The same again: with context takeover, history from the first.
        ("16 KiB text again", text_16k, 1),
    ]


def fragments(message, count):
    step = -(-len(message) // count)
    return [message[i : i + step] for i in range(0, len(message), step)]


def extensions_of(ws):
    protocol = getattr(ws, "protocol", None)
    found = getattr(protocol, "extensions", None)
    if found is None:
        found = getattr(ws, "extensions", [])
    return found


def response_header(ws, name):
    response = getattr(ws, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        headers = getattr(ws, "response_headers", {})
    return headers.get(name)


async def main(url):
    sent = []
    options = {"max_size": None, "compression": "deflate"}
    if "proxy" in inspect.signature(connect).parameters:
        options["proxy"] = None  # straight to the test server, whatever the environment says
    async with connect(url, **options) as ws:
        extensions = extensions_of(ws)
        for label, message, count in messages():
            if count > 1:
                await ws.send(fragments(message, count))
            else:
                await ws.send(message)
            echo = await asyncio.wait_for(ws.recv(), 30)
            if echo != message:
                kind = type(echo).__name__
                raise SystemExit(f"{label}: echo differs ({kind}, {len(echo)} long, not {len(message)})")
            sent.append({"label": label, "len": len(message), "binary": isinstance(message, bytes)})
    print(
        json.dumps(
            {
                "websockets": websockets.__version__,
                "header": response_header(ws, "Sec-WebSocket-Extensions"),
                "extensions": [
                    {
                        "name": extension.name,
                        "remote_no_context_takeover": getattr(extension, "remote_no_context_takeover", None),
                        "local_no_context_takeover": getattr(extension, "local_no_context_takeover", None),
                    }
                    for extension in extensions
                ],
                "sent": sent,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
