//! `osi connect --transport-only` and `osi listen --transport-only` (`docs/cli.md`): an "OSI
//! ping" at the transport layer for peers that speak COTP class 0 but no session layer above
//! it (S7, RDP-style): CR/CC, TSDUs (DT … EOT) each way, DR. Driven over the crate's sans-IO
//! [`cotp::Connection`](osi_stack::cotp::Connection).

use std::io::{self, Write};
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use osi_stack::address::TSel;
use osi_stack::association::Dispatch;
use osi_stack::cotp::DisconnectReason;
use osi_stack::cotp::connection::{
    Config, ConnectRequest, Connection, Disconnect, Event as TpEvent, Wait as TransportWait,
};
use osi_stack::tokio::{
    AcceptGate, Admission, ConnectionLimits, ListenerConfig, MemoryBudget, Notice, ShedReason,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::events::{Printer, Record, Tag, admission_record, shed_record};
use crate::json::hex;
use crate::listen::{LogData, Sink};
use crate::output::Format;

/// One transport connection over one TCP stream.
struct Tp {
    stream: TcpStream,
    conn: Connection,
    buf: Vec<u8>,
    eof: bool,
}

/// How a wait ended.
enum Next {
    Event(TpEvent),
    TimedOut,
    Gone,
}

impl Tp {
    fn new(stream: TcpStream, conn: Connection) -> Self {
        Tp {
            stream,
            conn,
            buf: vec![0; 64 * 1024],
            eof: false,
        }
    }

    async fn flush(&mut self, limit: Duration) {
        while let Some(b) = self.conn.poll_transmit() {
            let w = tokio::time::timeout(limit, self.stream.write_all(&b)).await;
            if !matches!(w, Ok(Ok(()))) {
                self.conn.handle_transport_closed(Instant::now());
                self.eof = true;
                return;
            }
        }
    }

    /// The next event within `limit` (the machine's own timers run meanwhile).
    async fn next(&mut self, limit: Duration) -> Next {
        let deadline = Instant::now() + limit;
        loop {
            self.flush(limit).await;
            if let Some(ev) = self.conn.poll_event() {
                return Next::Event(ev);
            }
            let timer = self
                .conn
                .poll_timeout()
                .map_or(deadline, |t| t.min(deadline));
            if self.eof {
                if self.conn.poll_timeout().is_none() {
                    return Next::Gone;
                }
                tokio::time::sleep_until(timer.into()).await;
            } else {
                tokio::select! {
                    r = self.stream.read(&mut self.buf) => match r {
                        Ok(0) | Err(_) => {
                            self.eof = true;
                            self.conn.handle_transport_closed(Instant::now());
                        }
                        Ok(n) => {
                            let data = self.buf.get(..n).unwrap_or_default();
                            self.conn.handle_input(data, Instant::now());
                        }
                    },
                    () = tokio::time::sleep_until(timer.into()) => {}
                }
            }
            let now = Instant::now();
            if self.conn.poll_timeout().is_some_and(|t| now >= t) {
                self.conn.handle_timeout(now);
            }
            if now >= deadline && self.conn.poll_timeout().is_none_or(|t| t > now) {
                return Next::TimedOut;
            }
        }
    }
}

/// The record of a transport disconnection, typed from cotp's [`Disconnect`]: `kind` (`dr`,
/// `er`, `protocol-error`, `refused`, `timeout`, `transport-closed`, `local`), the reason, and
/// the DR reason or ER cause code. TCP closed on an open connection is class 0's normal
/// release (X.224 §6.7.1.4: no DR once connected): `"normal": true`.
fn disconnect_record(event: &'static str, d: &Disconnect) -> Record {
    let normal = matches!(d, Disconnect::TransportClosed | Disconnect::Local);
    let text = if normal {
        format!("{event}: {d} (the class-0 release)")
    } else {
        format!("{event}: {d}")
    };
    let mut r = Record::new(event, text);
    r.obj.set("layer", "transport");
    let kind = match d {
        Disconnect::Dr(_) => "dr",
        Disconnect::Er(_) => "er",
        Disconnect::ProtocolError(_) => "protocol-error",
        Disconnect::Refused(_) => "refused",
        Disconnect::Timeout(_) => "timeout",
        Disconnect::TransportClosed => "transport-closed",
        Disconnect::Local => "local",
        _ => "other",
    };
    r.obj.set("kind", kind);
    r.obj.set("reason", d.to_string());
    r.obj.set("normal", normal);
    match d {
        Disconnect::Dr(reason) => {
            r.obj.set("code", i64::from(reason.0));
            if let Some(why) = reason.description() {
                r.obj.set("description", why);
            }
        }
        Disconnect::Er(cause) => r.obj.set("code", i64::from(cause.0)),
        _ => {}
    }
    r
}

fn tsdu_record(data: &[u8]) -> Record {
    let mut r = Record::new("data", format!("tsdu: {}", hex(data)));
    r.obj.set("data", hex(data));
    r.obj.set("length", data.len());
    r
}

/// What `osi connect --transport-only` needs.
pub struct ConnectPlan<'a> {
    /// HOST:PORT.
    pub address: &'a str,
    /// --bind.
    pub bind: Option<IpAddr>,
    /// --calling-tsel.
    pub calling_tsel: Option<TSel>,
    /// --called-tsel.
    pub called_tsel: Option<TSel>,
    /// --tpdu-size.
    pub tpdu_size: usize,
    /// The --send values, in order.
    pub sends: Vec<Vec<u8>>,
    /// --timeout.
    pub timeout: Duration,
    /// --format.
    pub format: Format,
}

