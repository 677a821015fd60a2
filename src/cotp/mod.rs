//! ISO 8073 / ITU-T X.224 transport protocol data units (COTP), as used over TCP by RFC 1006
//! (class 0) and RFC 2126 (classes 0 and 2).
//!
//! Every TPDU starts with a length indicator (LI) counting the header after it — fixed part and
//! variable part — but not the user data (X.224 §13.2):
//!
//! ```text
//! +----+------+----------------+------------------+------------------+
//! | LI | code | rest of fixed  | variable part    | user data        |
//! |    |      | part           | (parameters)     | (to end of TPKT) |
//! +----+------+----------------+------------------+------------------+
//!  <--1-><-------------- LI octets -------------->
//! ```
//!
//! [`Tpdu::decode`] borrows everything from its input and allocates nothing; [`Tpdu::encode`]
//! writes into any [`bytes::BufMut`] after checking it has room. CR, CC, DR, DT and ER are decoded
//! fully; DC, ED, AK, EA and RJ (classes 1–4) are decoded to their fixed and variable parts so
//! analysers can show them; any other code comes back as [`Tpdu::Unknown`].
//!
//! Class-0 rules — which parameters count, class and TPDU-size negotiation, the checks on a DT —
//! live in [`class0`]; segmentation and reassembly of TSDUs in [`segment`].
//!
//! # Example
//!
//! ```
//! use osi_stack::cotp::{Data, DisconnectReason, Tpdu};
//!
//! // A class-0 DT with EOT carrying "hi": LI 2, code f0, EOT bit 80, then the user data.
//! let Tpdu::Dt(dt) = Tpdu::decode(&[0x02, 0xf0, 0x80, b'h', b'i'])? else { unreachable!() };
//! assert!(dt.eot);
//! assert_eq!(dt.user_data, b"hi");
//!
//! // A DR from the peer: DST-REF 1, SRC-REF 2, reason 0x80.
//! let Tpdu::Dr(dr) = Tpdu::decode(&[0x06, 0x80, 0, 1, 0, 2, 0x80])? else { unreachable!() };
//! assert_eq!(dr.reason, DisconnectReason(0x80));
//! assert_eq!(dr.reason.description(), Some("normal disconnect initiated by session entity"));
//!
//! // Encoding writes the same octets back.
//! let mut out = Vec::new();
//! Tpdu::Dt(Data::class0(b"hi", true)).encode(&mut out)?;
//! assert_eq!(out, [0x02, 0xf0, 0x80, b'h', b'i']);
//!
//! // To send data, frame the TSDU: as many TPKT+DT frames as the TPDU size needs (one here),
//! // written straight into the output buffer.
//! let mut wire = Vec::new();
//! osi_stack::cotp::Segments::new(b"hi", 8192).encode(&mut wire)?;
//! assert_eq!(wire, [0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, b'h', b'i']);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

use bytes::BufMut;

use crate::error::{
    DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, Layer, ensure_room,
};
use crate::parse::Cursor;

#[cfg(feature = "arbitrary")]
mod arbitrary;
pub mod class0;
pub mod connection;
mod params;
pub mod segment;

pub use connection::Connection;
pub use params::{Param, ParamCode, Params, ParamsBuf, RawParam, RawParams, TpduSize};
pub use segment::{Reassembler, Segments, Tsdu};

/// A TPDU code octet (X.224 §13.2.2.2, Table 8). Open: unknown codes survive and print.
///
/// For CR, CC, AK and RJ the low four bits carry CDT (credit); for DT they carry ROA. The
/// constants below have those bits zero; [`TpduCode::kind`] looks at the high bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TpduCode(pub u8);

impl TpduCode {
    /// Connection request.
    pub const CR: Self = Self(0xe0);
    /// Connection confirm.
    pub const CC: Self = Self(0xd0);
    /// Disconnect request.
    pub const DR: Self = Self(0x80);
    /// Disconnect confirm.
    pub const DC: Self = Self(0xc0);
    /// Data.
    pub const DT: Self = Self(0xf0);
    /// Expedited data.
    pub const ED: Self = Self(0x10);
    /// Data acknowledgement.
    pub const AK: Self = Self(0x60);
    /// Expedited data acknowledgement.
    pub const EA: Self = Self(0x20);
    /// Reject.
    pub const RJ: Self = Self(0x50);
    /// TPDU error.
    pub const ER: Self = Self(0x70);

    /// Which TPDU the code denotes.
    pub const fn kind(self) -> TpduKind {
        match self.0 >> 4 {
            0xe => TpduKind::Cr,
            0xd => TpduKind::Cc,
            0x8 if self.0 == 0x80 => TpduKind::Dr,
            0xc if self.0 == 0xc0 => TpduKind::Dc,
            0xf if self.0 & 0x0e == 0 => TpduKind::Dt,
            0x1 if self.0 == 0x10 => TpduKind::Ed,
            0x6 => TpduKind::Ak,
            0x2 if self.0 == 0x20 => TpduKind::Ea,
            0x5 => TpduKind::Rj,
            0x7 if self.0 == 0x70 => TpduKind::Er,
            _ => TpduKind::Unknown,
        }
    }
}

impl fmt::Debug for TpduCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TpduCode({:#04x} {})", self.0, self.kind().name())
    }
}

/// The TPDU types of X.224.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TpduKind {
    /// Connection request.
    Cr,
    /// Connection confirm.
    Cc,
    /// Disconnect request.
    Dr,
    /// Disconnect confirm.
    Dc,
    /// Data.
    Dt,
    /// Expedited data.
    Ed,
    /// Data acknowledgement.
    Ak,
    /// Expedited data acknowledgement.
    Ea,
    /// Reject.
    Rj,
    /// TPDU error.
    Er,
    /// A code X.224 does not assign.
    Unknown,
}

impl TpduKind {
    /// The TPDU's abbreviation, as in X.224 and `osi dump`.
    pub const fn name(self) -> &'static str {
        match self {
            TpduKind::Cr => "CR",
            TpduKind::Cc => "CC",
            TpduKind::Dr => "DR",
            TpduKind::Dc => "DC",
            TpduKind::Dt => "DT",
            TpduKind::Ed => "ED",
            TpduKind::Ak => "AK",
            TpduKind::Ea => "EA",
            TpduKind::Rj => "RJ",
            TpduKind::Er => "ER",
            TpduKind::Unknown => "unknown",
        }
    }
}

