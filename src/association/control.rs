//! Association control: the presentation connection (X.226 kernel: contexts, CP/CPA/CPR,
//! P-DATA, ARU/ARP, X.410-1984 mode) and ACSE (X.227: AARQ/AARE, RLRQ/RLRE, ABRT) on one
//! session connection. This is the third machine the [`Association`](super::Association)
//! composes; it reads and writes the session user data the composer moves to and from the
//! [`session::Connection`](crate::session::Connection).
//!
//! It keeps what only these layers know — the mode, the negotiated contexts, the ACSE context,
//! and while an incoming association waits for its answer, what that answer needs — and
//! decides; the PPDUs and APDUs come from [`super::ppdu`] and [`super::apdu`], which call the
//! presentation and ACSE encoders.

use bytes::{Buf, Bytes};

use crate::acse::{
    Apdu, AssociateResult, AssociateSourceDiagnostic, ProviderDiagnostic, UserDiagnostic,
};
use crate::error::{DecodeError, Layer};
use crate::limits::Limits;
use crate::oid::{Oid, OwnedOid};
use crate::presentation::{
    AbortPpdu, ContextId, ContextProviderReason, ContextResultCode, Cp, Cpa, Cpr, ProviderReason,
    UserData,
};
use crate::session::{RefuseReason, TransportDisconnect};
use crate::util::sub;

use super::config::{AcceptResponse, AssociateRequest};
use super::dispatch::{Candidates, Dispatch};
use super::event::{
    Abort, AbortReason, AbortSource, AssociateIndication, Associated, ContextOutcome, Data,
    Refusal, RefusalReason, Rejection, RejectionCause, ServiceError,
};
use super::ppdu::{self, ContextAnswer};
use super::{Role, apdu};

/// The contents of the default X.410-1984 `PAccept` pUserData SET: connectionDataAC
/// `[2] { open [0] { NULL } }`, the other members at their defaults. `open` is an explicitly
/// tagged ANY (ISODE's `acsold.py` decodes it so and rejects a primitive `80 00`), and NULL is
/// the unauthenticated X.411 MTA-bind result, which tshark decodes cleanly.
pub(crate) const DEFAULT_PACCEPT: &[u8] = &[0xa2, 0x04, 0xa0, 0x02, 0x05, 0x00];

/// What a responder's answer needs, kept from the CP it answers.
#[derive(Debug, Clone)]
struct Answer {
    responding_psel: Option<Bytes>,
    answers: Vec<ContextAnswer>,
    application_context: Option<OwnedOid>,
    /// The context the AARQ's user information came on (the answer goes back on it).
    user_context: Option<ContextId>,
}

#[derive(Debug, Clone)]
enum State {
    /// Initiator: the CP is on its way (or sent), waiting for CPA or CPR.
    Connecting,
    /// Responder: waiting for the CP.
    Listening,
    /// Responder: the indication is with the user.
    Indicated(Box<Answer>),
    /// Associated: data, release, abort.
    Associated,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Connecting => "connecting",
            State::Listening => "listening",
            State::Indicated(_) => "indicated",
            State::Associated => "associated",
        }
    }
}

/// A refusal this side sends to a CN: the session RF reason and its user data (a CPR), and the
/// event that reports it.
#[derive(Debug)]
pub(crate) struct Reject {
    pub(crate) reason: RefuseReason,
    pub(crate) user_data: Bytes,
    pub(crate) rejection: Rejection,
}

/// What a CPA (or an X.410 PAccept) brings.
#[derive(Debug)]
pub(crate) enum Confirm {
    /// The association is established.
    Associated(Box<Associated>),
    /// An AC carried a rejecting AARE (X.227 forbids it): reported as a refusal, then aborted.
    RejectedInAccept(Refusal),
}

/// The presentation + ACSE machine of one association. See the [module docs](self).
#[derive(Debug, Clone)]
pub(crate) struct Control {
    role: Role,
    limits: Limits,
    x410: bool,
    acse_context: ContextId,
    contexts: Vec<ContextOutcome>,
    state: State,
}

impl Control {
    /// A responder waiting for its CP.
    pub(crate) fn responder(limits: Limits) -> Self {
        Control {
            role: Role::Responder,
            limits,
            x410: false,
            acse_context: ContextId::MIN,
            contexts: Vec::new(),
            state: State::Listening,
        }
    }

