//! A minimal X.411 MTA-bind: the argument, result and error an X.400 MTA puts in the RTSE
//! `connectionData open` of the RTORQ, RTOAC and RTORJ (`userDataRJ`), with the initiator's
//! (responder's) MTA name and a simple password. Strong credentials and security contexts are
//! not offered (they are decoded as "not simple" and refused by [`ConnectorProfile`]'s check).
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
//! X.411 module as Wireshark ships it (`asn1/p1/MTAAbstractService.asn`, `MTSAbstractService`).

use crate::ber::{self, Ctx, Reader, Tag, UNIVERSAL};
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

    /// The INTEGER (`02 01 nn`).
    pub fn encode(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ber::int_len(Tag::INTEGER, self.0));
        // A Vec grows: writing cannot fail.
        let _ = ber::put_int(L, &mut out, Tag::INTEGER, self.0);
        out
    }

    /// Decodes the INTEGER; the whole input must be the value.
    pub fn decode(input: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        let mut r = Reader::new(c, input, 0);
        let t = r.read()?;
        r.finish("mta-bind-error")?;
        if t.tag != Tag::INTEGER {
            return Err(unexpected(input, t.offset, "tag instead of mta-bind-error"));
        }
        ber::integer(&c, &t).map(MtaBindError)
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

impl<'a> MtaBind<'a> {
    /// Decodes an MTABindArgument or MTABindResult; the whole input must be the value.
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        let mut r = Reader::new(c, input, 0);
        let t = r.read()?;
        r.finish("mta-bind")?;
        if t.tag == NULL {
            return Ok(MtaBind::Unauthenticated);
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
        Ok(MtaBind::Authenticated { name, password })
    }

    /// The BER encoding (password as IA5String).
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
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
        Ok(out)
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
    /// [`Rts::open`](super::Rts::open)): authenticated with [`Self::local_mta_name`] and
    /// [`Self::local_mta_password`] when a local name is set, else unauthenticated (`05 00`).
    pub fn mta_bind_argument(&self) -> Result<Vec<u8>, EncodeError> {
        bind_of(
            self.local_mta_name.as_ref(),
            self.local_mta_password.as_ref(),
        )
        .encode()
    }

    /// Responder: checks the peer's MTABindArgument (the `user_data` of an
    /// [`OpenIndication`](super::OpenIndication)) against [`Self::remote_mta_name`] and
    /// [`Self::remote_mta_password`]. On success, the MTABindResult to accept with
    /// ([`Rts::accept_with`](super::Rts::accept_with)): this MTA's name and password, or
    /// unauthenticated when no local name is set. On failure, the MTABindError to refuse
    /// with: encode it as the RTORJ's `userDataRJ` ([`Rts::reject_with`](super::Rts::reject_with),
    /// refuse reason validationFailure).
    ///
    /// With no remote name configured any argument is accepted; with one, the argument must
    /// be authenticated with that name (compared octet by octet) and, when a remote password
    /// is configured, that simple password.
    pub fn check_mta_bind(
        &self,
        argument: Option<&[u8]>,
        limits: &Limits,
    ) -> Result<Vec<u8>, MtaBindError> {
        if let Some(expected) = &self.remote_mta_name {
            let bind = argument
                .map(|a| MtaBind::decode(a, limits))
                .transpose()
                .map_err(|_| MtaBindError::AUTHENTICATION_ERROR)?;
            let Some(MtaBind::Authenticated { name, password }) = bind else {
                return Err(MtaBindError::AUTHENTICATION_ERROR);
            };
            if name != expected.as_bytes() {
                return Err(MtaBindError::AUTHENTICATION_ERROR);
            }
            if let Some(pw) = &self.remote_mta_password {
                if password != Some(pw.as_bytes()) {
                    return Err(MtaBindError::AUTHENTICATION_ERROR);
                }
            }
        }
        bind_of(
            self.local_mta_name.as_ref(),
            self.local_mta_password.as_ref(),
        )
        .encode()
        .map_err(|_| MtaBindError::BUSY)
    }

    /// Initiator: checks the peer's MTABindResult (the `user_data` of
    /// [`Opened`](super::Opened)) against [`Self::remote_mta_name`] and
    /// [`Self::remote_mta_password`], as [`Self::check_mta_bind`] does for an argument.
    pub fn check_mta_bind_result(
        &self,
        result: Option<&[u8]>,
        limits: &Limits,
    ) -> Result<(), MtaBindError> {
        self.check_mta_bind(result, limits).map(|_| ())
    }
}