/// The class/option octet of a CR or CC (X.224 §13.3.3 d): class in bits 8–5, extended formats
/// in bit 2, no explicit flow control in bit 1.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClassOption(pub u8);

impl ClassOption {
    /// Class 0, no options (`0x00`).
    pub const CLASS0: Self = Self(0x00);

    /// The protocol class (0–4 are defined).
    pub const fn class(self) -> u8 {
        self.0 >> 4
    }

    /// Bit 2: extended formats (classes 2–4).
    pub const fn extended_formats(self) -> bool {
        self.0 & 0x02 != 0
    }

    /// Bit 1: no explicit flow control (class 2).
    pub const fn no_explicit_flow_control(self) -> bool {
        self.0 & 0x01 != 0
    }
}

impl fmt::Debug for ClassOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClassOption(class {}, {:#04x})", self.class(), self.0)
    }
}

/// A DR reason (X.224 §13.5.3 d). Open: unknown values survive.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DisconnectReason(pub u8);

impl DisconnectReason {
    /// 0x00 reason not specified.
    pub const NOT_SPECIFIED: Self = Self(0x00);
    /// 0x01 congestion at TSAP.
    pub const CONGESTION: Self = Self(0x01);
    /// 0x02 session entity not attached to TSAP.
    pub const NOT_ATTACHED: Self = Self(0x02);
    /// 0x03 address unknown.
    pub const ADDRESS_UNKNOWN: Self = Self(0x03);
    /// 0x80 normal disconnect initiated by the session entity (classes 1–4).
    pub const NORMAL: Self = Self(0x80);
    /// 0x81 remote transport entity congestion at connect time.
    pub const REMOTE_CONGESTION: Self = Self(0x81);
    /// 0x82 connection negotiation failed (proposed classes not supported).
    pub const NEGOTIATION_FAILED: Self = Self(0x82);
    /// 0x83 duplicate source reference for the same NSAP pair.
    pub const DUPLICATE_REFERENCE: Self = Self(0x83);
    /// 0x84 mismatched references.
    pub const MISMATCHED_REFERENCES: Self = Self(0x84);
    /// 0x85 protocol error.
    pub const PROTOCOL_ERROR: Self = Self(0x85);
    /// 0x87 reference overflow.
    pub const REFERENCE_OVERFLOW: Self = Self(0x87);
    /// 0x88 connection request refused on this network connection.
    pub const REFUSED: Self = Self(0x88);
    /// 0x8A header or parameter length invalid.
    pub const LENGTH_INVALID: Self = Self(0x8a);

    /// A short description, or `None` for a value X.224 does not assign.
    pub const fn description(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "reason not specified",
            0x01 => "congestion at tsap",
            0x02 => "session entity not attached to tsap",
            0x03 => "address unknown",
            0x80 => "normal disconnect initiated by session entity",
            0x81 => "remote transport entity congestion at connect request time",
            0x82 => "connection negotiation failed",
            0x83 => "duplicate source reference detected for the same pair of nsaps",
            0x84 => "mismatched references",
            0x85 => "protocol error",
            0x87 => "reference overflow",
            0x88 => "connection request refused on this network connection",
            0x8a => "header or parameter length invalid",
            _ => return None,
        })
    }

    /// Whether X.224 calls the condition persistent (retrying will not help): 0x02, 0x03, 0x82.
    pub const fn is_persistent(self) -> bool {
        matches!(self.0, 0x02 | 0x03 | 0x82)
    }
}

impl fmt::Debug for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.description() {
            Some(d) => write!(f, "DisconnectReason({:#04x} {d})", self.0),
            None => write!(f, "DisconnectReason({:#04x})", self.0),
        }
    }
}

/// An ER reject cause (X.224 §13.12.3). Open: unknown values survive.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RejectCause(pub u8);

impl RejectCause {
    /// 0x00 reason not specified.
    pub const NOT_SPECIFIED: Self = Self(0x00);
    /// 0x01 invalid parameter code.
    pub const INVALID_PARAMETER_CODE: Self = Self(0x01);
    /// 0x02 invalid TPDU type.
    pub const INVALID_TPDU_TYPE: Self = Self(0x02);
    /// 0x03 invalid parameter value.
    pub const INVALID_PARAMETER_VALUE: Self = Self(0x03);

    /// A short description, or `None` for a value X.224 does not assign.
    pub const fn description(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "reason not specified",
            0x01 => "invalid parameter code",
            0x02 => "invalid tpdu type",
            0x03 => "invalid parameter value",
            _ => return None,
        })
    }
}

impl fmt::Debug for RejectCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.description() {
            Some(d) => write!(f, "RejectCause({:#04x} {d})", self.0),
            None => write!(f, "RejectCause({:#04x})", self.0),
        }
    }
}

/// CR or CC (X.224 §13.3, §13.4).
///
/// ```text
/// +----+------+---------+---------+-------+-------------+-----------+
/// | LI | E0/D0| DST-REF | SRC-REF | class | parameters  | user data |
/// |    | |CDT |  (2)    |  (2)    | /opt  | (C0 C1 C2 …)|           |
/// +----+------+---------+---------+-------+-------------+-----------+
/// ```
///
/// In a CR DST-REF is 0; in a CC it echoes the CR's SRC-REF. RFC 1006 §5 allows user data in
/// class 0 over TCP (RDP's negotiation request travels there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Connect<'a> {
    /// CDT, the low four bits of the code octet (0 in classes 0 and 1).
    pub cdt: u8,
    /// DST-REF.
    pub dst_ref: u16,
    /// SRC-REF.
    pub src_ref: u16,
    /// The class/option octet.
    pub class_option: ClassOption,
    /// The variable part. For the value to decode back as built, no parameter code may have
    /// bits 8–7 = 00: in a CR or CC such an octet starts [`Connect::header_data`].
    pub params: Params<'a>,
    /// Octets inside the LI, after the parameters, that are not X.224 parameters (see
    /// [`Params::parse_with_trailer`]): RDP's cookie or routing token and negotiation
    /// request/response. Empty for X.224 peers. For a value to decode back as built, this must
    /// start with an octet that cannot begin a parameter (RDP's start with `0x01`–`0x03` or with
    /// `Cookie:`).
    pub header_data: &'a [u8],
    /// User data after the header.
    pub user_data: &'a [u8],
}