    /// An initiator for `request`, and the CP-type it sends (the CN's user data).
    pub(crate) fn initiator(
        request: &AssociateRequest,
        limits: Limits,
    ) -> Result<(Self, Bytes), ServiceError> {
        let acse = request.acse_context_id;
        let mut control = Control {
            role: Role::Initiator,
            limits,
            x410: request.x410_parameters.is_some(),
            acse_context: acse,
            contexts: Vec::new(),
            state: State::Connecting,
        };
        let cp = match &request.x410_parameters {
            Some(params) => ppdu::cp_x410(params)?,
            None => {
                // X.226 §6.2.2.7: the initiator's identifiers are odd, and each names one
                // context.
                let ids = core::iter::once(acse).chain(request.contexts.iter().map(|c| c.id));
                for (i, id) in ids.clone().enumerate() {
                    let reason = if !id.is_odd() {
                        "the initiator's identifiers are odd (X.226 §6.2.2.7)"
                    } else if ids.clone().take(i).any(|e| e == id) {
                        "it is proposed twice"
                    } else {
                        continue;
                    };
                    return Err(ServiceError::InvalidContextProposal { id, reason });
                }
                let user_context = request
                    .user_information_context
                    .or(request.contexts.first().map(|c| c.id))
                    .unwrap_or(acse);
                let aarq = apdu::aarq(request, user_context)?;
                control.contexts = core::iter::once(ContextOutcome {
                    id: acse,
                    abstract_syntax: Some(Oid::ACSE_ABSTRACT_SYNTAX.to_owned_oid()),
                    result: ContextResultCode::PROVIDER_REJECTION,
                    provider_reason: None,
                })
                .chain(request.contexts.iter().map(|c| ContextOutcome {
                    id: c.id,
                    abstract_syntax: Some(c.abstract_syntax.clone()),
                    result: ContextResultCode::PROVIDER_REJECTION,
                    provider_reason: None,
                }))
                .collect();
                ppdu::cp(
                    request.calling_psel.as_ref().map(|p| p.as_bytes()),
                    request.called_psel.as_ref().map(|p| p.as_bytes()),
                    acse,
                    &request.contexts,
                    &aarq,
                )?
            }
        };
        Ok((control, cp))
    }

    /// Whether the association runs in X.410-1984 mode (no ACSE, raw user data).
    pub(crate) fn is_x410(&self) -> bool {
        self.x410
    }

    /// The contexts negotiated (or proposed) so far.
    pub(crate) fn contexts(&self) -> &[ContextOutcome] {
        &self.contexts
    }

    /// Whether a responder has an indication with its user.
    pub(crate) fn is_indicated(&self) -> bool {
        matches!(self.state, State::Indicated(_))
    }

    fn accepted(&self, context: ContextId) -> bool {
        self.contexts
            .iter()
            .any(|c| c.id == context && c.accepted())
    }

    /// The first accepted context besides ACSE (the application's), else ACSE.
    fn user_context(&self) -> ContextId {
        self.contexts
            .iter()
            .find(|c| c.id != self.acse_context && c.accepted())
            .map_or(self.acse_context, |c| c.id)
    }

    // ---------------------------------------------------------------------------------------
    // Initiator

