//! The session services an association passes through to its
//! [`session::Connection`](crate::session::Connection) (X.226 maps each presentation
//! service — P-TOKEN-GIVE, P-CONTROL-GIVE, P-ACTIVITY-START … — onto the session service of
//! the same name), and what the association tells of the session's state.

use std::time::Instant;

use crate::presentation::ContextId;
use crate::session::connection::OldConnection;
use crate::session::{ActivityReason, SessionUserRequirements, TokenItem};

use super::{Association, ServiceError};

impl Association {
    /// S-TOKEN-GIVE (GT with a Token Item); see [`crate::session::Connection::give_tokens`].
    pub fn give_tokens(&mut self, tokens: TokenItem, now: Instant) -> Result<(), ServiceError> {
        self.session.give_tokens(tokens, now)?;
        self.pump(now);
        Ok(())
    }

    /// S-TOKEN-PLEASE (PT with a Token Item) carrying one BER value as presentation user data
    /// on context `data.0` (RTSE puts its RTTP there; in X.410-1984 mode the value is the raw
    /// session user data and the context is ignored).
    pub fn please_tokens(
        &mut self,
        tokens: TokenItem,
        data: Option<(ContextId, &[u8])>,
        now: Instant,
    ) -> Result<(), ServiceError> {
        let data = self.control.token_data(data)?;
        self.session.please_tokens(tokens, &data, now)?;
        self.pump(now);
        Ok(())
    }

    /// S-CONTROL-GIVE (GTC); see [`crate::session::Connection::give_control`].
    pub fn give_control(&mut self, now: Instant) -> Result<(), ServiceError> {
        self.session.give_control(now)?;
        self.pump(now);
        Ok(())
    }

    /// S-ACTIVITY-START (GT + AS); see [`crate::session::Connection::activity_start`].
    pub fn activity_start(&mut self, id: &[u8], now: Instant) -> Result<(), ServiceError> {
        self.session.activity_start(id, now)?;
        self.touch(now);
        self.pump(now);
        Ok(())
    }

    /// S-ACTIVITY-RESUME (PT + AR); see [`crate::session::Connection::activity_resume`].
    pub fn activity_resume(
        &mut self,
        id: &[u8],
        old_id: &[u8],
        serial: u64,
        old_connection: &OldConnection,
        now: Instant,
    ) -> Result<(), ServiceError> {
        self.session
            .activity_resume(id, old_id, serial, old_connection, now)?;
        self.touch(now);
        self.pump(now);
        Ok(())
    }

    /// S-SYNC-MINOR (GT + MIP); returns the serial number. See
    /// [`crate::session::Connection::sync_minor`].
    pub fn sync_minor(&mut self, now: Instant) -> Result<u64, ServiceError> {
        let serial = self.session.sync_minor(now)?;
        self.pump(now);
        Ok(serial)
    }

    /// S-SYNC-MINOR response (PT + MIA) up to `serial`.
    pub fn sync_minor_response(&mut self, serial: u64, now: Instant) -> Result<(), ServiceError> {
        self.session.sync_minor_response(serial, now)?;
        self.pump(now);
        Ok(())
    }

    /// S-ACTIVITY-END (GT + AE); returns the serial number.
    pub fn activity_end(&mut self, now: Instant) -> Result<u64, ServiceError> {
        let serial = self.session.activity_end(now)?;
        self.pump(now);
        Ok(serial)
    }

    /// S-ACTIVITY-END response (PT + AEA).
    pub fn activity_end_response(&mut self, now: Instant) -> Result<(), ServiceError> {
        self.session.activity_end_response(now)?;
        self.touch(now);
        self.pump(now);
        Ok(())
    }

    /// S-ACTIVITY-INTERRUPT (GT + AI) with `reason`.
    pub fn activity_interrupt(
        &mut self,
        reason: ActivityReason,
        now: Instant,
    ) -> Result<(), ServiceError> {
        self.session.activity_interrupt(reason, now)?;
        self.pump(now);
        Ok(())
    }

    /// S-ACTIVITY-DISCARD (GT + AD) with `reason`.
    pub fn activity_discard(
        &mut self,
        reason: ActivityReason,
        now: Instant,
    ) -> Result<(), ServiceError> {
        self.session.activity_discard(reason, now)?;
        self.pump(now);
        Ok(())
    }

    /// S-U-EXCEPTION-REPORT (PT + ED) with `reason`.
    pub fn exception_report(
        &mut self,
        reason: ActivityReason,
        now: Instant,
    ) -> Result<(), ServiceError> {
        self.session.exception_report(reason, &[], now)?;
        self.pump(now);
        Ok(())
    }

    /// The session functional units in use (PI 20 as agreed; meaningful once associated).
    pub fn session_requirements(&self) -> SessionUserRequirements {
        self.session.requirements()
    }

    /// The tokens that exist on this association (none in duplex).
    pub fn available_tokens(&self) -> TokenItem {
        self.session.available_tokens()
    }

    /// The tokens this side holds.
    pub fn tokens(&self) -> TokenItem {
        self.session.tokens()
    }

    /// Whether an activity is in progress.
    pub fn in_activity(&self) -> bool {
        self.session.in_activity()
    }

    /// V(M): the serial number the next minor sync point (or activity end) will carry.
    pub fn next_serial(&self) -> Option<u64> {
        self.session.next_serial()
    }
}
