//! The verbs every byte-level sans-IO machine of the crate shares, as a trait: the
//! [`cotp::Connection`](crate::cotp::Connection) (TSDUs over class 0, for S7 and RDP tools),
//! the [`Association`](crate::association::Association) and the
//! [`Rts`](crate::rts::Rts). An adapter (the [`tokio`](crate::tokio) one, an in-memory
//! [`Pair`](crate::testing::Pair), your own event loop) drives any of them the same way:
//!
//! 1. feed received bytes to [`Machine::handle_input`];
//! 2. send what [`Machine::poll_transmit`] returns, in order;
//! 3. read [`Machine::poll_event`] until `None`;
//! 4. call [`Machine::handle_timeout`] once [`Machine::poll_timeout`] has passed;
//! 5. close the transport when [`Machine::is_closed`] says so (after the last transmit), and
//!    tell the machine when the transport closed on its own
//!    ([`Machine::handle_transport_closed`]).
//!
//! Time is always passed in: no machine reads a clock, opens a socket or draws a random
//! number. The session machine works on TSDUs rather than bytes and is driven by its owner
//! (the association), so it has the same verbs but not this trait.
//!
//! # Example
//!
//! One driver for any machine, used here on two class-0 transport connections:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use osi_stack::Machine;
//! use osi_stack::cotp::connection::{Config, ConnectRequest, Connection, Disconnect, Event};
//!
//! /// What a socket would do: deliver every pending transmit of `from` to `to`.
//! fn pump<M: Machine>(from: &mut M, to: &mut M, now: Instant) {
//!     while let Some(bytes) = from.poll_transmit() {
//!         to.handle_input(&bytes, now);
//!     }
//! }
//! fn events<M: Machine>(m: &mut M) -> Vec<M::Event> {
//!     std::iter::from_fn(|| m.poll_event()).collect()
//! }
//!
//! let now = Instant::now();
//! let (mut client, mut server) =
//!     (Connection::initiator(Config::default()), Connection::responder(Config::default()));
//! client.connect(&ConnectRequest::default(), now)?;
//! pump(&mut client, &mut server, now);
//! assert!(matches!(events(&mut server)[..], [Event::ConnectIndication(_)]));
//! server.accept(now)?;
//! pump(&mut server, &mut client, now);
//! assert!(matches!(events(&mut client)[..], [Event::Connected(_)]));
//!
//! // A responder whose peer never sends a CR gives up at its deadline.
//! let mut idle = Connection::responder(Config::default());
//! idle.handle_transport_accepted(now);
//! let deadline = idle.poll_timeout().expect("a connect timer");
//! assert!(deadline > now && deadline <= now + Duration::from_secs(600));
//! idle.handle_timeout(deadline);
//! assert!(events(&mut idle).iter().any(|e| matches!(e, Event::Disconnected(Disconnect::Timeout(_)))));
//! assert!(idle.is_closed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Instant;

use bytes::Bytes;

/// A sans-IO protocol machine over one byte stream. See the [module docs](self).
pub trait Machine {
    /// What the machine tells its user.
    type Event;

    /// Bytes received on the transport (any chunking).
    fn handle_input(&mut self, data: &[u8], now: Instant);

    /// A deadline passed: `now` is at or after [`Machine::poll_timeout`].
    fn handle_timeout(&mut self, now: Instant);

    /// The transport closed (or was reset) under the machine.
    fn handle_transport_closed(&mut self, now: Instant);

    /// The next bytes to send, in order.
    fn poll_transmit(&mut self) -> Option<Bytes>;

    /// The next event.
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// When [`Machine::handle_timeout`] must be called next.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Octets of peer input the machine holds (bounded by its limits).
    fn buffered_input(&self) -> usize;

    /// Octets waiting in [`Machine::poll_transmit`].
    fn pending_transmit(&self) -> usize;

    /// Whether the machine is finished: the transport should be closed once the remaining
    /// transmits are sent.
    fn is_closed(&self) -> bool;
}

impl Machine for crate::cotp::Connection {
    type Event = crate::cotp::connection::Event;

    fn handle_input(&mut self, data: &[u8], now: Instant) {
        crate::cotp::Connection::handle_input(self, data, now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        crate::cotp::Connection::handle_timeout(self, now);
    }
    fn handle_transport_closed(&mut self, now: Instant) {
        crate::cotp::Connection::handle_transport_closed(self, now);
    }
    fn poll_transmit(&mut self) -> Option<Bytes> {
        crate::cotp::Connection::poll_transmit(self)
    }
    fn poll_event(&mut self) -> Option<Self::Event> {
        crate::cotp::Connection::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        crate::cotp::Connection::poll_timeout(self)
    }
    fn buffered_input(&self) -> usize {
        crate::cotp::Connection::buffered_input(self)
    }
    fn pending_transmit(&self) -> usize {
        crate::cotp::Connection::pending_transmit(self)
    }
    fn is_closed(&self) -> bool {
        crate::cotp::Connection::is_closed(self)
    }
}

impl Machine for crate::association::Association {
    type Event = crate::association::Event;

    fn handle_input(&mut self, data: &[u8], now: Instant) {
        crate::association::Association::handle_input(self, data, now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        crate::association::Association::handle_timeout(self, now);
    }
    fn handle_transport_closed(&mut self, now: Instant) {
        crate::association::Association::handle_transport_closed(self, now);
    }
    fn poll_transmit(&mut self) -> Option<Bytes> {
        crate::association::Association::poll_transmit(self)
    }
    fn poll_event(&mut self) -> Option<Self::Event> {
        crate::association::Association::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        crate::association::Association::poll_timeout(self)
    }
    fn buffered_input(&self) -> usize {
        crate::association::Association::buffered_input(self)
    }
    fn pending_transmit(&self) -> usize {
        crate::association::Association::pending_transmit(self)
    }
    fn is_closed(&self) -> bool {
        crate::association::Association::is_closed(self)
    }
}