    /// The CPA (the AC's user data) arrived.
    pub(crate) fn on_accept(&mut self, data: &Bytes) -> Result<Confirm, DecodeError> {
        let cpa = Cpa::decode(data, &self.limits)?;
        if self.x410 {
            let Some(params) = cpa.x410_parameters else {
                return Err(ppdu::unexpected_element(
                    0,
                    "normal-mode cpa answering an x.410-1984-mode cp",
                ));
            };
            self.state = State::Associated;
            return Ok(Confirm::Associated(Box::new(Associated {
                contexts: Vec::new(),
                user_information: None,
                result: None,
                x410_parameters: Some(sub(data, params)),
            })));
        }
        let Some(normal) = cpa.normal else {
            return Err(ppdu::unexpected_element(
                0,
                "x.410-1984-mode cpa answering a normal-mode cp",
            ));
        };
        // The decoder skips elements it does not know; a CP-only one is a protocol error here
        // (ARP unexpected-ppdu-parameter), not something to pass up.
        ppdu::check_no_cp_elements(data, &self.limits)?;
        // The CP always carries a definition list, so the result list is mandatory (X.226
        // §8.2, CPA-PPDU) and answers each proposed context in order.
        let results = normal.context_results.ok_or(ppdu::missing(
            0,
            "presentation-context-definition-result-list",
        ))?;
        if results.len() != self.contexts.len() {
            return Err(ppdu::unexpected_element(
                0,
                "result list whose length differs from the definition list",
            ));
        }
        for (outcome, r) in self.contexts.iter_mut().zip(results.iter()) {
            outcome.result = r.result;
            outcome.provider_reason = r.provider_reason;
        }
        if !self.accepted(self.acse_context) {
            return Err(ppdu::unexpected_element(
                0,
                "cpa rejecting the acse context",
            ));
        }
        let ud = normal
            .user_data
            .ok_or(ppdu::missing(0, "user data of the cpa"))?;
        let value = ppdu::value_on(&ud, self.acse_context, 0)?;
        let aare = match apdu::decode(data, value, &self.limits)? {
            Apdu::Aare(a) => a,
            other => return Err(apdu::unexpected(data, value, &other, self.state.name())),
        };
        let user_information = apdu::first_external(data, aare.user_information.as_ref());
        if aare.result != AssociateResult::ACCEPTED {
            return Ok(Confirm::RejectedInAccept(Refusal {
                reason: RefusalReason::Acse {
                    result: aare.result,
                    diagnostic: aare.result_source_diagnostic,
                },
                user_information,
            }));
        }
        self.state = State::Associated;
        Ok(Confirm::Associated(Box::new(Associated {
            contexts: self.contexts.clone(),
            user_information,
            result: Some(aare.result),
            x410_parameters: None,
        })))
    }

    /// The peer refused the session connection with `reason` and `data` (with reason 2: the
    /// CPR).
    pub(crate) fn on_refuse(&self, reason: RefuseReason, data: &Bytes) -> Refusal {
        let session = Refusal {
            reason: RefusalReason::Session(reason),
            user_information: None,
        };
        if reason != RefuseReason::USER_DATA {
            return session;
        }
        let cpr = match Cpr::decode(data, &self.limits) {
            // A CPR with CP-only elements is not a valid refusal to pass up: the refusal stands
            // (the connection is gone) but says only "presentation".
            Ok(Cpr::Normal(_)) if ppdu::check_no_cp_elements(data, &self.limits).is_err() => {
                return Refusal {
                    reason: RefusalReason::Presentation(None),
                    user_information: None,
                };
            }
            Ok(Cpr::Normal(n)) => n,
            Ok(Cpr::X410(components)) => {
                return Refusal {
                    reason: RefusalReason::X410,
                    user_information: Some(sub(data, components)),
                };
            }
            Err(_) => {
                return Refusal {
                    reason: RefusalReason::Presentation(None),
                    user_information: None,
                };
            }
        };
        let aare = cpr.user_data.as_ref().and_then(|ud| {
            let v = ppdu::value_on(ud, self.acse_context, 0).ok()?;
            match apdu::decode(data, v, &self.limits).ok()? {
                Apdu::Aare(a) => Some(a),
                _ => None,
            }
        });
        match aare {
            Some(a) => Refusal {
                reason: RefusalReason::Acse {
                    result: a.result,
                    diagnostic: a.result_source_diagnostic,
                },
                user_information: apdu::first_external(data, a.user_information.as_ref()),
            },
            None => Refusal {
                reason: RefusalReason::Presentation(cpr.provider_reason),
                user_information: None,
            },
        }
    }

    // ---------------------------------------------------------------------------------------
    // Responder

    fn reject_cpr(
        &self,
        responding: Option<&[u8]>,
        answers: &[ContextAnswer],
        provider: ProviderReason,
        cause: RejectionCause,
    ) -> Reject {
        Reject {
            reason: RefuseReason::USER_DATA,
            user_data: ppdu::cpr(responding, answers, Some(provider), None).unwrap_or_default(),
            rejection: Rejection {
                sent: RefusalReason::Presentation(Some(provider)),
                cause,
            },
        }
    }

