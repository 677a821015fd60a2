//! `osi connect`: open an association to a peer, send P-DATA, release or abort, and report every
//! step (an "OSI ping").

use std::io::{self, Write};
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use osi_stack::address::{PSel, SSel, TSel};
use osi_stack::association::{
    AbortSource, ApAddress, AssociateRequest, Config, Event, PresentationContext,
};
use osi_stack::oid::{Oid, OwnedOid};
use osi_stack::session::SessionUserRequirements;
use osi_stack::tokio::{Connection, DialError, Dialer, tls};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::args::{self, ContextArg, Hex, SendArg};
use crate::events::{Printer, Record, record};
use crate::output::Format;
use crate::rts_cmd::{self, ConnectPlan, RtseConnectArgs};

/// Open an association to a peer and report each step.
///
/// Connects over TCP (RFC 1006), sends CR, then CN with CP and AARQ, and waits for the answer;
/// then sends each --send P-DATA and waits for one P-DATA indication after each; then releases
/// (RLRQ/RLRE) or aborts. Each event is printed as it happens: one line of text, or one JSON
/// object a line with --format json (events transport-connected, associated, refused, data,
/// released, release-refused, aborted, error).
///
/// With --rtse, an X.400 ping instead: RT-OPEN (with an MTA-bind from --mta-name and
/// --mta-password, or --open-data), each --transfer as an RT-TRANSFER awaiting its
/// confirmation, the turn given to the peer for its echo (--expect-echo) and asked back
/// (--turn-please), then RT-CLOSE (events rt-opened, rt-refused, transferred, confirmed,
/// received, turn, turn-please, rt-closed, rt-aborted). With --transport-only, an OSI ping at
/// the transport layer: CR/CC, each --send HEX as a TSDU answered by one TSDU, DR.
///
/// Exit status: 0 when every step succeeded; 1 when the peer refused, aborted, did not answer
/// in time or could not be reached (the reason is printed); 2 on a usage error.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The peer (a name or an address, and a port)
    #[arg(value_name = "HOST:PORT")]
    address: String,
    /// Local address to connect from (dual-homed hosts)
    #[arg(long, value_name = "ADDR")]
    bind: Option<IpAddr>,
    /// Calling transport selector (CR parameter C1)
    #[arg(long, value_name = "HEX", value_parser = args::tsel)]
    calling_tsel: Option<TSel>,
    /// Called transport selector (CR parameter C2)
    #[arg(long, value_name = "HEX", value_parser = args::tsel)]
    called_tsel: Option<TSel>,
    /// Calling session selector (CN)
    #[arg(long, value_name = "HEX", value_parser = args::ssel)]
    calling_ssel: Option<SSel>,
    /// Called session selector (CN)
    #[arg(long, value_name = "HEX", value_parser = args::ssel)]
    called_ssel: Option<SSel>,
    /// Calling presentation selector (CP)
    #[arg(long, value_name = "HEX", value_parser = args::psel)]
    calling_psel: Option<PSel>,
    /// Called presentation selector (CP)
    #[arg(long, value_name = "HEX", value_parser = args::psel)]
    called_psel: Option<PSel>,
    /// Proposed maximum TPDU size in octets
    #[arg(long, value_name = "N", default_value = "8192", value_parser = args::tpdu_size)]
    tpdu_size: usize,
    /// ACSE application context name (default 1.0.9506.2.3, MMS; with --rtse 2.6.0.1.6, X.400
    /// MTS transfer)
    #[arg(long, value_name = "OID", value_parser = args::oid)]
    application_context: Option<OwnedOid>,
    /// A presentation context besides ACSE (repeatable; default 3=1.0.9506.2.1, MMS; with
    /// --rtse 3=the --rtse-syntax)
    #[arg(long = "context", value_name = "ID=ABSTRACT_OID", value_parser = args::context)]
    contexts: Vec<ContextArg>,
    /// Calling AP-title (form 2)
    #[arg(long, value_name = "OID", value_parser = args::oid)]
    calling_ap_title: Option<OwnedOid>,
    /// Calling AE-qualifier (form 2)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    calling_ae_qualifier: Option<i64>,
    /// Called AP-title (form 2)
    #[arg(long, value_name = "OID", value_parser = args::oid)]
    called_ap_title: Option<OwnedOid>,
    /// Called AE-qualifier (form 2)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    called_ae_qualifier: Option<i64>,
    /// AARQ user-information: one BER value, sent as an EXTERNAL (single-ASN1-type) on the
    /// first context
    #[arg(long, value_name = "HEX", value_parser = args::hex)]
    user_info: Option<Hex>,
    /// P-DATA to send once associated, in order (repeatable); after each, wait for one P-DATA
    /// indication or --timeout. With --transport-only: HEX, one TSDU each
    #[arg(long = "send", value_name = "CTX=HEX", value_parser = args::send)]
    sends: Vec<SendArg>,
    /// End with an orderly release (the default)
    #[arg(long, conflicts_with = "abort")]
    release: bool,
    /// End with an abort
    #[arg(long)]
    abort: bool,
    /// Retry a failed open (connection refused, DR, ER) N times
    #[arg(long, value_name = "N", default_value_t = 0)]
    retries: u32,
    /// Wait between open retries, in seconds
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = args::seconds)]
    open_interval: Duration,
    /// Time-out of each step, in seconds (TCP connect, each answer of the peer)
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = args::seconds)]
    timeout: Duration,
    /// Session functional units to propose, hex (X.225 Session User Requirements, e.g. 0249:
    /// half-duplex, minor synchronize, activity management, exceptions; default 0002, duplex;
    /// with --rtse default 0249, and it must keep half-duplex, minor synchronize, activity
    /// management and exceptions, without duplex)
    #[arg(long, value_name = "HEX", value_parser = args::session_requirements)]
    session_requirements: Option<SessionUserRequirements>,
    /// An "OSI ping" at the transport layer: CR/CC, then each --send HEX as a TSDU (DT …
    /// EOT), waiting for one TSDU back after each, then DR
    #[arg(long, conflicts_with_all = ["rtse", "abort", "user_info"])]
    transport_only: bool,
    /// The X.400 ping flags
    #[command(flatten)]
    rtse: RtseConnectArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// RFC 1006 over TLS (IEC 62351-3 profile; port 3782 is usual); needs --ca
    #[arg(long, requires = "ca")]
    tls: bool,
    /// PEM file of the CA certificates the server's certificate must chain to
    #[arg(long, value_name = "FILE", requires = "tls")]
    ca: Option<std::path::PathBuf>,
    /// PEM file of this side's certificate chain, for servers that ask for one (with --key)
    #[arg(long, value_name = "FILE", requires_all = ["tls", "key"])]
    cert: Option<std::path::PathBuf>,
    /// PEM file of the private key of --cert
    #[arg(long, value_name = "FILE", requires_all = ["tls", "cert"])]
    key: Option<std::path::PathBuf>,
    /// The name the server's certificate must carry (default: the host of HOST:PORT)
    #[arg(long, value_name = "NAME", requires = "tls")]
    server_name: Option<String>,
}

