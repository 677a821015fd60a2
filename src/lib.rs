#![doc = include_str!("../README.md")]
//!
//! ## Why the byte-level core is hand-written, not nom
//!
//! The design named nom for the byte-level parsers (TPKT, COTP, session units). The choice was
//! settled by measurement: `benches/compare/bench.rs` runs nom 8 written plainly (`tag`,
//! `verify`, `take`, `fold_many0` over `length_data`) beside a minimal hand-written safe parser
//! and this crate, on the same frames, through the same checks. Counted in instructions under
//! valgrind (unmoved by the load of a shared machine; `benches/compare_icount.py`, figures in
//! `BENCHMARKS.md`), nom 8 takes about 2.3× the minimal parser on a class-0 DT (92–96
//! instructions a frame against 41) and 2.0× on a CR (252 against 124); in time it was also
//! slower than the minimal parser on every row. A nom core would add that cost to every frame,
//! and carrying this crate's error (layer, element and offset) through nom would need a
//! `ParseError` implementation that recomputes the offset from slice positions at every step.
//! What nom did here before (two big-endian integer reads in a private cursor) is two slice
//! patterns, so nom is no longer a dependency; no public type ever exposed it.
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