    fn reject_aare(
        &self,
        responding: Option<&[u8]>,
        answers: &[ContextAnswer],
        application_context: Oid<'_>,
        diagnostic: AssociateSourceDiagnostic,
        cause: RejectionCause,
    ) -> Reject {
        let result = AssociateResult::REJECTED_PERMANENT;
        let aare = apdu::aare(
            application_context,
            result,
            diagnostic,
            &super::ApAddress::default(),
            None,
        )
        .unwrap_or_default();
        Reject {
            reason: RefuseReason::USER_DATA,
            user_data: ppdu::cpr(responding, answers, None, Some((self.acse_context, &aare)))
                .unwrap_or_default(),
            rejection: Rejection {
                sent: RefusalReason::Acse { result, diagnostic },
                cause,
            },
        }
    }

    /// The CP (the CN's user data) arrived: checks it layer by layer against `dispatch`
    /// (P-selectors, contexts, the AARQ, AP-title and AE-qualifier) and fills `indication`,
    /// or says how to refuse.
    pub(crate) fn on_connect(
        &mut self,
        data: &Bytes,
        dispatch: &Dispatch,
        candidates: &mut Candidates,
        mut indication: Box<AssociateIndication>,
    ) -> Result<Box<AssociateIndication>, Box<Reject>> {
        let cp = match Cp::decode(data, &self.limits) {
            Ok((cp, _)) => cp,
            Err(e) => {
                return Err(Box::new(self.reject_cpr(
                    None,
                    &[],
                    ProviderReason::REASON_NOT_SPECIFIED,
                    RejectionCause::Invalid(e),
                )));
            }
        };
        let Some(normal) = cp.normal else {
            let params = cp.x410_parameters.unwrap_or_default();
            // X.410-1984 mode: no selectors, contexts or ACSE here; the parameters must at
            // least be well-formed BER (RTSE reads them).
            if let Err(e) = crate::ber::check_elements(params, &self.limits) {
                return Err(Box::new(Reject {
                    reason: RefuseReason::USER_NO_REASON,
                    user_data: Bytes::new(),
                    rejection: Rejection {
                        sent: RefusalReason::Session(RefuseReason::USER_NO_REASON),
                        cause: RejectionCause::Invalid(e),
                    },
                }));
            }
            self.x410 = true;
            self.contexts.clear();
            indication.service = candidates.first();
            indication.service_name = indication
                .service
                .and_then(|i| dispatch.get(i))
                .map(|s| s.name.clone());
            indication.x410_parameters = Some(sub(data, params));
            self.state = State::Indicated(Box::new(Answer {
                responding_psel: None,
                answers: Vec::new(),
                application_context: None,
                user_context: None,
            }));
            return Ok(indication);
        };
        let called = normal.called_selector;
        let responding = called.filter(|s| !s.is_empty());
        if let Err((m, reason)) =
            dispatch.check_presentation(candidates, called, normal.calling_selector)
        {
            return Err(Box::new(self.reject_cpr(
                responding,
                &[],
                reason,
                RejectionCause::Mismatch(m),
            )));
        }
        // Contexts: ACSE and, for the application, what the first candidate service accepts.
        let accepts: &[OwnedOid] = candidates
            .first()
            .and_then(|i| dispatch.get(i))
            .map_or(&[], |s| &s.abstract_syntaxes);
        let mut answers = Vec::new();
        self.contexts.clear();
        let mut acse_context = None;
        for def in normal.context_definitions.iter().flat_map(|l| l.iter()) {
            let ber = def.transfer_syntaxes.iter().any(|t| t == Oid::BER);
            let is_acse = def.abstract_syntax == Oid::ACSE_ABSTRACT_SYNTAX;
            let known = is_acse
                || accepts.is_empty()
                || accepts.iter().any(|a| a.as_oid() == def.abstract_syntax);
            let answer = if !known {
                (
                    ContextResultCode::PROVIDER_REJECTION,
                    Some(ContextProviderReason::ABSTRACT_SYNTAX_NOT_SUPPORTED),
                )
            } else if !ber {
                (
                    ContextResultCode::PROVIDER_REJECTION,
                    Some(ContextProviderReason::PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED),
                )
            } else {
                if is_acse && acse_context.is_none() {
                    acse_context = Some(def.id);
                }
                (ContextResultCode::ACCEPTANCE, None)
            };
            answers.push(answer);
            self.contexts.push(ContextOutcome {
                id: def.id,
                abstract_syntax: Some(def.abstract_syntax.to_owned_oid()),
                result: answer.0,
                provider_reason: answer.1,
            });
        }
        let Some(acse) = acse_context else {
            return Err(Box::new(self.reject_cpr(
                responding,
                &answers,
                ProviderReason::REASON_NOT_SPECIFIED,
                RejectionCause::Invalid(ppdu::missing(0, "acse context with ber in the cp")),
            )));
        };
        self.acse_context = acse;
        let aarq = normal
            .user_data
            .as_ref()
            .ok_or(ppdu::missing(0, "user data of the cp"))
            .and_then(|ud| ppdu::value_on(ud, acse, 0))
            .and_then(|v| {
                apdu::decode(data, v, &self.limits).and_then(|a| match a {
                    Apdu::Aarq(a) => Ok(a),
                    other => Err(apdu::unexpected(data, v, &other, "listening")),
                })
            });
        let aarq = match aarq {
            Ok(a) => a,
            Err(e) => {
                return Err(Box::new(self.reject_aare(
                    responding,
                    &answers,
                    Oid::MMS_APPLICATION_CONTEXT,
                    AssociateSourceDiagnostic::Provider(ProviderDiagnostic::NO_REASON_GIVEN),
                    RejectionCause::Invalid(e),
                )));
            }
        };
        if let Err((m, diagnostic)) = dispatch.check_acse(
            candidates,
            form2_title(&aarq.called.ap_title),
            form2_qualifier(&aarq.called.ae_qualifier),
        ) {
            return Err(Box::new(self.reject_aare(
                responding,
                &answers,
                aarq.application_context_name,
                AssociateSourceDiagnostic::User(diagnostic),
                RejectionCause::Mismatch(m),
            )));
        }
        let application_context = aarq.application_context_name.to_owned_oid();
        let user_context = apdu::first_external_context(aarq.user_information.as_ref());
        indication.service = candidates.first();
        indication.service_name = indication
            .service
            .and_then(|i| dispatch.get(i))
            .map(|s| s.name.clone());
        indication.calling_psel = normal.calling_selector.map(|s| sub(data, s));
        indication.called_psel = called.map(|s| sub(data, s));
        indication.application_context = Some(application_context.clone());
        indication.calling_ap_title = form2_title(&aarq.calling.ap_title).map(|o| o.to_owned_oid());
        indication.calling_ae_qualifier = form2_qualifier(&aarq.calling.ae_qualifier);
        indication.contexts = self.contexts.clone();
        indication.user_information = apdu::first_external(data, aarq.user_information.as_ref());
        indication.user_information_context = user_context;
        indication.user_information_list =
            apdu::all_externals(data, aarq.user_information.as_ref());
        self.state = State::Indicated(Box::new(Answer {
            responding_psel: responding.map(|s| sub(data, s)),
            answers,
            application_context: Some(application_context),
            user_context,
        }));
        Ok(indication)
    }

