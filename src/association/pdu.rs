//! The PDUs an association sends, built from the layer encoders: one function per TSDU shape.
//!
//! Every function returns the TSDU (session SPDUs and everything inside them) as a `Vec`; the
//! machine frames it into DT TPDUs. Transport PDUs (CR, CC, DR, ER) are returned as TPDU octets.

use bytes::BufMut;

use crate::acse::{
    Aare, Aarq, AbortSource, Abrt, AeQualifier, ApInvocation, ApTitle, Apdu, AssociateResult,
    AssociateSourceDiagnostic, External, ExternalList, ReleaseRequestReason, ReleaseResponseReason,
    Rlre, Rlrq,
};
use crate::cotp::{ClassOption, Connect, ParamsBuf, Tpdu, TpduSize};
use crate::error::{EncodeError, EncodeErrorKind, Layer};
use crate::oid::Oid;
use crate::presentation::{
    AbortPpdu, AbortReason, Arp, Aru, ContextDefinition, ContextList, ContextResult, Cp, CpNormal,
    Cpa, CpaNormal, Cpr, CprNormal, Mode, OidList, Pdv, PdvList, PdvValues, ProviderReason,
    ResultList, UserData,
};
use crate::session::{
    ConnectData, ParameterCode, ParametersBuf, RefuseReason, SessionUserRequirements,
    SessionVersion, Spdu, SpduKind, TransportDisconnect, VersionNumber,
};

use super::config::{ApAddress, AssociateRequest};

/// Session GT (no parameters) + DT (no parameters): the header of every P-DATA.
pub(crate) const GT_DT: [u8; 4] = [0x01, 0x00, 0x01, 0x00];

/// The CR an initiator sends: class 0, its reference, the TPDU size it proposes and the
/// selectors.
pub(crate) fn cr(
    request: &AssociateRequest,
    tpdu_size: usize,
    src_ref: u16,
) -> Result<Vec<u8>, EncodeError> {
    let mut params = ParamsBuf::new();
    params.tpdu_size(TpduSize::at_most(tpdu_size.clamp(128, 8192)));
    if let Some(t) = &request.calling_tsel {
        params.calling_tsel(t.as_bytes())?;
    }
    if let Some(t) = &request.called_tsel {
        params.called_tsel(t.as_bytes())?;
    }
    let tpdu = Tpdu::Cr(Connect {
        cdt: 0,
        dst_ref: 0,
        src_ref,
        class_option: ClassOption::CLASS0,
        params: params.as_params(),
        header_data: &[],
        user_data: &[],
    });
    let mut out = Vec::with_capacity(tpdu.encoded_len());
    tpdu.encode(&mut out)?;
    Ok(out)
}

fn ap_invocation(a: &ApAddress) -> ApInvocation<'_> {
    ApInvocation {
        ap_title: a.ap_title.as_ref().map(|o| ApTitle::Form2(o.as_oid())),
        ae_qualifier: a.ae_qualifier.map(AeQualifier::Form2),
        ap_invocation_id: None,
        ae_invocation_id: None,
    }
}

fn encode_apdu(apdu: &Apdu<'_>) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(apdu.encoded_len());
    apdu.encode(&mut out)?;
    Ok(out)
}

/// One EXTERNAL in single-ASN1-type form on `context`.
fn external(context: i64, value: &[u8]) -> External<'_> {
    External {
        direct_reference: None,
        indirect_reference: Some(context),
        data_value_descriptor: None,
        encoding: PdvValues::SingleAsn1Type(value),
    }
}

/// The AARQ of `request`.
pub(crate) fn aarq(request: &AssociateRequest) -> Result<Vec<u8>, EncodeError> {
    let user_context = request
        .contexts
        .first()
        .map_or(request.acse_context_id, |c| c.id);
    let ext;
    let mut a = Aarq::new(request.application_context.as_oid());
    a.called = ap_invocation(&request.called);
    a.calling = ap_invocation(&request.calling);
    if let Some(info) = &request.user_information {
        ext = [external(user_context, info)];
        a.user_information = Some(ExternalList::from_slice(&ext));
    }
    encode_apdu(&Apdu::Aarq(a))
}

/// Fully encoded user data with one PDV on `context` in single-ASN1-type form.
fn one_pdv<B: BufMut + ?Sized>(context: i64, value: &[u8], buf: &mut B) -> Result<(), EncodeError> {
    let pdv = [Pdv {
        transfer_syntax: None,
        context_id: context,
        values: PdvValues::SingleAsn1Type(value),
    }];
    UserData::Full(PdvList::from_slice(&pdv)).encode(buf)
}

