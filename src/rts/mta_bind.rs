//! A minimal X.411 MTA-bind: the argument, result and error an X.400 MTA puts in the RTSE
//! `connectionData open` of the RTORQ, RTOAC and RTORJ (`userDataRJ`), with the initiator's
//! (responder's) MTA name and a simple password. Strong credentials and security contexts are
//! not offered (they are decoded as "not simple" and refused by [`ConnectorProfile`]'s check).
//!
//! # The bind operation's tags
//!
//! X.411 defines `mta-bind` as an abstract bind operation; X.419 carries it over RTSE as an
//! X.880 ROS bind, whose generic PDU (X.880 (07/1994), module
//! `Remote-Operations-Generic-ROS-PDUs`) is
//!
//! ```text
//! Bind{OPERATION:operation} ::= CHOICE {
//!   bind-invoke [16] OPERATION.&ArgumentType({operation}),               b0 LL <MTABindArgument>
//!   bind-result [17] OPERATION.&ResultType({operation}),                 b1 LL <MTABindResult>
//!   bind-error  [18] OPERATION.&Errors.&ParameterType({operation}) }     b2 LL <MTABindError>
//! ```
//!
//! (open types, so the tags are explicit). That is what real MTAs send: the RTORQ `open` of
//! `x400-ping-success.pcap` (frame 6) is `b0 1c a1 1a 80 13 "percival.smhs.co.uk" a1 03 16 01 " "`
//! and the RTOAC's (frame 7) `b1 22 a1 20 …`; tshark names them P1 Bind-Argument and
//! Bind-Result. The encoders here write this wrapped form ([`MtaBind::encode_argument`],
//! [`MtaBind::encode_result`], [`MtaBindError::encode`]); the bare values (`a1 …`, `05 00`,
//! `02 01 nn`) stay available ([`MtaBind::encode_bare`], [`MtaBindError::encode_bare`]) and
//! the decoders read both, saying which they saw ([`MtaBindForm`]).
//!
//! # The values
//!
//! ASN.1 (X.411 (06/1999) module `MTAAbstractService`, `IMPLICIT TAGS`; the types it imports
//! from `MTSAbstractService`):
//!
//! ```text
//! MTABindArgument ::= CHOICE {
//!   unauthenticated NULL,                                         05 00
//!   authenticated [1] SET {                                       a1 LL
//!     initiator-name        [0] MTAName,                            80 LL <IA5 octets>
//!     initiator-credentials [1] InitiatorCredentials,               a1 LL { 16 LL <IA5> | 04 LL <octets> }
//!     security-context      [2] SecurityContext OPTIONAL } }
//! MTABindResult ::= CHOICE {
//!   unauthenticated NULL,
//!   authenticated [1] SET { responder-name [0] MTAName, responder-credentials [1] ResponderCredentials } }
//! MTABindError ::= INTEGER { busy(0), authentication-error(2), unacceptable-dialogue-mode(3),
//!                            unacceptable-security-context(4), inadequate-association-confidentiality(5) }
//! MTAName ::= IA5String (SIZE (1..ub-mta-name-length))
//! InitiatorCredentials, ResponderCredentials ::= CHOICE { simple Password, strong [0] StrongCredentials, … }
//! Password ::= CHOICE { IA5String (SIZE (0..ub-password-length)), OCTET STRING (SIZE (0..ub-password-length)) }
//! ```
//!
//! (Credentials is a CHOICE, so its `[1]` tag is explicit: `a1 { 16 … }`.) Sources: the
//! X.411 module as Wireshark ships it (`asn1/p1/MTAAbstractService.asn`, `MTSAbstractService`),
//! the X.880 `Bind` type, and the captures above.

use crate::ber::{self, Ctx, Reader, Tag, Tlv, UNIVERSAL};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, Layer};
use crate::limits::Limits;

use super::ConnectorProfile;

const L: Layer = Layer::Rtse;
const NULL: Tag = Tag::new(UNIVERSAL, false, 5);
const IA5: Tag = Tag::new(UNIVERSAL, false, 22);
const OCTETS: Tag = Tag::new(UNIVERSAL, false, 4);
const AUTHENTICATED: Tag = Tag::ctx_cons(1);
const NAME: Tag = Tag::ctx(0);
const CREDENTIALS: Tag = Tag::ctx_cons(1);
const BIND_INVOKE: Tag = Tag::ctx_cons(16);
const BIND_RESULT: Tag = Tag::ctx_cons(17);
const BIND_ERROR: Tag = Tag::ctx_cons(18);