    /// The user accepts: the CPA (or X.410 PAccept) to send in the AC, and the event.
    pub(crate) fn accept(
        &mut self,
        response: &AcceptResponse,
    ) -> Result<(Bytes, Box<Associated>), ServiceError> {
        let State::Indicated(answer) = &self.state else {
            return Err(ServiceError::WrongState {
                request: "accept",
                state: super::State::AwaitUser,
            });
        };
        if self.x410 {
            // X.226 §8.2 / X.410-1984: the PAccept's pUserData SET carries the mandatory
            // connectionDataAC [2]. Without parameters from the user the default is that SET
            // with `open` carrying NULL (`a2 04 a0 02 05 00`: checkpointSize 0 and windowSize 3
            // by default); parameters given must decode as RTOAC components.
            let params = match response.x410_parameters.clone() {
                None => Bytes::from_static(DEFAULT_PACCEPT),
                Some(p) => {
                    crate::rtse::Rtoac::decode_components(&p, &self.limits)
                        .map_err(ServiceError::InvalidX410Parameters)?;
                    p
                }
            };
            let cpa = ppdu::cpa_x410(&params)?;
            self.state = State::Associated;
            return Ok((
                cpa,
                Box::new(Associated {
                    contexts: Vec::new(),
                    user_information: None,
                    result: None,
                    x410_parameters: Some(params),
                }),
            ));
        }
        let context = answer
            .application_context
            .as_ref()
            .map_or(Oid::MMS_APPLICATION_CONTEXT, |o| o.as_oid());
        let info_context = answer
            .user_context
            .filter(|&c| self.accepted(c))
            .unwrap_or_else(|| self.user_context());
        let info = response
            .user_information
            .as_deref()
            .map(|i| (info_context, i));
        let aare = if response.user_information_list.is_empty() {
            apdu::aare_accepted(context, &response.responding, info)?
        } else {
            apdu::aare_accepted_list(
                context,
                &response.responding,
                &response.user_information_list,
                info_context,
                |c| self.accepted(c),
            )?
        };
        let cpa = ppdu::cpa(
            answer.responding_psel.as_deref(),
            &answer.answers,
            self.acse_context,
            &aare,
        )?;
        self.state = State::Associated;
        Ok((
            cpa,
            Box::new(Associated {
                contexts: self.contexts.clone(),
                user_information: response.user_information.clone(),
                result: Some(AssociateResult::ACCEPTED),
                x410_parameters: None,
            }),
        ))
    }

