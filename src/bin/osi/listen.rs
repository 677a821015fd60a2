//! `osi listen`: accept associations for one or more local services told apart by selector,
//! answer them, and report every event.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use osi_stack::association::{
    AbortReason, AcceptResponse, AssociateIndication, Config, Dispatch, Event, Service, Timeout,
};
use osi_stack::cotp::connection::Wait as TransportWait;
use osi_stack::session::connection::Wait as SessionWait;
use osi_stack::tokio::{Connection, Incoming, Listener, ListenerConfig, Notice, tls};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;

use crate::args::{self, AllowArg, Hex, ReplyArg};
use crate::events::{
    Printer, Record, Tag, accept_error_record, record, set_selectors, shed_record,
};
use crate::json::hex;
use crate::output::Format;

/// Accept associations for one or more local services and report each event.
///
/// Every incoming association is matched against the --service list layer by layer (called
/// T-, S- and P-selector; the first service that matches wins) and against its --allow-calling
/// addresses; one that matches nothing is refused at the layer that failed (DR, RF, CPR) and
/// printed as a `rejected` event naming the selector. Accepted associations are answered with
/// --accept-user-info, P-DATA is answered by --reply or echoed with --echo, and a release is
/// always accepted. The first line is a `listening` event with the bound address; every other
/// event carries the number of its association and, once known, the service.
///
/// The listener faces the open network: connections are capped in total and per peer, every
/// wait has a timer, the input and output held for all connections share a memory budget, and
/// event output never blocks the protocol (events that do not fit the output queue are dropped
/// and counted in a `dropped` event).
///
/// Exit status: 0 after --max-associations associations have ended; 1 when the address cannot
/// be bound; 2 on a usage error.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// The local address to listen on (port 0: any free port, printed in the listening event)
    #[arg(value_name = "ADDR:PORT")]
    address: String,
    /// A local service access point: NAME and its T-, S- and P-selector in hex, "-" for no
    /// selector, "*" for any (repeatable; the first matching service wins; none: accept any
    /// selectors)
    #[arg(long = "service", value_name = "NAME:TSEL:SSEL:PSEL", value_parser = args::service)]
    services: Vec<Service>,
    /// The service NAME only accepts associations from this peer address (repeatable)
    #[arg(long = "allow-calling", value_name = "NAME=IP", value_parser = args::allow)]
    allow_calling: Vec<AllowArg>,
    /// AARE user-information to answer with: one BER value (an MMS initiate-response ...)
    #[arg(long, value_name = "HEX", value_parser = args::hex)]
    accept_user_info: Option<Hex>,
    /// Echo every P-DATA back on the same context
    #[arg(long)]
    echo: bool,
    /// Answer a P-DATA whose value is exactly REQUEST with RESPONSE on the same context
    /// (repeatable; checked before --echo), e.g. an MMS conclude: --reply 8b00=8c00
    #[arg(long = "reply", value_name = "REQUEST=RESPONSE", value_parser = args::reply)]
    replies: Vec<ReplyArg>,
    /// Exit after N associations (transport connections) have ended
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_associations: Option<u64>,
    /// Transport layer only: CC every acceptable CR (called T-selector of a --service, allowed
    /// peer), then echo (--echo) or sink TSDUs
    #[arg(long, conflicts_with = "rtse")]
    transport_only: bool,
    /// The X.400 ping flags (--rtse …)
    #[command(flatten)]
    rtse: crate::rts_cmd::RtseListenArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Open TCP connections at once; beyond it a connection is accepted and closed at once
    /// (a `shed` event)
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Open TCP connections from one peer IP address
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections_per_peer: u64,
    /// From TCP accept to an accepted association
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = args::seconds)]
    connect_timeout: Duration,
    /// Abort an association with no PDU either way for this long (0: never)
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = args::seconds_or_zero)]
    idle_timeout: Duration,
    /// Abort when a started frame or TSDU is not completed, or output is not read by the peer,
    /// for this long
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = args::seconds)]
    io_timeout: Duration,
    /// Largest TSDU, SSDU and P-DATA accepted (plain octets, or with K/M/G or KiB/MiB/GiB)
    #[arg(long, value_name = "BYTES", default_value = "1048576", value_parser = args::byte_count)]
    max_message: usize,
    /// Input being reassembled and output not read, all connections together; a connection
    /// that would exceed it is aborted
    #[arg(long, value_name = "BYTES", default_value = "268435456", value_parser = args::byte_count)]
    memory_budget: usize,
    /// X.225's TIM: after sending a release answer (DN), an abort (AB) or a refusal (RF), wait
    /// this long for the peer to close TCP before closing it here (an X.400 connector's
    /// "disconnect")
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = args::seconds)]
    disconnect_wait: Duration,
    /// How data events print: not at all, their length, or their octets in hex
    #[arg(long, value_enum, default_value_t = LogData::Len)]
    log_data: LogData,
    /// RFC 1006 over TLS (IEC 62351-3 profile; port 3782 is usual); needs --cert and --key
    #[arg(long, requires_all = ["cert", "key"])]
    tls: bool,
    /// PEM file of the server's certificate chain (its own first)
    #[arg(long, value_name = "FILE", requires = "tls")]
    cert: Option<std::path::PathBuf>,
    /// PEM file of the server's private key
    #[arg(long, value_name = "FILE", requires = "tls")]
    key: Option<std::path::PathBuf>,
    /// PEM file of the CAs whose certificates clients must present (mutual authentication)
    #[arg(long, value_name = "FILE", requires = "tls")]
    client_ca: Option<std::path::PathBuf>,
    /// Worker threads (default: the number of CPUs)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
}

