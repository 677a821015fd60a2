//! A-ASSOCIATE (X.227 §7.1, X.226 §7.1): the initiator's request, which starts the transport
//! connection and holds the CN until the CC; the responder's indication (the S-selectors
//! checked, then the CP and AARQ handed to the association control) and its accept or reject.

use std::time::Instant;

use crate::session::connection::{self as sess, Phase};
use crate::{cotp::connection as transport, session};

use super::control::Control;
use super::{
    AcceptResponse, AssociateIndication, AssociateRequest, Association, Event, RefusalReason,
    Rejection, RejectionCause, Role, ServiceError, State,
};

impl Association {
    /// A-ASSOCIATE request (initiator, after TCP connected): sends the CR; the CN with CP and
    /// AARQ (or an X.410-1984 `PConnect`) follows the CC.
    pub fn associate(
        &mut self,
        request: AssociateRequest,
        now: Instant,
    ) -> Result<(), ServiceError> {
        if self.role != Role::Initiator || self.state() != State::Idle {
            return Err(self.wrong_state("associate"));
        }
        // Build everything now so that a request too large fails here, not after the CC.
        let (control, cp) = Control::initiator(&request, self.config.limits)?;
        let cn = sess::ConnectRequest::default()
            .with_selectors(request.calling_ssel, request.called_ssel)
            .with_requirements(request.session_requirements, request.token_setting)
            // X.410-1984 peers speak session version 1: propose both.
            .with_versions(if request.x410_parameters.is_some() {
                session::VersionNumber::BOTH
            } else {
                session::VersionNumber::V2
            })
            .with_user_data(cp);
        cn.check()?;
        let mut connect = transport::ConnectRequest::default();
        if let Some(t) = request.calling_tsel {
            connect = connect.with_calling_tsel(t);
        }
        if let Some(t) = request.called_tsel {
            connect = connect.with_called_tsel(t);
        }
        self.transport.connect(&connect, now)?;
        self.control = control;
        self.pending_connect = Some(Box::new(cn));
        Ok(())
    }

    /// A-ASSOCIATE response, accepting (responder, after [`Event::AssociateIndication`]).
    pub fn accept(&mut self, response: AcceptResponse, now: Instant) -> Result<(), ServiceError> {
        if self.session.phase() != Phase::AwaitUser || !self.control.is_indicated() {
            return Err(self.wrong_state("accept"));
        }
        let before = self
            .config
            .accept_user_data_limit
            .map(|_| self.control.clone());
        let (cpa, associated) = self.control.accept(&response)?;
        if let (Some(limit), Some(before)) = (self.config.accept_user_data_limit, before) {
            if cpa.len() > limit {
                self.control = before;
                return Err(ServiceError::AcceptTooLarge {
                    len: cpa.len(),
                    limit,
                });
            }
        }
        self.session.accept(cpa, now)?;
        self.events.push_back(Event::Associated(associated));
        self.touch(now);
        self.pump(now);
        Ok(())
    }

    /// A-ASSOCIATE response, rejecting (responder): RF with CPR carrying an AARE
    /// rejected-permanent, diagnostic no-reason-given.
    pub fn reject(&mut self, now: Instant) -> Result<(), ServiceError> {
        self.reject_with(None, now)
    }

    /// A-ASSOCIATE response, rejecting, with `user_information` (one BER value, e.g. an RTORJ)
    /// in the AARE on the context the request used. In X.410-1984 mode `user_information` is
    /// the content of the CPR's SET (the RTORJ components of a `PRefuse`), sent as RF reason 2;
    /// without it the RF has reason 0 (rejected by the called SS-user, no reason).
    pub fn reject_with(
        &mut self,
        user_information: Option<&[u8]>,
        now: Instant,
    ) -> Result<(), ServiceError> {
        self.reject_with_result(
            user_information,
            crate::acse::AssociateResult::REJECTED_PERMANENT,
            now,
        )
    }

    /// [`Association::reject_with`] with the AARE's associate-result chosen:
    /// [`AssociateResult::REJECTED_PERMANENT`](crate::acse::AssociateResult::REJECTED_PERMANENT)
    /// or [`AssociateResult::REJECTED_TRANSIENT`](crate::acse::AssociateResult::REJECTED_TRANSIENT)
    /// (X.227 §7.1.4.3: transient invites the initiator to try again later, as ISODE answers an
    /// RTSE open it cannot serve now). Any other value is refused with
    /// [`ServiceError::NotARejection`] and nothing is sent. In X.410-1984 mode there is no AARE
    /// and `result` is not sent.
    pub fn reject_with_result(
        &mut self,
        user_information: Option<&[u8]>,
        result: crate::acse::AssociateResult,
        now: Instant,
    ) -> Result<(), ServiceError> {
        if result != crate::acse::AssociateResult::REJECTED_PERMANENT
            && result != crate::acse::AssociateResult::REJECTED_TRANSIENT
        {
            return Err(ServiceError::NotARejection(result));
        }
        if self.session.phase() != Phase::AwaitUser || !self.control.is_indicated() {
            return Err(self.wrong_state("reject"));
        }
        let (reason, data, _) = self.control.reject(user_information, result)?;
        self.session.refuse(reason, &data, now)?;
        self.ended = true;
        self.pump(now);
        Ok(())
    }

    /// The CN arrived (responder): the S-selectors, then the CP and AARQ.
    pub(super) fn on_connect(&mut self, ind: sess::ConnectIndication, now: Instant) {
        if let Err((mismatch, reason)) = self.dispatch.check_session(
            &mut self.candidates,
            ind.called_ssel.as_ref(),
            ind.calling_ssel.as_ref(),
        ) {
            self.end(Event::Rejected(Box::new(Rejection {
                sent: RefusalReason::Session(reason),
                cause: RejectionCause::Mismatch(mismatch),
            })));
            let _ = self.session.refuse(reason, &[], now);
            return;
        }
        let mut base = self
            .indication
            .take()
            .unwrap_or_else(|| Box::new(AssociateIndication::new(self.peer, None, None)));
        base.calling_ssel = ind.calling_ssel;
        base.called_ssel = ind.called_ssel;
        base.session_requirements_proposed = ind.requirements;
        base.session_requirements = ind.agreed;
        match self
            .control
            .on_connect(&ind.user_data, &self.dispatch, &mut self.candidates, base)
        {
            Ok(indication) => self
                .events
                .push_back(Event::AssociateIndication(indication)),
            Err(reject) => {
                self.end(Event::Rejected(Box::new(reject.rejection)));
                let _ = self.session.refuse(reject.reason, &reject.user_data, now);
            }
        }
    }
}