/// Every parameter X.224 defines for a CR or CC, read in one walk of the variable part by
/// [`Connect::parameters`]. Each field is what the accessor of the same name on [`Connect`]
/// returns (a repeated parameter's last value counts, X.224 §13.2.3). Parameters X.224 does not
/// define are left to [`Connect::unknown_params`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ConnectParameters<'a> {
    /// TPDU size (0xC0).
    pub tpdu_size: Option<TpduSize>,
    /// Preferred maximum TPDU size (0xF0), in units of 128 octets.
    pub preferred_max_tpdu_size: Option<u32>,
    /// Calling transport selector (0xC1).
    pub calling_tsel: Option<&'a [u8]>,
    /// Called (CR) or responding (CC) transport selector (0xC2).
    pub called_tsel: Option<&'a [u8]>,
    /// Additional option selection (0xC6).
    pub additional_options: Option<u8>,
    /// Alternative protocol classes (0xC7).
    pub alternative_classes: Option<&'a [u8]>,
    /// Version number (0xC4).
    pub version: Option<u8>,
    /// Protection parameters (0xC5).
    pub protection: Option<&'a [u8]>,
    /// Checksum (0xC3).
    pub checksum: Option<u16>,
}

/// The octet of a one-octet parameter value.
#[inline]
fn one_octet(value: Option<&[u8]>) -> Option<u8> {
    match value {
        Some(&[b]) => Some(b),
        _ => None,
    }
}

/// A big-endian unsigned value of up to 4 octets (the preferred maximum TPDU size).
#[inline]
fn be_u32(value: &[u8]) -> u32 {
    value
        .iter()
        .fold(0u32, |acc, &b| acc.wrapping_shl(8) | u32::from(b))
}

impl<'a> Connect<'a> {
    #[inline]
    fn param(&self, code: ParamCode) -> Option<&'a [u8]> {
        // A decoded CR/CC carries the positions its one walk recorded.
        match self.params.indexed_value(params::cr_slot(code)) {
            Some(value) => value,
            None => self.params.get(code).map(|p| p.value),
        }
    }

    /// All the parameters in one walk of the variable part, for a caller that needs several
    /// (each accessor below walks it again).
    ///
    /// ```
    /// use osi_stack::cotp::Tpdu;
    /// let cr = [0x11, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x0d, 0xc2, 2, 0, 1, 0xc1, 2, 0, 2];
    /// let Tpdu::Cr(cr) = Tpdu::decode(&cr)? else { unreachable!() };
    /// let p = cr.parameters();
    /// assert_eq!((p.called_tsel, p.calling_tsel), (Some(&[0, 1][..]), Some(&[0, 2][..])));
    /// assert_eq!(p.tpdu_size.and_then(|s| s.octets()), Some(8192));
    /// # Ok::<(), osi_stack::DecodeError>(())
    /// ```
    #[inline]
    pub fn parameters(&self) -> ConnectParameters<'a> {
        if self.params.is_indexed() {
            // Decoded: every parameter from the positions the decoder's walk recorded (each
            // fixed-length value of its length: the walk checked it).
            let v = |code| self.params.value_at(params::cr_slot(code));
            return ConnectParameters {
                tpdu_size: one_octet(v(ParamCode::TPDU_SIZE)).map(TpduSize),
                preferred_max_tpdu_size: v(ParamCode::PREFERRED_MAX_TPDU_SIZE).map(be_u32),
                calling_tsel: v(ParamCode::CALLING_TSAP),
                called_tsel: v(ParamCode::CALLED_TSAP),
                additional_options: one_octet(v(ParamCode::ADDITIONAL_OPTIONS)),
                alternative_classes: v(ParamCode::ALTERNATIVE_CLASSES),
                version: one_octet(v(ParamCode::VERSION)),
                protection: v(ParamCode::PROTECTION),
                checksum: match v(ParamCode::CHECKSUM) {
                    Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
                    _ => None,
                },
            };
        }
        let mut p = ConnectParameters::default();
        // The variable part was checked by `decode` (every length within it, every defined
        // fixed-length parameter of its length); a value that is not, in a value built by
        // hand, is skipped as the accessors skip it.
        let mut rest = self.params.as_bytes();
        while let [code, len, tail @ ..] = rest {
            let Some((value, after)) = tail.split_at_checked(usize::from(*len)) else {
                break;
            };
            rest = after;
            match ParamCode(*code) {
                ParamCode::TPDU_SIZE => {
                    if let &[b] = value {
                        p.tpdu_size = Some(TpduSize(b));
                    }
                }
                ParamCode::CALLING_TSAP => p.calling_tsel = Some(value),
                ParamCode::CALLED_TSAP => p.called_tsel = Some(value),
                ParamCode::PREFERRED_MAX_TPDU_SIZE => {
                    p.preferred_max_tpdu_size = Some(
                        value
                            .iter()
                            .fold(0u32, |acc, &b| acc.wrapping_shl(8) | u32::from(b)),
                    );
                }
                ParamCode::ADDITIONAL_OPTIONS => {
                    if let &[b] = value {
                        p.additional_options = Some(b);
                    }
                }
                ParamCode::ALTERNATIVE_CLASSES => p.alternative_classes = Some(value),
                ParamCode::VERSION => {
                    if let &[b] = value {
                        p.version = Some(b);
                    }
                }
                ParamCode::PROTECTION => p.protection = Some(value),
                ParamCode::CHECKSUM => {
                    if let &[a, b] = value {
                        p.checksum = Some(u16::from_be_bytes([a, b]));
                    }
                }
                _ => {}
            }
        }
        p
    }

    /// The TPDU size parameter (0xC0), if present. Its code may be invalid (see
    /// [`TpduSize::octets`]); [`class0`] decides what to do with that.
    #[inline]
    pub fn tpdu_size(&self) -> Option<TpduSize> {
        match self.param(ParamCode::TPDU_SIZE) {
            Some(&[b]) => Some(TpduSize(b)),
            _ => None,
        }
    }

    /// The preferred maximum TPDU size (0xF0) in units of 128 octets, if present.
    #[inline]
    pub fn preferred_max_tpdu_size(&self) -> Option<u32> {
        self.param(ParamCode::PREFERRED_MAX_TPDU_SIZE).map(|v| {
            v.iter()
                .fold(0u32, |acc, &b| acc.wrapping_shl(8) | u32::from(b))
        })
    }

    /// The calling transport selector (0xC1), exactly as sent; `None` when absent.
    #[inline]
    pub fn calling_tsel(&self) -> Option<&'a [u8]> {
        self.param(ParamCode::CALLING_TSAP)
    }

    /// The called (CR) or responding (CC) transport selector (0xC2); `None` when absent. A
    /// present selector of length 0 is the nil selector.
    #[inline]
    pub fn called_tsel(&self) -> Option<&'a [u8]> {
        self.param(ParamCode::CALLED_TSAP)
    }

    /// The additional option selection (0xC6), if present.
    #[inline]
    pub fn additional_options(&self) -> Option<u8> {
        match self.param(ParamCode::ADDITIONAL_OPTIONS) {
            Some(&[b]) => Some(b),
            _ => None,
        }
    }

    /// The alternative protocol classes (0xC7), one octet a class, if present.
    #[inline]
    pub fn alternative_classes(&self) -> Option<&'a [u8]> {
        self.param(ParamCode::ALTERNATIVE_CLASSES)
    }

    /// The version number (0xC4), if present.
    #[inline]
    pub fn version(&self) -> Option<u8> {
        match self.param(ParamCode::VERSION) {
            Some(&[b]) => Some(b),
            _ => None,
        }
    }

    /// The protection parameters (0xC5), if present.
    #[inline]
    pub fn protection(&self) -> Option<&'a [u8]> {
        self.param(ParamCode::PROTECTION)
    }

    /// The checksum (0xC3), if present.
    #[inline]
    pub fn checksum(&self) -> Option<u16> {
        match self.param(ParamCode::CHECKSUM) {
            Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
            _ => None,
        }
    }

    /// Parameters X.224 does not define for a CR/CC, in wire order.
    pub fn unknown_params(&self) -> impl Iterator<Item = RawParam<'a>> + 'a {
        self.params.unknown(TpduKind::Cr)
    }
}