fn one_pdv_len(context: i64, value: &[u8]) -> usize {
    let pdv = [Pdv {
        transfer_syntax: None,
        context_id: context,
        values: PdvValues::SingleAsn1Type(value),
    }];
    UserData::Full(PdvList::from_slice(&pdv)).encoded_len()
}

/// The CP-type of `request` carrying `aarq`.
pub(crate) fn cp(request: &AssociateRequest, aarq: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let ber = [Oid::BER];
    let transfer: Vec<[Oid<'_>; 1]> = request
        .contexts
        .iter()
        .map(|c| [c.transfer_syntax.as_oid()])
        .collect();
    let mut defs = Vec::with_capacity(request.contexts.len().saturating_add(1));
    defs.push(ContextDefinition {
        id: request.acse_context_id,
        abstract_syntax: Oid::ACSE_ABSTRACT_SYNTAX,
        transfer_syntaxes: OidList::from_slice(&ber),
    });
    for (c, t) in request.contexts.iter().zip(&transfer) {
        defs.push(ContextDefinition {
            id: c.id,
            abstract_syntax: c.abstract_syntax.as_oid(),
            transfer_syntaxes: OidList::from_slice(t),
        });
    }
    let pdv = [Pdv {
        transfer_syntax: None,
        context_id: request.acse_context_id,
        values: PdvValues::SingleAsn1Type(aarq),
    }];
    let cp = Cp {
        mode: Mode::NORMAL,
        x410_parameters: None,
        normal: Some(CpNormal {
            protocol_version: None,
            calling_selector: request.calling_psel.as_ref().map(|p| p.as_bytes()),
            called_selector: request.called_psel.as_ref().map(|p| p.as_bytes()),
            context_definitions: Some(ContextList::from_slice(&defs)),
            default_context: None,
            presentation_requirements: None,
            user_session_requirements: None,
            user_data: Some(UserData::Full(PdvList::from_slice(&pdv))),
        }),
    };
    let mut out = Vec::with_capacity(cp.encoded_len());
    cp.encode(&mut out)?;
    Ok(out)
}

/// An X.410-1984-mode CP-type (`PConnect`) or CPA-PPDU (`PAccept`) with these `[1]` SET
/// contents.
pub(crate) fn x410_connect(accept: bool, parameters: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    if accept {
        Cpa {
            mode: Mode::X410_1984,
            x410_parameters: Some(parameters),
            normal: None,
        }
        .encode(&mut out)?;
    } else {
        Cp {
            mode: Mode::X410_1984,
            x410_parameters: Some(parameters),
            normal: None,
        }
        .encode(&mut out)?;
    }
    Ok(out)
}

/// The AC carrying an X.410-mode CPA.
pub(crate) fn ac_x410(answer: &ConnectAnswer, parameters: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let cpa = x410_connect(true, parameters)?;
    let version = answer.version.unwrap_or(VersionNumber::V2);
    let sv = if version == VersionNumber::V1 {
        SessionVersion::V1
    } else {
        SessionVersion::V2
    };
    let data = ConnectData::new(sv, &cpa)?;
    let mut p = ParametersBuf::new();
    p.group(
        ParameterCode::CONNECT_ACCEPT_ITEM,
        &connect_accept_item(version, answer.token_setting)?,
    )?;
    if let Some(r) = answer.requirements {
        p.u16(ParameterCode::SESSION_USER_REQUIREMENTS, r.get())?;
    }
    if let Some(s) = &answer.responding_ssel {
        p.unit(ParameterCode::RESPONDING_SESSION_SELECTOR, s)?;
    }
    data.append_connect_parameters(&mut p)?;
    let mut out = Vec::new();
    encode_spdu(SpduKind::Ac, &p, &mut out)?;
    Ok(out)
}

/// A P-DATA in X.410-1984 mode: GT + DT whose user information is `value` itself.
pub(crate) fn raw_data(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(GT_DT.len().saturating_add(value.len()));
    out.extend_from_slice(&GT_DT);
    out.extend_from_slice(value);
    out
}

/// FN, DN or NF without user data (X.410-1984 mode: S-RELEASE carries none).
pub(crate) fn bare(kind: SpduKind) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode_spdu(kind, &ParametersBuf::new(), &mut out)?;
    Ok(out)
}

