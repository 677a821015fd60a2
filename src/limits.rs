//! Resource limits applied to everything taken from the wire.
//!
//! Every length read from the network is checked against what remains in the buffer and against a
//! [`Limits`] value before anything is allocated, so a peer cannot make the stack hold more memory
//! than the limits allow, whatever lengths it claims. The defaults are safe for a server exposed to
//! untrusted peers and large enough for X.400 message transfer and IEC 61850 MMS.
//!
//! # Example
//!
//! ```
//! use osi_stack::presentation::UserData;
//! use osi_stack::{DecodeErrorKind, Limits};
//!
//! // P-DATA user data with two PDVs (contexts 1 and 3).
//! let bytes = [
//!     0x61, 0x12, 0x30, 0x07, 0x02, 0x01, 0x01, 0xa0, 0x02, 0x05, 0x00,
//!     0x30, 0x07, 0x02, 0x01, 0x03, 0xa0, 0x02, 0x05, 0x00,
//! ];
//! assert_eq!(UserData::decode(&bytes, &Limits::default())?.pdvs().count(), 2);
//!
//! // A server that expects one PDV per P-DATA can say so.
//! let strict = Limits::default().with_max_pdvs(1);
//! let err = UserData::decode(&bytes, &strict).unwrap_err();
//! assert!(matches!(err.kind(), DecodeErrorKind::LimitExceeded { limit: "max_pdvs", max: 1 }));
//! # Ok::<(), osi_stack::DecodeError>(())
//! ```

/// Limits on what a peer can make this stack buffer or walk through.
///
/// Construct with [`Limits::default()`] and adjust fields; the struct is `#[non_exhaustive]` so
/// new limits can be added without breaking callers.
///
/// ```
/// let limits = osi_stack::Limits::default().with_max_tsdu(4 * 1024 * 1024);
/// assert_eq!(limits.max_tsdu, 4 * 1024 * 1024);
/// assert_eq!(limits.max_segments, 65_536);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Limits {
    /// Largest transport service data unit (the data of DT TPDUs up to EOT) that is reassembled.
    /// Default 1 MiB.
    pub max_tsdu: usize,
    /// Largest number of DT TPDUs one TSDU may be split into. Default 65,536.
    pub max_segments: usize,
    /// Largest session service data unit reassembled from segmented DT SPDUs (Enclosure Item) or
    /// connect data overflow. Default 1 MiB.
    pub max_ssdu: usize,
    /// Deepest nesting of constructed BER elements accepted in presentation and ACSE. Default 32.
    pub max_ber_depth: usize,
    /// Largest number of presentation contexts in a context definition list. Default 64.
    pub max_contexts: usize,
    /// Largest number of PDVs in one presentation user-data value. Default 256.
    pub max_pdvs: usize,
}

impl Limits {
    /// The default limits (see each field).
    pub const DEFAULT: Limits = Limits {
        max_tsdu: 1024 * 1024,
        max_segments: 65_536,
        max_ssdu: 1024 * 1024,
        max_ber_depth: 32,
        max_contexts: 64,
        max_pdvs: 256,
    };
}

impl Limits {
    /// These limits with the largest reassembled TSDU set to `value`.
    #[must_use]
    pub const fn with_max_tsdu(mut self, value: usize) -> Self {
        self.max_tsdu = value;
        self
    }

    /// These limits with the largest number of DTs in one TSDU set to `value`.
    #[must_use]
    pub const fn with_max_segments(mut self, value: usize) -> Self {
        self.max_segments = value;
        self
    }

    /// These limits with the largest reassembled SSDU set to `value`.
    #[must_use]
    pub const fn with_max_ssdu(mut self, value: usize) -> Self {
        self.max_ssdu = value;
        self
    }

    /// These limits with the deepest BER nesting set to `value`.
    #[must_use]
    pub const fn with_max_ber_depth(mut self, value: usize) -> Self {
        self.max_ber_depth = value;
        self
    }

    /// These limits with the largest number of presentation contexts set to `value`.
    #[must_use]
    pub const fn with_max_contexts(mut self, value: usize) -> Self {
        self.max_contexts = value;
        self
    }

    /// These limits with the largest number of PDVs in one user-data value set to `value`.
    #[must_use]
    pub const fn with_max_pdvs(mut self, value: usize) -> Self {
        self.max_pdvs = value;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