fn complain(message: &str) {
    let _ = writeln!(io::stderr(), "osi connect: {message}");
}

/// The TLS upgrade of the flags.
fn tls_upgrade(
    a: &ConnectArgs,
) -> Result<
    impl Fn(tokio::net::TcpStream) -> tls::Handshake<tls::client::TlsStream<tokio::net::TcpStream>>
    + use<>,
    String,
> {
    let ca = a.ca.as_ref().ok_or("--tls needs --ca")?;
    let roots = tls::load_certs(ca).map_err(|e| format!("--ca: {e}"))?;
    let mut opts = tls::ClientOptions::new(roots);
    if let (Some(cert), Some(key)) = (&a.cert, &a.key) {
        let chain = tls::load_certs(cert).map_err(|e| format!("--cert: {e}"))?;
        let key = tls::load_key(key).map_err(|e| format!("--key: {e}"))?;
        opts = opts.with_identity(chain, key);
    }
    let connector = tls::connector(&opts).map_err(|e| e.to_string())?;
    let host = match &a.server_name {
        Some(n) => n.clone(),
        None => {
            let host = a
                .address
                .rsplit_once(':')
                .map_or(a.address.as_str(), |(h, _)| h);
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned()
        }
    };
    tls::upgrade_client(connector, &host).map_err(|e| e.to_string())
}