/// A user AB in X.410-1984 mode: an ARU `AbortInformation` SET with these contents, or no
/// user data.
pub(crate) fn user_abort_x410(components: Option<&[u8]>) -> Result<Vec<u8>, EncodeError> {
    let mut p = ParametersBuf::new();
    p.u8(
        ParameterCode::TRANSPORT_DISCONNECT,
        TransportDisconnect::RELEASED
            .with(TransportDisconnect::USER_ABORT)
            .get(),
    )?;
    if let Some(c) = components {
        let mut ud = Vec::new();
        AbortPpdu::AruX410(c).encode(&mut ud)?;
        p.user_data(&ud)?;
    }
    let mut out = Vec::new();
    encode_spdu(SpduKind::Ab, &p, &mut out)?;
    Ok(out)
}

fn connect_accept_item(
    version: VersionNumber,
    token_setting: Option<crate::session::TokenSettingItem>,
) -> Result<ParametersBuf, EncodeError> {
    let mut cai = ParametersBuf::new();
    cai.u8(ParameterCode::PROTOCOL_OPTIONS, 0)?
        .u8(ParameterCode::VERSION_NUMBER, version.get())?;
    if let Some(t) = token_setting {
        cai.u8(ParameterCode::TOKEN_SETTING_ITEM, t.0)?;
    }
    Ok(cai)
}

fn encode_spdu(
    kind: SpduKind,
    params: &ParametersBuf,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let p = params.as_parameters().map_err(|_| {
        EncodeError::new(
            Layer::Session,
            EncodeErrorKind::InvalidValue {
                what: "parameter field",
                value: 0,
            },
        )
    })?;
    Spdu::new(kind, p).encode(out)
}

/// The CN carrying `cp`: version 2 (and 1 when the data fits), the requested functional units
/// and initial token positions, the session selectors.
pub(crate) fn cn(request: &AssociateRequest, cp: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let data = ConnectData::new(SessionVersion::V2, cp)?;
    if data.needs_overflow() {
        return Err(EncodeError::new(
            Layer::Session,
            EncodeErrorKind::ValueTooLarge {
                what: "connect user data (cdo overflow not supported)",
                value: cp.len(),
                max: crate::session::CN_EXTENDED_USER_DATA_MAX,
            },
        ));
    }
    let mut p = ParametersBuf::new();
    // X.410-1984 peers speak session version 1: propose both (spec digest §5).
    let versions = if request.x410_parameters.is_some() {
        VersionNumber::BOTH
    } else {
        VersionNumber::V2
    };
    p.group(
        ParameterCode::CONNECT_ACCEPT_ITEM,
        &connect_accept_item(versions, request.token_setting)?,
    )?
    .u16(
        ParameterCode::SESSION_USER_REQUIREMENTS,
        request.session_requirements.get(),
    )?;
    if let Some(s) = &request.calling_ssel {
        p.unit(ParameterCode::CALLING_SESSION_SELECTOR, s.as_bytes())?;
    }
    if let Some(s) = &request.called_ssel {
        p.unit(ParameterCode::CALLED_SESSION_SELECTOR, s.as_bytes())?;
    }
    data.append_connect_parameters(&mut p)?;
    let mut out = Vec::with_capacity(p.len().saturating_add(4));
    encode_spdu(SpduKind::Cn, &p, &mut out)?;
    Ok(out)
}

/// What a responder needs to build its AC or RF.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectAnswer {
    pub version: Option<VersionNumber>,
    pub requirements: Option<SessionUserRequirements>,
    pub responding_ssel: Option<Vec<u8>>,
    pub responding_psel: Option<Vec<u8>>,
    /// Per proposed context: id, result, provider reason.
    pub results: Vec<(
        i64,
        crate::presentation::ContextResultCode,
        Option<crate::presentation::ContextProviderReason>,
    )>,
    pub acse_context: Option<i64>,
    pub application_context: Option<crate::oid::OwnedOid>,
    /// Token Setting Item to put in the AC (when the CN left a token to the called user).
    pub token_setting: Option<crate::session::TokenSettingItem>,
}