/// DR (X.224 §13.5).
///
/// ```text
/// +----+----+---------+---------+--------+------------------+-----------+
/// | LI | 80 | DST-REF | SRC-REF | reason | parameters (E0)  | user data |
/// +----+----+---------+---------+--------+------------------+-----------+
/// ```
///
/// In class 0 a DR only refuses a CR; its SRC-REF is 0 when no reference was assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Disconnect<'a> {
    /// DST-REF.
    pub dst_ref: u16,
    /// SRC-REF.
    pub src_ref: u16,
    /// The reason.
    pub reason: DisconnectReason,
    /// The variable part.
    pub params: Params<'a>,
    /// User data (never in class 0).
    pub user_data: &'a [u8],
}

impl<'a> Disconnect<'a> {
    /// The additional information parameter (0xE0), if present.
    pub fn additional_info(&self) -> Option<&'a [u8]> {
        self.params.get(ParamCode::ADDITIONAL_INFO).map(|p| p.value)
    }
}

/// DC (X.224 §13.6; classes 1–4): `05 C0 DST-REF SRC-REF [parameters]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DisconnectConfirm<'a> {
    /// DST-REF.
    pub dst_ref: u16,
    /// SRC-REF.
    pub src_ref: u16,
    /// The variable part.
    pub params: Params<'a>,
}

/// The header format of a DT, ED, AK, EA or RJ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataFormat {
    /// Classes 0 and 1 (DT) and the RFC 1006 class-0 ED: no DST-REF, a 7-bit number.
    Short,
    /// Normal format of classes 2–4: DST-REF and a 7-bit number.
    Normal,
    /// Extended format of classes 2–4: DST-REF and a 31-bit number.
    Extended,
}

/// DT or ED (X.224 §13.7, §13.8; RFC 1006 §6 for the class-0 ED).
///
/// ```text
/// class 0/1:  +----+---------+----------+-----------+
///             | 02 | F0 / 10 | EOT | NR | user data |
///             +----+---------+----------+-----------+
/// normal:     +----+----+---------+----------+------------+-----------+
///             | LI | F0 | DST-REF | EOT | NR | parameters | user data |
///             +----+----+---------+----------+------------+-----------+
/// extended:   the EOT | NR field is 4 octets (31-bit NR); LI is odd.
/// ```
///
/// The format follows from the LI: 2 is the short format, an even LI of 4 or more the normal
/// format, an odd LI of 7 or more the extended format (X.224 §13.7.4 note). Other values are
/// errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Data<'a> {
    /// The header format.
    pub format: DataFormat,
    /// ROA, bit 1 of a DT code octet (request of acknowledgement; never in class 0).
    pub roa: bool,
    /// DST-REF (`None` in the short format).
    pub dst_ref: Option<u16>,
    /// EOT: this is the last DT of the TSDU (for an ED, always set by senders).
    pub eot: bool,
    /// TPDU-NR (ED-TPDU-NR for an ED); always 0 in class 0.
    pub nr: u32,
    /// The variable part (normal and extended formats only).
    pub params: Params<'a>,
    /// The user data.
    pub user_data: &'a [u8],
}

impl<'a> Data<'a> {
    /// A class-0 DT carrying `user_data`, with EOT as given.
    pub const fn class0(user_data: &'a [u8], eot: bool) -> Self {
        Data {
            format: DataFormat::Short,
            roa: false,
            dst_ref: None,
            eot,
            nr: 0,
            params: Params::EMPTY,
            user_data,
        }
    }
}

/// AK or RJ (X.224 §13.9, §13.10; classes 1–4).
///
/// ```text
/// normal:   | LI | 6/5 CDT | DST-REF | YR-TU-NR (1) | parameters |
/// extended: | LI | 60 / 50 | DST-REF | YR-TU-NR (4) | CDT (2) | parameters |
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ack<'a> {
    /// Normal or extended format.
    pub format: DataFormat,
    /// DST-REF.
    pub dst_ref: u16,
    /// YR-TU-NR: the next expected TPDU number.
    pub nr: u32,
    /// Credit (code nibble in the normal format, 16 bits in the extended format).
    pub cdt: u16,
    /// The variable part.
    pub params: Params<'a>,
}

/// EA (X.224 §13.11; classes 1–4): `LI 20 DST-REF YR-NR(1 or 4) [parameters]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExpeditedAck<'a> {
    /// Normal or extended format.
    pub format: DataFormat,
    /// DST-REF.
    pub dst_ref: u16,
    /// YR-NR: the ED-TPDU-NR acknowledged.
    pub nr: u32,
    /// The variable part.
    pub params: Params<'a>,
}