/// The association request of the flags, or a usage error.
fn request(a: &ConnectArgs) -> Result<AssociateRequest, String> {
    let rtse = a.rtse.rtse.is_some();
    let contexts: Vec<PresentationContext> = if a.contexts.is_empty() && rtse {
        vec![PresentationContext::ber(3, a.rtse.rtse_syntax.as_oid())]
    } else if a.contexts.is_empty() {
        vec![PresentationContext::ber(3, Oid::MMS_ABSTRACT_SYNTAX)]
    } else {
        a.contexts
            .iter()
            .map(|c| PresentationContext::ber(c.id, c.abstract_syntax.as_oid()))
            .collect()
    };
    for (i, c) in contexts.iter().enumerate() {
        if contexts.iter().take(i).any(|d| d.id == c.id) {
            return Err(format!("--context {} is given twice", c.id));
        }
    }
    if let Some(s) = a
        .sends
        .iter()
        .find(|s| !contexts.iter().any(|c| c.id == s.context))
    {
        return Err(format!(
            "--send {}=…: context {} is not proposed (see --context)",
            s.context, s.context
        ));
    }
    let application_context = a.application_context.clone().unwrap_or_else(|| {
        if rtse {
            Oid::X400_AC_MTS_TRANSFER.to_owned_oid()
        } else {
            Oid::MMS_APPLICATION_CONTEXT.to_owned_oid()
        }
    });
    if rtse && (a.user_info.is_some() || !a.sends.is_empty()) {
        return Err(
            "--user-info and --send do not go with --rtse (see --open-data, --transfer)".into(),
        );
    }
    let mut r = AssociateRequest::new(application_context)
        .with_contexts(contexts)
        .with_calling_selectors(a.calling_tsel, a.calling_ssel, a.calling_psel)
        .with_called_selectors(a.called_tsel, a.called_ssel, a.called_psel);
    r.calling = ApAddress {
        ap_title: a.calling_ap_title.clone(),
        ae_qualifier: a.calling_ae_qualifier,
    };
    r.called = ApAddress {
        ap_title: a.called_ap_title.clone(),
        ae_qualifier: a.called_ae_qualifier,
    };
    if let Some(info) = &a.user_info {
        r = r.with_user_information(info.0.clone());
    }
    if let Some(req) = a.session_requirements {
        r.session_requirements = req;
    }
    Ok(r)
}

/// Runs `osi connect`.
pub fn run(a: &ConnectArgs) -> ExitCode {
    if a.transport_only {
        return crate::transport_cmd::connect(crate::transport_cmd::ConnectPlan {
            address: &a.address,
            bind: a.bind,
            calling_tsel: a.calling_tsel,
            called_tsel: a.called_tsel,
            tpdu_size: a.tpdu_size,
            sends: a.sends.iter().map(|s| s.value.clone()).collect(),
            timeout: a.timeout,
            format: a.format,
        });
    }
    let req = match request(a) {
        Ok(r) => r,
        Err(e) => {
            complain(&e);
            return ExitCode::from(2);
        }
    };
    if a.rtse.rtse.is_some() {
        return rts_cmd::connect(ConnectPlan {
            address: &a.address,
            bind: a.bind,
            request: req,
            tpdu_size: a.tpdu_size,
            retries: a.retries,
            open_interval: a.open_interval,
            timeout: a.timeout,
            abort: a.abort,
            format: a.format,
            rtse: &a.rtse,
            session_requirements: a.session_requirements,
        });
    }
    let Some(runtime) = crate::current_thread_runtime("connect") else {
        return ExitCode::from(1);
    };
    let mut run = Run {
        printer: Printer::new(a.format),
        failure: None,
    };
    runtime.block_on(run.connect(a, req));
    match run.failure {
        None => ExitCode::SUCCESS,
        Some(why) => {
            complain(&why);
            ExitCode::from(1)
        }
    }
}

struct Run {
    printer: Printer,
    /// The first step that failed.
    failure: Option<String>,
}

/// How waiting for an answer ended.
enum Wait {
    /// The awaited event came.
    Done,
    /// The association ended (aborted, closed).
    Ended,
    /// Nothing within the time-out.
    TimedOut,
}

impl Run {
    fn fail(&mut self, why: impl Into<String>) {
        if self.failure.is_none() {
            self.failure = Some(why.into());
        }
    }

    fn error(&mut self, layer: &str, message: String) {
        self.printer
            .print(None, &Record::error(layer, message.clone()));
        self.fail(message);
    }

    /// Prints an event; remembers refusals and aborts as failures.
    fn event(&mut self, ev: &Event) {
        if let Some(r) = record(ev) {
            self.printer.print(None, &r);
            if matches!(
                ev,
                Event::Refused(_) | Event::Aborted(_) | Event::ReleaseRefused
            ) {
                self.fail(r.text);
            }
        }
    }

    async fn connect(&mut self, a: &ConnectArgs, req: AssociateRequest) {
        let dialer = Dialer::new()
            .with_retries(a.retries)
            .with_open_interval(a.open_interval)
            .with_bind(a.bind)
            .with_connect_timeout(a.timeout);
        let config = Config::default()
            .with_tpdu_size(a.tpdu_size)
            .with_response_timeout(a.timeout)
            .with_disconnect_wait(a.timeout);
        if a.tls {
            let upgrade = match tls_upgrade(a) {
                Ok(u) => u,
                Err(e) => {
                    self.error("tls", e);
                    return;
                }
            };
            let dialed = dialer
                .associate_with(a.address.as_str(), config, req, upgrade)
                .await;
            self.dialed(a, dialed).await;
        } else {
            let dialed = dialer.associate(a.address.as_str(), config, req).await;
            self.dialed(a, dialed).await;
        }
    }

