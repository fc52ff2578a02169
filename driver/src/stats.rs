//! Server statistics: what every worker counts, and the totals a
//! [`ShutdownHandle`](crate::ShutdownHandle) reads.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use peregrine_core::Counters;

/// Totals over a server's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted.
    pub connections_accepted: u64,
    /// Connections open now.
    pub connections_open: u64,
    /// Requests whose head was complete.
    pub requests: u64,
    /// Responses by class: `[1xx, 2xx, 3xx, 4xx, 5xx]`.
    pub responses: [u64; 5],
    /// Requests refused as malformed or over a limit.
    pub parse_errors: u64,
    /// Requests that stalled (408) and peers that stopped reading.
    pub timeouts: u64,
    /// WebSocket messages posted through a [`Sender`](crate::Sender) that
    /// reached their worker but no connection: it was gone or closing,
    /// its write buffer was full, or no buffer was free to write from.
    pub messages_undelivered: u64,
    /// Idle keep-alive connections (or, with none idle, connections silent
    /// since their accept for a tenth of the header timeout) closed to
    /// make room for a new one, when a worker held all the connections it
    /// may
    /// ([`Server::max_connections`](crate::Server::max_connections)) or
    /// the process ran out of descriptors. Always 0 on a backend that
    /// serves a connection per thread.
    pub idle_evicted: u64,
    /// Connections holding part of a request head, answered `408` and
    /// closed before their header timeout because every buffer pair was
    /// lent and another connection waited for one (also counted in
    /// `timeouts`). Always 0 on a backend that serves a connection per
    /// thread.
    pub heads_shed: u64,
    /// Handler calls that panicked. Each panic is contained: it ends the
    /// request (`500` if nothing of its response was sent) or the
    /// connection it was serving, and the worker goes on.
    pub handler_panics: u64,
    /// Responses whose file ended before the region the handler named
    /// did (the file was shorter than said, or shrank while being sent):
    /// an HTTP/1.1 connection was closed after the bytes there were, an
    /// HTTP/2 stream reset (the connection goes on).
    pub files_cut_short: u64,
    /// WebSocket connections that agreed on permessage-deflate with
    /// context takeover but found their worker's pool of DEFLATE states
    /// full, and went uncompressed
    /// ([`DeflatePolicy::ContextTakeover`](peregrine_core::DeflatePolicy)).
    pub deflate_contexts_exhausted: u64,
    /// WebSocket messages received compressed (permessage-deflate) and
    /// decompressed.
    pub deflate_received: u64,
    /// The payload bytes of those messages as they arrived, compressed.
    pub deflate_received_wire_bytes: u64,
    /// The bytes of those messages once decompressed.
    pub deflate_received_plain_bytes: u64,
    /// WebSocket messages sent compressed.
    pub deflate_sent: u64,
    /// The payload bytes of those messages as sent, compressed.
    pub deflate_sent_wire_bytes: u64,
    /// The bytes of those messages before compression.
    pub deflate_sent_plain_bytes: u64,
}

/// The totals of several servers (a plaintext and a TLS port run side by
/// side, say): every count summed.
///
/// ```
/// use peregrine_driver::Stats;
///
/// let mut total = Stats { requests: 2, ..Stats::default() };
/// total += Stats { requests: 3, responses: [0, 3, 0, 0, 0], ..Stats::default() };
/// assert_eq!((total.requests, total.responses[1]), (5, 3));
/// ```
impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, other: Stats) {
        let Stats {
            connections_accepted,
            connections_open,
            requests,
            responses,
            parse_errors,
            timeouts,
            messages_undelivered,
            idle_evicted,
            heads_shed,
            handler_panics,
            files_cut_short,
            deflate_contexts_exhausted,
            deflate_received,
            deflate_received_wire_bytes,
            deflate_received_plain_bytes,
            deflate_sent,
            deflate_sent_wire_bytes,
            deflate_sent_plain_bytes,
        } = other;
        self.connections_accepted += connections_accepted;
        self.connections_open += connections_open;
        self.requests += requests;
        for (total, count) in self.responses.iter_mut().zip(responses) {
            *total += count;
        }
        self.parse_errors += parse_errors;
        self.timeouts += timeouts;
        self.messages_undelivered += messages_undelivered;
        self.idle_evicted += idle_evicted;
        self.heads_shed += heads_shed;
        self.handler_panics += handler_panics;
        self.files_cut_short += files_cut_short;
        self.deflate_contexts_exhausted += deflate_contexts_exhausted;
        self.deflate_received += deflate_received;
        self.deflate_received_wire_bytes += deflate_received_wire_bytes;
        self.deflate_received_plain_bytes += deflate_received_plain_bytes;
        self.deflate_sent += deflate_sent;
        self.deflate_sent_wire_bytes += deflate_sent_wire_bytes;
        self.deflate_sent_plain_bytes += deflate_sent_plain_bytes;
    }
}