/// `--log-data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogData {
    /// Data events are not printed.
    None,
    /// The context and the length.
    Len,
    /// The context, the length and the octets in hex.
    Hex,
}

impl ListenArgs {
    /// The service limits of the flags.
    fn limits(&self) -> ListenerConfig {
        ListenerConfig::default()
            .with_max_connections(usize::try_from(self.max_connections).unwrap_or(usize::MAX))
            .with_max_connections_per_peer(
                usize::try_from(self.max_connections_per_peer).unwrap_or(usize::MAX),
            )
            .with_connect_timeout(Some(self.connect_timeout))
            .with_idle_timeout(Some(self.idle_timeout).filter(|d| !d.is_zero()))
            .with_io_timeout(Some(self.io_timeout))
            .with_max_message(self.max_message)
            .with_memory_budget(self.memory_budget)
            .with_disconnect_wait(Some(self.disconnect_wait))
    }
}

/// The TLS acceptor of the flags, when --tls is given.
fn acceptor(a: &ListenArgs) -> Result<Option<tls::TlsAcceptor>, String> {
    if !a.tls {
        return Ok(None);
    }
    let (Some(cert), Some(key)) = (&a.cert, &a.key) else {
        return Err("--tls needs --cert and --key".to_owned());
    };
    let chain = tls::load_certs(cert).map_err(|e| format!("--cert: {e}"))?;
    let key = tls::load_key(key).map_err(|e| format!("--key: {e}"))?;
    let client_ca = match &a.client_ca {
        Some(f) => Some(tls::load_certs(f).map_err(|e| format!("--client-ca: {e}"))?),
        None => None,
    };
    let opts = tls::ServerOptions::new(chain, key).with_client_ca(client_ca);
    tls::acceptor(&opts).map(Some).map_err(|e| e.to_string())
}

/// Lines waiting for the writer, at most; more are dropped and counted.
const QUEUE: usize = 4096;

/// Event output that never blocks the protocol: lines go through a bounded queue to one
/// writer thread; a line that does not fit is dropped and counted, and the count is printed
/// (a `dropped` event) as soon as the writer catches up.
#[derive(Clone)]
pub(crate) struct Sink {
    printer: Printer,
    tx: SyncSender<String>,
    dropped: Arc<AtomicU64>,
}

