//! ISO 8823-1 / ITU-T X.226 connection-oriented presentation protocol: CP, CPA, CPR, ARU, ARP,
//! AC, ACA, TTD, RS, RSA and User-data (§8.2, module ISO8823-PRESENTATION), normal mode and
//! X.410-1984 mode.
//!
//! The PPDU a session user-data field holds depends on the SPDU that carried it (X.226 §7), so
//! there is one decoder per PPDU type rather than one self-describing enum:
//!
//! | session SPDU | decoder |
//! |---|---|
//! | CN | [`Cp::decode`] (returns the octets after the CP-type: CPC-type values, if any) |
//! | AC | [`Cpa::decode`] |
//! | RF (reason 2) | [`Cpr::decode`] |
//! | AB | [`AbortPpdu::decode`] (ARU or ARP, told apart by the first tag) |
//! | TD | [`TypedData::decode`] (AC, ACA or TTD, told apart by the first tag) |
//! | RS | [`Rs::decode`] |
//! | RA | [`Rsa::decode`] |
//! | DT, FN, DN, NF, … | [`UserData::decode`] |
//!
//! Design choices, beyond what X.226 fixes:
//!
//! - **Borrowed.** Selectors, PDV values and object identifiers are slices of the input;
//!   repeated elements ([`ContextList`], [`ResultList`], [`DeletionList`], [`PdvList`], …) are
//!   iterators over the encoded bytes, checked completely (and counted against
//!   [`Limits::max_contexts`](crate::Limits::max_contexts) and
//!   [`Limits::max_pdvs`](crate::Limits::max_pdvs)) when the PPDU is decoded. Lists to encode
//!   are built from slices.
//! - **BER.** Definite and indefinite lengths are read (see the private `ber` module for the
//!   rules and the depth bound [`Limits::max_ber_depth`](crate::Limits::max_ber_depth)); encoding always uses definite, minimal
//!   lengths. Round-trips therefore preserve values, not necessarily octets.
//! - **Unknown elements** in a SET or SEQUENCE of a PPDU are skipped, in every PPDU: X.226 §8.5
//!   asks this only of the CP, but real peers add elements and interoperability wins (the
//!   caller's state machine may still abort). Unnamed bits are kept in the bit sets.
//! - **X.410-1984 mode.** The mode-specific parameters (RTORQ / RTOAC / RTORJ / RTAB
//!   components) are kept as raw content octets, so that this layer does not depend on the one
//!   above it; [`crate::rtse`] types them (`Rtorq::from_cp`, `Rtoac::from_cpa`,
//!   `Rtorj::from_cpr`, `Rtab::from_abort`).
//! - **Constructed OCTET STRINGs** are accepted for octet-aligned PDV values
//!   ([`PdvValues::OctetAlignedSegments`], raw segments); selectors must be primitive.
//! - **Offsets** in errors count from the first octet given to the decoder (the session user
//!   data). A value carried inside a PDV is handed out as its own slice; a caller that decodes it
//!   (ACSE) gets offsets relative to that slice and adds the slice's position with
//!   [`DecodeError::shifted`](crate::DecodeError::shifted) to report them within the PPDU.
//! - **Context management and resynchronization** (AC, ACA, RS, RSA) are decoded and encoded
//!   as values; keeping the defined context set in step with them is the caller's business.
//!
//! # Example
//!
//! The user data of a P-DATA as MMS stacks send it (fully encoded, one PDV on presentation
//! context 3 holding an MMS conclude-request), decoded and rebuilt:
//!
//! ```
//! use osi_stack::Limits;
//! use osi_stack::presentation::{ContextId, Pdv, PdvList, PdvValues, UserData};
//!
//! // 61 {30 {02 01 03  a0 {8b 00}}}: fully-encoded-data, one PDV-list.
//! let bytes = [0x61, 0x09, 0x30, 0x07, 0x02, 0x01, 0x03, 0xa0, 0x02, 0x8b, 0x00];
//! let data = UserData::decode(&bytes, &Limits::default())?;
//! let pdvs: Vec<Pdv<'_>> = data.pdvs().collect();
//! assert_eq!(pdvs.len(), 1);
//! let mms = ContextId::new(3).expect("1..=127");
//! assert_eq!(pdvs[0].context_id, mms);
//! assert_eq!(pdvs[0].values, PdvValues::SingleAsn1Type(&[0x8b, 0x00]));
//!
//! // The same PPDU from values: encoding is definite-length BER.
//! let pdv = [Pdv { transfer_syntax: None, context_id: mms, values: PdvValues::SingleAsn1Type(&[0x8b, 0x00]) }];
//! let mut out = Vec::new();
//! UserData::Full(PdvList::from_slice(&pdv)).encode(&mut out)?;
//! assert_eq!(out, bytes);
//!
//! // Or only the header, to send the value from the caller's own buffer.
//! let mut header = Vec::new();
//! UserData::encode_single_header(mms, 2, &mut header)?;
//! assert_eq!(header, bytes[..9]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "arbitrary")]
mod arbitrary;
mod context_id;
mod types;

pub use context_id::{ContextId, InvalidContextId};
pub use types::*;