    /// The user rejects: the RF reason and user data. With `user_information` (one BER value,
    /// e.g. an RTORJ) the AARE carries it on the context the request used; in X.410-1984 mode
    /// it is the content of the `PRefuse` SET (RF reason 2), without it RF reason 0.
    pub(crate) fn reject(
        &mut self,
        user_information: Option<&[u8]>,
        result: AssociateResult,
    ) -> Result<(RefuseReason, Bytes, RefusalReason), ServiceError> {
        let State::Indicated(answer) = &self.state else {
            return Err(ServiceError::WrongState {
                request: "reject",
                state: super::State::AwaitUser,
            });
        };
        if self.x410 {
            return Ok(match user_information {
                Some(c) => (
                    RefuseReason::USER_DATA,
                    ppdu::cpr_x410(c)?,
                    RefusalReason::X410,
                ),
                None => (
                    RefuseReason::USER_NO_REASON,
                    Bytes::new(),
                    RefusalReason::Session(RefuseReason::USER_NO_REASON),
                ),
            });
        }
        let context = answer
            .application_context
            .as_ref()
            .map_or(Oid::MMS_APPLICATION_CONTEXT, |o| o.as_oid());
        let info_context = answer
            .user_context
            .filter(|&c| self.accepted(c))
            .unwrap_or_else(|| self.user_context());
        let diagnostic = AssociateSourceDiagnostic::User(UserDiagnostic::NO_REASON_GIVEN);
        let aare = apdu::aare(
            context,
            result,
            diagnostic,
            &super::ApAddress::default(),
            user_information.map(|i| (info_context, i)),
        )?;
        let cpr = ppdu::cpr(
            answer.responding_psel.as_deref(),
            &answer.answers,
            None,
            Some((self.acse_context, &aare)),
        )?;
        Ok((
            RefuseReason::USER_DATA,
            cpr,
            RefusalReason::Acse { result, diagnostic },
        ))
    }

    // ---------------------------------------------------------------------------------------
    // Data

    /// The User-data header of a P-DATA of `value` on `context` (empty in X.410 mode).
    pub(crate) fn data_header(
        &self,
        context: ContextId,
        value_len: usize,
    ) -> Result<ppdu::DataHeader, ServiceError> {
        if self.x410 {
            return Ok(ppdu::DataHeader::EMPTY);
        }
        if !self.accepted(context) {
            return Err(ServiceError::UnknownContext(context));
        }
        Ok(ppdu::DataHeader::new(context, value_len)?)
    }