impl Sink {
    /// The sink and its writer thread (which ends when every sink is dropped; `done` then
    /// receives).
    fn start(format: Format) -> (Sink, Receiver<()>) {
        let (tx, rx) = sync_channel::<String>(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let (done_tx, done) = sync_channel(1);
        let printer = Printer::new(format);
        let counter = Arc::clone(&dropped);
        let spawned = std::thread::Builder::new()
            .name("osi-listen-output".into())
            .spawn(move || {
                write_lines(&rx, &counter, printer);
                let _ = done_tx.send(());
            });
        if let Err(e) = spawned {
            complain(&format!("cannot start the output thread: {e}"));
        }
        (
            Sink {
                printer,
                tx,
                dropped,
            },
            done,
        )
    }

    pub(crate) fn print(&self, tag: Option<&Tag<'_>>, record: &Record) {
        let line = self.printer.line(tag, record);
        match self.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The writer: every queued line, then the count of dropped ones when there are some.
fn write_lines(rx: &Receiver<String>, dropped: &AtomicU64, printer: Printer) {
    let stdout = io::stdout();
    let report = |out: &mut io::StdoutLock<'_>| {
        let n = dropped.swap(0, Ordering::Relaxed);
        if n > 0 {
            let mut r = Record::new(
                "dropped",
                format!("{n} events dropped: the output fell behind"),
            );
            r.obj.set("count", n);
            let _ = writeln!(out, "{}", printer.line(None, &r));
        }
    };
    while let Ok(line) = rx.recv() {
        let mut out = stdout.lock();
        let _ = writeln!(out, "{line}");
        while let Ok(more) = rx.try_recv() {
            let _ = writeln!(out, "{more}");
        }
        report(&mut out);
        let _ = out.flush();
    }
    let mut out = stdout.lock();
    report(&mut out);
    let _ = out.flush();
}

fn complain(message: &str) {
    let _ = writeln!(io::stderr(), "osi listen: {message}");
}

/// The dispatch table of the flags, or a usage error.
fn dispatch(a: &ListenArgs) -> Result<Dispatch, String> {
    let mut services = a.services.clone();
    for (i, s) in services.iter().enumerate() {
        if services.iter().take(i).any(|t| t.name == s.name) {
            return Err(format!("--service {}: the name is given twice", s.name));
        }
    }
    for allow in &a.allow_calling {
        let Some(s) = services.iter_mut().find(|s| s.name == allow.service) else {
            return Err(format!(
                "--allow-calling {}={}: no --service is named {}",
                allow.service, allow.ip, allow.service
            ));
        };
        s.allowed_peers.push(allow.ip);
    }
    Ok(Dispatch::new(services))
}

/// What every association handler needs.
struct Answers {
    sink: Sink,
    accept: AcceptResponse,
    echo: bool,
    replies: Vec<ReplyArg>,
    log_data: LogData,
}

/// Runs `osi listen`.
pub fn run(a: &ListenArgs) -> ExitCode {
    let dispatch = match dispatch(a) {
        Ok(d) => d,
        Err(e) => {
            complain(&e);
            return ExitCode::from(2);
        }
    };
    if a.transport_only {
        let plan = crate::transport_cmd::ListenPlan {
            address: &a.address,
            dispatch,
            echo: a.echo,
            max_associations: a.max_associations,
            limits: a.limits(),
            log_data: a.log_data,
        };
        return run_service(a.format, a.threads, |sink| {
            crate::transport_cmd::serve(plan, sink)
        });
    }
    if a.rtse.rtse.is_some() {
        let plan = crate::rts_cmd::ListenPlan {
            address: &a.address,
            dispatch,
            echo: a.echo,
            max_associations: a.max_associations,
            rtse: &a.rtse,
            limits: a.limits(),
        };
        return run_service(a.format, a.threads, |sink| {
            crate::rts_cmd::serve(plan, sink)
        });
    }
    let acceptor = match acceptor(a) {
        Ok(t) => t,
        Err(e) => {
            complain(&e);
            return ExitCode::from(1);
        }
    };
    run_service(a.format, a.threads, |sink| {
        let answers = Arc::new(Answers {
            sink,
            accept: match &a.accept_user_info {
                Some(info) => AcceptResponse::with_user_information(info.0.clone()),
                None => AcceptResponse::default(),
            },
            echo: a.echo,
            replies: a.replies.clone(),
            log_data: a.log_data,
        });
        serve(a, dispatch, acceptor, answers)
    })
}

/// Runs a listening service (every mode of `osi listen`) on a multi-threaded runtime of
/// `threads` workers, its events going through a [`Sink`] (a bounded queue to one writer
/// thread, so output never blocks the protocol).
pub(crate) fn run_service<F, Fut>(format: Format, threads: Option<u16>, body: F) -> ExitCode
where
    F: FnOnce(Sink) -> Fut,
    Fut: std::future::Future<Output = ExitCode>,
{
    let (sink, done) = Sink::start(format);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(usize::from(n));
    }
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            complain(&format!("cannot start the runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(body(sink));
    runtime.shutdown_timeout(Duration::from_secs(1));
    // Let the writer print what is queued, unless nobody reads the output.
    let _ = done.recv_timeout(Duration::from_secs(5));
    code
}

async fn serve(
    a: &ListenArgs,
    dispatch: Dispatch,
    acceptor: Option<tls::TlsAcceptor>,
    answers: Arc<Answers>,
) -> ExitCode {
    let sink = answers.sink.clone();
    let listener = match Listener::bind(a.address.as_str(), Config::default(), dispatch).await {
        Ok(l) => l.with_limits(a.limits()),
        Err(e) => {
            let message = format!("cannot listen on {}: {e}", a.address);
            sink.print(None, &Record::error("tcp", message.clone()));
            complain(&message);
            return ExitCode::from(1);
        }
    };
    let mut listener = listener;
    let bound = listener
        .local_addr()
        .map_or_else(|_| a.address.clone(), |s| s.to_string());
    let mut r = Record::new("listening", format!("listening on {bound}"));
    r.obj.set("address", bound);
    sink.print(None, &r);

    let mut tasks = JoinSet::new();
    let mut accepted = 0u64;
    loop {
        let more = a.max_associations.is_none_or(|m| accepted < m);
        if !more && tasks.is_empty() {
            break;
        }
        tokio::select! {
            incoming = listener.next_incoming(), if more => match incoming {
                Incoming::Accepted(conn) => {
                    accepted = accepted.saturating_add(1);
                    let n = accepted;
                    let answers = Arc::clone(&answers);
                    let peer = conn.peer_addr();
                    let acceptor = acceptor.clone();
                    let task = async move {
                        match &acceptor {
                            None => handle(conn.into_connection(), n, answers).await,
                            Some(acceptor) => match tls::accept(*conn, acceptor).await {
                                Ok(conn) => handle(conn, n, answers).await,
                                Err(e) => {
                                    tracing::info!(error = %e, "tls handshake failed");
                                    let tag = Tag { association: n, service: None };
                                    let mut r = Record::error("tls", format!("handshake: {e}"));
                                    r.obj.set("peer", peer.to_string());
                                    answers.sink.print(Some(&tag), &r);
                                }
                            },
                        }
                    };
                    #[cfg(feature = "tracing")]
                    let task = {
                        use tracing::Instrument as _;
                        task.instrument(tracing::info_span!("association", n, %peer))
                    };
                    tasks.spawn(task);
                }
                // The library traces these (tokio::AcceptGate, Listener): the record only.
                Incoming::Shed { peer, reason } => {
                    sink.print(None, &shed_record(peer, reason));
                }
                Incoming::Error { error, retry_in } => {
                    sink.print(None, &accept_error_record(&error, retry_in));
                }
                _ => {}
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    ExitCode::SUCCESS
}

/// The `timeout` record of an adapter notice or of an association's own time-out.
pub(crate) fn timeout_record(which: &str) -> Record {
    let mut r = Record::new("timeout", format!("{which} time-out"));
    r.obj.set("which", which);
    r
}

/// The `which` of an association's own time-out.
fn machine_timeout(ev: &Event) -> Option<&'static str> {
    let Event::Aborted(a) = ev else { return None };
    abort_timeout(a)
}

/// The `which` of an abort caused by one of the machines' own time-outs (not the adapter's,
/// whose `timeout` record comes with its notice).
pub(crate) fn abort_timeout(a: &osi_stack::association::Abort) -> Option<&'static str> {
    let AbortReason::Timeout(t) = a.reason else {
        return None;
    };
    Some(match t {
        // The adapter's own timers: their `timeout` record came with the notice.
        Timeout::Driver(_) => return None,
        Timeout::Transport(TransportWait::Connect)
        | Timeout::Session(SessionWait::Connect | SessionWait::Accept) => "connect",
        Timeout::Transport(TransportWait::Receive) => "io",
        Timeout::Session(SessionWait::User) => "user",
        _ => "response",
    })
}

/// The record of a notice of the adapter (a `timeout`, or a `shed` naming the peer).
pub(crate) fn notice_record(n: Notice, peer: impl std::fmt::Display) -> Record {
    match n {
        Notice::Timeout(kind) => timeout_record(kind.name()),
        Notice::MemoryBudget { wanted } => {
            let mut r = Record::new(
                "shed",
                format!("memory budget exceeded ({wanted} octets held): aborted"),
            );
            r.obj.set("reason", "memory");
            r.obj.set("held", wanted);
            r.obj.set("peer", peer.to_string());
            r
        }
        _ => Record::new("notice", format!("{n:?}")),
    }
}

/// The `data` record as `--log-data` asks.
fn data_record(d: &osi_stack::association::Data, log: LogData) -> Option<Record> {
    let text = match (log, d.context_id) {
        (LogData::None, _) => return None,
        (LogData::Hex, Some(c)) => format!("data on context {c}: {}", hex(&d.value)),
        (LogData::Hex, None) => format!("data (simply encoded): {}", hex(&d.value)),
        (LogData::Len, Some(c)) => format!("data on context {c}: {} octets", d.value.len()),
        (LogData::Len, None) => format!("data (simply encoded): {} octets", d.value.len()),
    };
    let mut r = Record::new("data", text);
    if let Some(c) = d.context_id {
        r.obj.set("context", c);
    }
    r.obj.set("length", d.value.len());
    if log == LogData::Hex {
        r.obj.set("data", hex(&d.value));
    }
    Some(r)
}

/// The `associated` record of a responder, with what the peer asked for.
fn associated_record(ev: &Event, ind: Option<&AssociateIndication>, peer: &str) -> Option<Record> {
    let mut r = record(ev)?;
    r.obj.set("peer", peer);
    if let Some(ind) = ind {
        set_selectors(&mut r.obj, ind);
        if let Some(c) = &ind.application_context {
            r.obj.set("application_context", c.to_string());
        }
        if let Some(t) = &ind.calling_ap_title {
            r.obj.set("calling_ap_title", t.to_string());
        }
        if let Some(q) = ind.calling_ae_qualifier {
            r.obj.set("calling_ae_qualifier", q);
        }
        if let Some(info) = &ind.user_information {
            r.obj.set("request_user_info", hex(info));
        }
        r.text = match &ind.application_context {
            Some(c) => format!("{} (from {peer}, application context {c})", r.text),
            None => format!("{} (from {peer})", r.text),
        };
    }
    Some(r)
}

/// Drives one association to its end, answering it and printing its events.
async fn handle<S: AsyncRead + AsyncWrite + Unpin + Send>(
    mut conn: Connection<S>,
    n: u64,
    answers: Arc<Answers>,
) {
    let printer = &answers.sink;
    let peer = conn
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |p| p.to_string());
    let mut service: Option<String> = None;
    let mut indication: Option<Box<AssociateIndication>> = None;
    loop {
        let ev = match conn.next_event().await {
            Ok(Some(ev)) => ev,
            Ok(None) => break,
            Err(e) => {
                let tag = Tag {
                    association: n,
                    service: service.as_deref(),
                };
                printer.print(Some(&tag), &Record::error("tcp", e.to_string()));
                break;
            }
        };
        while let Some(notice) = conn.poll_notice() {
            let tag = Tag {
                association: n,
                service: service.as_deref(),
            };
            printer.print(Some(&tag), &notice_record(notice, &peer));
        }
        let mut failure = None;
        match &ev {
            Event::AssociateIndication(ind) => {
                service = ind.service_name.clone();
                indication = Some(ind.clone());
                if let Err(e) = conn.accept(answers.accept.clone()).await {
                    failure = Some(Record::error("acse", format!("accept: {e}")));
                }
            }
            Event::ReleaseIndication => {
                if let Err(e) = conn.release_response(true).await {
                    failure = Some(Record::error("acse", format!("release response: {e}")));
                }
            }
            _ => {}
        }
        let tag = Tag {
            association: n,
            service: service.as_deref(),
        };
        let rec = match &ev {
            Event::Associated(_) => associated_record(&ev, indication.as_deref(), &peer),
            Event::Rejected(_) => record(&ev).map(|mut r| {
                r.obj.set("peer", peer.clone());
                r
            }),
            Event::Data(d) => data_record(d, answers.log_data),
            _ => {
                if let Some(which) = machine_timeout(&ev) {
                    tracing::info!(which, "association time-out");
                    printer.print(Some(&tag), &timeout_record(which));
                }
                record(&ev)
            }
        };
        if let Some(r) = rec {
            printer.print(Some(&tag), &r);
        }
        if let Some(f) = failure {
            printer.print(Some(&tag), &f);
        }
        if let Event::Data(d) = &ev {
            let answer = answers
                .replies
                .iter()
                .find(|r| r.request == d.value)
                .map(|r| Bytes::from(r.response.clone()))
                .or_else(|| answers.echo.then(|| d.value.clone()));
            match (answer, d.context_id) {
                (Some(value), Some(ctx)) => {
                    if let Err(e) = conn.send_data(ctx, &value).await {
                        printer.print(
                            Some(&tag),
                            &Record::error("presentation", format!("answering p-data: {e}")),
                        );
                    }
                }
                (Some(_), None) => printer.print(
                    Some(&tag),
                    &Record::error(
                        "presentation",
                        "simply encoded data has no context to answer on",
                    ),
                ),
                (None, _) => {}
            }
        }
    }
}
