//! The X.400 connector profile: the settings an MTA administrator knows from Exchange's X.400
//! connector (and ISODE's MTA tables), with documented defaults, and what they become on the
//! wire (`docs/protocol-notes.md` §6).
//!
//! What a profile drives: the association settings ([`ConnectorProfile::config`]: TPDU size,
//! idle lifetime, disconnect wait), the dialer's open retries, open interval and local bind
//! address (feature `tokio`, built by the adapter: `tokio::Dialer::from_profile`), the reopen
//! schedule after a failed open or a broken association
//! ([`OpenSchedule::from_profile`](super::OpenSchedule::from_profile)), the MTA-bind of its
//! local MTA name and password and the check of the remote ones
//! ([`ConnectorProfile::mta_bind_argument`], [`ConnectorProfile::check_mta_bind`]),
//! the 1988-normal-mode association request with the RTORQ
//! ([`ConnectorProfile::associate_request`]), and the RT procedures of [`Rts`](super::Rts)
//! ([`RtsSettings::from_profile`](super::RtsSettings::from_profile): mode, checkpoint size,
//! window, dialogue mode, initial turn, recovery timeout, transfer retries and transfer
//! interval).

use std::net::IpAddr;
use std::time::Duration;

use crate::address::PresentationAddress;
use crate::association::{AssociateRequest, Config, PresentationContext};
use crate::error::EncodeError;
use crate::oid::Oid;

use crate::rtse::{ConnectionData, DialogueMode, Rtorq};

/// Exchange's "X.400 conformance" choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum X400Mode {
    /// 1984: X.410-1984 presentation mode carrying 1984 P1, session version 1.
    Mode1984,
    /// 1988 X.410 mode: X.410-1984 presentation mode carrying 1988 P1 (HP OpenMail needs it).
    X410Mode1988,
    /// 1988 normal mode: ACSE, presentation normal mode and RTSE (Exchange's default).
    #[default]
    Normal1988,
}

/// Which abstract syntax names the presentation context of the RTSE APDUs (and of the APDUs
/// they transfer) in a 1988-normal-mode association request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RtseSyntax {
    /// X.419's id-as-mta-rtse (2.6.0.2.12): the RTSE APDUs and the P1 APDUs they carry, what
    /// X.400 MTAs (Exchange) propose for the mts-transfer application context. The default.
    #[default]
    MtaRtse,
    /// X.228's rTSE-abstract-syntax (2.3.2): RTSE on its own, for other applications.
    X228,
    /// 2.3.0, which ISODE names "rtse pci version 1" and requires: its RTS refuses an AARQ
    /// whose RTSE context uses another abstract syntax (`testdata/captures/isode`).
    Isode,
}

impl RtseSyntax {
    /// The object identifier.
    pub fn oid(self) -> Oid<'static> {
        match self {
            RtseSyntax::MtaRtse => Oid::X400_AS_MTA_RTSE,
            RtseSyntax::X228 => Oid::RTSE_ABSTRACT_SYNTAX,
            RtseSyntax::Isode => Oid::RTSE_APDUS,
        }
    }

    /// Whether `oid` is one of the three.
    pub fn recognises(oid: Oid<'_>) -> bool {
        [RtseSyntax::MtaRtse, RtseSyntax::X228, RtseSyntax::Isode]
            .iter()
            .any(|s| s.oid() == oid)
    }
}

/// One X.400 connector: where the peer MTA is, who this MTA is, and the RTS knobs.
///
/// | field | Exchange name | default | on the wire |
/// |---|---|---|---|
/// | `mode` | X.400 conformance | 1988 normal mode | presentation mode, ACSE or not |
/// | `checkpoint_size_kb` | Checkpoint size (KB) | 30 | RTORQ `checkpointSize` |
/// | `window_size` | Window size | 5 | RTORQ `windowSize` |
/// | `recovery_timeout` | Recovery timeout | 60 s | local |
/// | `open_retries` | Max open retries | 144 | local (dialer) |
/// | `open_interval` | Open interval | 600 s | local (dialer) |
/// | `transfer_retries` | Max transfer retries | 2 | local |
/// | `transfer_interval` | Transfer interval | 120 s | local |
/// | `lifetime` | Association lifetime | 300 s (not confirmed) | local: release when idle |
/// | `disconnect` | Disconnect | 120 s (not confirmed) | local: wait for the peer to close after release |
/// | `two_way_alternate` | Two-way alternate | false | RTORQ `dialogueMode` twa(1) |
/// | `local_initial_turn` | Local initial turn | true | session Token Setting Item |
/// | `local_mta_name`, `local_mta_password` | Local MTA name / password | none | X.411 MTA-bind in `connectionDataRQ open` ([`ConnectorProfile::mta_bind_argument`]) and in the responder's result |
/// | `remote_mta_name`, `remote_mta_password` | Remote MTA name / password | none | checked against the peer's MTA-bind ([`ConnectorProfile::check_mta_bind`]) |
/// | `remote` | OSI address + host | none | T/S/P selectors, TCP destination |
/// | `rtse_syntax` | (none; ISODE interop) | id-as-mta-rtse | abstract syntax of the RTSE context ([`RtseSyntax`]) |
/// | `local_bind` | stack address override | none | TCP source address |
///
/// ```
/// use osi_stack::rtse::ConnectorProfile;
/// let profile = ConnectorProfile::new("\"mta\"/\"mta\"/\"mta\"/Internet=192.0.2.9".parse()?);
/// assert_eq!(profile.checkpoint_size_kb, 30);
/// let request = profile.associate_request(None)?.expect("1988 normal mode");
/// assert_eq!(request.called_tsel.unwrap().as_bytes(), b"mta");
/// assert_eq!(request.application_context.to_string(), "2.6.0.1.6");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectorProfile {
    /// X.400 conformance.
    pub mode: X400Mode,
    /// Octets between minor synchronization points, in units of 1024; 0 = no checkpoints.
    pub checkpoint_size_kb: u32,
    /// Checkpoints that may be outstanding before the sender waits.
    pub window_size: u32,
    /// How long to try to resume an interrupted transfer before starting it again.
    pub recovery_timeout: Duration,
    /// Attempts to open an association before giving up (non-delivery).
    pub open_retries: u32,
    /// Wait after a failed open.
    pub open_interval: Duration,
    /// Attempts to transfer a message over an open association.
    pub transfer_retries: u32,
    /// Wait after a failed transfer.
    pub transfer_interval: Duration,
    /// Release an association idle this long.
    pub lifetime: Option<Duration>,
    /// After release, wait this long for the peer to close the transport connection.
    pub disconnect: Duration,
    /// Two-way alternate dialogue (else monologue).
    pub two_way_alternate: bool,
    /// This side holds the turn first.
    pub local_initial_turn: bool,
    /// This MTA's name in the MTA-bind.
    pub local_mta_name: Option<String>,
    /// This MTA's password in the MTA-bind.
    pub local_mta_password: Option<String>,
    /// The name the peer MTA must present.
    pub remote_mta_name: Option<String>,
    /// The password the peer MTA must present.
    pub remote_mta_password: Option<String>,
    /// The peer: selectors and network addresses.
    pub remote: PresentationAddress,
    /// Local address to connect from.
    pub local_bind: Option<IpAddr>,
    /// Maximum TPDU size proposed.
    pub tpdu_size: usize,
    /// Abstract syntax of the RTSE presentation context (1988 normal mode).
    pub rtse_syntax: RtseSyntax,
    /// Session functional units the RT-OPEN proposes (initiator) or requires of the peer's
    /// proposal (responder); default [`RTS_REQUIREMENTS`](super::RTS_REQUIREMENTS) (`0x0249`).
    /// See [`RtsSettings::session_requirements`](super::RtsSettings::session_requirements).
    pub session_requirements: crate::session::SessionUserRequirements,
}

