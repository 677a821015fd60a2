//! The "X.400 ping" of `osi connect --rtse` and `osi listen --rtse` (`docs/cli.md`): an RTS
//! association (X.228 RTSE as X.400 MTAs use it) over the tokio RTS driver
//! ([`osi_stack::tokio::rts`]), with an MTA-bind, transfers, turns both ways and RT-CLOSE.
//!
//! The MTA-bind is the minimal X.411 form the X.400 captures show
//! (`x400-ping-success.pcap`, `x400-ping-refuse.pcap`, frames 6 and 7): the argument
//! `[16] { authenticated [1] { initiator-name [0] IA5String, initiator-credentials [1] { simple
//! IA5String } } }`, the result `[17] { [1] { responder-name [0], responder-credentials [1] } }`
//! and the error `[18] INTEGER` (2 = authentication-error).

use std::io::{self, Write};
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, ValueEnum};
use osi_stack::Limits;
use osi_stack::address::PresentationAddress;
use osi_stack::association::{AssociateIndication, AssociateRequest, Config, Dispatch, Event};
use osi_stack::oid::OwnedOid;
use osi_stack::rts::{MtaBind, RtsAbortCause, check_session_requirements};
use osi_stack::rtse::{
    ConnectorProfile, DialogueMode, OpenIndication, RefuseReason, RtsEvent, RtsSettings,
    TransferState, X400Mode,
};
use osi_stack::session::SessionUserRequirements;
use osi_stack::tokio::ListenerConfig;
use osi_stack::tokio::rts::{RtsConnection, RtsDialer, RtsIncoming, RtsListener, RtsWaitError};
use tokio::task::JoinSet;

use crate::args;
use crate::events::{
    Printer, Record, Tag, accept_error_record, layer_name, record, set_selectors, shed_record,
};
use crate::json::hex;
use crate::listen::Sink;
use crate::output::Format;

/// `--rtse`: the X.400 conformance mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RtseMode {
    /// 1988 normal mode: ACSE, presentation normal mode, RTSE.
    Normal,
    /// 1988 X.410 mode: X.410-1984 presentation mode carrying 1988 P1.
    #[value(name = "x410-1988")]
    X410_1988,
    /// 1984: X.410-1984 presentation mode carrying 1984 P1.
    #[value(name = "x410-1984")]
    X410_1984,
}

impl RtseMode {
    fn mode(self) -> X400Mode {
        match self {
            RtseMode::Normal => X400Mode::Normal1988,
            RtseMode::X410_1988 => X400Mode::X410Mode1988,
            RtseMode::X410_1984 => X400Mode::Mode1984,
        }
    }

    fn name(self) -> &'static str {
        match self {
            RtseMode::Normal => "normal",
            RtseMode::X410_1988 => "x410-1988",
            RtseMode::X410_1984 => "x410-1984",
        }
    }
}

/// `--dialogue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dialogue {
    /// Two-way alternate: the turn passes between the sides.
    Twa,
    /// Monologue: only the initiator transfers.
    Monologue,
}

/// `--initial-turn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitialTurn {
    /// This side (the initiator) holds the turn first.
    Local,
    /// The responder holds the turn first (two-way alternate only).
    Remote,
}