    /// Goes on after the dial: data, then release or abort.
    async fn dialed<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &mut self,
        a: &ConnectArgs,
        dialed: Result<(Connection<S>, Vec<Event>), DialError>,
    ) {
        let mut conn = match dialed {
            Ok((conn, events)) => {
                for ev in &events {
                    self.event(ev);
                }
                conn
            }
            Err(DialError::Refused { events, .. }) => {
                for ev in &events {
                    self.event(ev);
                }
                return;
            }
            Err(DialError::Failed { events }) => {
                for ev in &events {
                    self.event(ev);
                }
                if self.failure.is_none() {
                    self.error(
                        "acse",
                        "the association ended before it was accepted".to_owned(),
                    );
                }
                return;
            }
            Err(DialError::Io(e)) => {
                self.error("tcp", format!("{}: {e}", a.address));
                return;
            }
            Err(e) => {
                self.error("association", e.to_string());
                return;
            }
        };
        for s in &a.sends {
            if let Err(e) = conn.send_data(s.context, &s.value).await {
                self.error("presentation", format!("sending p-data: {e}"));
                break;
            }
            match self.wait_data(&mut conn, a.timeout).await {
                Wait::Done => {}
                Wait::Ended => {
                    self.fail("the association ended before the p-data was answered");
                    return;
                }
                Wait::TimedOut => {
                    self.error(
                        "presentation",
                        format!("no p-data indication within {} s", a.timeout.as_secs_f64()),
                    );
                    break;
                }
            }
        }
        if a.abort {
            self.abort(&mut conn, a.timeout).await;
        } else {
            self.release(&mut conn, a.timeout).await;
        }
    }

    /// Reads events until one P-DATA indication.
    async fn wait_data<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &mut self,
        conn: &mut Connection<S>,
        timeout: Duration,
    ) -> Wait {
        let waiting = async {
            loop {
                match conn.next_event().await {
                    Ok(Some(ev @ Event::Data(_))) => {
                        self.event(&ev);
                        return Wait::Done;
                    }
                    Ok(Some(Event::ReleaseIndication)) => {
                        // The peer releases first: agree, and report the step as failed.
                        self.fail("the peer released the association before answering");
                        if let Err(e) = conn.release_response(true).await {
                            self.error("acse", format!("answering the release: {e}"));
                        }
                    }
                    Ok(Some(ev)) => self.event(&ev),
                    Ok(None) => return Wait::Ended,
                    Err(e) => {
                        self.error("tcp", e.to_string());
                        return Wait::Ended;
                    }
                }
            }
        };
        tokio::time::timeout(timeout, waiting)
            .await
            .unwrap_or(Wait::TimedOut)
    }

    async fn release<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &mut self,
        conn: &mut Connection<S>,
        timeout: Duration,
    ) {
        // The association's response timer (--timeout) bounds the wait for the RLRE; the outer
        // time-out only guards against a peer that keeps sending data.
        let outer = timeout.saturating_add(timeout);
        match tokio::time::timeout(outer, conn.release()).await {
            Ok(Ok(outcome)) => {
                for ev in &outcome.events {
                    self.event(ev);
                }
                if !outcome.released {
                    self.fail("the association was not released");
                    if outcome.events.contains(&Event::ReleaseRefused) {
                        self.abort(conn, timeout).await;
                    }
                }
            }
            Ok(Err(e)) => self.error("acse", format!("release: {e}")),
            Err(_) => self.error(
                "acse",
                format!("no release response within {} s", outer.as_secs_f64()),
            ),
        }
    }

    async fn abort<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &mut self,
        conn: &mut Connection<S>,
        timeout: Duration,
    ) {
        if let Err(e) = conn.abort().await {
            self.error("acse", format!("abort: {e}"));
            return;
        }
        // The aborting side waits (TIM, set to --timeout) for the peer to close the transport
        // connection; the machine closes it itself when the peer does not.
        let drain = async {
            loop {
                match conn.next_event().await {
                    Ok(Some(ev)) => {
                        if matches!(&ev, Event::Aborted(a) if a.source == AbortSource::LocalUser) {
                            // This side's own abort: reported, not a failure.
                            self.printer.event(None, &ev);
                        } else {
                            self.event(&ev);
                        }
                    }
                    Ok(None) | Err(_) => return,
                }
            }
        };
        let outer = timeout.saturating_add(timeout);
        if tokio::time::timeout(outer, drain).await.is_err() {
            self.error(
                "transport",
                format!(
                    "the connection did not close within {} s",
                    outer.as_secs_f64()
                ),
            );
        }
    }
}
