#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod acse;
pub mod address;
#[cfg(feature = "arbitrary")]
mod arb;
pub mod association;
pub(crate) mod ber;
pub mod cotp;
pub mod dissect;
pub mod error;
pub mod limits;
pub mod machine;
pub mod oid;
pub(crate) mod parse;
pub mod presentation;
pub mod probe;
pub mod replay;
pub mod rts;
pub mod rtse;
pub mod session;
pub mod testing;
#[cfg(feature = "tokio")]
pub mod tokio;
pub mod tpkt;
pub(crate) mod util;

pub use error::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, Layer};
pub use limits::Limits;
pub use machine::Machine;
