//! SETTINGS parameters (RFC 9113 §6.5): their identifiers and values, the
//! validated parameters of a received frame, and the values in force.

use super::error::FrameErrorKind;
use super::header::{DEFAULT_MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT};
use crate::h2::flow::{DEFAULT_WINDOW_SIZE, MAX_WINDOW_SIZE};

/// The length of one parameter in a SETTINGS payload: a 16-bit
/// identifier and a 32-bit value.
pub const SETTING_LEN: usize = 6;

/// The identifier of a SETTINGS parameter this crate knows (RFC 9113
/// §6.5.2; RFC 8441 §3; RFC 9218 §2.1). Parameters with other identifiers
/// are ignored on receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SettingId {
    /// 0x1 `SETTINGS_HEADER_TABLE_SIZE`: the largest HPACK dynamic table
    /// the sender's decoder keeps.
    HeaderTableSize,
    /// 0x2 `SETTINGS_ENABLE_PUSH`: whether the server may push.
    EnablePush,
    /// 0x3 `SETTINGS_MAX_CONCURRENT_STREAMS`: how many streams the peer
    /// may open towards the sender.
    MaxConcurrentStreams,
    /// 0x4 `SETTINGS_INITIAL_WINDOW_SIZE`: the initial window of every
    /// stream the sender receives on.
    InitialWindowSize,
    /// 0x5 `SETTINGS_MAX_FRAME_SIZE`: the longest frame payload the
    /// sender accepts.
    MaxFrameSize,
    /// 0x6 `SETTINGS_MAX_HEADER_LIST_SIZE`: advice on the largest field
    /// section the sender accepts.
    MaxHeaderListSize,
    /// 0x8 `SETTINGS_ENABLE_CONNECT_PROTOCOL` (RFC 8441): the extended
    /// CONNECT method, which carries WebSockets over HTTP/2.
    EnableConnectProtocol,
    /// 0x9 `SETTINGS_NO_RFC7540_PRIORITIES` (RFC 9218): the sender
    /// ignores the deprecated priority signals.
    NoRfc7540Priorities,
}

impl SettingId {
    /// Every identifier, in the order of their codes.
    pub const ALL: [SettingId; 8] = [
        SettingId::HeaderTableSize,
        SettingId::EnablePush,
        SettingId::MaxConcurrentStreams,
        SettingId::InitialWindowSize,
        SettingId::MaxFrameSize,
        SettingId::MaxHeaderListSize,
        SettingId::EnableConnectProtocol,
        SettingId::NoRfc7540Priorities,
    ];

    /// The identifier with the code `code`, or `None` for one this crate
    /// does not know.
    #[inline]
    pub const fn from_u16(code: u16) -> Option<SettingId> {
        match code {
            0x1 => Some(SettingId::HeaderTableSize),
            0x2 => Some(SettingId::EnablePush),
            0x3 => Some(SettingId::MaxConcurrentStreams),
            0x4 => Some(SettingId::InitialWindowSize),
            0x5 => Some(SettingId::MaxFrameSize),
            0x6 => Some(SettingId::MaxHeaderListSize),
            0x8 => Some(SettingId::EnableConnectProtocol),
            0x9 => Some(SettingId::NoRfc7540Priorities),
            _ => None,
        }
    }

    /// The identifier's code on the wire.
    #[inline]
    pub const fn as_u16(self) -> u16 {
        match self {
            SettingId::HeaderTableSize => 0x1,
            SettingId::EnablePush => 0x2,
            SettingId::MaxConcurrentStreams => 0x3,
            SettingId::InitialWindowSize => 0x4,
            SettingId::MaxFrameSize => 0x5,
            SettingId::MaxHeaderListSize => 0x6,
            SettingId::EnableConnectProtocol => 0x8,
            SettingId::NoRfc7540Priorities => 0x9,
        }
    }
}