    /// A P-DATA arrived (the DT's user information): its PDVs. Every PDV must name an
    /// accepted context (X.226 §8.4.2; otherwise an ARP, invalid-ppdu-parameter-value).
    /// Each PDV is given to `out` as soon as it is checked; on an error the caller drops what
    /// it was given.
    pub(crate) fn on_data(
        &self,
        data: Bytes,
        mut out: impl FnMut(Data),
    ) -> Result<(), DecodeError> {
        if self.x410 {
            out(Data {
                context_id: None,
                value: data,
            });
            return Ok(());
        }
        // The last (nearly always the only) value is `data` itself narrowed to it: no
        // reference count is taken for it.
        let last = match ppdu::decode_user_data(&data, &self.limits)? {
            UserData::Simple(v) => match span(&data, v) {
                Some(at) => (None, at),
                None => {
                    out(Data {
                        context_id: None,
                        value: Bytes::copy_from_slice(v),
                    });
                    return Ok(());
                }
            },
            UserData::Full(list) => {
                let mut pdvs = list.iter();
                let mut current = pdvs.next();
                let mut last = None;
                while let Some(pdv) = current {
                    let value = ppdu::pdv_value(&pdv.values);
                    if !self.accepted(pdv.context_id) {
                        // The offset of the PDV's value in the PPDU: exact, from the slice the
                        // decoder returned (the context identifier precedes it).
                        let at = span(&data, value).map_or(0, |(start, _)| start);
                        return Err(DecodeError::new(
                            Layer::Presentation,
                            at,
                            crate::error::DecodeErrorKind::InvalidValue {
                                what: "presentation context identifier (not negotiated)",
                                value: pdv.context_id.get().unsigned_abs(),
                            },
                        ));
                    }
                    current = pdvs.next();
                    match span(&data, value) {
                        Some(at) if current.is_none() => last = Some((Some(pdv.context_id), at)),
                        _ => out(Data {
                            context_id: Some(pdv.context_id),
                            value: sub(&data, value),
                        }),
                    }
                }
                match last {
                    Some(l) => l,
                    None => return Ok(()),
                }
            }
        };
        let (context_id, (start, end)) = last;
        let mut value = data;
        value.truncate(end);
        value.advance(start);
        out(Data { context_id, value });
        Ok(())
    }

    /// The user data of a PT (P-TOKEN-PLEASE): one BER value as a PDV on a negotiated
    /// context; in X.410 mode the raw octets.
    pub(crate) fn token_data(
        &self,
        data: Option<(ContextId, &[u8])>,
    ) -> Result<Bytes, ServiceError> {
        match data {
            None => Ok(Bytes::new()),
            Some((_, value)) if self.x410 => Ok(Bytes::copy_from_slice(value)),
            Some((ctx, value)) => {
                if !self.accepted(ctx) {
                    return Err(ServiceError::UnknownContext(ctx));
                }
                Ok(ppdu::user_data(ctx, value)?)
            }
        }
    }

    /// The first PDV of a PT's user data.
    pub(crate) fn on_token_data(&self, data: &Bytes) -> Result<Option<Data>, DecodeError> {
        if data.is_empty() {
            return Ok(None);
        }
        let mut first = None;
        self.on_data(data.clone(), |d| {
            if first.is_none() {
                first = Some(d);
            }
        })?;
        Ok(first)
    }

    // ---------------------------------------------------------------------------------------
    // Release

    /// The FN's user data: RLRQ on the ACSE context (nothing in X.410 mode).
    pub(crate) fn release_request(&self) -> Result<Bytes, ServiceError> {
        if self.x410 {
            return Ok(Bytes::new());
        }
        Ok(ppdu::user_data(self.acse_context, &apdu::rlrq()?)?)
    }

    /// The DN's (`accept`) or NF's user data: RLRE.
    pub(crate) fn release_response(&self, accept: bool) -> Result<Bytes, ServiceError> {
        if self.x410 {
            return Ok(Bytes::new());
        }
        Ok(ppdu::user_data(self.acse_context, &apdu::rlre(accept)?)?)
    }

