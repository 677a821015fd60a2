//! Tokio adapters (feature `tokio`): a framed TPKT codec, a [`Dialer`] that opens
//! associations with retries and a chosen local address, a [`Listener`] that runs one
//! [`Association`](crate::association::Association) per accepted connection with a
//! [`Dispatch`](crate::association::Dispatch) table within the service limits of a
//! [`ListenerConfig`], and [`Connection`], which drives one association over one byte stream
//! (TCP, TLS, or an in-memory `tokio::io::duplex`).
//!
//! Every wait has a deadline: the association's own timers (the peer's answers, the rest of a
//! frame or TSDU, the application's answers) and the adapter's [`Timers`] (connect, idle, the
//! peer reading the output). Each async method documents its cancel safety.
//!
//! The service limits of a [`ListenerConfig`] are made of pieces an owner of another machine
//! uses too: [`AcceptGate`] (connection caps, accept back-off, socket options),
//! [`ConnectionLimits`] (one connection's timers, its share of a [`MemoryBudget`], its cap
//! slot) and [`ListenerConfig::apply`] / [`ListenerConfig::apply_transport`] (largest message,
//! receive time-out). [`Listener`] and [`RtsListener`] apply all of them; a connect or idle
//! time-out aborts with a typed cause ([`Timeout::Driver`](crate::association::Timeout::Driver)).
//!
//! [`RtsListener`]: rts::RtsListener
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use osi_stack::association::{AssociateRequest, Config, Event};
//! use osi_stack::tokio::Dialer;
//!
//! let dialer = Dialer::new().with_retries(2);
//! let (mut conn, _events) = dialer
//!     .associate("127.0.0.1:102", Config::default(), AssociateRequest::mms())
//!     .await?;
//! conn.send_data(3, &[0xa0, 0x03, 0x02, 0x01, 0x01]).await?;
//! while let Some(event) = conn.next_event().await? {
//!     if let Event::Data(d) = event {
//!         println!("{} octets on context {:?}", d.value.len(), d.context_id);
//!         break;
//!     }
//! }
//! conn.release().await?;
//! # Ok(()) }
//! ```
//!
//! The same against a responder of this crate on a loopback port (every wait bounded):
//!
//! ```
//! use std::time::Duration;
//! use osi_stack::association::{AcceptResponse, AssociateRequest, Config, Dispatch, Event};
//! use osi_stack::tokio::{Dialer, Listener};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! # tokio::time::timeout(Duration::from_secs(20), async {
//! let mut listener = Listener::bind("127.0.0.1:0", Config::default(), Dispatch::default()).await?;
//! let addr = listener.local_addr()?;
//! let server = tokio::spawn(async move {
//!     let mut conn = listener.accept().await?;
//!     while let Some(event) = conn.next_event().await? {
//!         match event {
//!             Event::AssociateIndication(_) => conn.accept(AcceptResponse::default()).await?,
//!             Event::Data(d) => conn.send_data(d.context_id.unwrap_or(3), &d.value).await?, // echo
//!             Event::ReleaseIndication => conn.release_response(true).await?,
//!             _ => {}
//!         }
//!     }
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! });
//!
//! let (mut conn, _events) =
//!     Dialer::new().associate(addr, Config::default(), AssociateRequest::mms()).await?;
//! conn.send_data(3, &[0xa0, 0x03, 0x02, 0x01, 0x01]).await?;
//! let echoed = loop {
//!     match conn.next_event().await? {
//!         Some(Event::Data(d)) => break d.value,
//!         Some(_) => continue,
//!         None => return Err("closed before the echo".into()),
//!     }
//! };
//! assert_eq!(echoed[..], [0xa0, 0x03, 0x02, 0x01, 0x01]);
//! assert!(conn.release().await?.released);
//! server.await??;
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! # }).await?
//! # }
//! ```

use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::DecodeError;
use crate::tpkt;

mod connection;
mod dialer;
mod limits;
mod listener;
#[cfg(feature = "tls")]
pub mod tls;
mod trace;

pub use connection::{
    Connection, ConnectionError, MemoryBudget, Notice, ReleaseOutcome, TimerKind, Timers,
};
pub use dialer::{DialError, Dialer, associate_stream};
pub use limits::ConnectionLimits;
pub use listener::{
    AcceptGate, Accepted, Admission, Incoming, Listener, ListenerConfig, ShedReason, Slot,
};

pub mod rts;
pub use rts::{RtsConnection, RtsDialer, RtsIncoming, RtsListener};

// -------------------------------------------------------------------------------------------
// Codec

/// A tokio-util codec for TPKT frames (RFC 1006 §6): decodes to the TPDU of each frame, encodes
/// a TPDU into a frame. Frames are at most 65 535 octets, so the buffer stays bounded.
#[derive(Debug, Clone, Copy, Default)]
pub struct TpktCodec;

/// An error of the TPKT codec: I/O, or a frame header that is not TPKT.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The stream failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The peer sent something that is not a TPKT frame.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A TPDU too long for one frame.
    #[error(transparent)]
    Encode(#[from] crate::EncodeError),
}

impl Decoder for TpktCodec {
    type Item = Bytes;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, CodecError> {
        match tpkt::frame_len(src)? {
            Some(n) if n <= src.len() => {
                let mut frame = src.split_to(n);
                frame.advance(tpkt::HEADER_LEN);
                Ok(Some(frame.freeze()))
            }
            Some(n) => {
                src.reserve(n.saturating_sub(src.len()));
                Ok(None)
            }
            None => Ok(None),
        }
    }
}

impl Encoder<Bytes> for TpktCodec {
    type Error = CodecError;

    fn encode(&mut self, tpdu: Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.reserve(tpdu.len().saturating_add(tpkt::HEADER_LEN));
        tpkt::encode_header(tpdu.len(), dst)?;
        dst.put_slice(&tpdu);
        Ok(())
    }
}