fn result_list<'a>(
    answer: &ConnectAnswer,
    out: &'a mut Vec<ContextResult<'static>>,
) -> Option<ResultList<'a>> {
    out.clear();
    for (_, result, reason) in &answer.results {
        out.push(ContextResult {
            result: *result,
            transfer_syntax: (*result == crate::presentation::ContextResultCode::ACCEPTANCE)
                .then_some(Oid::BER),
            provider_reason: *reason,
        });
    }
    (!out.is_empty()).then(|| ResultList::from_slice(out))
}

/// The AC carrying CPA + AARE (accepted).
pub(crate) fn ac(
    answer: &ConnectAnswer,
    aare_user_info: Option<(i64, &[u8])>,
    responding: &ApAddress,
) -> Result<Vec<u8>, EncodeError> {
    let context = answer
        .application_context
        .as_ref()
        .map_or(Oid::MMS_APPLICATION_CONTEXT, |o| o.as_oid());
    let mut aare = Aare::new(
        context,
        AssociateResult::ACCEPTED,
        AssociateSourceDiagnostic::User(crate::acse::UserDiagnostic::NULL),
    );
    aare.responding = ap_invocation(responding);
    let ext;
    if let Some((ctx, info)) = aare_user_info {
        ext = [external(ctx, info)];
        aare.user_information = Some(ExternalList::from_slice(&ext));
    }
    let aare = encode_apdu(&Apdu::Aare(aare))?;
    let pdv = [Pdv {
        transfer_syntax: None,
        context_id: answer.acse_context.unwrap_or(1),
        values: PdvValues::SingleAsn1Type(&aare),
    }];
    let mut results = Vec::new();
    let cpa = Cpa {
        mode: Mode::NORMAL,
        x410_parameters: None,
        normal: Some(CpaNormal {
            protocol_version: None,
            responding_selector: answer.responding_psel.as_deref(),
            context_results: result_list(answer, &mut results),
            presentation_requirements: None,
            user_session_requirements: None,
            user_data: Some(UserData::Full(PdvList::from_slice(&pdv))),
        }),
    };
    let mut cpa_bytes = Vec::with_capacity(cpa.encoded_len());
    cpa.encode(&mut cpa_bytes)?;
    let version = answer.version.unwrap_or(VersionNumber::V2);
    let sv = if version == VersionNumber::V1 {
        SessionVersion::V1
    } else {
        SessionVersion::V2
    };
    let data = ConnectData::new(sv, &cpa_bytes)?;
    let mut p = ParametersBuf::new();
    p.group(
        ParameterCode::CONNECT_ACCEPT_ITEM,
        &connect_accept_item(version, answer.token_setting)?,
    )?;
    if let Some(r) = answer.requirements {
        p.u16(ParameterCode::SESSION_USER_REQUIREMENTS, r.get())?;
    }
    if let Some(s) = &answer.responding_ssel {
        p.unit(ParameterCode::RESPONDING_SESSION_SELECTOR, s)?;
    }
    if data.needs_overflow() {
        return Err(EncodeError::new(
            Layer::Session,
            EncodeErrorKind::ValueTooLarge {
                what: "accept user data",
                value: cpa_bytes.len(),
                max: crate::session::CN_EXTENDED_USER_DATA_MAX,
            },
        ));
    }
    data.append_connect_parameters(&mut p)?;
    let mut out = Vec::new();
    encode_spdu(SpduKind::Ac, &p, &mut out)?;
    Ok(out)
}

/// How a responder refuses a CN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefuseWith {
    /// A session refusal with this reason (no presentation data).
    Session(RefuseReason),
    /// A CPR with this provider reason.
    Presentation(ProviderReason),
    /// A CPR carrying an AARE with this result and diagnostic.
    Acse(AssociateResult, AssociateSourceDiagnostic),
}

/// The RF refusing a CN (transport connection released).
pub(crate) fn rf(answer: &ConnectAnswer, with: RefuseWith) -> Result<Vec<u8>, EncodeError> {
    rf_with(answer, with, None)
}

/// The RF refusing a CN in X.410-1984 mode: reason 2 and a CPR whose SET holds `components`
/// (the RTORJ components of a `PRefuse`).
pub(crate) fn rf_x410(answer: &ConnectAnswer, components: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut reason = vec![RefuseReason::USER_DATA.get()];
    Cpr::X410(components).encode(&mut reason)?;
    rf_spdu(answer, &reason)
}