/// The `--rtse` flags of `osi connect`.
#[derive(Debug, Args)]
pub struct RtseConnectArgs {
    /// An X.400 ping: RT-OPEN with an MTA-bind, RT-TRANSFERs, turns, RT-CLOSE
    #[arg(long, value_enum, value_name = "MODE")]
    pub rtse: Option<RtseMode>,
    /// MTA-bind initiator name (with --rtse)
    #[arg(long, value_name = "NAME", requires = "rtse")]
    pub mta_name: Option<String>,
    /// MTA-bind simple credentials (with --rtse)
    #[arg(long, value_name = "PW", requires = "rtse")]
    pub mta_password: Option<String>,
    /// The RTORQ's connectionData `open` content as given (one BER value), instead of an
    /// MTA-bind
    #[arg(long, value_name = "HEX", value_parser = args::hex, requires = "rtse",
          conflicts_with_all = ["mta_name", "mta_password"])]
    pub open_data: Option<args::Hex>,
    /// Checkpoint size proposed, in KiB (0: no checkpoints)
    #[arg(long, value_name = "KB", default_value_t = 30, requires = "rtse")]
    pub checkpoint: u32,
    /// Window proposed (checkpoints outstanding)
    #[arg(long, value_name = "N", default_value_t = 5, requires = "rtse",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub window: u32,
    /// Dialogue mode
    #[arg(long, value_enum, default_value_t = Dialogue::Twa, requires = "rtse")]
    pub dialogue: Dialogue,
    /// Who holds the turn first
    #[arg(long, value_enum, default_value_t = InitialTurn::Local, requires = "rtse")]
    pub initial_turn: InitialTurn,
    /// An APDU to send as an RT-TRANSFER: hex, or @FILE for a file's octets (repeatable, in
    /// order)
    #[arg(long = "transfer", value_name = "HEX|@FILE", value_parser = transfer_arg,
          requires = "rtse")]
    pub transfers: Vec<Bytes>,
    /// Ask for the turn (RT-TURN-PLEASE) when the peer holds it
    #[arg(long, requires = "rtse")]
    pub turn_please: bool,
    /// The peer echoes every transfer: give it the turn after the transfers and wait for
    /// each APDU back (two-way alternate)
    #[arg(long = "expect-echo", requires = "rtse")]
    pub expect_echo: bool,
    /// Abstract syntax of the RTSE context (X.228's 2.3.2; some stacks want 2.3.0)
    #[arg(long, value_name = "OID", default_value = "2.3.2", value_parser = args::oid)]
    pub rtse_syntax: OwnedOid,
}

/// `--transfer HEX|@FILE`.
fn transfer_arg(s: &str) -> Result<Bytes, String> {
    match s.strip_prefix('@') {
        Some(path) => std::fs::read(path)
            .map(Bytes::from)
            .map_err(|e| format!("{path}: {e}")),
        None => args::octets(s).map(Bytes::from),
    }
}

/// The `--rtse` flags of `osi listen`.
#[derive(Debug, Args)]
pub struct RtseListenArgs {
    /// Answer RT-OPEN (1988 normal mode or an X.410 mode, as the peer asks), sink or --echo
    /// each transfer, pass the turn back when asked, accept RT-CLOSE. The value is the mode
    /// advertised in events; every mode is answered
    #[arg(long, value_enum, value_name = "MODE")]
    pub rtse: Option<RtseMode>,
    /// The MTA-bind initiator name a peer must present (with --rtse)
    #[arg(long, value_name = "NAME", requires = "rtse")]
    pub mta_name: Option<String>,
    /// The MTA-bind password a peer must present (with --rtse)
    #[arg(long, value_name = "PW", requires = "rtse")]
    pub mta_password: Option<String>,
    /// Session functional units a peer's RT-OPEN must leave agreed on, hex (default 0249:
    /// half-duplex, minor synchronize, activity management, exceptions; duplex is refused)
    #[arg(long, value_name = "HEX", value_parser = args::session_requirements,
          requires = "rtse")]
    pub session_requirements: Option<SessionUserRequirements>,
}

/// What `osi listen --rtse` needs from the rest of `osi listen`'s flags.
pub struct ListenPlan<'a> {
    /// ADDR:PORT.
    pub address: &'a str,
    /// The services.
    pub dispatch: Dispatch,
    /// --echo.
    pub echo: bool,
    /// --max-associations.
    pub max_associations: Option<u64>,
    /// The --rtse flags.
    pub rtse: &'a RtseListenArgs,
    /// The service limits of the flags: every one applies (the [`RtsListener`]'s).
    pub limits: ListenerConfig,
}

/// What `osi connect --rtse` needs from the rest of `osi connect`'s flags.
pub struct ConnectPlan<'a> {
    /// HOST:PORT.
    pub address: &'a str,
    /// --bind.
    pub bind: Option<IpAddr>,
    /// The association request built from the selector, AP-title and context flags.
    pub request: AssociateRequest,
    /// --tpdu-size.
    pub tpdu_size: usize,
    /// --retries, --open-interval.
    pub retries: u32,
    /// --open-interval.
    pub open_interval: Duration,
    /// --timeout.
    pub timeout: Duration,
    /// --abort.
    pub abort: bool,
    /// --format.
    pub format: Format,
    /// The --rtse flags.
    pub rtse: &'a RtseConnectArgs,
    /// --session-requirements (default 0249).
    pub session_requirements: Option<SessionUserRequirements>,
}