    /// Checks that a FN (`rlrq`) or DN/NF carries the expected ACSE APDU on the ACSE context.
    /// A session-only release (no user data) is accepted.
    pub(crate) fn check_release(&self, data: &Bytes, rlrq: bool) -> Result<(), DecodeError> {
        if data.is_empty() || self.x410 {
            return Ok(());
        }
        let ud = ppdu::decode_user_data(data, &self.limits)?;
        let value = ppdu::value_on(&ud, self.acse_context, 0)?;
        match (rlrq, apdu::decode(data, value, &self.limits)?) {
            (true, Apdu::Rlrq(_)) | (false, Apdu::Rlre(_)) => Ok(()),
            (_, other) => Err(apdu::unexpected(data, value, &other, "associated")),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Abort

    /// The AB's user data for a user abort: ARU carrying an ABRT (source user) whose
    /// user-information is `info` on the application's context; in X.410 mode an X.410 ARU
    /// with `info` as its SET contents, or nothing.
    pub(crate) fn abort_request(&self, info: Option<&[u8]>) -> Result<Bytes, ServiceError> {
        if self.x410 {
            return Ok(match info {
                Some(c) => ppdu::aru_x410(c)?,
                None => Bytes::new(),
            });
        }
        let abrt = apdu::abrt_user(info.map(|i| (self.user_context(), i)))?;
        Ok(ppdu::aru(self.acse_context, &abrt)?)
    }

    /// The AB's user data for a provider abort of this side's own (a driver's time-out): an
    /// ARU carrying an ABRT from the ACSE provider; nothing before the presentation connection
    /// (responder before its AARQ) and in X.410 mode.
    pub(crate) fn provider_abort_request(&self) -> Bytes {
        if self.x410 || matches!(self.state, State::Listening) && self.role == Role::Responder {
            return Bytes::new();
        }
        apdu::abrt_provider()
            .and_then(|a| ppdu::aru(self.acse_context, &a))
            .unwrap_or_default()
    }

    /// The AB's user data for a provider abort caused by `error`: an ARP for a presentation
    /// error, an ARU carrying an ABRT from the ACSE provider for an ACSE error, nothing
    /// otherwise (and in X.410 mode).
    pub(crate) fn provider_abort(&self, error: &DecodeError) -> Bytes {
        if self.x410 || matches!(self.state, State::Listening) && self.role == Role::Responder {
            return Bytes::new();
        }
        match error.layer() {
            Layer::Presentation => ppdu::arp(ppdu::abort_reason_for(error)).unwrap_or_default(),
            Layer::Acse => apdu::abrt_provider()
                .and_then(|a| ppdu::aru(self.acse_context, &a))
                .unwrap_or_default(),
            _ => Bytes::new(),
        }
    }

    /// The peer's AB: its Transport Disconnect parameter and user data, read as an ARP, an ARU
    /// with an ABRT, or an X.410 ARU.
    pub(crate) fn on_peer_abort(&self, td: TransportDisconnect, data: &Bytes) -> Abort {
        let abort = |source, reason, user_information| Abort {
            source,
            reason,
            user_information,
        };
        if data.is_empty() {
            let source = if td.contains(TransportDisconnect::USER_ABORT) {
                AbortSource::PeerUser
            } else {
                AbortSource::PeerProvider
            };
            let reason = if source == AbortSource::PeerUser {
                AbortReason::User
            } else {
                AbortReason::Session(td)
            };
            return abort(source, reason, None);
        }
        match AbortPpdu::decode(data, &self.limits) {
            Ok(AbortPpdu::Arp(arp)) => abort(
                AbortSource::PeerProvider,
                AbortReason::Presentation(arp.abort_reason),
                None,
            ),
            Ok(AbortPpdu::Aru(aru)) => {
                let abrt = aru.user_data.as_ref().and_then(|ud| {
                    let v = ppdu::value_on(ud, self.acse_context, 0).ok()?;
                    match Apdu::decode(v, &self.limits).ok()? {
                        Apdu::Abrt(a) => Some(a),
                        _ => None,
                    }
                });
                match abrt {
                    Some(a) if a.source == crate::acse::AbortSource::ACSE_SERVICE_PROVIDER => {
                        abort(
                            AbortSource::PeerProvider,
                            AbortReason::AcseProvider(a.diagnostic),
                            None,
                        )
                    }
                    Some(a) => abort(
                        AbortSource::PeerUser,
                        AbortReason::User,
                        apdu::first_external(data, a.user_information.as_ref()),
                    ),
                    None => abort(AbortSource::PeerUser, AbortReason::User, None),
                }
            }
            Ok(AbortPpdu::AruX410(components)) => abort(
                AbortSource::PeerUser,
                AbortReason::User,
                Some(sub(data, components)),
            ),
            Err(e) => abort(
                AbortSource::PeerProvider,
                AbortReason::ProtocolError(e),
                None,
            ),
        }
    }
}

fn form2_title<'a>(t: &Option<crate::acse::ApTitle<'a>>) -> Option<Oid<'a>> {
    match t {
        Some(crate::acse::ApTitle::Form2(o)) => Some(*o),
        _ => None,
    }
}

fn form2_qualifier(q: &Option<crate::acse::AeQualifier<'_>>) -> Option<i64> {
    match q {
        Some(crate::acse::AeQualifier::Form2(v)) => Some(*v),
        _ => None,
    }
}

/// Where `part` (a slice of `whole`) lies in it: (start, end).
fn span(whole: &[u8], part: &[u8]) -> Option<(usize, usize)> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some((start, end))
}