/// One SETTINGS parameter with its value.
///
/// Made from the wire with [`Setting::from_wire`], which enforces the
/// ranges of §6.5.2; a value made by hand out of range (an
/// `InitialWindowSize` above 2³¹ − 1, a `MaxFrameSize` outside
/// 16,384..=16,777,215) is refused by the encoder.
///
/// ```
/// use peregrine_core::h2::frame::{Setting, SettingId};
///
/// assert_eq!(Setting::from_wire(0x4, 1 << 20), Ok(Some(Setting::InitialWindowSize(1 << 20))));
/// assert_eq!(Setting::from_wire(0x2, 2), Err(SettingId::EnablePush)); // 0 or 1 only
/// assert_eq!(Setting::from_wire(0x5, 16_383), Err(SettingId::MaxFrameSize));
/// assert_eq!(Setting::from_wire(0xf00d, 7), Ok(None)); // unknown: ignored
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setting {
    /// `SETTINGS_HEADER_TABLE_SIZE`, in bytes; any value.
    HeaderTableSize(u32),
    /// `SETTINGS_ENABLE_PUSH`: 0 or 1 on the wire.
    EnablePush(bool),
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`; any value.
    MaxConcurrentStreams(u32),
    /// `SETTINGS_INITIAL_WINDOW_SIZE`, in bytes; at most 2³¹ − 1.
    InitialWindowSize(u32),
    /// `SETTINGS_MAX_FRAME_SIZE`, in bytes; 16,384..=16,777,215.
    MaxFrameSize(u32),
    /// `SETTINGS_MAX_HEADER_LIST_SIZE`, in bytes; any value.
    MaxHeaderListSize(u32),
    /// `SETTINGS_ENABLE_CONNECT_PROTOCOL`: 0 or 1 on the wire.
    EnableConnectProtocol(bool),
    /// `SETTINGS_NO_RFC7540_PRIORITIES`: 0 or 1 on the wire.
    NoRfc7540Priorities(bool),
}

impl Setting {
    /// The parameter with identifier `id` and value `value`: `Ok(None)`
    /// for an identifier this crate does not know (ignored, §6.5.2), and
    /// `Err` with the identifier for a value out of its range.
    pub const fn from_wire(id: u16, value: u32) -> Result<Option<Setting>, SettingId> {
        let Some(id) = SettingId::from_u16(id) else {
            return Ok(None);
        };
        let flag = match value {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        };
        let setting = match (id, flag) {
            (SettingId::HeaderTableSize, _) => Setting::HeaderTableSize(value),
            (SettingId::EnablePush, Some(flag)) => Setting::EnablePush(flag),
            (SettingId::MaxConcurrentStreams, _) => Setting::MaxConcurrentStreams(value),
            (SettingId::InitialWindowSize, _) => Setting::InitialWindowSize(value),
            (SettingId::MaxFrameSize, _) => Setting::MaxFrameSize(value),
            (SettingId::MaxHeaderListSize, _) => Setting::MaxHeaderListSize(value),
            (SettingId::EnableConnectProtocol, Some(flag)) => Setting::EnableConnectProtocol(flag),
            (SettingId::NoRfc7540Priorities, Some(flag)) => Setting::NoRfc7540Priorities(flag),
            (_, None) => return Err(id),
        };
        if setting.is_valid() {
            Ok(Some(setting))
        } else {
            Err(id)
        }
    }

    /// The parameter's identifier.
    #[inline]
    pub const fn id(self) -> SettingId {
        match self {
            Setting::HeaderTableSize(_) => SettingId::HeaderTableSize,
            Setting::EnablePush(_) => SettingId::EnablePush,
            Setting::MaxConcurrentStreams(_) => SettingId::MaxConcurrentStreams,
            Setting::InitialWindowSize(_) => SettingId::InitialWindowSize,
            Setting::MaxFrameSize(_) => SettingId::MaxFrameSize,
            Setting::MaxHeaderListSize(_) => SettingId::MaxHeaderListSize,
            Setting::EnableConnectProtocol(_) => SettingId::EnableConnectProtocol,
            Setting::NoRfc7540Priorities(_) => SettingId::NoRfc7540Priorities,
        }
    }

    /// The parameter's value on the wire.
    #[inline]
    pub const fn value(self) -> u32 {
        match self {
            Setting::HeaderTableSize(value)
            | Setting::MaxConcurrentStreams(value)
            | Setting::InitialWindowSize(value)
            | Setting::MaxFrameSize(value)
            | Setting::MaxHeaderListSize(value) => value,
            Setting::EnablePush(flag)
            | Setting::EnableConnectProtocol(flag)
            | Setting::NoRfc7540Priorities(flag) => flag as u32,
        }
    }

    /// Whether the value is within its range (§6.5.2).
    #[inline]
    pub const fn is_valid(self) -> bool {
        match self {
            Setting::InitialWindowSize(size) => size <= MAX_WINDOW_SIZE,
            Setting::MaxFrameSize(size) => {
                size >= DEFAULT_MAX_FRAME_SIZE && size <= MAX_FRAME_SIZE_LIMIT
            }
            _ => true,
        }
    }
}

/// The parameters of a received SETTINGS frame, every one checked
/// (§6.5.2) when the frame was parsed. Iterating yields the known ones in
/// the order sent; unknown identifiers are skipped.
///
/// A frame may carry a parameter more than once: the values apply in
/// order, so the last one wins (§6.5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SettingsParameters<'a> {
    /// The payload: a multiple of [`SETTING_LEN`] bytes, every known
    /// parameter in range.
    payload: &'a [u8],
}

impl<'a> SettingsParameters<'a> {
    /// Checks a SETTINGS payload: its length is a multiple of six, and
    /// every known parameter is in range.
    pub(super) fn validate(payload: &'a [u8]) -> Result<Self, FrameErrorKind> {
        if payload.len() % SETTING_LEN != 0 {
            return Err(FrameErrorKind::InvalidLength);
        }
        for (id, value) in RawParameters(payload) {
            if let Err(id) = Setting::from_wire(id, value) {
                return Err(FrameErrorKind::InvalidSetting(id));
            }
        }
        Ok(SettingsParameters { payload })
    }

    /// The known parameters, in the order sent.
    #[inline]
    pub fn iter(&self) -> SettingsIter<'a> {
        SettingsIter(RawParameters(self.payload))
    }

    /// How many parameters the frame carries, known or not.
    #[inline]
    pub fn raw_count(&self) -> usize {
        self.payload.len() / SETTING_LEN
    }
}

impl<'a> IntoIterator for SettingsParameters<'a> {
    type Item = Setting;
    type IntoIter = SettingsIter<'a>;

    fn into_iter(self) -> SettingsIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &SettingsParameters<'a> {
    type Item = Setting;
    type IntoIter = SettingsIter<'a>;

    fn into_iter(self) -> SettingsIter<'a> {
        self.iter()
    }
}

/// Identifier and value pairs of a SETTINGS payload; a trailing partial
/// parameter is not yielded.
#[derive(Clone, Debug)]
struct RawParameters<'a>(&'a [u8]);

impl Iterator for RawParameters<'_> {
    type Item = (u16, u32);

    fn next(&mut self) -> Option<(u16, u32)> {
        let [i0, i1, v0, v1, v2, v3, rest @ ..] = self.0 else {
            return None;
        };
        self.0 = rest;
        Some((
            u16::from_be_bytes([*i0, *i1]),
            u32::from_be_bytes([*v0, *v1, *v2, *v3]),
        ))
    }
}

/// The iterator of [`SettingsParameters`]: the known parameters, in the
/// order sent.
#[derive(Clone, Debug)]
pub struct SettingsIter<'a>(RawParameters<'a>);

impl Iterator for SettingsIter<'_> {
    type Item = Setting;

    fn next(&mut self) -> Option<Setting> {
        for (id, value) in self.0.by_ref() {
            // Validated when the frame was parsed: no error here.
            if let Ok(Some(setting)) = Setting::from_wire(id, value) {
                return Some(setting);
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.0.0.len() / SETTING_LEN))
    }
}

/// The settings in force for one side of a connection: its initial values
/// (§6.5.2) changed by every SETTINGS frame applied so far.
///
/// A server keeps two: the peer's, applied as its SETTINGS frames arrive,
/// which bound what the server sends; and its own, which take effect once
/// the peer acknowledges them.
///
/// ```
/// use peregrine_core::h2::frame::{Setting, Settings};
///
/// let mut peer = Settings::default();
/// assert_eq!(peer.max_frame_size, 16_384);
/// assert_eq!(peer.max_concurrent_streams, None); // no limit
/// peer.apply(Setting::MaxFrameSize(1 << 20));
/// peer.apply(Setting::MaxConcurrentStreams(100));
/// assert_eq!(peer.max_frame_size, 1 << 20);
/// assert_eq!(peer.max_concurrent_streams, Some(100));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Settings {
    /// The largest HPACK dynamic table, in bytes; 4,096 initially.
    pub header_table_size: u32,
    /// Whether server push is allowed; initially allowed.
    pub enable_push: bool,
    /// The most streams the other side may have open; `None` (no limit)
    /// initially.
    pub max_concurrent_streams: Option<u32>,
    /// The initial window of each stream, in bytes; 65,535 initially.
    pub initial_window_size: u32,
    /// The longest frame payload, in bytes; 16,384 initially.
    pub max_frame_size: u32,
    /// Advice on the largest field section, in bytes; `None` (no limit)
    /// initially.
    pub max_header_list_size: Option<u32>,
    /// Whether the extended CONNECT method is allowed (RFC 8441); not
    /// initially.
    pub enable_connect_protocol: bool,
    /// Whether the deprecated priority signals are ignored (RFC 9218);
    /// not initially.
    pub no_rfc7540_priorities: bool,
}