// -------------------------------------------------------------------------------------------
// MTA-bind (X.411 inside the X.880 bind tags, as the captures show it: `rts::MtaBind`)

/// The MTA name of an MTA-bind argument or result (`[16]`/`[17]`-wrapped or bare), if it is
/// an authenticated one.
fn bind_name(v: &[u8]) -> Option<String> {
    match MtaBind::decode(v, &Limits::DEFAULT) {
        Ok(MtaBind::Authenticated { name, .. }) => Some(String::from_utf8_lossy(name).into_owned()),
        _ => None,
    }
}

/// The profile `osi listen --rtse` checks an MTA-bind argument with: the name and password a
/// peer must present, and the name it answers with (the expected name, else "osi", with an
/// empty password).
fn listen_profile(name: Option<&str>, password: Option<&str>) -> ConnectorProfile {
    let mut p = ConnectorProfile::new(PresentationAddress {
        psel: None,
        ssel: None,
        tsel: None,
        network: Vec::new(),
    });
    p.remote_mta_name = name.map(str::to_owned);
    p.remote_mta_password = password.map(str::to_owned);
    p.local_mta_name = Some(name.unwrap_or("osi").to_owned());
    p.local_mta_password = Some(String::new());
    p
}

// -------------------------------------------------------------------------------------------
// Records

fn rt_refused(e: &RtsWaitError) -> Record {
    let mut r = match e {
        RtsWaitError::Refused {
            refusal,
            refuse_reason,
            user_data,
        } => {
            let mut r = record(&Event::Refused(Box::new(refusal.clone())))
                .unwrap_or_else(|| Record::new("refused", format!("refused: {refusal}")));
            if let Some(rr) = refuse_reason {
                r.obj.set("refuse_reason", rr.0);
                r.text = format!("{}; rtorj {rr}", r.text);
            }
            if let Some(d) = user_data {
                r.obj.set("bind_error", hex(d));
                r.text = format!("{}; bind error {}", r.text, hex(d));
            }
            r
        }
        other => Record::new("refused", other.to_string()),
    };
    r.event = "rt-refused";
    r
}

fn rt_aborted(cause: &RtsAbortCause, rtab: Option<osi_stack::rtse::AbortReason>) -> Record {
    let reason = cause.to_string();
    let mut r = Record::new("rt-aborted", format!("rt-aborted: {reason}"));
    r.obj.set("reason", reason);
    if let Some(a) = rtab {
        r.obj.set("rtab", a.0);
        r.text = format!("{}; rtab {a}", r.text);
    }
    r
}

fn turn(local: bool) -> Record {
    let holder = if local { "local" } else { "remote" };
    let mut r = Record::new("turn", format!("turn: {holder}"));
    r.obj.set("holder", holder);
    r
}

fn seq_record(event: &'static str, seq: u64, octets: Option<usize>) -> Record {
    let mut r = Record::new(
        event,
        match octets {
            Some(n) => format!("{event}: seq {seq}, {n} octets"),
            None => format!("{event}: seq {seq}"),
        },
    );
    r.obj.set("seq", seq);
    if let Some(n) = octets {
        r.obj.set("octets", n);
    }
    r
}

fn received(apdu: &Bytes) -> Record {
    let mut r = Record::new("received", format!("received: {} octets", apdu.len()));
    r.obj.set("octets", apdu.len());
    r
}

fn opened_record(o: &osi_stack::rtse::Opened, mode: RtseMode) -> Record {
    let dialogue = if o.dialogue_mode == DialogueMode::TWA {
        "twa"
    } else {
        "monologue"
    };
    let holder = if o.turn { "local" } else { "remote" };
    let mut r = Record::new(
        "rt-opened",
        format!(
            "rt-opened ({}): checkpoint size {} KiB, window {}, {dialogue}, turn {holder}",
            mode.name(),
            o.checkpoint_size_kb,
            o.window_size
        ),
    );
    r.obj.set("mode", mode.name());
    r.obj.set("checkpoint_size", o.checkpoint_size_kb);
    r.obj.set("window_size", o.window_size);
    r.obj.set("dialogue_mode", dialogue);
    r.obj.set("turn", holder);
    if let Some(d) = &o.user_data {
        r.obj.set("bind_result", hex(d));
        match bind_name(d) {
            Some(name) => {
                r.obj.set("responder_name", name.clone());
                r.text = format!("{}; bind result from {name:?}", r.text);
            }
            None => r.text = format!("{}; bind result {}", r.text, hex(d)),
        }
    }
    r
}