/// How an MTA-bind value was (or is to be) put on the wire: inside the X.880 bind operation's
/// tag, as MTAs send it, or bare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MtaBindForm {
    /// The bare value (`a1 …`, `05 00`, `02 01 nn`).
    Bare,
    /// `bind-invoke [16]`: an MTABindArgument (`b0 …`, the RTORQ's `open`).
    Argument,
    /// `bind-result [17]`: an MTABindResult (`b1 …`, the RTOAC's `open`).
    Result,
    /// `bind-error [18]`: an MTABindError (`b2 …`, the RTORJ's `userDataRJ`).
    Error,
}

impl MtaBindForm {
    fn tag(self) -> Option<Tag> {
        match self {
            MtaBindForm::Bare => None,
            MtaBindForm::Argument => Some(BIND_INVOKE),
            MtaBindForm::Result => Some(BIND_RESULT),
            MtaBindForm::Error => Some(BIND_ERROR),
        }
    }
}

/// An MTA-bind argument or result (same shape: the name and simple password of the side that
/// sends it, or nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtaBind<'a> {
    /// `unauthenticated NULL`.
    Unauthenticated,
    /// `authenticated [1] SET`: the MTA name (IA5 octets) and its credentials.
    Authenticated {
        /// `initiator-name` / `responder-name`.
        name: &'a [u8],
        /// The simple password (IA5String or OCTET STRING octets); `None` for strong or
        /// protected credentials, which this module does not read.
        password: Option<&'a [u8]>,
    },
}

/// `MTABindError`: why a responder refuses the bind (sent as the RTORJ's `userDataRJ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MtaBindError(pub i64);

impl MtaBindError {
    /// busy(0).
    pub const BUSY: MtaBindError = MtaBindError(0);
    /// authentication-error(2): unknown MTA name or wrong password.
    pub const AUTHENTICATION_ERROR: MtaBindError = MtaBindError(2);
    /// unacceptable-dialogue-mode(3).
    pub const UNACCEPTABLE_DIALOGUE_MODE: MtaBindError = MtaBindError(3);
    /// unacceptable-security-context(4).
    pub const UNACCEPTABLE_SECURITY_CONTEXT: MtaBindError = MtaBindError(4);
    /// inadequate-association-confidentiality(5).
    pub const INADEQUATE_ASSOCIATION_CONFIDENTIALITY: MtaBindError = MtaBindError(5);

    /// The bind-error as MTAs send it: `[18] INTEGER` (`b2 03 02 01 nn`).
    pub fn encode(self) -> Vec<u8> {
        wrap(MtaBindForm::Error, self.encode_bare())
    }

    /// The bare INTEGER (`02 01 nn`).
    pub fn encode_bare(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ber::int_len(Tag::INTEGER, self.0));
        // A Vec grows: writing cannot fail.
        let _ = ber::put_int(L, &mut out, Tag::INTEGER, self.0);
        out
    }

    /// Decodes the error, `[18] INTEGER` or the bare INTEGER; the whole input must be the
    /// value.
    pub fn decode(input: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        Self::decode_with_form(input, limits).map(|(e, _)| e)
    }

    /// As [`Self::decode`], saying whether the value was wrapped ([`MtaBindForm::Error`]) or
    /// bare.
    pub fn decode_with_form(
        input: &[u8],
        limits: &Limits,
    ) -> Result<(Self, MtaBindForm), DecodeError> {
        let c = ctx(limits);
        let (t, form) = unwrap(c, input, &[MtaBindForm::Error], "mta-bind-error")?;
        if t.tag != Tag::INTEGER {
            return Err(unexpected(input, t.offset, "tag instead of mta-bind-error"));
        }
        ber::integer(&c, &t).map(|v| (MtaBindError(v), form))
    }
}

impl MtaBindError {
    /// The X.411 name of a known value (`authentication-error`), `None` for others.
    pub const fn name(self) -> Option<&'static str> {
        match self.0 {
            0 => Some("busy"),
            2 => Some("authentication-error"),
            3 => Some("unacceptable-dialogue-mode"),
            4 => Some("unacceptable-security-context"),
            5 => Some("inadequate-association-confidentiality"),
            _ => None,
        }
    }
}

impl core::fmt::Display for MtaBindError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}({})", self.name().unwrap_or("mta-bind-error"), self.0)
    }
}

fn ctx(limits: &Limits) -> Ctx {
    Ctx {
        layer: L,
        max_depth: limits.max_ber_depth,
    }
}

fn unexpected(input: &[u8], offset: usize, what: &'static str) -> DecodeError {
    let code = input.get(offset).copied().unwrap_or(0);
    DecodeError::new(L, offset, DecodeErrorKind::UnexpectedCode { what, code })
}

