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
    Config, ConnectRequest, Connection, Disconnect, Event as TpEvent,
};
use osi_stack::tokio::{AcceptGate, Admission, ListenerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::events::{Printer, Record, Tag, admission_record};
use crate::json::hex;
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

fn disconnect_record(event: &'static str, d: &Disconnect) -> Record {
    let mut r = Record::new(event, format!("{event}: {d}"));
    r.obj.set("layer", "transport");
    r.obj.set("reason", d.to_string());
    match d {
        Disconnect::Dr(reason) => r.obj.set("code", i64::from(reason.0)),
        Disconnect::Er(cause) => r.obj.set("code", i64::from(cause.0)),
        _ => {}
    }
    r
}

fn tsdu_record(data: &[u8]) -> Record {
    let mut r = Record::new("data", format!("tsdu: {}", hex(data)));
    r.obj.set("data", hex(data));
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
    printer.print(None, &Record::new("disconnected", "disconnected (dr sent)"));
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
    /// --format.
    pub format: Format,
    /// The service limits of the flags (caps and accept back-off apply here).
    pub limits: ListenerConfig,
}

/// How long a transport connection may stay silent.
const LISTEN_WAIT: Duration = Duration::from_secs(300);

/// Runs `osi listen --transport-only`.
pub fn listen(plan: ListenPlan<'_>) -> ExitCode {
    let Some(runtime) = crate::current_thread_runtime("listen") else {
        return ExitCode::from(1);
    };
    runtime.block_on(serve(plan))
}

async fn serve(plan: ListenPlan<'_>) -> ExitCode {
    let printer = Printer::new(plan.format);
    let listener = match TcpListener::bind(plan.address).await {
        Ok(l) => l,
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
    let mut r = Record::new(
        "listening",
        format!("listening on {bound} (transport only)"),
    );
    r.obj.set("address", bound);
    printer.print(None, &r);
    let dispatch = Arc::new(plan.dispatch);
    let mut gate = AcceptGate::new(plan.limits);
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
                accepted = accepted.saturating_add(1);
                let reference = u16::try_from(accepted % 65_535).unwrap_or(1).max(1);
                let task = handle(
                    stream,
                    peer,
                    accepted,
                    reference,
                    Arc::clone(&dispatch),
                    plan.echo,
                    printer,
                );
                tasks.spawn(async move {
                    task.await;
                    drop(slot);
                });
            }
            other => {
                if let Some(r) = admission_record(&other) {
                    printer.print(None, &r);
                }
            }
        }
    }
    ExitCode::SUCCESS
}

async fn handle(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    n: u64,
    reference: u16,
    dispatch: Arc<Dispatch>,
    echo: bool,
    printer: Printer,
) {
    let _ = stream.set_nodelay(true);
    let mut conn = Connection::responder(Config::default().with_local_reference(reference));
    conn.handle_transport_accepted(Instant::now());
    let mut tp = Tp::new(stream, conn);
    let mut service: Option<String> = None;
    loop {
        let ev = match tp.next(LISTEN_WAIT).await {
            Next::Event(ev) => ev,
            Next::TimedOut => {
                tp.conn.disconnect(Instant::now());
                tp.flush(LISTEN_WAIT).await;
                break;
            }
            Next::Gone => break,
        };
        let tag = |service: &Option<String>| -> (u64, Option<String>) { (n, service.clone()) };
        let (association, svc) = tag(&service);
        let t = Tag {
            association,
            service: svc.as_deref(),
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
                        printer.print(Some(&t), &r);
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
                printer.print(Some(&t), &r);
            }
            TpEvent::Tsdu(d) => {
                printer.print(Some(&t), &tsdu_record(&d));
                if echo {
                    if let Err(e) = tp.conn.send(d, Instant::now()) {
                        printer.print(Some(&t), &Record::error("transport", e.to_string()));
                    }
                }
            }
            TpEvent::Disconnected(d) => {
                printer.print(Some(&t), &disconnect_record("disconnected", &d));
            }
            TpEvent::Closed => {
                tp.flush(Duration::from_secs(5)).await;
                let _ = tp.stream.shutdown().await;
                printer.print(Some(&t), &Record::new("closed", "closed"));
                break;
            }
            _ => {}
        }
    }
}