/// The RF refusing a CN; with [`RefuseWith::Acse`], `aare_info` (context, one BER value) is the
/// AARE's user-information.
pub(crate) fn rf_with(
    answer: &ConnectAnswer,
    with: RefuseWith,
    aare_info: Option<(i64, &[u8])>,
) -> Result<Vec<u8>, EncodeError> {
    let mut reason = Vec::new();
    match with {
        RefuseWith::Session(r) => reason.push(r.get()),
        RefuseWith::Presentation(_) | RefuseWith::Acse(..) => {
            reason.push(RefuseReason::USER_DATA.get());
            let aare;
            let pdv;
            let mut cpr = CprNormal {
                protocol_version: None,
                responding_selector: answer.responding_psel.as_deref(),
                context_results: None,
                default_context_result: None,
                provider_reason: None,
                user_data: None,
            };
            let mut results = Vec::new();
            cpr.context_results = result_list(answer, &mut results);
            match with {
                RefuseWith::Presentation(p) => cpr.provider_reason = Some(p),
                RefuseWith::Acse(result, diag) => {
                    let context = answer
                        .application_context
                        .as_ref()
                        .map_or(Oid::MMS_APPLICATION_CONTEXT, |o| o.as_oid());
                    let ext;
                    let mut a = Aare::new(context, result, diag);
                    if let Some((ctx, info)) = aare_info {
                        ext = [external(ctx, info)];
                        a.user_information = Some(ExternalList::from_slice(&ext));
                    }
                    aare = encode_apdu(&Apdu::Aare(a))?;
                    pdv = [Pdv {
                        transfer_syntax: None,
                        context_id: answer.acse_context.unwrap_or(1),
                        values: PdvValues::SingleAsn1Type(&aare),
                    }];
                    cpr.user_data = Some(UserData::Full(PdvList::from_slice(&pdv)));
                }
                RefuseWith::Session(_) => {}
            }
            Cpr::Normal(cpr).encode(&mut reason)?;
        }
    }
    rf_spdu(answer, &reason)
}

fn rf_spdu(answer: &ConnectAnswer, reason: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut p = ParametersBuf::new();
    p.u8(
        ParameterCode::TRANSPORT_DISCONNECT,
        TransportDisconnect::RELEASED.get(),
    )?;
    if let Some(v) = answer.version {
        p.u8(ParameterCode::VERSION_NUMBER, v.get())?;
    }
    p.unit(ParameterCode::REASON_CODE, reason)?;
    let mut out = Vec::new();
    encode_spdu(SpduKind::Rf, &p, &mut out)?;
    Ok(out)
}

/// A P-DATA: GT + DT + fully encoded user data with one single-ASN1-type PDV.
pub(crate) fn p_data(context: i64, value: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(GT_DT.len().saturating_add(one_pdv_len(context, value)));
    out.extend_from_slice(&GT_DT);
    one_pdv(context, value, &mut out)?;
    Ok(out)
}

/// An SPDU whose only parameter is user data carrying one ACSE APDU on `acse_context`.
fn acse_in(kind: SpduKind, acse_context: i64, apdu: &Apdu<'_>) -> Result<Vec<u8>, EncodeError> {
    let apdu = encode_apdu(apdu)?;
    let mut ud = Vec::with_capacity(one_pdv_len(acse_context, &apdu));
    one_pdv(acse_context, &apdu, &mut ud)?;
    let mut p = ParametersBuf::new();
    p.user_data(&ud)?;
    let mut out = Vec::new();
    encode_spdu(kind, &p, &mut out)?;
    Ok(out)
}

/// FN carrying RLRQ (reason normal).
pub(crate) fn finish(acse_context: i64) -> Result<Vec<u8>, EncodeError> {
    acse_in(
        SpduKind::Fn,
        acse_context,
        &Apdu::Rlrq(Rlrq {
            reason: Some(ReleaseRequestReason::NORMAL),
            user_information: None,
        }),
    )
}

/// DN carrying RLRE (reason normal).
pub(crate) fn disconnect(acse_context: i64) -> Result<Vec<u8>, EncodeError> {
    acse_in(
        SpduKind::Dn,
        acse_context,
        &Apdu::Rlre(Rlre {
            reason: Some(ReleaseResponseReason::NORMAL),
            user_information: None,
        }),
    )
}

/// NF carrying RLRE (reason not-finished).
pub(crate) fn not_finished(acse_context: i64) -> Result<Vec<u8>, EncodeError> {
    acse_in(
        SpduKind::Nf,
        acse_context,
        &Apdu::Rlre(Rlre {
            reason: Some(ReleaseResponseReason::NOT_FINISHED),
            user_information: None,
        }),
    )
}