// -------------------------------------------------------------------------------------------
// osi connect --rtse

fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_owned(), port.parse().ok()?))
}

/// Runs `osi connect --rtse`.
pub fn connect(plan: ConnectPlan<'_>) -> ExitCode {
    let complain = |m: &str| {
        let _ = writeln!(io::stderr(), "osi connect: {m}");
    };
    let Some((host, port)) = split_host_port(plan.address) else {
        complain(&format!("{:?} is not HOST:PORT", plan.address));
        return ExitCode::from(2);
    };
    let a = plan.rtse;
    if let Some(r) = plan.session_requirements {
        if let Err(why) = check_session_requirements(r) {
            complain(&format!(
                "--session-requirements {:04x} cannot carry --rtse: {why}",
                r.get()
            ));
            return ExitCode::from(2);
        }
    }
    if a.dialogue == Dialogue::Monologue
        && (a.expect_echo || a.turn_please || a.initial_turn == InitialTurn::Remote)
    {
        complain("--expect-echo, --turn-please and --initial-turn remote need --dialogue twa");
        return ExitCode::from(2);
    }
    let Some(runtime) = crate::current_thread_runtime("connect") else {
        return ExitCode::from(1);
    };
    let mut ping = Ping {
        printer: Printer::new(plan.format),
        failure: None,
    };
    runtime.block_on(ping.run(&plan, &host, port));
    match ping.failure {
        None => ExitCode::SUCCESS,
        Some(why) => {
            complain(&why);
            ExitCode::from(1)
        }
    }
}

struct Ping {
    printer: Printer,
    failure: Option<String>,
}

impl Ping {
    fn print(&self, r: &Record) {
        self.printer.print(None, r);
    }

    fn fail(&mut self, why: impl Into<String>) {
        if self.failure.is_none() {
            self.failure = Some(why.into());
        }
    }

    /// Prints an error record and remembers the failure.
    fn error(&mut self, layer: &str, e: &RtsWaitError) {
        match e {
            RtsWaitError::Aborted { cause, rtab } => self.print(&rt_aborted(cause, *rtab)),
            other => self.print(&Record::error(layer, other.to_string())),
        }
        self.fail(e.to_string());
    }

    /// Prints an event of the association.
    fn show(&mut self, ev: &RtsEvent) {
        match ev {
            RtsEvent::TurnGiven => self.print(&turn(true)),
            RtsEvent::TurnPlease { priority } => {
                let mut r = Record::new("turn-please", format!("turn please, priority {priority}"));
                r.obj.set("priority", *priority);
                self.print(&r);
            }
            RtsEvent::Received(b) => self.print(&received(b)),
            RtsEvent::Confirmed { seq } => self.print(&seq_record("confirmed", *seq, None)),
            RtsEvent::TransferFailed { seq } => {
                self.print(&seq_record("transfer-failed", *seq, None));
                self.fail(format!("transfer {seq} was given up"));
            }
            RtsEvent::Aborted { cause, rtab } => {
                self.print(&rt_aborted(cause, *rtab));
                self.fail(format!("rt-aborted: {cause}"));
            }
            RtsEvent::Released => self.print(&Record::new("rt-closed", "rt-closed")),
            _ => {}
        }
    }

