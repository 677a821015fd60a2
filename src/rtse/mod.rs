//! ITU-T X.228 (11/88) reliable transfer (RTSE) — the codec floor: the RTORQ, RTOAC, RTORJ, RTTP, RTTR and RTAB
//! APDUs of the ASN.1 module `Reliable-Transfer-APDU {joint-iso-itu-t reliable-transfer(3)
//! apdus(0)}`, and the X.410-1984-mode PPDU parameters they double as.
//!
//! X.228's clause text was not available to this project: the structure below comes from two
//! independent copies of its ASN.1 module (Wireshark's `rtse.asn`, ISODE's `rts.py`) and was
//! checked against tshark 4.0.17 on real X.400 captures (`tests/rtse.rs`). Where the APDUs
//! travel follows the X.227/X.226 mapping as ISODE and Wireshark implement it:
//!
//! ```text
//!  RTSE-apdus ::= CHOICE {                       tag   carried in
//!    rtorq-apdu [16] IMPLICIT RTORQapdu           b0    AARQ user-information (EXTERNAL, RTSE context)
//!    rtoac-apdu [17] IMPLICIT RTOACapdu           b1    AARE user-information, association accepted
//!    rtorj-apdu [18] IMPLICIT RTORJapdu           b2    AARE user-information, association rejected
//!    rttp-apdu  RTTPapdu          -- INTEGER      02    User-data of P-TOKEN-PLEASE (session PT)
//!    rttr-apdu  RTTRapdu          -- OCTET STRING 04    P-DATA (session DT), one per segment
//!    rtab-apdu  [22] IMPLICIT RTABapdu }          b6    ABRT user-information (or ARU user data)
//! ```
//!
//! | where the bytes come from | decoder |
//! |---|---|
//! | an EXTERNAL of AARQ user-information on the RTSE context | [`Rtorq::decode`] |
//! | an EXTERNAL of AARE user-information (accepted / rejected) | [`Rtoac::decode`] / [`Rtorj::decode`] |
//! | an EXTERNAL of ABRT user-information, or an ARU PDV | [`Rtab::decode`] |
//! | the PDV of a PT SPDU's User-data on the RTSE context | [`Rttp::decode`] |
//! | a P-DATA PDV on the RTSE context | [`Rttr::decode`] |
//! | any of the above, told apart by tag | [`Apdu::decode`] |
//! | X.410-1984 mode: CP / CPA / CPR / ARU | [`Rtorq::from_cp`], [`Rtoac::from_cpa`], [`Rtorj::from_cpr`], [`Rtab::from_abort`] |
//! | X.410-1984 mode: S-TOKEN-PLEASE user data | [`Rttp::decode`] (the Priority INTEGER, unwrapped) |
//!
//! Design choices, beyond what X.228 fixes:
//!
//! - **Borrowed.** RTSE-user data (`open`, `userDataRJ`, `userdataAB`) is kept as the slice of
//!   its one BER value, tag included; a transfer segment ([`Rttr`]) borrows its octets, also
//!   when it arrives as a constructed OCTET STRING (iterated with [`Rttr::segments`]). Nothing is
//!   copied or allocated.
//! - **DEFAULT fields** are `Option`s that say whether the field was on the wire; the
//!   `*_or_default` accessors apply X.228's defaults (checkpointSize 0, windowSize 3,
//!   dialogueMode monologue). Encoding writes exactly the fields that are `Some`.
//! - **Codes are open**: [`DialogueMode`], [`RefuseReason`], [`AbortReason`] and
//!   [`ApplicationProtocol`] are `i64` newtypes with named constants, so any value survives a
//!   round trip and prints (`Display` gives the ASN.1 name, or the number when unknown).
//! - **`open` without user data.** X.228's module comment asks for `[0] IMPLICIT NULL` in
//!   place of the `ANY` when there is no RTSE-user data; `open` itself keeps its explicit
//!   `[0]`, so [`ConnectionData::Open`]`(None)` encodes as `a0 02 80 00`, as ISODE writes it and
//!   tshark reads it. The bare `80 00` (this crate's encoding up to 0.x) and an empty `a0 00`
//!   decode to `Open(None)` too; a bare `80 00` sets `bare_null_open` on the [`Rtorq`] /
//!   [`Rtoac`], and `osi dump` reports it.
//! - **Unknown elements** of the SETs are skipped (as the presentation and ACSE modules do):
//!   ISODE's X.410 `PConnect` adds a `[5] protocolVersion` that nothing else defines.
//! - **BER** as in the rest of the crate: definite and indefinite lengths are read, nesting is
//!   bounded by [`Limits::max_ber_depth`](crate::Limits::max_ber_depth), constructed strings are
//!   accepted only for the RTTR OCTET STRING; encoders write definite, minimal lengths. Round
//!   trips preserve values, not necessarily octets.
//! - **Errors** name [`Layer::Rtse`](crate::Layer::Rtse) and an offset from the first octet
//!   handed to the decoder (the APDU, or for X.410-mode parameters the contents slice).
//!
//! # Example
//!
//! ```
//! use osi_stack::Limits;
//! use osi_stack::rtse::{Apdu, ConnectionData, DialogueMode, Rtorq, Rttr};
//!
//! // An RTORQ in two-way-alternate dialogue mode, without RTSE-user data.
//! let rq = Rtorq {
//!     dialogue_mode: Some(DialogueMode::TWA),
//!     ..Rtorq::new(ConnectionData::Open(None))
//! };
//! let mut bytes = Vec::new();
//! rq.encode(&mut bytes)?;
//! assert_eq!(bytes, [0xb0, 0x09, 0x82, 0x01, 0x01, 0xa3, 0x04, 0xa0, 0x02, 0x80, 0x00]);
//! let Apdu::Rtorq(back) = Apdu::decode(&bytes, &Limits::default())? else { unreachable!() };
//! assert_eq!(back, rq);
//! assert_eq!(back.window_size_or_default(), 3); // X.228's DEFAULT
//!
//! // A transfer segment sent as a constructed OCTET STRING with two segments.
//! let bytes = [0x24, 0x80, 0x04, 0x02, 0x01, 0x02, 0x04, 0x01, 0x03, 0x00, 0x00];
//! let Apdu::Rttr(rttr) = Apdu::decode(&bytes, &Limits::default())? else { unreachable!() };
//! assert_eq!(rttr.segments().collect::<Vec<_>>(), [&[1u8, 2][..], &[3][..]]);
//! assert_eq!(rttr, Rttr::new(&[1, 2, 3]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "arbitrary")]
mod arbitrary;
mod types;
mod x410;

pub use types::*;

// The RTS machine and the connector profile moved one floor up, to [`crate::rts`] (they sit on
// an association; this module is the APDU codec below it). The old paths stay valid.
pub use crate::rts::{
    ConnectorProfile, OpenIndication, OpenSchedule, Opened, RTS_REQUIREMENTS, Rts, RtsAbortCause,
    RtsError, RtsEvent, RtsSettings, RtseSyntax, TransferState, X400Mode,
};