/// One worker's counters, written by it alone.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    /// Connections accepted.
    accepted: AtomicU64,
    /// Connections open.
    open: AtomicU64,
    /// Requests.
    requests: AtomicU64,
    /// Responses by class.
    responses: [AtomicU64; 5],
    /// Protocol errors.
    parse_errors: AtomicU64,
    /// Timeouts.
    timeouts: AtomicU64,
    /// Idle connections closed to make room.
    idle_evicted: AtomicU64,
    /// Partial heads sent away for their buffers.
    heads_shed: AtomicU64,
    /// Handler panics caught.
    handler_panics: AtomicU64,
    /// File regions cut short by their file's end.
    files_cut_short: AtomicU64,
    /// Connections refused a DEFLATE state.
    deflate_contexts_exhausted: AtomicU64,
    /// Compressed messages received, their bytes on the wire and
    /// decompressed; then the same for those sent.
    deflate: [AtomicU64; 6],
}

impl WorkerCounters {
    /// Publishes a worker's totals (single writer: plain stores suffice).
    pub(crate) fn publish(&self, accepted: u64, open: u64, totals: &Counters) {
        self.accepted.store(accepted, Relaxed);
        self.open.store(open, Relaxed);
        self.requests.store(totals.requests, Relaxed);
        for (slot, value) in self.responses.iter().zip(totals.responses) {
            slot.store(value, Relaxed);
        }
        self.parse_errors.store(totals.parse_errors, Relaxed);
        self.timeouts.store(totals.timeouts, Relaxed);
        self.handler_panics.store(totals.handler_panics, Relaxed);
        self.files_cut_short.store(totals.files_cut_short, Relaxed);
        self.deflate_contexts_exhausted
            .store(totals.deflate_contexts_exhausted, Relaxed);
        let deflate = [
            totals.deflate_received,
            totals.deflate_received_wire_bytes,
            totals.deflate_received_plain_bytes,
            totals.deflate_sent,
            totals.deflate_sent_wire_bytes,
            totals.deflate_sent_plain_bytes,
        ];
        for (slot, value) in self.deflate.iter().zip(deflate) {
            slot.store(value, Relaxed);
        }
    }

    /// Publishes how many idle connections a worker closed to make room,
    /// and how many partial heads it sent away for their buffers.
    #[cfg(unix)]
    pub(crate) fn publish_shedding(&self, evicted: u64, heads_shed: u64) {
        self.idle_evicted.store(evicted, Relaxed);
        self.heads_shed.store(heads_shed, Relaxed);
    }

    /// Adds this worker's numbers to `stats`.
    pub(crate) fn add_to(&self, stats: &mut Stats) {
        stats.connections_accepted += self.accepted.load(Relaxed);
        stats.connections_open += self.open.load(Relaxed);
        stats.requests += self.requests.load(Relaxed);
        for (total, slot) in stats.responses.iter_mut().zip(&self.responses) {
            *total += slot.load(Relaxed);
        }
        stats.parse_errors += self.parse_errors.load(Relaxed);
        stats.timeouts += self.timeouts.load(Relaxed);
        stats.idle_evicted += self.idle_evicted.load(Relaxed);
        stats.heads_shed += self.heads_shed.load(Relaxed);
        stats.handler_panics += self.handler_panics.load(Relaxed);
        stats.files_cut_short += self.files_cut_short.load(Relaxed);
        stats.deflate_contexts_exhausted += self.deflate_contexts_exhausted.load(Relaxed);
        let [
            received,
            received_wire,
            received_plain,
            sent,
            sent_wire,
            sent_plain,
        ] = &self.deflate;
        stats.deflate_received += received.load(Relaxed);
        stats.deflate_received_wire_bytes += received_wire.load(Relaxed);
        stats.deflate_received_plain_bytes += received_plain.load(Relaxed);
        stats.deflate_sent += sent.load(Relaxed);
        stats.deflate_sent_wire_bytes += sent_wire.load(Relaxed);
        stats.deflate_sent_plain_bytes += sent_plain.load(Relaxed);
    }
}
