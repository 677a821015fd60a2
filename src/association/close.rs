//! A-RELEASE (X.227 §7.2, FN/DN/NF carrying RLRQ/RLRE) and A-ABORT (X.227 §7.3, AB carrying
//! ARU with an ABRT) requested by the application, the provider aborts its driver asks for
//! (time-outs, memory budget), and the answer to a release collision.

use std::time::Instant;

use crate::session::connection::Phase;

use super::{
    Abort, AbortReason, AbortSource, Association, Event, ServiceError, State, Timeout, TimerKind,
};

impl Association {
    /// A-RELEASE request: FN carrying RLRQ. In half-duplex this side must hold every available
    /// token and no activity may be in progress.
    pub fn release(&mut self, now: Instant) -> Result<(), ServiceError> {
        if self.session.phase() != Phase::Open {
            return Err(self.wrong_state("release"));
        }
        let data = self.control.release_request()?;
        self.session.release(&data, now)?;
        self.idle_deadline = None;
        self.pump(now);
        Ok(())
    }

    /// A-RELEASE response after [`Event::ReleaseIndication`]: `true` sends DN with RLRE
    /// normal and ends the association; `false` sends NF with RLRE not-finished and goes on.
    pub fn release_response(&mut self, accept: bool, now: Instant) -> Result<(), ServiceError> {
        if self.session.phase() != Phase::AwaitReleaseResponse || self.collision {
            return Err(self.wrong_state("release_response"));
        }
        let data = self.control.release_response(accept)?;
        self.session.release_response(accept, &data, now)?;
        if accept {
            self.events.push_back(Event::Released { collision: false });
            self.ended = true;
        } else {
            self.touch(now);
        }
        self.pump(now);
        Ok(())
    }

    /// A-ABORT request: AB carrying ARU with an ABRT (source service user) once a session
    /// connection is being set up; before that, the transport connection is simply closed.
    pub fn abort(&mut self, now: Instant) -> Result<(), ServiceError> {
        self.abort_with(None, now)
    }

    /// A-ABORT request whose ABRT carries `user_information` (one BER value, e.g. an RTAB) as
    /// an EXTERNAL on the first application context (X.410-1984 mode: the ARU's SET contents).
    pub fn abort_with(
        &mut self,
        user_information: Option<&[u8]>,
        now: Instant,
    ) -> Result<(), ServiceError> {
        if matches!(self.state(), State::Closed | State::AwaitClose) {
            return Err(self.wrong_state("abort"));
        }
        let data = self.control.abort_request(user_information)?;
        self.session.abort(&data, now)?;
        self.pump(now);
        Ok(())
    }

    /// Aborts the association because a timer of its driver ran out (the tokio adapter's
    /// connect, idle or io timer): on the wire a provider abort (an AB whose ARU carries an
    /// ABRT with abort-source acse-service-provider; before the presentation connection exists
    /// an AB without user data, or just the end of the transport connection). The
    /// [`Event::Aborted`] that follows says `LocalProvider` and
    /// [`AbortReason::Timeout`]`(`[`Timeout::Driver`]`(which))`: X.224, X.225 and X.227 have no
    /// code for a local time-out, so only this side knows the cause.
    pub fn abort_on_timeout(&mut self, which: TimerKind, now: Instant) -> Result<(), ServiceError> {
        self.abort_as_provider(AbortReason::Timeout(Timeout::Driver(which)), now)
    }

    /// Aborts the association because its driver cannot hold what the peer sends (or does
    /// not read) within its memory budget: on the wire as
    /// [`abort_on_timeout`](Self::abort_on_timeout); the [`Event::Aborted`] says
    /// `LocalProvider` and [`AbortReason::MemoryBudget`].
    pub fn abort_over_budget(&mut self, now: Instant) -> Result<(), ServiceError> {
        self.abort_as_provider(AbortReason::MemoryBudget, now)
    }

    /// A provider abort of this side's own, reported with `reason`.
    fn abort_as_provider(&mut self, reason: AbortReason, now: Instant) -> Result<(), ServiceError> {
        if matches!(self.state(), State::Closed | State::AwaitClose) {
            return Err(self.wrong_state("abort"));
        }
        self.local_abort = Some(Abort {
            source: AbortSource::LocalProvider,
            reason,
            user_information: None,
        });
        let data = self.control.provider_abort_request();
        if let Err(e) = self.session.abort(&data, now) {
            self.local_abort = None;
            return Err(e.into());
        }
        self.pump(now);
        Ok(())
    }

    /// Answers the peer's RLRQ in a release collision.
    pub(super) fn answer_release(&mut self, now: Instant) {
        if let Ok(data) = self.control.release_response(true) {
            let _ = self.session.release_response(true, &data, now);
        }
    }
}