/// ER (X.224 §13.12).
///
/// ```text
/// +----+----+---------+--------------+--------------------------------+
/// | LI | 70 | DST-REF | reject cause | C1 len <rejected TPDU header>  |
/// +----+----+---------+--------------+--------------------------------+
/// ```
///
/// In class 0 the invalid-TPDU parameter (0xC1) is mandatory; a received ER that lacks it is
/// still decoded, and [`class0`] reports the omission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Error<'a> {
    /// DST-REF.
    pub dst_ref: u16,
    /// The reject cause.
    pub cause: RejectCause,
    /// The variable part.
    pub params: Params<'a>,
}

impl<'a> Error<'a> {
    /// The header octets of the rejected TPDU (parameter 0xC1), if present.
    pub fn invalid_tpdu(&self) -> Option<&'a [u8]> {
        self.params.get(ParamCode::INVALID_TPDU).map(|p| p.value)
    }
}

/// A TPDU with a code X.224 does not assign, kept whole so analysers can show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Unknown<'a> {
    /// The code octet.
    pub code: TpduCode,
    /// The header octets after the code (LI − 1 octets).
    pub header: &'a [u8],
    /// The octets after the header.
    pub user_data: &'a [u8],
}

/// One TPDU, borrowed from its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tpdu<'a> {
    /// Connection request.
    Cr(Connect<'a>),
    /// Connection confirm.
    Cc(Connect<'a>),
    /// Disconnect request.
    Dr(Disconnect<'a>),
    /// Disconnect confirm.
    Dc(DisconnectConfirm<'a>),
    /// Data.
    Dt(Data<'a>),
    /// Expedited data.
    Ed(Data<'a>),
    /// Data acknowledgement.
    Ak(Ack<'a>),
    /// Expedited data acknowledgement.
    Ea(ExpeditedAck<'a>),
    /// Reject.
    Rj(Ack<'a>),
    /// TPDU error.
    Er(Error<'a>),
    /// A code X.224 does not assign.
    Unknown(Unknown<'a>),
}

#[cold]
#[inline(never)]
fn derr(offset: usize, kind: DecodeErrorKind) -> DecodeError {
    DecodeError::new(Layer::Cotp, offset, kind)
}

#[cold]
#[inline(never)]
fn li_error(li: usize, min: usize, max: usize) -> DecodeError {
    derr(
        0,
        DecodeErrorKind::LengthOutOfRange {
            what: "length indicator",
            value: li,
            min,
            max,
        },
    )
}

/// Offset of the variable part in a TPDU whose fixed part (after LI) is `fixed` octets long.
const fn var_offset(fixed: usize) -> usize {
    fixed.saturating_add(1)
}

fn parse_params<'a>(kind: TpduKind, header: &mut Cursor<'a>) -> Result<Params<'a>, DecodeError> {
    let start = header.pos();
    let raw = header.take_rest();
    Params::parse(kind, raw).map_err(|e| e.shifted(start))
}

impl<'a> Tpdu<'a> {
    /// Decodes one TPDU that fills `input` (the payload of one TPKT). Everything after the
    /// header is the TPDU's user data; offsets in errors count from the LI octet.
    ///
    /// ```
    /// use osi_stack::cotp::Tpdu;
    /// let cr = [0x11, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x0d, 0xc2, 2, 0, 1, 0xc1, 2, 0, 1];
    /// let Tpdu::Cr(cr) = Tpdu::decode(&cr)? else { unreachable!() };
    /// assert_eq!(cr.src_ref, 1);
    /// assert_eq!(cr.called_tsel(), Some(&[0, 1][..]));
    /// assert_eq!(cr.tpdu_size().and_then(|s| s.octets()), Some(8192));
    /// # Ok::<(), osi_stack::DecodeError>(())
    /// ```
    ///
    /// Inlined into the caller: the class-0 DT is decoded there without a call; every other
    /// TPDU goes to an out-of-line decoder.
    #[inline]
    pub fn decode(input: &'a [u8]) -> Result<Tpdu<'a>, DecodeError> {
        // Fast path for the TPDU that carries all the data in class 0: `02 F0 EOT|NR`.
        if let [2, 0xf0, eot_nr, user_data @ ..] = input {
            return Ok(Tpdu::Dt(Data {
                format: DataFormat::Short,
                roa: false,
                dst_ref: None,
                eot: eot_nr & 0x80 != 0,
                nr: u32::from(eot_nr & 0x7f),
                params: Params::EMPTY,
                user_data,
            }));
        }
        // Every other TPDU, out of line. Its result is moved out of its own slot here rather
        // than written into the caller's: the caller's value then never has its address taken,
        // so the DT above stays in registers.
        match Self::decode_other(input) {
            Ok(t) => Ok(t),
            Err(e) => Err(e),
        }
    }

    #[inline(never)]
    fn decode_other(input: &'a [u8]) -> Result<Tpdu<'a>, DecodeError> {
        // CR and CC, whose parameters carry the selectors.
        if let [li, code @ (0xd0..=0xef), after @ ..] = input {
            return decode_connect(usize::from(*li), TpduCode(*code), after);
        }
        Self::decode_general(input)
    }

    #[inline(never)]
    fn decode_general(input: &'a [u8]) -> Result<Tpdu<'a>, DecodeError> {
        let Some((&li, after_li)) = input.split_first() else {
            return Err(derr(
                0,
                DecodeErrorKind::Truncated {
                    what: "tpdu",
                    needed: 2,
                    available: 0,
                },
            ));
        };
        let li = usize::from(li);
        if li == 255 {
            return Err(derr(
                0,
                DecodeErrorKind::InvalidValue {
                    what: "length indicator",
                    value: 255,
                },
            ));
        }
        let Some(header) = after_li.get(..li) else {
            return Err(derr(
                0,
                DecodeErrorKind::Overrun {
                    what: "length indicator",
                    declared: li,
                    available: after_li.len(),
                },
            ));
        };
        let user_data = after_li.get(li..).unwrap_or_default();
        let Some(&code) = header.first() else {
            return Err(li_error(0, 1, 254));
        };
        let code = TpduCode(code);
        let mut h = Cursor::new(Layer::Cotp, header);
        // Positions inside `header` are one less than in the TPDU (the LI octet precedes it).
        let fix = |e: DecodeError| e.shifted(1);
        h.u8("tpdu code").map_err(fix)?;
        let kind = code.kind();
        let tpdu = match kind {
            TpduKind::Cr | TpduKind::Cc => {
                return decode_connect(li, code, after_li.get(1..).unwrap_or_default());
            }
            TpduKind::Dr => {
                if li < 6 {
                    return Err(li_error(li, 6, 254));
                }
                let dst_ref = h.u16("dst-ref").map_err(fix)?;
                let src_ref = h.u16("src-ref").map_err(fix)?;
                let reason = DisconnectReason(h.u8("reason").map_err(fix)?);
                let params = parse_params(kind, &mut h).map_err(fix)?;
                Tpdu::Dr(Disconnect {
                    dst_ref,
                    src_ref,
                    reason,
                    params,
                    user_data,
                })
            }
            TpduKind::Dc => {
                if li < 5 {
                    return Err(li_error(li, 5, 254));
                }
                no_user_data("dc", var_offset(li), user_data)?;
                let dst_ref = h.u16("dst-ref").map_err(fix)?;
                let src_ref = h.u16("src-ref").map_err(fix)?;
                let params = parse_params(kind, &mut h).map_err(fix)?;
                Tpdu::Dc(DisconnectConfirm {
                    dst_ref,
                    src_ref,
                    params,
                })
            }
            TpduKind::Dt | TpduKind::Ed => {
                let format = data_format(li)?;
                let d = decode_data(kind, code, format, &mut h, user_data).map_err(fix)?;
                if kind == TpduKind::Dt {
                    Tpdu::Dt(d)
                } else {
                    Tpdu::Ed(d)
                }
            }
            TpduKind::Ak | TpduKind::Rj => {
                let format = ack_format(li, 9)?;
                no_user_data(kind.name(), var_offset(li), user_data)?;
                let dst_ref = h.u16("dst-ref").map_err(fix)?;
                let (nr, cdt) = if format == DataFormat::Extended {
                    if code.0 & 0x0f != 0 {
                        return Err(derr(
                            1,
                            DecodeErrorKind::InvalidValue {
                                what: "tpdu code",
                                value: u64::from(code.0),
                            },
                        ));
                    }
                    let nr = read_u32(&mut h, "yr-tu-nr").map_err(fix)?;
                    (nr, h.u16("credit").map_err(fix)?)
                } else {
                    let nr = u32::from(h.u8("yr-tu-nr").map_err(fix)?);
                    (nr, u16::from(code.0 & 0x0f))
                };
                let params = parse_params(kind, &mut h).map_err(fix)?;
                let ack = Ack {
                    format,
                    dst_ref,
                    nr,
                    cdt,
                    params,
                };
                if kind == TpduKind::Ak {
                    Tpdu::Ak(ack)
                } else {
                    Tpdu::Rj(ack)
                }
            }
            TpduKind::Ea => {
                let format = ack_format(li, 7)?;
                no_user_data("ea", var_offset(li), user_data)?;
                let dst_ref = h.u16("dst-ref").map_err(fix)?;
                let nr = if format == DataFormat::Extended {
                    read_u32(&mut h, "yr-nr").map_err(fix)?
                } else {
                    u32::from(h.u8("yr-nr").map_err(fix)?)
                };
                let params = parse_params(kind, &mut h).map_err(fix)?;
                Tpdu::Ea(ExpeditedAck {
                    format,
                    dst_ref,
                    nr,
                    params,
                })
            }
            TpduKind::Er => {
                if li < 4 {
                    return Err(li_error(li, 4, 254));
                }
                no_user_data("er", var_offset(li), user_data)?;
                let dst_ref = h.u16("dst-ref").map_err(fix)?;
                let cause = RejectCause(h.u8("reject cause").map_err(fix)?);
                let params = parse_params(kind, &mut h).map_err(fix)?;
                Tpdu::Er(Error {
                    dst_ref,
                    cause,
                    params,
                })
            }
            TpduKind::Unknown => Tpdu::Unknown(Unknown {
                code,
                header: h.take_rest(),
                user_data,
            }),
        };
        Ok(tpdu)
    }

    /// The TPDU's type.
    pub const fn kind(&self) -> TpduKind {
        match self {
            Tpdu::Cr(_) => TpduKind::Cr,
            Tpdu::Cc(_) => TpduKind::Cc,
            Tpdu::Dr(_) => TpduKind::Dr,
            Tpdu::Dc(_) => TpduKind::Dc,
            Tpdu::Dt(_) => TpduKind::Dt,
            Tpdu::Ed(_) => TpduKind::Ed,
            Tpdu::Ak(_) => TpduKind::Ak,
            Tpdu::Ea(_) => TpduKind::Ea,
            Tpdu::Rj(_) => TpduKind::Rj,
            Tpdu::Er(_) => TpduKind::Er,
            Tpdu::Unknown(_) => TpduKind::Unknown,
        }
    }

    /// The code octet this TPDU encodes with.
    pub fn code(&self) -> TpduCode {
        match self {
            Tpdu::Cr(c) => TpduCode(0xe0 | (c.cdt & 0x0f)),
            Tpdu::Cc(c) => TpduCode(0xd0 | (c.cdt & 0x0f)),
            Tpdu::Dr(_) => TpduCode::DR,
            Tpdu::Dc(_) => TpduCode::DC,
            Tpdu::Dt(d) => TpduCode(0xf0 | u8::from(d.roa)),
            Tpdu::Ed(_) => TpduCode::ED,
            Tpdu::Ak(a) | Tpdu::Rj(a) => {
                let base = if matches!(self, Tpdu::Ak(_)) {
                    0x60
                } else {
                    0x50
                };
                if a.format == DataFormat::Extended {
                    TpduCode(base)
                } else {
                    TpduCode(base | (a.cdt & 0x0f) as u8)
                }
            }
            Tpdu::Ea(_) => TpduCode::EA,
            Tpdu::Er(_) => TpduCode::ER,
            Tpdu::Unknown(u) => u.code,
        }
    }

    /// The user data carried after the header (empty for TPDUs that carry none).
    pub const fn user_data(&self) -> &'a [u8] {
        match self {
            Tpdu::Cr(c) | Tpdu::Cc(c) => c.user_data,
            Tpdu::Dr(d) => d.user_data,
            Tpdu::Dt(d) | Tpdu::Ed(d) => d.user_data,
            Tpdu::Unknown(u) => u.user_data,
            Tpdu::Dc(_) | Tpdu::Ak(_) | Tpdu::Ea(_) | Tpdu::Rj(_) | Tpdu::Er(_) => &[],
        }
    }

    /// The header length (the LI value) this TPDU encodes with.
    #[inline]
    pub fn header_len(&self) -> usize {
        let (fixed, params) = match self {
            Tpdu::Cr(c) | Tpdu::Cc(c) => (6, c.params.len().saturating_add(c.header_data.len())),
            Tpdu::Dr(d) => (6, d.params.len()),
            Tpdu::Dc(d) => (5, d.params.len()),
            Tpdu::Dt(d) | Tpdu::Ed(d) => (
                match d.format {
                    DataFormat::Short => 2,
                    DataFormat::Normal => 4,
                    DataFormat::Extended => 7,
                },
                d.params.len(),
            ),
            Tpdu::Ak(a) | Tpdu::Rj(a) => (
                if a.format == DataFormat::Extended {
                    9
                } else {
                    4
                },
                a.params.len(),
            ),
            Tpdu::Ea(e) => (
                if e.format == DataFormat::Extended {
                    7
                } else {
                    4
                },
                e.params.len(),
            ),
            Tpdu::Er(e) => (4, e.params.len()),
            Tpdu::Unknown(u) => (1, u.header.len()),
        };
        params.saturating_add(fixed)
    }

    /// The number of octets [`Tpdu::encode`] writes.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        self.header_len()
            .saturating_add(1)
            .saturating_add(self.user_data().len())
    }

    /// Writes the TPDU. Fails, without writing, when the header would be longer than 254
    /// octets, a field does not fit its format, or `buf` has less room than
    /// [`Tpdu::encoded_len`].
    #[inline]
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        // Fast path for the class-0 DT (`02 F0 EOT|NR`): the checks of `check_fields` for this
        // format (NR in 7 bits; no DST-REF, ROA or parameters), one write for the header.
        if let Tpdu::Dt(Data {
            format: DataFormat::Short,
            roa: false,
            dst_ref: None,
            eot,
            nr: nr @ 0..=0x7f,
            params,
            user_data,
        }) = self
        {
            if !params.is_empty() {
                return self.encode_general(buf);
            }
            ensure_room(Layer::Cotp, buf, user_data.len().saturating_add(3))?;
            buf.put_slice(&[2, 0xf0, u8::from(*eot) << 7 | *nr as u8]);
            buf.put_slice(user_data);
            return Ok(());
        }
        self.encode_general(buf)
    }

    #[inline(never)]
    fn encode_general<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        let li = self.header_len();
        let li_octet = u8::try_from(li)
            .ok()
            .filter(|&l| l <= 254)
            .ok_or(EncodeError::new(
                Layer::Cotp,
                EncodeErrorKind::ValueTooLarge {
                    what: "tpdu header",
                    value: li,
                    max: 254,
                },
            ))?;
        self.check_fields()?;
        ensure_room(Layer::Cotp, buf, self.encoded_len())?;
        buf.put_u8(li_octet);
        buf.put_u8(self.code().0);
        match self {
            Tpdu::Cr(c) | Tpdu::Cc(c) => {
                buf.put_u16(c.dst_ref);
                buf.put_u16(c.src_ref);
                buf.put_u8(c.class_option.0);
                params::write_params(&c.params, buf)?;
                buf.put_slice(c.header_data);
            }
            Tpdu::Dr(d) => {
                buf.put_u16(d.dst_ref);
                buf.put_u16(d.src_ref);
                buf.put_u8(d.reason.0);
                params::write_params(&d.params, buf)?;
            }
            Tpdu::Dc(d) => {
                buf.put_u16(d.dst_ref);
                buf.put_u16(d.src_ref);
                params::write_params(&d.params, buf)?;
            }
            Tpdu::Dt(d) | Tpdu::Ed(d) => {
                let eot = if d.eot { 0x80 } else { 0 };
                match d.format {
                    DataFormat::Short => buf.put_u8(eot | (d.nr & 0x7f) as u8),
                    DataFormat::Normal => {
                        buf.put_u16(d.dst_ref.unwrap_or(0));
                        buf.put_u8(eot | (d.nr & 0x7f) as u8);
                    }
                    DataFormat::Extended => {
                        buf.put_u16(d.dst_ref.unwrap_or(0));
                        buf.put_u32(u32::from(eot) << 24 | (d.nr & 0x7fff_ffff));
                    }
                }
                params::write_params(&d.params, buf)?;
            }
            Tpdu::Ak(a) | Tpdu::Rj(a) => {
                buf.put_u16(a.dst_ref);
                if a.format == DataFormat::Extended {
                    buf.put_u32(a.nr);
                    buf.put_u16(a.cdt);
                } else {
                    buf.put_u8((a.nr & 0xff) as u8);
                }
                params::write_params(&a.params, buf)?;
            }
            Tpdu::Ea(e) => {
                buf.put_u16(e.dst_ref);
                if e.format == DataFormat::Extended {
                    buf.put_u32(e.nr);
                } else {
                    buf.put_u8((e.nr & 0xff) as u8);
                }
                params::write_params(&e.params, buf)?;
            }
            Tpdu::Er(e) => {
                buf.put_u16(e.dst_ref);
                buf.put_u8(e.cause.0);
                params::write_params(&e.params, buf)?;
            }
            Tpdu::Unknown(u) => buf.put_slice(u.header),
        }
        buf.put_slice(self.user_data());
        Ok(())
    }

    /// Rejects values that the chosen format cannot carry, so that encode never silently
    /// truncates a field.
    fn check_fields(&self) -> Result<(), EncodeError> {
        let bad = |what: &'static str, value: u64| {
            Err(EncodeError::new(
                Layer::Cotp,
                EncodeErrorKind::InvalidValue { what, value },
            ))
        };
        // Normal formats have an even LI and extended formats an odd one (X.224 §13.7.4 note);
        // a variable part that breaks the parity would decode as the other format.
        let format = match self {
            Tpdu::Dt(d) | Tpdu::Ed(d) => Some(d.format),
            Tpdu::Ak(a) | Tpdu::Rj(a) => Some(a.format),
            Tpdu::Ea(e) => Some(e.format),
            _ => None,
        };
        let odd = self.header_len() % 2 == 1;
        match format {
            Some(DataFormat::Normal) if odd => {
                return bad(
                    "variable part length for the normal format",
                    self.header_len() as u64,
                );
            }
            Some(DataFormat::Extended) if !odd => {
                return bad(
                    "variable part length for the extended format",
                    self.header_len() as u64,
                );
            }
            _ => {}
        }
        match self {
            Tpdu::Cr(c) | Tpdu::Cc(c) if c.cdt > 0x0f => bad("credit", u64::from(c.cdt)),
            Tpdu::Dt(d) | Tpdu::Ed(d) => {
                let max = if d.format == DataFormat::Extended {
                    0x7fff_ffff
                } else {
                    0x7f
                };
                if d.nr > max {
                    bad("tpdu-nr", u64::from(d.nr))
                } else if d.format == DataFormat::Short
                    && (!d.params.is_empty() || d.dst_ref.is_some())
                {
                    bad("short format field", 0)
                } else if matches!(self, Tpdu::Ed(_)) && d.roa {
                    bad("roa", 1)
                } else {
                    Ok(())
                }
            }
            Tpdu::Ak(a) | Tpdu::Rj(a) => {
                if a.format == DataFormat::Short {
                    bad("ack format", 0)
                } else if a.format == DataFormat::Normal && (a.nr > 0xff || a.cdt > 0x0f) {
                    bad(
                        "normal-format ack field",
                        u64::from(a.nr.max(u32::from(a.cdt))),
                    )
                } else {
                    Ok(())
                }
            }
            Tpdu::Ea(e) => {
                if e.format == DataFormat::Short {
                    bad("ack format", 0)
                } else if e.format == DataFormat::Normal && e.nr > 0xff {
                    bad("yr-nr", u64::from(e.nr))
                } else {
                    Ok(())
                }
            }
            Tpdu::Unknown(u) if u.code.kind() != TpduKind::Unknown => {
                bad("unknown tpdu code", u64::from(u.code.0))
            }
            _ => Ok(()),
        }
    }
}

/// The error of a CR/CC whose LI is 255, runs past the TPDU, or is shorter than the fixed part,
/// in that order; `after` octets follow the LI.
#[cold]
#[inline(never)]
fn connect_li_error(li: usize, after: usize) -> DecodeError {
    if li == 255 {
        derr(
            0,
            DecodeErrorKind::InvalidValue {
                what: "length indicator",
                value: 255,
            },
        )
    } else if li.saturating_sub(1) > after {
        derr(
            0,
            DecodeErrorKind::Overrun {
                what: "length indicator",
                declared: li,
                available: after.saturating_add(1),
            },
        )
    } else {
        li_error(li, 6, 254)
    }
}

/// Decodes a CR or CC given its LI, its code and the octets after the code. Inlined into
/// `decode_other`, which the caller's `Tpdu::decode` calls for every TPDU but the DT.
#[inline(always)]
fn decode_connect(li: usize, code: TpduCode, after: &[u8]) -> Result<Tpdu<'_>, DecodeError> {
    // The LI covers the code and the five octets after it and is at most 254 (255 is
    // reserved); `after` starts one octet into its span (at the code). One range check and
    // one length check; the fault is named out of line.
    let header = match after.split_at_checked(li.wrapping_sub(1)) {
        Some(split) if (6..=254).contains(&li) => split,
        _ => return Err(connect_li_error(li, after.len())),
    };
    let ([d1, d0, s1, s0, class, var @ ..], user_data) = header else {
        return Err(connect_li_error(li, after.len()));
    };
    // `code` is in 0xD0..=0xEF (see `decode_other`): a CR or a CC.
    let kind = if code.0 >= 0xe0 {
        TpduKind::Cr
    } else {
        TpduKind::Cc
    };
    let Some((params, header_data)) = Params::split_trailer(kind, var) else {
        return Err(Params::trailer_error(kind, var).shifted(var_offset(6)));
    };
    let c = Connect {
        cdt: code.0 & 0x0f,
        dst_ref: u16::from_be_bytes([*d1, *d0]),
        src_ref: u16::from_be_bytes([*s1, *s0]),
        class_option: ClassOption(*class),
        params,
        header_data,
        user_data,
    };
    Ok(if kind == TpduKind::Cr {
        Tpdu::Cr(c)
    } else {
        Tpdu::Cc(c)
    })
}

fn read_u32(h: &mut Cursor<'_>, what: &'static str) -> Result<u32, DecodeError> {
    let hi = h.u16(what)?;
    let lo = h.u16(what)?;
    Ok(u32::from(hi) << 16 | u32::from(lo))
}

fn no_user_data(what: &'static str, offset: usize, user_data: &[u8]) -> Result<(), DecodeError> {
    if user_data.is_empty() {
        Ok(())
    } else {
        Err(derr(
            offset,
            DecodeErrorKind::TrailingData {
                what,
                len: user_data.len(),
            },
        ))
    }
}

/// Normal (even LI ≥ 4) or extended (odd LI ≥ `ext_min`) format of AK, EA, RJ.
fn ack_format(li: usize, ext_min: usize) -> Result<DataFormat, DecodeError> {
    if li % 2 == 0 && li >= 4 {
        Ok(DataFormat::Normal)
    } else if li % 2 == 1 && li >= ext_min {
        Ok(DataFormat::Extended)
    } else {
        Err(li_error(li, 4, 254))
    }
}

/// The DT/ED header format from the LI (X.224 §13.7.4 note): 2 short, even ≥ 4 normal,
/// odd ≥ 7 extended. The error names the LI octet (offset 0).
fn data_format(li: usize) -> Result<DataFormat, DecodeError> {
    match li {
        2 => Ok(DataFormat::Short),
        l if l >= 4 && l % 2 == 0 => Ok(DataFormat::Normal),
        l if l >= 7 && l % 2 == 1 => Ok(DataFormat::Extended),
        l => Err(derr(
            0,
            DecodeErrorKind::InvalidValue {
                what: "dt length indicator",
                value: l as u64,
            },
        )),
    }
}

fn decode_data<'a>(
    kind: TpduKind,
    code: TpduCode,
    format: DataFormat,
    h: &mut Cursor<'a>,
    user_data: &'a [u8],
) -> Result<Data<'a>, DecodeError> {
    let roa = kind == TpduKind::Dt && code.0 & 0x01 != 0;
    let (dst_ref, eot, nr) = match format {
        DataFormat::Short => {
            let b = h.u8("eot/tpdu-nr")?;
            (None, b & 0x80 != 0, u32::from(b & 0x7f))
        }
        DataFormat::Normal => {
            let r = h.u16("dst-ref")?;
            let b = h.u8("eot/tpdu-nr")?;
            (Some(r), b & 0x80 != 0, u32::from(b & 0x7f))
        }
        DataFormat::Extended => {
            let r = h.u16("dst-ref")?;
            let v = read_u32(h, "eot/tpdu-nr")?;
            (Some(r), v & 0x8000_0000 != 0, v & 0x7fff_ffff)
        }
    };
    let params = parse_params(kind, h)?;
    Ok(Data {
        format,
        roa,
        dst_ref,
        eot,
        nr,
        params,
        user_data,
    })
}
