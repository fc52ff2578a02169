// The node side of bench/ws-deflate.sh: a WebSocket echo server on the
// `ws` package, permessage-deflate enabled (negotiated when the client
// offers it). One process, one event loop; zlib's work runs on libuv's
// thread pool, in the same process (its CPU time counts).
//
//   node bench/ws-echo.js PORT [LEVEL]
//
// LEVEL: the zlib level ws compresses with; ws's default (zlib's, 6)
// when absent. NODE_PATH must find `ws` (bench/ws-deflate.sh installs it).
"use strict";
const { WebSocketServer } = require("ws");

const port = Number(process.argv[2] || 9002);
const level = process.argv[3];
const perMessageDeflate = level === undefined ? true : { zlibDeflateOptions: { level: Number(level) } };
const server = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate, maxPayload: 16 << 20 });
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
});
server.on("listening", () => console.error(`ws-echo.js: listening on ${port}, ws ${require("ws/package.json").version}, level ${level ?? "default"}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