impl ConnectorProfile {
    /// A profile for `remote` with Exchange's defaults.
    pub fn new(remote: PresentationAddress) -> Self {
        ConnectorProfile {
            mode: X400Mode::Normal1988,
            checkpoint_size_kb: 30,
            window_size: 5,
            recovery_timeout: Duration::from_secs(60),
            open_retries: 144,
            open_interval: Duration::from_secs(600),
            transfer_retries: 2,
            transfer_interval: Duration::from_secs(120),
            lifetime: Some(Duration::from_secs(300)),
            disconnect: Duration::from_secs(120),
            two_way_alternate: false,
            local_initial_turn: true,
            local_mta_name: None,
            local_mta_password: None,
            remote_mta_name: None,
            remote_mta_password: None,
            remote,
            local_bind: None,
            tpdu_size: 8192,
            rtse_syntax: RtseSyntax::default(),
            session_requirements: super::RTS_REQUIREMENTS,
        }
    }

    /// The association settings: TPDU size, idle lifetime and disconnect wait, and an accept's
    /// user data kept within 512 octets (ISODE-based MTAs reject more in an AC:
    /// [`Config::accept_user_data_limit`]).
    pub fn config(&self) -> Config {
        Config::default()
            .with_tpdu_size(self.tpdu_size)
            .with_idle_lifetime(self.lifetime)
            .with_disconnect_wait(self.disconnect)
            .with_accept_user_data_limit(Some(512))
    }

    /// The RTORQ this profile proposes, with `open` as the RTSE-user data (the P1 MTA-bind
    /// argument, one BER value; building it is the MTA's job).
    pub fn rtorq<'a>(&self, open: Option<&'a [u8]>) -> Rtorq<'a> {
        let mut rq = Rtorq::new(ConnectionData::Open(open));
        rq.checkpoint_size = Some(i64::from(self.checkpoint_size_kb));
        rq.window_size = Some(i64::from(self.window_size));
        if self.two_way_alternate {
            rq.dialogue_mode = Some(DialogueMode::TWA);
        }
        rq
    }

    /// The association request of a 1988-normal-mode connector: application context
    /// id-ac-mts-transfer (2.6.0.1.6), contexts 3 = the RTSE syntax ([`Self::rtse_syntax`],
    /// by default id-as-mta-rtse, 2.6.0.2.12) and
    /// 5 = id-as-mtse (2.6.0.2.7) besides ACSE, as the X.400 captures show, the remote
    /// selectors, and the RTORQ as AARQ user-information on context 3. `None` in the X.410
    /// modes, which have no ACSE (the association machine does not speak them yet).
    pub fn associate_request(
        &self,
        open: Option<&[u8]>,
    ) -> Result<Option<AssociateRequest>, EncodeError> {
        if self.mode != X400Mode::Normal1988 {
            return Ok(None);
        }
        let rq = self.rtorq(open);
        let mut user_info = Vec::with_capacity(rq.encoded_len());
        rq.encode(&mut user_info)?;
        let request = AssociateRequest::new(Oid::X400_AC_MTS_TRANSFER.to_owned_oid())
            .with_contexts(vec![
                PresentationContext::ber(3, self.rtse_syntax.oid()),
                PresentationContext::ber(5, Oid::X400_AS_MTSE),
            ])
            .with_called_address(&self.remote)
            .with_user_information(user_info);
        Ok(Some(request))
    }
}
