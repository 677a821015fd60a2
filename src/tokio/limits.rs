//! [`ConnectionLimits`]: the service limits of one connection ([`Timers`], a share of a
//! [`MemoryBudget`], a [`Slot`] under the connection caps) for an owner that drives a machine
//! other than [`Connection`](super::Connection)'s association: the RTS driver
//! ([`RtsConnection`](super::RtsConnection)), a transport-only service (`osi listen
//! --transport-only`).

use std::time::Instant;

use super::connection::{Charge, MemoryBudget, TimerKind, Timers};
use super::listener::Slot;

/// The adapter's timers, memory charge and cap slot of one connection, kept by whoever drives
/// its machine. The owner tells it what happens ([`established`](Self::established),
/// [`activity`](Self::activity), [`output`](Self::output), [`hold`](Self::hold)), sleeps
/// until [`deadline`](Self::deadline) besides its I/O, and asks [`expired`](Self::expired)
/// when it wakes; a timer that ran out (or a refused [`hold`](Self::hold)) means: abort the
/// association (connect, idle; e.g. [`Association::abort_on_timeout`]) or drop the transport
/// (io: the peer does not read).
///
/// [`Association::abort_on_timeout`]: crate::association::Association::abort_on_timeout
///
/// The timers, as [`Connection`](super::Connection) runs them (`osi listen`'s contract):
/// connect from the start of the connection until [`established`](Self::established); idle
/// after that, from the last octet either way; io from the moment output is queued until the
/// peer has taken all of it. The rest of a started frame or TSDU is the machine's own
/// receive time-out ([`ListenerConfig::apply`](super::ListenerConfig::apply)).
///
/// ```
/// use std::time::{Duration, Instant};
/// use osi_stack::tokio::{ConnectionLimits, MemoryBudget, TimerKind, Timers};
/// let start = Instant::now();
/// let mut limits = ConnectionLimits::new(
///     Timers::NONE.with_connect(Some(Duration::from_secs(1))).with_idle(Some(Duration::from_secs(5))),
///     start,
/// )
/// .with_budget(MemoryBudget::new(1000));
/// assert_eq!(limits.deadline(), Some(start + Duration::from_secs(1)));
/// assert!(limits.hold(600).is_ok());
/// assert_eq!(limits.expired(start + Duration::from_millis(500)), None);
/// assert_eq!(limits.expired(start + Duration::from_secs(2)), Some(TimerKind::Connect));
/// // Once a limit was reached (the owner aborts), no timer runs and the charge only goes down.
/// assert_eq!(limits.deadline(), None);
///
/// let mut other = ConnectionLimits::new(Timers::NONE, start).with_budget(MemoryBudget::new(1000));
/// assert_eq!(other.hold(1200), Err(1200));
/// ```
#[derive(Debug)]
pub struct ConnectionLimits {
    timers: Timers,
    connect_deadline: Option<Instant>,
    established: bool,
    last_activity: Instant,
    output_since: Option<Instant>,
    charge: Option<Charge>,
    /// A timer ran out or the budget was refused: no more deadlines, the charge only goes
    /// down.
    fired: bool,
    _slot: Option<Slot>,
}

impl ConnectionLimits {
    /// The limits of a connection that started at `started` (the connect timer runs from
    /// then), with no memory budget and no slot.
    pub fn new(timers: Timers, started: Instant) -> Self {
        ConnectionLimits {
            timers,
            connect_deadline: timers.connect.and_then(|d| started.checked_add(d)),
            established: false,
            last_activity: started,
            output_since: None,
            charge: None,
            fired: false,
            _slot: None,
        }
    }

    /// The same limits counting the connection's holdings against `budget`.
    #[must_use]
    pub fn with_budget(mut self, budget: MemoryBudget) -> Self {
        self.charge = Some(Charge { budget, held: 0 });
        self
    }

    /// The same limits keeping `slot` (the connection's place under the caps) until dropped.
    #[must_use]
    pub fn with_slot(mut self, slot: Slot) -> Self {
        self._slot = Some(slot);
        self
    }

    /// The timers in force.
    pub fn timers(&self) -> Timers {
        self.timers
    }

    /// The association is established: the connect timer stops, the idle timer starts.
    pub fn established(&mut self, now: Instant) {
        self.connect_deadline = None;
        if !self.established {
            self.established = true;
            self.last_activity = now;
        }
    }

    /// Whether [`established`](Self::established) was called.
    pub fn is_established(&self) -> bool {
        self.established
    }

    /// Octets were read or written: the idle timer starts again.
    pub fn activity(&mut self, now: Instant) {
        self.last_activity = now;
    }

    /// `pending` octets of output wait for the peer: the io timer runs from when output was
    /// first queued until `pending` is 0 again.
    pub fn output(&mut self, pending: usize, now: Instant) {
        if pending == 0 {
            self.output_since = None;
        } else if self.output_since.is_none() {
            self.output_since = Some(now);
        }
    }

    /// The earliest deadline of the timers (none once one ran out).
    pub fn deadline(&self) -> Option<Instant> {
        if self.fired {
            return None;
        }
        let idle = self
            .timers
            .idle
            .filter(|_| self.established)
            .and_then(|d| self.last_activity.checked_add(d));
        let io = self
            .output_since
            .zip(self.timers.io)
            .and_then(|(t, d)| t.checked_add(d));
        [self.connect_deadline, idle, io]
            .into_iter()
            .flatten()
            .min()
    }

    /// The timer that ran out at `now`, if one did (reported once; then no timer runs).
    pub fn expired(&mut self, now: Instant) -> Option<TimerKind> {
        if self.fired {
            return None;
        }
        let at = |d: Option<Instant>| d.is_some_and(|d| now >= d);
        let which = if !self.established && at(self.connect_deadline) {
            TimerKind::Connect
        } else if at(self
            .output_since
            .zip(self.timers.io)
            .and_then(|(t, d)| t.checked_add(d)))
        {
            TimerKind::Io
        } else if self.established
            && at(self
                .timers
                .idle
                .and_then(|d| self.last_activity.checked_add(d)))
        {
            TimerKind::Idle
        } else {
            return None;
        };
        super::trace::info!(which = which.name(), "time-out: aborting");
        self.fired = true;
        Some(which)
    }

    /// The connection now holds `octets` (input being reassembled, output not read). `Err`
    /// with the octets wanted when the shared budget cannot give them: abort the association;
    /// from then on the charge only goes down.
    pub fn hold(&mut self, octets: usize) -> Result<(), usize> {
        let Some(c) = &mut self.charge else {
            return Ok(());
        };
        if self.fired {
            let _ = c.set(octets.min(c.held));
            return Ok(());
        }
        if c.set(octets) {
            return Ok(());
        }
        super::trace::warn!(
            wanted = octets,
            used = c.budget.used(),
            limit = c.budget.limit(),
            "memory budget exceeded: aborting the association"
        );
        self.fired = true;
        Err(octets)
    }

    /// Octets charged to the budget now.
    pub fn held(&self) -> usize {
        self.charge.as_ref().map_or(0, |c| c.held)
    }
}