/// `value` inside the form's tag (explicit), or as it is for [`MtaBindForm::Bare`].
fn wrap(form: MtaBindForm, value: Vec<u8>) -> Vec<u8> {
    let Some(tag) = form.tag() else {
        return value;
    };
    let mut out = Vec::with_capacity(ber::tlv_len(tag, value.len()));
    // A Vec grows: writing cannot fail.
    let _ = ber::put_header(L, &mut out, tag, value.len());
    out.extend_from_slice(&value);
    out
}

/// Reads the single value of `input`: inside one of the `wrapped` forms' tags, or bare.
fn unwrap<'a>(
    c: Ctx,
    input: &'a [u8],
    wrapped: &[MtaBindForm],
    what: &'static str,
) -> Result<(Tlv<'a>, MtaBindForm), DecodeError> {
    let mut r = Reader::new(c, input, 0);
    let t = r.read()?;
    r.finish(what)?;
    let Some(&form) = wrapped.iter().find(|f| f.tag() == Some(t.tag)) else {
        return Ok((t, MtaBindForm::Bare));
    };
    let mut inner = ber::children(c, &t)?;
    let v = inner.read()?;
    inner.finish(what)?;
    Ok((v, form))
}

impl<'a> MtaBind<'a> {
    /// Decodes an MTABindArgument or MTABindResult, inside the bind operation's `[16]` or
    /// `[17]` or bare; the whole input must be the value.
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        Self::decode_with_form(input, limits).map(|(b, _)| b)
    }

    /// As [`Self::decode`], saying which form the value had: [`MtaBindForm::Argument`],
    /// [`MtaBindForm::Result`] or [`MtaBindForm::Bare`].
    pub fn decode_with_form(
        input: &'a [u8],
        limits: &Limits,
    ) -> Result<(Self, MtaBindForm), DecodeError> {
        let c = ctx(limits);
        let (t, form) = unwrap(
            c,
            input,
            &[MtaBindForm::Argument, MtaBindForm::Result],
            "mta-bind",
        )?;
        if t.tag == NULL {
            return Ok((MtaBind::Unauthenticated, form));
        }
        if t.tag != AUTHENTICATED {
            return Err(unexpected(
                input,
                t.offset,
                "tag instead of mta-bind argument or result",
            ));
        }
        let mut members = ber::children(c, &t)?;
        let (mut name, mut password, mut credentials) = (None, None, false);
        while !members.is_empty() {
            let m = members.read()?;
            if m.tag == NAME {
                name = Some(m.content);
            } else if m.tag == CREDENTIALS {
                credentials = true;
                let mut inner = ber::children(c, &m)?;
                let p = inner.read()?;
                if p.tag == IA5 || p.tag == OCTETS {
                    password = Some(ber::primitive(&c, &p, "constructed password")?);
                }
            }
            // security-context [2] and unknown members are skipped, as elsewhere in the
            // crate.
        }
        let Some(name) = name else {
            return Err(DecodeError::new(
                L,
                t.offset,
                DecodeErrorKind::Missing { what: "mta name" },
            ));
        };
        if !credentials {
            return Err(DecodeError::new(
                L,
                t.offset,
                DecodeErrorKind::Missing {
                    what: "mta credentials",
                },
            ));
        }
        Ok((MtaBind::Authenticated { name, password }, form))
    }

    /// The MTABindArgument as MTAs send it in the RTORQ's `open`: `bind-invoke [16]`
    /// (`b0 …`; password as IA5String).
    pub fn encode_argument(&self) -> Result<Vec<u8>, EncodeError> {
        self.encode(MtaBindForm::Argument)
    }

    /// The MTABindResult as MTAs send it in the RTOAC's `open`: `bind-result [17]` (`b1 …`).
    pub fn encode_result(&self) -> Result<Vec<u8>, EncodeError> {
        self.encode(MtaBindForm::Result)
    }

    /// The bare value (`a1 …` or `05 00`), without the bind operation's tag.
    pub fn encode_bare(&self) -> Result<Vec<u8>, EncodeError> {
        self.encode(MtaBindForm::Bare)
    }

    /// The value in `form` ([`MtaBindForm::Error`] is not a form of an argument or result:
    /// it is written bare).
    pub fn encode(&self, form: MtaBindForm) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        match self {
            MtaBind::Unauthenticated => ber::put_prim(L, &mut out, NULL, &[])?,
            MtaBind::Authenticated { name, password } => {
                let pw = password.unwrap_or_default();
                let credentials = ber::tlv_len(IA5, pw.len());
                let content = ber::tlv_len(NAME, name.len())
                    .saturating_add(ber::tlv_len(CREDENTIALS, credentials));
                ber::put_header(L, &mut out, AUTHENTICATED, content)?;
                ber::put_prim(L, &mut out, NAME, name)?;
                ber::put_header(L, &mut out, CREDENTIALS, credentials)?;
                ber::put_prim(L, &mut out, IA5, pw)?;
            }
        }
        Ok(match form {
            MtaBindForm::Error => out,
            f => wrap(f, out),
        })
    }
}