impl Settings {
    /// The initial values (§6.5.2).
    pub const DEFAULT: Settings = Settings {
        header_table_size: 4_096,
        enable_push: true,
        max_concurrent_streams: None,
        initial_window_size: DEFAULT_WINDOW_SIZE,
        max_frame_size: DEFAULT_MAX_FRAME_SIZE,
        max_header_list_size: None,
        enable_connect_protocol: false,
        no_rfc7540_priorities: false,
    };

    /// Sets the value of one parameter.
    ///
    /// A change of [`initial_window_size`](Self::initial_window_size)
    /// changes every stream window by the difference (§6.9.2): compare
    /// the value before and after, and see
    /// [`Window::apply_initial_size_change`](crate::h2::flow::Window::apply_initial_size_change).
    #[inline]
    pub fn apply(&mut self, setting: Setting) {
        match setting {
            Setting::HeaderTableSize(size) => self.header_table_size = size,
            Setting::EnablePush(enabled) => self.enable_push = enabled,
            Setting::MaxConcurrentStreams(count) => self.max_concurrent_streams = Some(count),
            Setting::InitialWindowSize(size) => self.initial_window_size = size,
            Setting::MaxFrameSize(size) => self.max_frame_size = size,
            Setting::MaxHeaderListSize(size) => self.max_header_list_size = Some(size),
            Setting::EnableConnectProtocol(enabled) => self.enable_connect_protocol = enabled,
            Setting::NoRfc7540Priorities(ignored) => self.no_rfc7540_priorities = ignored,
        }
    }

