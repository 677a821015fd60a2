//! An in-memory pair of machines wired back to back, with a clock you move by hand: the
//! harness the crate's own tests, fuzz targets and benches use, and one for your tests of an
//! application built on the crate (no sockets, deterministic).
//!
//! ```
//! use osi_stack::association::{AcceptResponse, AssociateRequest, Association, Config, Dispatch, Event};
//! use osi_stack::testing::Pair;
//!
//! let mut pair = Pair::new(
//!     Association::initiator(Config::default()),
//!     Association::responder(Config::default(), Dispatch::default(), None),
//! );
//! let now = pair.now;
//! pair.client.associate(AssociateRequest::mms(), now)?;
//! pair.settle();
//! assert!(matches!(pair.server_events().last(), Some(Event::AssociateIndication(_))));
//! pair.server.accept(AcceptResponse::default(), now)?;
//! pair.settle();
//! assert!(matches!(pair.client_events().last(), Some(Event::Associated(_))));
//! # Ok::<(), osi_stack::association::ServiceError>(())
//! ```

use std::time::{Duration, Instant};

use crate::machine::Machine;

/// Two machines, `client` and `server`, connected by an in-memory transport.
#[derive(Debug)]
pub struct Pair<C, S> {
    /// The side that connects.
    pub client: C,
    /// The side that accepts.
    pub server: S,
    /// The pair's clock: what the pair passes as `now` to both machines.
    pub now: Instant,
    /// Deliver every transmit in pieces of at most this many octets (0: as sent).
    pub chunk: usize,
    /// Octets moved client → server so far.
    pub client_sent: u64,
    /// Octets moved server → client so far.
    pub server_sent: u64,
}

fn flush<A: Machine, B: Machine>(from: &mut A, to: &mut B, now: Instant, chunk: usize) -> Vec<u8> {
    let mut all = Vec::new();
    while let Some(b) = from.poll_transmit() {
        all.extend_from_slice(&b);
    }
    if all.is_empty() {
        return all;
    }
    if chunk == 0 {
        to.handle_input(&all, now);
    } else {
        for piece in all.chunks(chunk) {
            to.handle_input(piece, now);
        }
    }
    all
}

impl<C: Machine, S: Machine> Pair<C, S> {
    /// A pair at the current instant.
    pub fn new(client: C, server: S) -> Self {
        Self::at(client, server, Instant::now())
    }

    /// A pair whose clock starts at `now`.
    pub fn at(client: C, server: S, now: Instant) -> Self {
        Pair {
            client,
            server,
            now,
            chunk: 0,
            client_sent: 0,
            server_sent: 0,
        }
    }

    /// Moves the clock forward by `by` and runs both machines' timers that are due.
    pub fn advance(&mut self, by: Duration) {
        self.now = self.now.checked_add(by).unwrap_or(self.now);
        if self.client.poll_timeout().is_some_and(|t| t <= self.now) {
            self.client.handle_timeout(self.now);
        }
        if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
            self.server.handle_timeout(self.now);
        }
    }

    /// Moves the client's pending output to the server; returns the octets moved.
    pub fn c2s(&mut self) -> Vec<u8> {
        let moved = flush(&mut self.client, &mut self.server, self.now, self.chunk);
        self.client_sent = self.client_sent.saturating_add(moved.len() as u64);
        moved
    }

    /// Moves the server's pending output to the client; returns the octets moved.
    pub fn s2c(&mut self) -> Vec<u8> {
        let moved = flush(&mut self.server, &mut self.client, self.now, self.chunk);
        self.server_sent = self.server_sent.saturating_add(moved.len() as u64);
        moved
    }

    /// Runs both directions until neither side has anything to send (at most `rounds`
    /// exchanges); returns whether it settled.
    pub fn settle_within(&mut self, rounds: usize) -> bool {
        for _ in 0..rounds {
            let a = self.c2s();
            let b = self.s2c();
            if a.is_empty() && b.is_empty() {
                return true;
            }
        }
        false
    }

    /// Runs both directions until neither side has anything to send. Returns whether the pair
    /// settled within 10 000 exchanges (a pair that keeps talking is a bug to report).
    pub fn settle(&mut self) -> bool {
        self.settle_within(10_000)
    }

    /// Closes the transport under both machines (as a TCP reset would).
    pub fn cut(&mut self) {
        self.client.handle_transport_closed(self.now);
        self.server.handle_transport_closed(self.now);
    }

    /// Every event the client has for its user now.
    pub fn client_events(&mut self) -> Vec<C::Event> {
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }

    /// Every event the server has for its user now.
    pub fn server_events(&mut self) -> Vec<S::Event> {
        std::iter::from_fn(|| self.server.poll_event()).collect()
    }
}