    /// Prints events until `done` accepts one (`true`), the association ends or `t` runs out
    /// (`false`, reported).
    async fn until(
        &mut self,
        conn: &mut RtsConnection,
        t: Duration,
        what: &str,
        mut done: impl FnMut(&RtsEvent) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + t;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match conn.next_event_within(left).await {
                Ok(Some(ev)) => {
                    self.show(&ev);
                    if done(&ev) {
                        return true;
                    }
                    if matches!(ev, RtsEvent::Aborted { .. } | RtsEvent::Closed) {
                        self.fail(format!("the association ended while waiting for {what}"));
                        return false;
                    }
                }
                Ok(None) => {
                    self.fail(format!("the association ended while waiting for {what}"));
                    return false;
                }
                Err(RtsWaitError::Timeout { .. }) => {
                    let m = format!("no {what} within {} s", t.as_secs_f64());
                    self.print(&Record::error("rtse", m.clone()));
                    self.fail(m);
                    return false;
                }
                Err(e) => {
                    self.error("rtse", &e);
                    return false;
                }
            }
        }
    }

    async fn run(&mut self, plan: &ConnectPlan<'_>, host: &str, port: u16) {
        let a = plan.rtse;
        let mode = a.rtse.unwrap_or(RtseMode::Normal);
        let twa = a.dialogue == Dialogue::Twa;
        let mut profile = ConnectorProfile::new(PresentationAddress {
            psel: None,
            ssel: None,
            tsel: None,
            network: Vec::new(),
        });
        profile.mode = mode.mode();
        profile.checkpoint_size_kb = a.checkpoint;
        profile.window_size = a.window;
        profile.two_way_alternate = twa;
        profile.local_initial_turn = a.initial_turn == InitialTurn::Local;
        profile.open_retries = plan.retries;
        profile.open_interval = plan.open_interval;
        profile.local_bind = plan.bind;
        profile.tpdu_size = plan.tpdu_size;
        if let Some(r) = plan.session_requirements {
            profile.session_requirements = r;
        }
        let mut dialer = match RtsDialer::from_profile(&profile) {
            Ok(d) => d,
            Err(e) => {
                self.print(&Record::error("rtse", e.to_string()));
                self.fail(e.to_string());
                return;
            }
        };
        dialer.request = plan.request.clone();
        dialer.config = Config::default()
            .with_tpdu_size(plan.tpdu_size)
            .with_response_timeout(plan.timeout)
            .with_disconnect_wait(plan.timeout);
        dialer.dialer = dialer.dialer.with_connect_timeout(plan.timeout);
        dialer.open_timeout = plan.timeout;
        let open: Option<Vec<u8>> = match (&a.open_data, &a.mta_name, &a.mta_password) {
            (Some(d), _, _) => Some(d.0.clone()),
            (None, None, None) => None,
            (None, n, p) => {
                profile.local_mta_name = Some(n.clone().unwrap_or_default());
                profile.local_mta_password = Some(p.clone().unwrap_or_default());
                match profile.mta_bind_argument() {
                    Ok(arg) => Some(arg),
                    Err(e) => {
                        self.print(&Record::error("rtse", e.to_string()));
                        self.fail(e.to_string());
                        return;
                    }
                }
            }
        };
        let (mut conn, opened) = match dialer
            .dial_to(host, port, open.as_deref(), TransferState::new())
            .await
        {
            Ok(ok) => ok,
            Err(e) => {
                match &e.error {
                    RtsWaitError::Refused { .. } => self.print(&rt_refused(&e.error)),
                    RtsWaitError::Io(io) => self.print(&Record::error(
                        "tcp",
                        format!("{}: {io} ({} attempt(s))", plan.address, e.attempts),
                    )),
                    other => self.print(&Record::error("rtse", other.to_string())),
                }
                self.fail(e.to_string());
                return;
            }
        };
        self.print(&opened_record(&opened, mode));
        let t = plan.timeout;
        let mut pending: Vec<u64> = Vec::new();
        let mut back: Vec<Bytes> = Vec::new();
        for apdu in &a.transfers {
            if !conn.has_turn() && !self.get_turn(&mut conn, a.turn_please, t).await {
                return;
            }
            let seq = match conn.transfer(apdu.clone()).await {
                Ok(s) => s,
                Err(e) => return self.error("rtse", &e),
            };
            self.print(&seq_record("transferred", seq, Some(apdu.len())));
            pending.push(seq);
            // One transfer at a time: its confirmation within --timeout.
            let ok = self
                .until(&mut conn, t, "rt-transfer confirmation", |ev| match ev {
                    RtsEvent::Confirmed { seq: s } => {
                        pending.retain(|p| p != s);
                        pending.is_empty()
                    }
                    RtsEvent::Received(b) => {
                        back.push(b.clone());
                        false
                    }
                    _ => false,
                })
                .await;
            if !ok {
                return;
            }
        }
        if a.expect_echo {
            if conn.has_turn() {
                if let Err(e) = conn.turn_give().await {
                    return self.error("rtse", &e);
                }
                self.print(&turn(false));
            }
            let want = a.transfers.len();
            if back.len() < want {
                let ok = self
                    .until(&mut conn, t, "echoed apdus", |ev| {
                        if let RtsEvent::Received(b) = ev {
                            back.push(b.clone());
                        }
                        back.len() >= want
                    })
                    .await;
                if !ok {
                    return;
                }
            }
            if back != a.transfers {
                self.print(&Record::error(
                    "rtse",
                    "the apdus echoed differ from the ones transferred",
                ));
                self.fail("the echo differs");
            }
        }
        if plan.abort {
            if let Err(e) = conn.abort(None, t).await {
                self.error("rtse", &e);
            }
            self.print(&Record::new("rt-aborted", "rt-aborted by this side"));
            return;
        }
        if !conn.has_turn() && !self.get_turn(&mut conn, a.turn_please || twa, t).await {
            return;
        }
        match conn.close(t).await {
            Ok(()) => self.print(&Record::new("rt-closed", "rt-closed")),
            Err(e) => self.error("rtse", &e),
        }
    }

    /// Gets the turn: asks for it with `please`, then waits for it.
    async fn get_turn(&mut self, conn: &mut RtsConnection, please: bool, t: Duration) -> bool {
        if please {
            if let Err(e) = conn.turn_please(0).await {
                self.error("rtse", &e);
                return false;
            }
            let mut r = Record::new("turn-please", "asked for the turn");
            r.obj.set("priority", 0i64);
            self.print(&r);
        }
        self.until(conn, t, "turn", |ev| *ev == RtsEvent::TurnGiven)
            .await
    }
}