/// Runs `osi connect --transport-only`.
pub fn connect(plan: ConnectPlan<'_>) -> ExitCode {
    let Some(runtime) = crate::current_thread_runtime("connect") else {
        return ExitCode::from(1);
    };
    let printer = Printer::new(plan.format);
    match runtime.block_on(ping(&plan, printer)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            let _ = writeln!(io::stderr(), "osi connect: {why}");
            ExitCode::from(1)
        }
    }
}

async fn tcp(plan: &ConnectPlan<'_>) -> io::Result<TcpStream> {
    let dialer = osi_stack::tokio::Dialer::new()
        .with_bind(plan.bind)
        .with_connect_timeout(plan.timeout);
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    for a in tokio::net::lookup_host(plan.address).await? {
        if plan.bind.is_some_and(|b| b.is_ipv4() != a.is_ipv4()) {
            continue;
        }
        match dialer.connect_once(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn ping(plan: &ConnectPlan<'_>, printer: Printer) -> Result<(), String> {
    let fail = |printer: &Printer, layer: &str, m: String| {
        printer.print(None, &Record::error(layer, m.clone()));
        m
    };
    let stream = tcp(plan)
        .await
        .map_err(|e| fail(&printer, "tcp", format!("{}: {e}", plan.address)))?;
    let mut config = Config::default().with_tpdu_size(plan.tpdu_size);
    config.connect_timeout = plan.timeout;
    let mut conn = Connection::initiator(config);
    let mut request = ConnectRequest::default();
    if let Some(t) = plan.calling_tsel {
        request = request.with_calling_tsel(t);
    }
    if let Some(t) = plan.called_tsel {
        request = request.with_called_tsel(t);
    }
    conn.connect(&request, Instant::now())
        .map_err(|e| fail(&printer, "transport", e.to_string()))?;
    let mut tp = Tp::new(stream, conn);
    let t = plan.timeout;
    loop {
        match tp.next(t).await {
            Next::Event(TpEvent::Connected(c)) => {
                let mut r = Record::new(
                    "transport-connected",
                    format!("transport connected, TPDU size {}", c.tpdu_size),
                );
                r.obj.set("tpdu_size", c.tpdu_size);
                printer.print(None, &r);
                break;
            }
            Next::Event(TpEvent::Disconnected(d)) => {
                printer.print(None, &disconnect_record("refused", &d));
                return Err(format!("refused by the peer's transport layer: {d}"));
            }
            Next::Event(_) => {}
            Next::TimedOut => {
                return Err(fail(
                    &printer,
                    "transport",
                    format!("no cc within {} s", t.as_secs_f64()),
                ));
            }
            Next::Gone => return Err(fail(&printer, "tcp", "connection closed".into())),
        }
    }
    for value in &plan.sends {
        tp.conn
            .send(Bytes::from(value.clone()), Instant::now())
            .map_err(|e| fail(&printer, "transport", e.to_string()))?;
        loop {
            match tp.next(t).await {
                Next::Event(TpEvent::Tsdu(d)) => {
                    printer.print(None, &tsdu_record(&d));
                    break;
                }
                Next::Event(TpEvent::Disconnected(d)) => {
                    printer.print(None, &disconnect_record("aborted", &d));
                    return Err(format!("the transport connection ended: {d}"));
                }
                Next::Event(_) => {}
                Next::TimedOut => {
                    return Err(fail(
                        &printer,
                        "transport",
                        format!("no tsdu within {} s", t.as_secs_f64()),
                    ));
                }
                Next::Gone => return Err(fail(&printer, "tcp", "connection closed".into())),
            }
        }
    }
    tp.conn.disconnect(Instant::now());
    tp.flush(t).await;
    let _ = tp.stream.shutdown().await;
    // Class 0 has no DR once connected (X.224 §6.7.1.4): closing TCP is the release.
    let mut r = Record::new(
        "disconnected",
        "disconnected (tcp closed: the class-0 release, no dr once connected)",
    );
    r.obj.set("kind", "local");
    printer.print(None, &r);
    Ok(())
}

/// What `osi listen --transport-only` needs.
pub struct ListenPlan<'a> {
    /// ADDR:PORT.
    pub address: &'a str,
    /// The services: their T-selectors and allowed peers decide which CRs are acceptable.
    pub dispatch: Dispatch,
    /// --echo.
    pub echo: bool,
    /// --max-associations.
    pub max_associations: Option<u64>,
    /// The service limits of the flags: every one applies (caps, accept back-off, connect,
    /// idle and io timers, largest TSDU, memory budget).
    pub limits: ListenerConfig,
    /// --log-data: how TSDUs print.
    pub log_data: LogData,
}

/// Serves `osi listen --transport-only` (on the runtime and event sink of
/// [`crate::listen::run_service`]).
pub async fn serve(plan: ListenPlan<'_>, sink: Sink) -> ExitCode {
    let listener = match TcpListener::bind(plan.address).await {
        Ok(l) => l,
        Err(e) => {
            let message = format!("cannot listen on {}: {e}", plan.address);
            sink.print(None, &Record::error("tcp", message.clone()));
            let _ = writeln!(io::stderr(), "osi listen: {message}");
            return ExitCode::from(1);
        }
    };
    let bound = listener
        .local_addr()
        .map_or_else(|_| plan.address.to_owned(), |s| s.to_string());
    let mut r = Record::new(
        "listening",
        format!("listening on {bound} (transport only)"),
    );
    r.obj.set("address", bound);
    sink.print(None, &r);
    let dispatch = Arc::new(plan.dispatch);
    let budget = MemoryBudget::new(plan.limits.memory_budget);
    let mut gate = AcceptGate::new(plan.limits.clone());
    let mut tasks = JoinSet::new();
    let mut accepted = 0u64;
    loop {
        let more = plan.max_associations.is_none_or(|m| accepted < m);
        if !more && tasks.is_empty() {
            break;
        }
        let admission = tokio::select! {
            a = gate.accept(&listener), if more => a,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        match admission {
            Admission::Admitted { stream, peer, slot } => {
                if budget.used() >= budget.limit() {
                    drop((stream, slot));
                    sink.print(None, &shed_record(peer, ShedReason::Memory));
                    continue;
                }
                accepted = accepted.saturating_add(1);
                let reference = u16::try_from(accepted % 65_535).unwrap_or(1).max(1);
                let now = Instant::now();
                let limits = ConnectionLimits::new(plan.limits.timers(), now)
                    .with_budget(budget.clone())
                    .with_slot(slot);
                let config = plan
                    .limits
                    .apply_transport(Config::default())
                    .with_local_reference(reference);
                let mut conn = Connection::responder(config);
                conn.handle_transport_accepted(now);
                let served = Served {
                    stream,
                    conn,
                    buf: vec![0; READ_START],
                    limits,
                    eof: false,
                };
                tasks.spawn(handle(
                    served,
                    peer,
                    accepted,
                    Arc::clone(&dispatch),
                    (plan.echo, plan.log_data),
                    sink.clone(),
                ));
            }
            other => {
                if let Some(r) = admission_record(&other) {
                    sink.print(None, &r);
                }
            }
        }
    }
    ExitCode::SUCCESS
}

/// The read buffer a served connection starts with; it doubles up to [`READ_MAX`] while
/// reads fill it (the idle cost of a connection stays small).
const READ_START: usize = 1024;
/// The largest read buffer.
const READ_MAX: usize = 64 * 1024;

/// One served transport connection within its [`ConnectionLimits`].
struct Served {
    stream: TcpStream,
    conn: Connection,
    buf: Vec<u8>,
    limits: ConnectionLimits,
    eof: bool,
}

/// What a wait of a served connection gave.
enum Step {
    /// An event of the machine.
    Event(TpEvent),
    /// A limit was reached: the connection is being closed (its events follow).
    Limit(Notice),
    /// Nothing more will happen.
    Gone,
}

impl Served {
    /// What the connection holds: input being reassembled, output not written.
    fn held(&self, writing: usize) -> usize {
        self.conn
            .buffered_input()
            .saturating_add(self.conn.pending_transmit())
            .saturating_add(writing)
    }

    /// Closes the transport connection from this side (class 0: no DR once open, X.224
    /// §6.7.1.4): the machine reports `Disconnected(Local)` and `Closed`.
    fn give_up(&mut self) {
        self.conn.disconnect(Instant::now());
        while self.conn.poll_transmit().is_some() {}
    }

    /// Writes what the machine has to send within the io timer; `Err` with the notice when
    /// a limit stopped it.
    async fn flush(&mut self) -> Result<(), Notice> {
        while let Some(b) = self.conn.poll_transmit() {
            let now = Instant::now();
            self.limits.output(b.len(), now);
            if let Err(wanted) = self.limits.hold(self.held(b.len())) {
                self.give_up();
                return Err(Notice::MemoryBudget { wanted });
            }
            let write = self.stream.write_all(&b);
            let written = match self.limits.deadline() {
                Some(at) => tokio::time::timeout_at(at.into(), write).await.ok(),
                None => Some(write.await),
            };
            match written {
                Some(Ok(())) => {
                    let now = Instant::now();
                    self.limits.output(0, now);
                    self.limits.activity(now);
                }
                Some(Err(_)) => {
                    self.eof = true;
                    self.conn.handle_transport_closed(Instant::now());
                    return Ok(());
                }
                None => {
                    // The deadline of the limits came first: which one says the notice.
                    let which = self.limits.expired(Instant::now());
                    self.eof = true;
                    self.conn.handle_transport_closed(Instant::now());
                    while self.conn.poll_transmit().is_some() {}
                    return match which {
                        Some(which) => Err(Notice::Timeout(which)),
                        None => Ok(()),
                    };
                }
            }
        }
        let _ = self.limits.hold(self.held(0));
        Ok(())
    }

    /// The next event or limit; every wait is bounded by the machine's timers (connect,
    /// receive) and the limits' (connect, idle, io).
    async fn next(&mut self) -> Step {
        loop {
            if let Err(n) = self.flush().await {
                return Step::Limit(n);
            }
            if let Some(ev) = self.conn.poll_event() {
                if matches!(ev, TpEvent::Connected(_)) {
                    self.limits.established(Instant::now());
                }
                return Step::Event(ev);
            }
            let timer = [self.conn.poll_timeout(), self.limits.deadline()]
                .into_iter()
                .flatten()
                .min();
            if self.eof || self.conn.is_closed() {
                match self.conn.poll_timeout() {
                    None => return Step::Gone,
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                }
            } else {
                let sleep = async {
                    match timer {
                        Some(t) => tokio::time::sleep_until(t.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    r = self.stream.read(&mut self.buf) => match r {
                        Ok(0) | Err(_) => {
                            self.eof = true;
                            self.conn.handle_transport_closed(Instant::now());
                        }
                        Ok(n) => {
                            let now = Instant::now();
                            self.limits.activity(now);
                            let data = self.buf.get(..n).unwrap_or_default();
                            self.conn.handle_input(data, now);
                            if n == self.buf.len() && self.buf.len() < READ_MAX {
                                let grown = self.buf.len().saturating_mul(2).min(READ_MAX);
                                self.buf.resize(grown, 0);
                            }
                            if let Err(wanted) = self.limits.hold(self.held(0)) {
                                self.give_up();
                                return Step::Limit(Notice::MemoryBudget { wanted });
                            }
                        }
                    },
                    () = sleep => {}
                }
            }
            let now = Instant::now();
            if self.conn.poll_timeout().is_some_and(|t| now >= t) {
                self.conn.handle_timeout(now);
            }
            if let Some(which) = self.limits.expired(now) {
                self.give_up();
                return Step::Limit(Notice::Timeout(which));
            }
        }
    }
}

async fn handle(
    mut tp: Served,
    peer: std::net::SocketAddr,
    n: u64,
    dispatch: Arc<Dispatch>,
    (echo, log_data): (bool, LogData),
    sink: Sink,
) {
    let mut service: Option<String> = None;
    loop {
        let ev = match tp.next().await {
            Step::Event(ev) => ev,
            Step::Limit(notice) => {
                let t = Tag {
                    association: n,
                    service: service.as_deref(),
                };
                sink.print(Some(&t), &crate::listen::notice_record(notice, peer));
                continue;
            }
            Step::Gone => break,
        };
        let t = Tag {
            association: n,
            service: service.as_deref(),
        };
        match ev {
            TpEvent::ConnectIndication(ind) => {
                let called = ind.called_tsel.as_deref();
                let matched = if dispatch.is_empty() {
                    Some(None)
                } else {
                    dispatch
                        .services()
                        .iter()
                        .find(|s| s.tsel.matches(called) && s.allows_peer(Some(peer.ip())))
                        .map(|s| Some(s.name.clone()))
                };
                match matched {
                    Some(name) => {
                        service = name;
                        let _ = tp.conn.accept(Instant::now());
                    }
                    None => {
                        let _ = tp
                            .conn
                            .refuse(DisconnectReason::ADDRESS_UNKNOWN, Instant::now());
                        let mut r = Record::new(
                            "rejected",
                            format!(
                                "rejected at the transport layer: called t-selector {} matches no service",
                                called.map_or_else(|| "none".to_owned(), hex)
                            ),
                        );
                        r.obj.set("layer", "transport");
                        r.obj.set("reason", "called t-selector matches no service");
                        if let Some(s) = called {
                            r.obj.set("selector", hex(s));
                        }
                        r.obj
                            .set("code", i64::from(DisconnectReason::ADDRESS_UNKNOWN.0));
                        r.obj.set("peer", peer.to_string());
                        sink.print(Some(&t), &r);
                    }
                }
            }
            TpEvent::Connected(c) => {
                let t = Tag {
                    association: n,
                    service: service.as_deref(),
                };
                let mut r = Record::new(
                    "transport-connected",
                    format!("transport connected from {peer}, TPDU size {}", c.tpdu_size),
                );
                r.obj.set("tpdu_size", c.tpdu_size);
                r.obj.set("peer", peer.to_string());
                sink.print(Some(&t), &r);
            }
            TpEvent::Tsdu(d) => {
                match log_data {
                    LogData::Hex => sink.print(Some(&t), &tsdu_record(&d)),
                    LogData::Len => {
                        let mut r = Record::new("data", format!("tsdu: {} octets", d.len()));
                        r.obj.set("length", d.len());
                        sink.print(Some(&t), &r);
                    }
                    LogData::None => {}
                }
                if echo {
                    if let Err(e) = tp.conn.send(d, Instant::now()) {
                        sink.print(Some(&t), &Record::error("transport", e.to_string()));
                    }
                }
            }
            TpEvent::Disconnected(d) => {
                if let Disconnect::Timeout(w) = d {
                    let which = match w {
                        TransportWait::Connect => "connect",
                        _ => "io",
                    };
                    sink.print(Some(&t), &crate::listen::timeout_record(which));
                }
                sink.print(Some(&t), &disconnect_record("disconnected", &d));
            }
            TpEvent::Closed => {
                if !tp.eof {
                    let _ = tp.flush().await;
                    let io = tp.limits.timers().io.unwrap_or(Duration::from_secs(5));
                    let _ = tokio::time::timeout(io, tp.stream.shutdown()).await;
                }
                sink.print(Some(&t), &Record::new("closed", "closed"));
                break;
            }
            _ => {}
        }
    }
}