/// What an AB carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AbortWith {
    /// A-ABORT by the user: ARU carrying ABRT (source user) on the ACSE context.
    User(i64),
    /// ACSE provider abort: ARU carrying ABRT (source provider, diagnostic protocol error).
    AcseProvider(i64),
    /// Presentation provider abort: ARP with this reason.
    Presentation(AbortReason),
    /// Session protocol error: no user data.
    Session,
}

/// The AB SPDU of a user abort: ARU carrying an ABRT (source service user) on the ACSE
/// context whose user-information is `info` (context, one BER value), if any.
pub(crate) fn user_abort(
    acse_context: i64,
    info: Option<(i64, &[u8])>,
) -> Result<Vec<u8>, EncodeError> {
    let Some((ctx, value)) = info else {
        return abort(AbortWith::User(acse_context));
    };
    let ext = [external(ctx, value)];
    let abrt = encode_apdu(&Apdu::Abrt(Abrt {
        source: AbortSource::ACSE_SERVICE_USER,
        diagnostic: None,
        user_information: Some(ExternalList::from_slice(&ext)),
    }))?;
    let pdv = [Pdv {
        transfer_syntax: None,
        context_id: acse_context,
        values: PdvValues::SingleAsn1Type(&abrt),
    }];
    let mut ud = Vec::new();
    AbortPpdu::Aru(Aru {
        context_ids: None,
        user_data: Some(UserData::Full(PdvList::from_slice(&pdv))),
    })
    .encode(&mut ud)?;
    let mut p = ParametersBuf::new();
    p.u8(
        ParameterCode::TRANSPORT_DISCONNECT,
        TransportDisconnect::RELEASED
            .with(TransportDisconnect::USER_ABORT)
            .get(),
    )?;
    p.user_data(&ud)?;
    let mut out = Vec::new();
    encode_spdu(SpduKind::Ab, &p, &mut out)?;
    Ok(out)
}

/// The AB SPDU (transport connection released).
pub(crate) fn abort(with: AbortWith) -> Result<Vec<u8>, EncodeError> {
    let mut td = TransportDisconnect::RELEASED;
    let mut ud = Vec::new();
    match with {
        AbortWith::User(ctx) | AbortWith::AcseProvider(ctx) => {
            let (source, diagnostic) = if matches!(with, AbortWith::User(_)) {
                td = td.with(TransportDisconnect::USER_ABORT);
                (AbortSource::ACSE_SERVICE_USER, None)
            } else {
                td = td.with(TransportDisconnect::PROTOCOL_ERROR);
                (
                    AbortSource::ACSE_SERVICE_PROVIDER,
                    Some(crate::acse::AbortDiagnostic::PROTOCOL_ERROR),
                )
            };
            let abrt = encode_apdu(&Apdu::Abrt(Abrt {
                source,
                diagnostic,
                user_information: None,
            }))?;
            let pdv = [Pdv {
                transfer_syntax: None,
                context_id: ctx,
                values: PdvValues::SingleAsn1Type(&abrt),
            }];
            AbortPpdu::Aru(Aru {
                context_ids: None,
                user_data: Some(UserData::Full(PdvList::from_slice(&pdv))),
            })
            .encode(&mut ud)?;
        }
        AbortWith::Presentation(reason) => {
            td = td.with(TransportDisconnect::PROTOCOL_ERROR);
            AbortPpdu::Arp(Arp {
                abort_reason: Some(reason),
                event_identifier: None,
            })
            .encode(&mut ud)?;
        }
        AbortWith::Session => td = td.with(TransportDisconnect::PROTOCOL_ERROR),
    }
    let mut p = ParametersBuf::new();
    p.u8(ParameterCode::TRANSPORT_DISCONNECT, td.get())?;
    if !ud.is_empty() {
        p.user_data(&ud)?;
    }
    let mut out = Vec::new();
    encode_spdu(SpduKind::Ab, &p, &mut out)?;
    Ok(out)
}

// ----------------------------------------------------------------------------------------
// Tokens, synchronization and activities (X.225 §7.11–7.16; basic concatenation, Table 7)

/// The serial number `n` as PI 42 digits (X.225 §8.3: ASCII decimal, most significant first).
pub(crate) fn serial_digits(n: u64) -> Vec<u8> {
    n.to_string().into_bytes()
}

