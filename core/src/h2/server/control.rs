//! The frames that steer the connection rather than carry a request:
//! SETTINGS (its parameters applied as they arrive, six bytes at a time,
//! in order, then acknowledged: §6.5.3), PING, WINDOW_UPDATE, RST_STREAM
//! and PRIORITY.

use super::ServerConnection;
use super::calm::Abuse;
use super::dispatch::{Progress, Reading};
use crate::h2::frame::{
    ErrorCode, Flags, Frame, FrameStart, PingFrame, SETTING_LEN, Setting, StreamId,
    encode_ping_ack, encode_settings_ack,
};
use crate::sizes::Sizes;
use crate::{Env, Handler, IoBuffers};

/// A frame of a fixed size, its fields copied out of the read buffer.
#[derive(Clone, Copy, Debug)]
pub(super) enum Control {
    /// PING.
    Ping {
        /// The opaque data.
        data: [u8; 8],
        /// Whether it is an ACK.
        ack: bool,
    },
    /// WINDOW_UPDATE.
    WindowUpdate {
        /// Its stream (0 for the connection).
        stream: StreamId,
        /// The increment.
        increment: u32,
    },
    /// RST_STREAM.
    RstStream {
        /// Its stream.
        stream: StreamId,
    },
    /// PRIORITY, and anything else: ignored (RFC 9113 deprecates the
    /// priority scheme).
    Ignored,
}

impl Control {
    /// The fields of `frame`.
    pub(super) fn new(frame: Frame<'_>) -> Control {
        match frame {
            Frame::Ping(PingFrame { opaque_data, ack }) => Control::Ping {
                data: opaque_data,
                ack,
            },
            Frame::WindowUpdate(update) => Control::WindowUpdate {
                stream: update.stream_id,
                increment: update.increment,
            },
            Frame::RstStream(reset) => Control::RstStream {
                stream: reset.stream_id,
            },
            _ => Control::Ignored,
        }
    }
}

impl<Z: Sizes, const STREAMS: usize> ServerConnection<Z, STREAMS> {
    /// Handles a frame of a fixed size.
    pub(super) fn take_control<H: Handler<L>, L: Default>(
        &mut self,
        control: Control,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        match control {
            Control::Ping { data, ack } => {
                if !self.calm.allow(Abuse::Control, env.now) {
                    self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
                    return;
                }
                if !ack {
                    self.write_frame(bufs, |buf| encode_ping_ack(buf, data));
                }
            }
            Control::WindowUpdate { stream, increment } => {
                self.take_window_update(stream, increment, bufs, env);
            }
            Control::RstStream { stream } => {
                if stream.get() > self.streams.highest {
                    // §5.1: RST_STREAM on an idle stream.
                    self.connection_error(bufs, ErrorCode::ProtocolError, env);
                    return;
                }
                if self.streams.is_closed(stream) {
                    return;
                }
                if !self.calm.allow(Abuse::Reset, env.now) {
                    self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
                    return;
                }
                self.forget(stream, env);
            }
            Control::Ignored => {}
        }
    }

    /// The start of a SETTINGS frame: counted against the flood bound;
    /// an acknowledgement of ours ends here, parameters follow.
    pub(super) fn begin_settings<H: Handler<L>, L: Default>(
        &mut self,
        frame: FrameStart,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        if !self.calm.allow(Abuse::Control, env.now) {
            self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
            return;
        }
        if frame.header.flags.contains(Flags::ACK) {
            return;
        }
        if frame.content_len == 0 {
            self.write_frame(bufs, encode_settings_ack);
            return;
        }
        self.reading = Reading::Settings {
            frame,
            left: frame.content_len as u32,
        };
    }

    /// The parameters of a SETTINGS frame that are in, whole ones only:
    /// each applies at once, in order; the frame is acknowledged after
    /// its last.
    pub(super) fn take_settings<H: Handler<L>, L: Default>(
        &mut self,
        frame: FrameStart,
        left: u32,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) -> Progress {
        let available = (self.read_end - self.read_start).min(left as usize);
        let whole = available - available % SETTING_LEN;
        if whole == 0 {
            return Progress::Waiting;
        }
        let parameters = &bufs.read[self.read_start..self.read_start + whole];
        let mut failed = None;
        for parameter in parameters.chunks_exact(SETTING_LEN) {
            let Some(&parameter) = parameter.first_chunk() else {
                continue;
            };
            let applied = match frame.setting(parameter) {
                Ok(Some(setting)) => self.apply_setting(setting),
                Ok(None) => Ok(()),
                Err(error) => Err(error.code()),
            };
            if let Err(code) = applied {
                failed = Some(code);
                break;
            }
        }
        if let Some(code) = failed {
            self.connection_error(bufs, code, env);
            return Progress::Moved;
        }
        self.read_start += whole;
        let left = left - whole as u32;
        if left == 0 {
            self.reading = Reading::FrameStart;
            self.write_frame(bufs, encode_settings_ack);
        } else {
            self.reading = Reading::Settings { frame, left };
        }
        Progress::Moved
    }

    /// One of the client's SETTINGS parameters: it applies at once; a
    /// window size change moves every stream's window (§6.9.2), a table
    /// size change our encoder's table.
    fn apply_setting(&mut self, setting: Setting) -> Result<(), ErrorCode> {
        let old_window = self.peer.initial_window_size;
        self.peer.apply(setting);
        match setting {
            Setting::InitialWindowSize(new_window) if new_window != old_window => {
                for stream in self.streams.iter_mut() {
                    stream
                        .send_window
                        .apply_initial_size_change(old_window, new_window)
                        .map_err(|_| ErrorCode::FlowControlError)?;
                }
            }
            Setting::HeaderTableSize(size) => self.encoder.set_max_table_size(size as usize),
            _ => {}
        }
        Ok(())
    }

    /// WINDOW_UPDATE: more may be sent on the connection or a stream.
    fn take_window_update<H: Handler<L>, L: Default>(
        &mut self,
        stream: StreamId,
        increment: u32,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        if stream.is_connection() {
            if self.send_window.increase(increment).is_err() {
                self.connection_error(bufs, ErrorCode::FlowControlError, env);
            }
            return;
        }
        let highest = self.streams.highest;
        let increased = self
            .streams
            .get_mut(stream)
            .map(|open| open.send_window.increase(increment).is_ok());
        match increased {
            Some(false) => self.reset_stream(bufs, stream, ErrorCode::FlowControlError, env),
            Some(true) => {}
            None if stream.get() > highest => {
                // §5.1: WINDOW_UPDATE on an idle stream.
                self.connection_error(bufs, ErrorCode::ProtocolError, env);
            }
            // A stream that ended: ignored (§6.9).
            None => {}
        }
    }
}