/// How a machine's events broke the rule every machine of the crate keeps (see [`EventLog`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventOrder {
    /// An event came after the `Closed` event (its index in the log).
    #[error("event {index} came after Closed")]
    AfterClosed {
        /// Index of the offending event.
        index: usize,
    },
    /// `Closed` was not the last event of its batch (its index in the log).
    #[error("Closed (event {index}) is not the last event")]
    ClosedNotLast {
        /// Index of the `Closed` event.
        index: usize,
    },
    /// `is_closed()` disagrees with whether `Closed` was given.
    #[error("is_closed() is {is_closed} after the events, Closed given: {}", !is_closed)]
    IsClosedDisagrees {
        /// What `is_closed()` said.
        is_closed: bool,
    },
}

/// Every event one machine gave, in order, checked as it is collected against the rule every
/// machine of the crate keeps: `Closed` is its last event, nothing follows it, and
/// `is_closed()` is true exactly from then on. The bookkeeping of the fuzz scenarios (one log
/// per machine); usable for any machine, [`Machine`] or not (`session::Connection` takes TSDUs,
/// not bytes).
///
/// ```
/// use osi_stack::association::{Association, Config, Event};
/// use osi_stack::testing::EventLog;
///
/// let mut a = Association::initiator(Config::default());
/// let mut log = EventLog::new(|e: &Event| *e == Event::Closed);
/// log.collect(&mut a)?;
/// assert!(log.events.is_empty() && !log.closed());
/// # Ok::<(), osi_stack::testing::EventOrder>(())
/// ```
#[derive(Debug, Clone)]
pub struct EventLog<E> {
    /// The events, in order.
    pub events: Vec<E>,
    closed: bool,
    is_close: fn(&E) -> bool,
}

impl<E> EventLog<E> {
    /// An empty log; `is_close` tells the machine's `Closed` event.
    pub fn new(is_close: fn(&E) -> bool) -> Self {
        EventLog {
            events: Vec::new(),
            closed: false,
            is_close,
        }
    }

    /// Whether the `Closed` event was given.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Appends the events a machine gave since the last call and checks them with what its
    /// `is_closed()` says now. The events are kept even when the check fails, for the report.
    pub fn record(
        &mut self,
        batch: impl IntoIterator<Item = E>,
        is_closed: bool,
    ) -> Result<(), EventOrder> {
        let first = self.events.len();
        let was_closed = self.closed;
        self.events.extend(batch);
        let new = self.events.get(first..).unwrap_or_default();
        if was_closed && !new.is_empty() {
            return Err(EventOrder::AfterClosed { index: first });
        }
        if let Some(i) = new.iter().position(self.is_close) {
            let index = first.saturating_add(i);
            if i.saturating_add(1) != new.len() {
                return Err(EventOrder::ClosedNotLast { index });
            }
            self.closed = true;
        }
        if is_closed != self.closed {
            return Err(EventOrder::IsClosedDisagrees { is_closed });
        }
        Ok(())
    }

    /// [`EventLog::record`] of every event `m` has now.
    pub fn collect<M: Machine<Event = E>>(&mut self, m: &mut M) -> Result<(), EventOrder> {
        let batch: Vec<E> = std::iter::from_fn(|| m.poll_event()).collect();
        self.record(batch, m.is_closed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_log_checks_the_closed_rule() {
        let close = |e: &u8| *e == 0;
        let mut log = EventLog::new(close);
        assert_eq!(log.record([1, 2], false), Ok(()));
        assert_eq!(
            log.record([], true),
            Err(EventOrder::IsClosedDisagrees { is_closed: true })
        );
        let mut log = EventLog::new(close);
        assert_eq!(
            log.record([1, 0, 2], true),
            Err(EventOrder::ClosedNotLast { index: 1 })
        );
        let mut log = EventLog::new(close);
        assert_eq!(log.record([1, 0], true), Ok(()));
        assert!(log.closed());
        assert_eq!(log.record([], true), Ok(()));
        assert_eq!(
            log.record([3], true),
            Err(EventOrder::AfterClosed { index: 2 })
        );
        assert_eq!(log.events, [1, 0, 3]);
    }
}