fn bind_of<'a>(name: Option<&'a String>, password: Option<&'a String>) -> MtaBind<'a> {
    match name {
        None => MtaBind::Unauthenticated,
        Some(n) => MtaBind::Authenticated {
            name: n.as_bytes(),
            password: Some(password.map_or(&b""[..], |p| p.as_bytes())),
        },
    }
}

impl ConnectorProfile {
    /// The MTABindArgument this MTA sends as the RTORQ's `open` (pass it to
    /// [`Rts::open`](super::Rts::open)), inside the bind operation's `[16]` as MTAs send it:
    /// authenticated with [`Self::local_mta_name`] and [`Self::local_mta_password`] when a
    /// local name is set, else unauthenticated (`b0 02 05 00`).
    pub fn mta_bind_argument(&self) -> Result<Vec<u8>, EncodeError> {
        bind_of(
            self.local_mta_name.as_ref(),
            self.local_mta_password.as_ref(),
        )
        .encode_argument()
    }

    /// The MTABindResult this MTA answers with in the RTOAC's `open`, inside `[17]`: its
    /// local name and password, or unauthenticated when no local name is set.
    pub fn mta_bind_result(&self) -> Result<Vec<u8>, EncodeError> {
        bind_of(
            self.local_mta_name.as_ref(),
            self.local_mta_password.as_ref(),
        )
        .encode_result()
    }

    /// Responder: checks the peer's MTABindArgument (the `user_data` of an
    /// [`OpenIndication`](super::OpenIndication), `[16]`-wrapped or bare) against
    /// [`Self::remote_mta_name`] and [`Self::remote_mta_password`]. On success, the
    /// MTABindResult to accept with ([`Rts::accept_with`](super::Rts::accept_with),
    /// [`Self::mta_bind_result`]). On failure, the MTABindError to refuse with: encode it as
    /// the RTORJ's `userDataRJ` ([`MtaBindError::encode`];
    /// [`Rts::reject_with`](super::Rts::reject_with), refuse reason validationFailure).
    ///
    /// With no remote name and no remote password configured any argument is accepted;
    /// otherwise the argument must be authenticated with that name (compared octet by octet,
    /// when one is configured) and that simple password (when one is configured). A value in the bind-result's `[17]` is not an
    /// argument.
    pub fn check_mta_bind(
        &self,
        argument: Option<&[u8]>,
        limits: &Limits,
    ) -> Result<Vec<u8>, MtaBindError> {
        self.check(argument, MtaBindForm::Result, limits)?;
        self.mta_bind_result().map_err(|_| MtaBindError::BUSY)
    }

    /// Initiator: checks the peer's MTABindResult (the `user_data` of
    /// [`Opened`](super::Opened), `[17]`-wrapped or bare) against [`Self::remote_mta_name`]
    /// and [`Self::remote_mta_password`], as [`Self::check_mta_bind`] does for an argument.
    pub fn check_mta_bind_result(
        &self,
        result: Option<&[u8]>,
        limits: &Limits,
    ) -> Result<(), MtaBindError> {
        self.check(result, MtaBindForm::Argument, limits)
    }

    fn check(
        &self,
        value: Option<&[u8]>,
        wrong: MtaBindForm,
        limits: &Limits,
    ) -> Result<(), MtaBindError> {
        if self.remote_mta_name.is_none() && self.remote_mta_password.is_none() {
            return Ok(());
        }
        let bind = value
            .map(|a| MtaBind::decode_with_form(a, limits))
            .transpose()
            .map_err(|_| MtaBindError::AUTHENTICATION_ERROR)?;
        let Some((MtaBind::Authenticated { name, password }, form)) = bind else {
            return Err(MtaBindError::AUTHENTICATION_ERROR);
        };
        let wrong_name = self
            .remote_mta_name
            .as_ref()
            .is_some_and(|n| n.as_bytes() != name);
        if form == wrong || wrong_name {
            return Err(MtaBindError::AUTHENTICATION_ERROR);
        }
        if let Some(pw) = &self.remote_mta_password {
            if password != Some(pw.as_bytes()) {
                return Err(MtaBindError::AUTHENTICATION_ERROR);
            }
        }
        Ok(())
    }
}
