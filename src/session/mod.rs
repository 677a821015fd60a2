//! ISO 8327-1 / ITU-T X.225 connection-oriented session protocol: SPDUs, parameter units,
//! concatenation, user-data limits and segmentation.
//!
//! One TSDU (the user data of COTP DT TPDUs up to EOT) holds one or more SPDUs. [`spdus`] walks
//! them, resolving the SI codes shared between categories by position (X.225 §6.3.7):
//!
//! ```text
//!  01 00 | 01 00 | 61 35 30 33 …          GT (category 0), then DT (category 2) + user information
//!  0d b2 | 05 06 13 01 00 16 01 02 | …    CN (category 1, alone): SI, LI, PGI/PI units
//! ```
//!
//! Design choices, beyond what X.225 fixes:
//!
//! - **Borrowed, byte-exact.** A decoded [`Spdu`] holds slices of the TSDU: its raw parameter
//!   field ([`Parameters`], walked by the [`Units`] iterator) and its user information field.
//!   The form of every length indicator is kept (a three-octet `FF hi lo` LI for a short value
//!   survives), so re-encoding a decoded SPDU gives back the input octets. Decoding allocates
//!   nothing.
//! - **What decoding checks.** The structure of every unit, at every nesting level (a unit longer
//!   than what is left of its SPDU or group is an `Overrun` error, a length cut short by the end
//!   of the buffer is `Truncated`), and the length of every fixed-size parameter (PI 21 must be
//!   four octets, PI 20 two, selectors at most 16 …). A unit with LI = 0 means "absent"
//!   (X.225 §8.2.5) and is always accepted. Unknown PIs and PGIs are kept and reported
//!   ([`Spdu::unknown_parameters`]), as Annex A.4.3.1.1 asks a receiver to ignore them. Which
//!   parameters an SPDU may or must carry is left to the caller (the typed accessors return
//!   `None`); user-data limits by version are checked by [`check_user_data`].
//! - **Units after the User Data PGI.** Octets that follow PGI 193 inside the parameter field are
//!   read as further units (units may come in any order, §8.2.6): if they do not form
//!   well-formed units, decoding fails with `Overrun`/`Truncated`; if they do, they are kept
//!   (and reported if unknown). Octets after the end of a category-1 SPDU (its LI) are a
//!   `TrailingData` error: they are never taken as user data (regression 12).
//! - **SI 41 and 42.** SI 41 is MAP when a (non-empty) Sync Type Item is present, AE otherwise.
//!   SI 42 is MAA or AEA, whose encodings are identical: it decodes as
//!   [`SpduKind::MaaOrAea`]; the state machine knows which one it awaits.
//! - **Unknown SI.** An SI not in X.225 Annex C is an `UnexpectedCode` error: its structure
//!   (and so where the next SPDU starts) is unknown. [`SpduType`] still prints any value.
//! - **Empty TSDU.** Yields one `Truncated` error.
//! - **One walk.** The checking walk also records where the first non-empty calling and
//!   called/responding selectors and user data (PGI 193/194) are, so reading them after
//!   decoding costs no second walk; every other accessor walks the (checked) field.
//! - **Segmenting** (X.225 §8.4, version 2, TSDU maximum size negotiated): [`segment_ssdu`]
//!   cuts the user data of any SPDU kind that carries an Enclosure Item into TSDUs of at most
//!   the negotiated size, and [`SsduReassembler`] puts them back together under
//!   [`Limits`](crate::Limits), checking the segment rules. When to segment is the caller's decision;
//!   the [`association`](crate::association) machine never proposes a TSDU maximum size, so
//!   it never segments, and it treats a received segment as a protocol error.
//!
//! # Example
//!
//! ```
//! use osi_stack::session::{encode_tsdu, spdus, Parameters, Spdu, SpduKind};
//! use osi_stack::Layer;
//!
//! // S-DATA as every MMS stack sends it: GT (no parameters) + DT with the presentation PPDU.
//! let ppdu = [0x61, 0x02, 0x30, 0x00];
//! let mut tsdu = Vec::new();
//! encode_tsdu(
//!     &[
//!         Spdu::new(SpduKind::Gt, Parameters::EMPTY),
//!         Spdu::new(SpduKind::Dt, Parameters::EMPTY).with_user_information(&ppdu),
//!     ],
//!     &mut tsdu,
//! )?;
//! assert_eq!(tsdu, [0x01, 0x00, 0x01, 0x00, 0x61, 0x02, 0x30, 0x00]);
//!
//! let decoded: Vec<Spdu<'_>> = spdus(&tsdu).collect::<Result<_, _>>()?;
//! assert_eq!(decoded[1].kind(), SpduKind::Dt);
//! assert_eq!(decoded[1].user_information(), ppdu);
//!
//! // A DT whose LI claims 5 octets of parameters where 2 remain: the error points at the
//! // parameter field, offset 4 of the TSDU.
//! let err = spdus(&[0x01, 0x00, 0x01, 0x05, 0x00, 0x00]).nth(1).unwrap().unwrap_err();
//! assert_eq!((err.layer(), err.offset()), (Layer::Session, 4));
//! assert!(err.is_truncated());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "arbitrary")]
mod arbitrary;
mod codes;
mod concat;
pub mod connection;
mod params;
mod segment;
mod spdu;
mod units;

pub use codes::{
    ActivityReason, Category, DataOverflow, EnclosureItem, ParameterCode, Position,
    ProtocolOptions, RefuseReason, SerialNumber, SessionUserRequirements, SessionVersion, SpduKind,
    SpduType, SyncTypeItem, TokenItem, TokenPosition, TokenSettingItem, TransportDisconnect,
    TsduMaximumSize, VersionNumber,
};
pub use concat::{MAX_CATEGORY_TWO, SpduIter, encode_tsdu, spdus, tsdu_len};
pub use connection::Connection;
pub use params::{MAX_LENGTH, Parameters, ParametersBuf, Unit, Units};
pub use segment::{
    CDO_USER_DATA_MAX, CN_EXTENDED_USER_DATA_MAX, CN_USER_DATA_MAX, ConnectData, DataSegments,
    MAX_SPDU_LEN, Reassembler, Segment, Segments, Ssdu, SsduReassembler, SsduTsdu, SsduTsdus,
    UserDataLimit, V1_AB_USER_DATA_MAX, V1_USER_DATA_MAX, check_user_data, data_segments,
    segment_ssdu, segmentable, user_data_limit,
};
pub use spdu::{
    ConnectAcceptItem, ConnectionIdentifier, EX_USER_DATA_MAX, LinkingInformation, Spdu,
};