// -------------------------------------------------------------------------------------------
// osi listen --rtse

struct Answers {
    printer: Sink,
    echo: bool,
    /// The MTA-bind a peer must present, and this side's answer.
    profile: ConnectorProfile,
    mode: RtseMode,
    /// Octets waiting to be echoed, at most (--max-message).
    max_echo: usize,
}

/// Serves `osi listen --rtse` (on the runtime and event sink of
/// [`crate::listen::run_service`]).
pub async fn serve(plan: ListenPlan<'_>, printer: Sink) -> ExitCode {
    if let Some(r) = plan.rtse.session_requirements {
        if let Err(why) = check_session_requirements(r) {
            let _ = writeln!(
                io::stderr(),
                "osi listen: --session-requirements {:04x} cannot carry --rtse: {why}",
                r.get()
            );
            return ExitCode::from(2);
        }
    }
    let mut listener = match RtsListener::bind(
        plan.address,
        Config::default(),
        plan.dispatch.clone(),
        RtsSettings::default().with_session_requirements(
            plan.rtse
                .session_requirements
                .unwrap_or(osi_stack::rts::RTS_REQUIREMENTS),
        ),
    )
    .await
    {
        Ok(l) => l.with_limits(plan.limits.clone()),
        Err(e) => {
            let message = format!("cannot listen on {}: {e}", plan.address);
            printer.print(None, &Record::error("tcp", message.clone()));
            let _ = writeln!(io::stderr(), "osi listen: {message}");
            return ExitCode::from(1);
        }
    };
    let bound = listener
        .local_addr()
        .map_or_else(|_| plan.address.to_owned(), |s| s.to_string());
    let mut r = Record::new("listening", format!("listening on {bound} (rtse)"));
    r.obj.set("address", bound);
    r.obj
        .set("rtse", plan.rtse.rtse.unwrap_or(RtseMode::Normal).name());
    printer.print(None, &r);
    let answers = Arc::new(Answers {
        printer: printer.clone(),
        echo: plan.echo,
        profile: listen_profile(
            plan.rtse.mta_name.as_deref(),
            plan.rtse.mta_password.as_deref(),
        ),
        mode: plan.rtse.rtse.unwrap_or(RtseMode::Normal),
        max_echo: plan.limits.max_message,
    });
    let mut tasks = JoinSet::new();
    let mut accepted = 0u64;
    loop {
        let more = plan.max_associations.is_none_or(|m| accepted < m);
        if !more && tasks.is_empty() {
            break;
        }
        let incoming = tokio::select! {
            a = listener.next_incoming(), if more => a,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        match incoming {
            RtsIncoming::Accepted(conn) => {
                accepted = accepted.saturating_add(1);
                let answers = Arc::clone(&answers);
                tasks.spawn(handle(*conn, accepted, answers));
            }
            RtsIncoming::Shed { peer, reason } => printer.print(None, &shed_record(peer, reason)),
            RtsIncoming::Error { error, retry_in } => {
                printer.print(None, &accept_error_record(&error, retry_in));
            }
            _ => {}
        }
    }
    ExitCode::SUCCESS
}

/// The `rt-open` record of a responder: who calls, and what it proposes.
fn open_record(ind: &OpenIndication, peer: &str) -> Record {
    let who: &AssociateIndication = &ind.associate;
    let mode = if who.x410_parameters.is_some() {
        "x410"
    } else {
        "normal"
    };
    let mut r = Record::new(
        "rt-open",
        format!(
            "rt-open from {peer} ({mode}): checkpoint size {} KiB, window {}, {}",
            ind.checkpoint_size_kb, ind.window_size, ind.dialogue_mode
        ),
    );
    r.obj.set("peer", peer);
    r.obj.set("mode", mode);
    set_selectors(&mut r.obj, who);
    if let Some(t) = &who.calling_ap_title {
        r.obj.set("calling_ap_title", t.to_string());
        r.text = format!("{}, calling ap-title {t}", r.text);
    }
    if let Some(c) = &who.application_context {
        r.obj.set("application_context", c.to_string());
    }
    r.obj.set("checkpoint_size", ind.checkpoint_size_kb);
    r.obj.set("window_size", ind.window_size);
    if let Some(d) = &ind.user_data {
        r.obj.set("open_data", hex(d));
        if let Some(name) = bind_name(d) {
            r.obj.set("mta_name", name.clone());
            r.text = format!("{}, mta-bind from {name:?}", r.text);
        }
    }
    r
}

/// Drives one RTS association to its end.
async fn handle(mut conn: RtsConnection, n: u64, answers: Arc<Answers>) {
    let printer = answers.printer.clone();
    let peer = conn
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |p| p.to_string());
    let mut service: Option<String> = None;
    let mut to_echo: Vec<Bytes> = Vec::new();
    let mut please = false;
    loop {
        // Every wait is bounded by the listener's limits (connect, idle, io timers) and the
        // machine's own time-outs.
        let Some(ev) = conn.next_event().await else {
            break;
        };
        while let Some(notice) = conn.poll_notice() {
            let tag = Tag {
                association: n,
                service: service.as_deref(),
            };
            printer.print(Some(&tag), &crate::listen::notice_record(notice, &peer));
        }
        if let RtsEvent::OpenIndication(ind) = &ev {
            service = ind.associate.service_name.clone();
        }
        let tag = Tag {
            association: n,
            service: service.as_deref(),
        };
        let mut out: Vec<Record> = Vec::new();
        let mut failure: Option<RtsWaitError> = None;
        match &ev {
            RtsEvent::OpenIndication(ind) => {
                out.push(open_record(ind, &peer));
                let data = ind.user_data.as_deref();
                let authenticated = data.and_then(bind_name).is_some();
                let result = match answers.profile.check_mta_bind(data, &Limits::DEFAULT) {
                    Ok(reply) => {
                        // An authenticated argument is answered with this side's result.
                        let reply = authenticated.then_some(reply);
                        conn.accept(None, reply.as_deref()).await
                    }
                    Err(e) => {
                        let mut r = Record::new(
                            "rt-refused",
                            format!(
                                "refused the rt-open: the mta-bind does not match ({})",
                                e.name().unwrap_or("mta-bind-error")
                            ),
                        );
                        let error = e.encode();
                        r.obj.set("bind_error", hex(&error));
                        out.push(r);
                        conn.reject(RefuseReason::VALIDATION_FAILURE, Some(&error))
                            .await
                    }
                };
                if let Err(e) = result {
                    failure = Some(e);
                }
            }
            RtsEvent::Opened(o) => out.push(opened_record(o, answers.mode)),
            RtsEvent::Rejected(r) => {
                if let Some(mut rec) = record(&Event::Rejected(Box::new(r.clone()))) {
                    rec.obj.set("peer", peer.clone());
                    out.push(rec);
                }
            }
            RtsEvent::OpenRefused { reason, cause } => {
                let mut r = Record::new("rt-refused", format!("refused the rt-open: {cause}"));
                r.obj.set("peer", peer.clone());
                r.obj.set("refuse_reason", reason.0);
                r.obj.set("cause", cause.to_string());
                out.push(r);
            }
            RtsEvent::Received(b) => {
                out.push(received(b));
                // What waits for the turn to be echoed is bounded (--max-message in all):
                // a peer that never gives the turn back cannot make this side hold more.
                let waiting: usize = to_echo.iter().map(Bytes::len).sum();
                if answers.echo && waiting.saturating_add(b.len()) > answers.max_echo {
                    out.push(Record::error(
                        "rtse",
                        format!(
                            "not echoed: {} octets already wait for the turn (at most {})",
                            waiting, answers.max_echo
                        ),
                    ));
                } else if answers.echo {
                    to_echo.push(b.clone());
                }
            }
            RtsEvent::TurnGiven => out.push(turn(true)),
            RtsEvent::TurnPlease { priority } => {
                let mut r = Record::new("turn-please", format!("turn please, priority {priority}"));
                r.obj.set("priority", *priority);
                out.push(r);
                please = true;
            }
            RtsEvent::Confirmed { seq } => out.push(seq_record("confirmed", *seq, None)),
            RtsEvent::Released => out.push(Record::new("rt-closed", "rt-closed")),
            RtsEvent::Aborted { cause, rtab } => {
                if let Some(which) = cause
                    .association_abort()
                    .and_then(crate::listen::abort_timeout)
                {
                    out.push(crate::listen::timeout_record(which));
                }
                out.push(rt_aborted(cause, *rtab));
            }
            RtsEvent::Refused { .. } | RtsEvent::TransferFailed { .. } | RtsEvent::Closed => {}
            _ => {}
        }
        if ev == RtsEvent::Closed {
            let mut r = Record::new("closed", "closed");
            r.obj.set("peer", peer.clone());
            out.push(r);
        }
        // With the turn: echo what came, then give the turn back when it was asked for.
        if conn.rts().is_open() && conn.has_turn() {
            for b in to_echo.drain(..) {
                match conn.transfer(b.clone()).await {
                    Ok(seq) => out.push(seq_record("transferred", seq, Some(b.len()))),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            if please && conn.rts().state().pending() == 0 {
                please = false;
                match conn.turn_give().await {
                    Ok(()) => out.push(turn(false)),
                    Err(e) => failure = Some(e),
                }
            }
        }
        for r in &out {
            printer.print(Some(&tag), r);
        }
        if let Some(e) = failure {
            printer.print(
                Some(&tag),
                &Record::error(layer_name(osi_stack::Layer::Rtse), e.to_string()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use osi_stack::rts::MtaBindError;

    fn unhex(s: &str) -> Vec<u8> {
        crate::args::octets(s).unwrap()
    }

    /// The MTA-bind argument of `x400-ping-refuse.pcap` (frame 6) and the result of
    /// `x400-ping-success.pcap` (frame 7): the names the records show, and the listener's
    /// check and answer (`tests/mta_bind.rs` checks the library byte for byte).
    #[test]
    fn mta_bind_as_in_the_captures() {
        let arg = unhex("b01ca11a8013706572636976616c2e736d68732e636f2e756ba103160120");
        assert_eq!(bind_name(&arg).as_deref(), Some("percival.smhs.co.uk"));
        let result =
            unhex("b122a12080146775696e65766572652e736d68732e636f2e756ba10816066d65726c696e");
        assert_eq!(bind_name(&result).as_deref(), Some("guinevere.smhs.co.uk"));
        // The bare authenticated SET, and what is not an authenticated bind.
        assert_eq!(bind_name(&arg[2..]).as_deref(), Some("percival.smhs.co.uk"));
        assert_eq!(bind_name(&[0x05, 0x00]), None);
        assert_eq!(bind_name(&[0xb0, 0x05, 0xa1]), None);
        assert_eq!(bind_name(&[]), None);
        // osi listen --rtse --mta-name percival.smhs.co.uk --mta-password " ".
        let p = listen_profile(Some("percival.smhs.co.uk"), Some(" "));
        let reply = p.check_mta_bind(Some(&arg), &Limits::DEFAULT).unwrap();
        assert_eq!(
            MtaBind::decode(&reply, &Limits::DEFAULT).unwrap(),
            MtaBind::Authenticated {
                name: b"percival.smhs.co.uk",
                password: Some(b"")
            }
        );
        assert_eq!(&reply[..1], [0xb1]);
        let p = listen_profile(None, Some("merlin"));
        assert_eq!(
            p.check_mta_bind(Some(&arg), &Limits::DEFAULT),
            Err(MtaBindError::AUTHENTICATION_ERROR)
        );
        assert_eq!(
            MtaBindError::AUTHENTICATION_ERROR.encode(),
            [0xb2, 0x03, 0x02, 0x01, 0x02]
        );
    }
}