/// GT alone carrying a Token Item (S-TOKEN-GIVE): `01 03 10 01 tt`.
pub(crate) fn give_tokens(tokens: crate::session::TokenItem) -> Result<Vec<u8>, EncodeError> {
    let mut p = ParametersBuf::new();
    p.u8(ParameterCode::TOKEN_ITEM, tokens.get())?;
    let mut out = Vec::new();
    encode_spdu(SpduKind::Gt, &p, &mut out)?;
    Ok(out)
}

/// PT alone carrying a Token Item and optional user data (S-TOKEN-PLEASE).
pub(crate) fn please_tokens(
    tokens: crate::session::TokenItem,
    user_data: Option<&[u8]>,
) -> Result<Vec<u8>, EncodeError> {
    let mut p = ParametersBuf::new();
    p.u8(ParameterCode::TOKEN_ITEM, tokens.get())?;
    if let Some(ud) = user_data {
        p.user_data(ud)?;
    }
    let mut out = Vec::new();
    encode_spdu(SpduKind::Pt, &p, &mut out)?;
    Ok(out)
}

/// A category-2 SPDU behind an empty GT (`first` = `Gt`) or PT (`first` = `Pt`).
pub(crate) fn concatenated(
    first: SpduKind,
    kind: SpduKind,
    params: &ParametersBuf,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(params.len().saturating_add(8));
    encode_spdu(first, &ParametersBuf::new(), &mut out)?;
    encode_spdu(kind, params, &mut out)?;
    Ok(out)
}

/// GT + AS with the activity identifier.
pub(crate) fn activity_start(id: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut p = ParametersBuf::new();
    p.unit(ParameterCode::ACTIVITY_IDENTIFIER, id)?;
    concatenated(SpduKind::Gt, SpduKind::As, &p)
}

/// PT + AR: linking information (old connection identifier, old activity identifier, serial
/// number) and the new activity identifier (X.225 Table 7 pairs AR with PT).
pub(crate) fn activity_resume(
    id: &[u8],
    old_id: &[u8],
    serial: u64,
    old_connection: &super::OldConnection,
) -> Result<Vec<u8>, EncodeError> {
    let mut link = ParametersBuf::new();
    if let Some(r) = &old_connection.called_ss_user_reference {
        link.unit(ParameterCode::CALLED_SS_USER_REFERENCE, r)?;
    }
    if let Some(r) = &old_connection.calling_ss_user_reference {
        link.unit(ParameterCode::CALLING_SS_USER_REFERENCE, r)?;
    }
    if let Some(r) = &old_connection.common_reference {
        link.unit(ParameterCode::COMMON_REFERENCE, r)?;
    }
    if let Some(r) = &old_connection.additional_reference_information {
        link.unit(ParameterCode::ADDITIONAL_REFERENCE_INFORMATION, r)?;
    }
    link.unit(ParameterCode::ACTIVITY_IDENTIFIER, old_id)?
        .unit(ParameterCode::SERIAL_NUMBER, &serial_digits(serial))?;
    let mut p = ParametersBuf::new();
    p.group(ParameterCode::LINKING_INFORMATION, &link)?
        .unit(ParameterCode::ACTIVITY_IDENTIFIER, id)?;
    concatenated(SpduKind::Pt, SpduKind::Ar, &p)
}

/// `first` + an SPDU whose only parameter is the serial number (MIP, MIA, AE, AEA).
pub(crate) fn with_serial(
    first: SpduKind,
    kind: SpduKind,
    serial: u64,
) -> Result<Vec<u8>, EncodeError> {
    let mut p = ParametersBuf::new();
    p.unit(ParameterCode::SERIAL_NUMBER, &serial_digits(serial))?;
    concatenated(first, kind, &p)
}

/// `first` + AI or AD with a reason code, or + AIA / ADA (no parameters).
pub(crate) fn with_reason(
    first: SpduKind,
    kind: SpduKind,
    reason: Option<crate::session::ActivityReason>,
) -> Result<Vec<u8>, EncodeError> {
    let mut p = ParametersBuf::new();
    if let Some(r) = reason {
        p.u8(ParameterCode::REASON_CODE, r.get())?;
    }
    concatenated(first, kind, &p)
}

/// Fully encoded presentation user data: one single-ASN1-type PDV of `value` on `context`.
pub(crate) fn user_data_pdv(context: i64, value: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(one_pdv_len(context, value));
    one_pdv(context, value, &mut out)?;
    Ok(out)
}
