//! `osi listen`: accept associations for one or more local services told apart by selector,
//! answer them, and report every event.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use clap::Args;
use osi_stack::association::{
    AcceptResponse, AssociateIndication, Config, Dispatch, Event, Service,
};
use osi_stack::tokio::{Connection, Listener};
use tokio::task::JoinSet;

use crate::args::{self, AllowArg, Hex, ReplyArg};
use crate::events::{Printer, Record, Tag, record};
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
    printer: Printer,
    accept: AcceptResponse,
    echo: bool,
    replies: Vec<ReplyArg>,
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
        return crate::transport_cmd::listen(crate::transport_cmd::ListenPlan {
            address: &a.address,
            dispatch,
            echo: a.echo,
            max_associations: a.max_associations,
            format: a.format,
        });
    }
    if a.rtse.rtse.is_some() {
        return crate::rts_cmd::listen(crate::rts_cmd::ListenPlan {
            address: &a.address,
            dispatch,
            echo: a.echo,
            max_associations: a.max_associations,
            format: a.format,
            rtse: &a.rtse,
        });
    }
    let answers = Arc::new(Answers {
        printer: Printer::new(a.format),
        accept: match &a.accept_user_info {
            Some(info) => AcceptResponse::with_user_information(info.0.clone()),
            None => AcceptResponse::default(),
        },
        echo: a.echo,
        replies: a.replies.clone(),
    });
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            complain(&format!("cannot start the runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    runtime.block_on(serve(a, dispatch, answers))
}

async fn serve(a: &ListenArgs, dispatch: Dispatch, answers: Arc<Answers>) -> ExitCode {
    let printer = answers.printer;
    let mut listener = match Listener::bind(a.address.as_str(), Config::default(), dispatch).await {
        Ok(l) => l,
        Err(e) => {
            let message = format!("cannot listen on {}: {e}", a.address);
            printer.print(None, &Record::error("tcp", message.clone()));
            complain(&message);
            return ExitCode::from(1);
        }
    };
    let bound = listener
        .local_addr()
        .map_or_else(|_| a.address.clone(), |s| s.to_string());
    let mut r = Record::new("listening", format!("listening on {bound}"));
    r.obj.set("address", bound);
    printer.print(None, &r);

    let mut tasks = JoinSet::new();
    let mut accepted = 0u64;
    loop {
        let more = a.max_associations.is_none_or(|m| accepted < m);
        if !more && tasks.is_empty() {
            break;
        }
        tokio::select! {
            conn = listener.accept(), if more => match conn {
                Ok(conn) => {
                    accepted = accepted.saturating_add(1);
                    tasks.spawn(handle(conn, accepted, Arc::clone(&answers)));
                }
                Err(e) => printer.print(None, &Record::error("tcp", format!("accept: {e}"))),
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    ExitCode::SUCCESS
}

/// The `associated` record of a responder, with what the peer asked for.
fn associated_record(ev: &Event, ind: Option<&AssociateIndication>, peer: &str) -> Option<Record> {
    let mut r = record(ev)?;
    r.obj.set("peer", peer);
    if let Some(ind) = ind {
        let selectors: [(&'static str, &Option<Bytes>); 6] = [
            ("calling_tsel", &ind.calling_tsel),
            ("called_tsel", &ind.called_tsel),
            ("calling_ssel", &ind.calling_ssel),
            ("called_ssel", &ind.called_ssel),
            ("calling_psel", &ind.calling_psel),
            ("called_psel", &ind.called_psel),
        ];
        for (key, value) in selectors {
            if let Some(v) = value {
                r.obj.set(key, hex(v));
            }
        }
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
async fn handle(mut conn: Connection, n: u64, answers: Arc<Answers>) {
    let printer = answers.printer;
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
            _ => record(&ev),
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
