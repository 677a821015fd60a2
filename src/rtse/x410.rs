//! X.410-1984 mode: the presentation PPDUs whose parameters are RTSE components (X.226 §8.2
//! comments and §8.4.3; X.410 (1984) `PConnect`, `PAccept`, `PRefuse`, `AbortInformation` as
//! ISODE's `acsold.py` gives them).
//!
//! The presentation decoder keeps these parameters as raw content octets
//! ([`Cp::x410_parameters`], [`Cpa::x410_parameters`], [`Cpr::X410`], [`AbortPpdu::AruX410`]) so
//! that the presentation layer does not depend on this one; the functions here type them.
//!
//! ```text
//!  CP-type   31 { a0 03 80 01 00   a1 { RTORQ components } }     S-CONNECT (CN) user data
//!  CPA-PPDU  31 { a0 03 80 01 00   a1 { RTOAC components } }     S-CONNECT accept (AC)
//!  CPR-PPDU  31 { RTORJ components }                             RF, reason 2
//!  ARU-PPDU  31 { RTAB components }                              S-U-ABORT (AB)
//! ```
//!
//! To build one, encode the components into a buffer and hand the slice to the presentation
//! type:
//!
//! ```
//! use osi_stack::Limits;
//! use osi_stack::presentation::{Cp, Mode};
//! use osi_stack::rtse::{ApplicationProtocol, ConnectionData, Rtorq};
//!
//! let rq = Rtorq {
//!     checkpoint_size: Some(30),
//!     window_size: Some(5),
//!     application_protocol: Some(ApplicationProtocol::MTS_TRANSFER_PROTOCOL_1984),
//!     ..Rtorq::new(ConnectionData::Open(None))
//! };
//! let mut params = Vec::new();
//! rq.encode_components(&mut params)?;
//! let cp = Cp { mode: Mode::X410_1984, x410_parameters: Some(&params), normal: None };
//! let mut ppdu = Vec::new();
//! cp.encode(&mut ppdu)?;
//! // the PConnect example of docs/protocol-notes.md §5
//! assert_eq!(ppdu, [0x31, 0x16, 0xa0, 0x03, 0x80, 0x01, 0x00, 0xa1, 0x0f, 0x80, 0x01, 0x1e,
//!                   0x81, 0x01, 0x05, 0xa3, 0x04, 0xa0, 0x02, 0x80, 0x00, 0x84, 0x01, 0x01]);
//! let (back, _) = Cp::decode(&ppdu, &Limits::default())?;
//! assert_eq!(Rtorq::from_cp(&back, &Limits::default())?, Some(rq));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::DecodeError;
use crate::limits::Limits;
use crate::presentation::{AbortPpdu, Cp, Cpa, Cpr};

use super::types::{Rtab, Rtoac, Rtorj, Rtorq};

impl<'a> Rtorq<'a> {
    /// The RTORQ components of an X.410-1984-mode CP-type (X.410 `PConnect`), or `None` when
    /// the CP carries no x410-mode-parameters (normal mode). Offsets in errors count from the
    /// first octet of [`Cp::x410_parameters`].
    pub fn from_cp(cp: &Cp<'a>, limits: &Limits) -> Result<Option<Self>, DecodeError> {
        cp.x410_parameters
            .map(|p| Rtorq::decode_components(p, limits))
            .transpose()
    }
}

impl<'a> Rtoac<'a> {
    /// The RTOAC components of an X.410-1984-mode CPA-PPDU (X.410 `PAccept`), or `None` in
    /// normal mode. Offsets count from the first octet of [`Cpa::x410_parameters`].
    pub fn from_cpa(cpa: &Cpa<'a>, limits: &Limits) -> Result<Option<Self>, DecodeError> {
        cpa.x410_parameters
            .map(|p| Rtoac::decode_components(p, limits))
            .transpose()
    }
}

impl<'a> Rtorj<'a> {
    /// The RTORJ components of an X.410-1984-mode CPR-PPDU (X.410 `PRefuse`), or `None` for a
    /// normal-mode CPR. Offsets count from the first octet of the [`Cpr::X410`] contents.
    pub fn from_cpr(cpr: &Cpr<'a>, limits: &Limits) -> Result<Option<Self>, DecodeError> {
        match cpr {
            Cpr::X410(p) => Rtorj::decode_components(p, limits).map(Some),
            Cpr::Normal(_) => Ok(None),
        }
    }
}

impl<'a> Rtab<'a> {
    /// The RTAB components of an X.410-1984-mode ARU-PPDU (X.410 `AbortInformation`), or
    /// `None` for a normal-mode ARU or an ARP. Offsets count from the first octet of the
    /// [`AbortPpdu::AruX410`] contents.
    pub fn from_abort(abort: &AbortPpdu<'a>, limits: &Limits) -> Result<Option<Self>, DecodeError> {
        match abort {
            AbortPpdu::AruX410(p) => Rtab::decode_components(p, limits).map(Some),
            AbortPpdu::Aru(_) | AbortPpdu::Arp(_) => Ok(None),
        }
    }
}
