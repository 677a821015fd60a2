//! Where an association is, summarised from its machines, and what it tells of itself.

use crate::cotp::connection as transport;
use crate::session::connection::Phase;
use crate::{cotp, session};

use super::{Association, ContextOutcome, Service};

/// Where an association is: a summary of its machines' states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Initiator before [`Association::associate`].
    Idle,
    /// Initiator: CR sent, waiting for CC.
    AwaitCc,
    /// Responder: waiting for CR.
    AwaitCr,
    /// Responder: CC sent, waiting for CN.
    AwaitCn,
    /// Initiator: CN (CP, AARQ) sent, waiting for AC or RF.
    AwaitAc,
    /// Responder: associate indication given, waiting for accept or reject.
    AwaitUser,
    /// Data transfer.
    Associated,
    /// FN (RLRQ) sent, waiting for DN or NF.
    AwaitRelease,
    /// FN (RLRQ) received, waiting for the user's release response.
    AwaitReleaseResponse,
    /// DN, AB or RF sent: waiting (TIM) for the peer to close the transport connection.
    AwaitClose,
    /// Finished: the transport connection should be closed.
    Closed,
}

/// Initiator or responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The side that sent the CR (association-initiator).
    Initiator,
    /// The side that accepted the transport connection.
    Responder,
}

impl Association {
    /// Initiator or responder.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The current state.
    pub fn state(&self) -> State {
        if self.closed {
            return State::Closed;
        }
        match self.session.phase() {
            Phase::Idle => match (self.role, self.transport.phase()) {
                (Role::Initiator, transport::Phase::Idle) => State::Idle,
                (Role::Initiator, _) => State::AwaitCc,
                (Role::Responder, _) => State::AwaitCr,
            },
            Phase::AwaitCn => State::AwaitCn,
            Phase::AwaitAc => State::AwaitAc,
            Phase::AwaitUser => State::AwaitUser,
            Phase::Open => State::Associated,
            Phase::AwaitRelease => State::AwaitRelease,
            Phase::AwaitReleaseResponse => State::AwaitReleaseResponse,
            Phase::AwaitClose => State::AwaitClose,
            _ => State::Closed,
        }
    }

    /// Whether the machine is finished (the transport connection should be closed).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The TPDU size in use (meaningful once the transport is connected).
    pub fn tpdu_size(&self) -> usize {
        self.transport.tpdu_size().unwrap_or(128)
    }

    /// The matching service of a responder, once known.
    pub fn service(&self) -> Option<&Service> {
        self.candidates.first().and_then(|i| self.dispatch.get(i))
    }

    /// The contexts negotiated so far.
    pub fn contexts(&self) -> &[ContextOutcome] {
        self.control.contexts()
    }

    /// Whether the association runs in X.410-1984 presentation mode (no ACSE, raw data).
    pub fn is_x410(&self) -> bool {
        self.control.is_x410()
    }

    /// The transport connection.
    pub fn transport(&self) -> &cotp::Connection {
        &self.transport
    }

    /// The session connection (functional units, tokens, activity state).
    pub fn session(&self) -> &session::Connection {
        &self.session
    }
}