    /// Applies every parameter of a received frame, in order.
    pub fn apply_all(&mut self, parameters: SettingsParameters<'_>) {
        for setting in parameters {
            self.apply(setting);
        }
    }

    /// The parameters whose values differ from `base`, in the order of
    /// their identifiers: what a SETTINGS frame must carry to turn `base`
    /// into `self` (against [`Settings::DEFAULT`], a connection's first
    /// SETTINGS frame). A limit lifted to "none" is sent as 2³² − 1.
    ///
    /// ```
    /// use peregrine_core::h2::frame::{Setting, Settings};
    ///
    /// let ours = Settings { max_concurrent_streams: Some(128), enable_push: false, ..Settings::DEFAULT };
    /// let changes: Vec<Setting> = ours.changes_from(&Settings::DEFAULT).collect();
    /// assert_eq!(changes, [Setting::EnablePush(false), Setting::MaxConcurrentStreams(128)]);
    /// ```
    pub fn changes_from<'s>(&'s self, base: &'s Settings) -> impl Iterator<Item = Setting> + 's {
        SettingId::ALL.into_iter().filter_map(|id| {
            let (new, old) = (self.get(id), base.get(id));
            (new != old).then_some(new)
        })
    }

    /// The value of one parameter, as it would be sent; a limit of "none"
    /// as 2³² − 1.
    pub const fn get(&self, id: SettingId) -> Setting {
        const fn limit(value: Option<u32>) -> u32 {
            match value {
                Some(value) => value,
                None => u32::MAX,
            }
        }
        match id {
            SettingId::HeaderTableSize => Setting::HeaderTableSize(self.header_table_size),
            SettingId::EnablePush => Setting::EnablePush(self.enable_push),
            SettingId::MaxConcurrentStreams => {
                Setting::MaxConcurrentStreams(limit(self.max_concurrent_streams))
            }
            SettingId::InitialWindowSize => Setting::InitialWindowSize(self.initial_window_size),
            SettingId::MaxFrameSize => Setting::MaxFrameSize(self.max_frame_size),
            SettingId::MaxHeaderListSize => {
                Setting::MaxHeaderListSize(limit(self.max_header_list_size))
            }
            SettingId::EnableConnectProtocol => {
                Setting::EnableConnectProtocol(self.enable_connect_protocol)
            }
            SettingId::NoRfc7540Priorities => {
                Setting::NoRfc7540Priorities(self.no_rfc7540_priorities)
            }
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One parameter's six bytes.
    fn parameter(id: u16, value: u32) -> [u8; 6] {
        let [i0, i1] = id.to_be_bytes();
        let [v0, v1, v2, v3] = value.to_be_bytes();
        [i0, i1, v0, v1, v2, v3]
    }

    #[test]
    fn ranges_at_their_boundaries() {
        assert_eq!(
            Setting::from_wire(0x2, 0),
            Ok(Some(Setting::EnablePush(false)))
        );
        assert_eq!(
            Setting::from_wire(0x2, 1),
            Ok(Some(Setting::EnablePush(true)))
        );
        assert_eq!(Setting::from_wire(0x2, 2), Err(SettingId::EnablePush));
        assert_eq!(
            Setting::from_wire(0x2, u32::MAX),
            Err(SettingId::EnablePush)
        );
        assert_eq!(
            Setting::from_wire(0x4, (1 << 31) - 1),
            Ok(Some(Setting::InitialWindowSize((1 << 31) - 1)))
        );
        assert_eq!(
            Setting::from_wire(0x4, 1 << 31),
            Err(SettingId::InitialWindowSize)
        );
        assert_eq!(
            Setting::from_wire(0x4, 0),
            Ok(Some(Setting::InitialWindowSize(0)))
        );
        assert_eq!(
            Setting::from_wire(0x5, 16_383),
            Err(SettingId::MaxFrameSize)
        );
        assert_eq!(
            Setting::from_wire(0x5, 16_384),
            Ok(Some(Setting::MaxFrameSize(16_384)))
        );
        assert_eq!(
            Setting::from_wire(0x5, 16_777_215),
            Ok(Some(Setting::MaxFrameSize(16_777_215)))
        );
        assert_eq!(
            Setting::from_wire(0x5, 16_777_216),
            Err(SettingId::MaxFrameSize)
        );
        assert_eq!(
            Setting::from_wire(0x8, 2),
            Err(SettingId::EnableConnectProtocol)
        );
        assert_eq!(
            Setting::from_wire(0x9, 2),
            Err(SettingId::NoRfc7540Priorities)
        );
        for id in [0x1, 0x3, 0x6] {
            assert!(matches!(Setting::from_wire(id, u32::MAX), Ok(Some(_))));
        }
        for unknown in [0x0, 0x7, 0xa, 0xffff] {
            assert_eq!(Setting::from_wire(unknown, u32::MAX), Ok(None));
        }
    }

    #[test]
    fn identifiers_and_values_round_trip() {
        for id in SettingId::ALL {
            assert_eq!(SettingId::from_u16(id.as_u16()), Some(id));
            let setting = Settings::DEFAULT.get(id);
            assert_eq!(setting.id(), id);
            if id != SettingId::MaxConcurrentStreams && id != SettingId::MaxHeaderListSize {
                assert_eq!(
                    Setting::from_wire(id.as_u16(), setting.value()),
                    Ok(Some(setting))
                );
            }
        }
    }

    #[test]
    fn parameters_validated_and_iterated() {
        let mut payload = [0; 24];
        payload[..6].copy_from_slice(&parameter(0x3, 100));
        payload[6..12].copy_from_slice(&parameter(0xabcd, 5)); // unknown
        payload[12..18].copy_from_slice(&parameter(0x4, 1 << 20));
        payload[18..].copy_from_slice(&parameter(0x3, 7)); // repeated: last wins
        let parameters = SettingsParameters::validate(&payload).unwrap();
        assert_eq!(parameters.raw_count(), 4);
        let mut iter = parameters.iter();
        assert_eq!(iter.next(), Some(Setting::MaxConcurrentStreams(100)));
        assert_eq!(iter.next(), Some(Setting::InitialWindowSize(1 << 20)));
        assert_eq!(iter.next(), Some(Setting::MaxConcurrentStreams(7)));
        assert_eq!(iter.next(), None);

        let mut settings = Settings::DEFAULT;
        settings.apply_all(parameters);
        assert_eq!(settings.max_concurrent_streams, Some(7));
        assert_eq!(settings.initial_window_size, 1 << 20);

        assert_eq!(
            SettingsParameters::validate(&payload[..23]),
            Err(FrameErrorKind::InvalidLength)
        );
        assert_eq!(
            SettingsParameters::validate(&parameter(0x5, 1 << 24)),
            Err(FrameErrorKind::InvalidSetting(SettingId::MaxFrameSize))
        );
        assert!(
            SettingsParameters::validate(&[])
                .unwrap()
                .iter()
                .next()
                .is_none()
        );
    }

    #[test]
    fn apply_sets_every_field() {
        let mut settings = Settings::DEFAULT;
        for setting in [
            Setting::HeaderTableSize(0),
            Setting::EnablePush(false),
            Setting::MaxConcurrentStreams(0),
            Setting::InitialWindowSize(0),
            Setting::MaxFrameSize(MAX_FRAME_SIZE_LIMIT),
            Setting::MaxHeaderListSize(8192),
            Setting::EnableConnectProtocol(true),
            Setting::NoRfc7540Priorities(true),
        ] {
            settings.apply(setting);
            assert_eq!(settings.get(setting.id()), setting);
        }
        let changes: std::vec::Vec<Setting> = settings.changes_from(&Settings::DEFAULT).collect();
        assert_eq!(changes.len(), 8);
        let mut rebuilt = Settings::DEFAULT;
        changes
            .into_iter()
            .for_each(|setting| rebuilt.apply(setting));
        assert_eq!(rebuilt, settings);
        assert_eq!(settings.changes_from(&settings).count(), 0);
    }

    #[test]
    fn lifting_a_limit_sends_the_largest_value() {
        let limited = Settings {
            max_header_list_size: Some(1),
            ..Settings::DEFAULT
        };
        let changes: std::vec::Vec<Setting> = Settings::DEFAULT.changes_from(&limited).collect();
        assert_eq!(changes, [Setting::MaxHeaderListSize(u32::MAX)]);
    }
}
