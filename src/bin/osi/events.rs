//! What `osi connect` and `osi listen` print: one record per association event, as one JSON
//! object a line (keys of `docs/cli.md`) or as one readable line of text.

use std::fmt::Write as _;
use std::io::{self, Write};

use osi_stack::Layer;
use osi_stack::association::{AssociateIndication, ContextOutcome, Event};

use crate::json::{J, Obj, hex};
use crate::output::Format;

/// One event to print: its name, its keys (without `event`) and its text form.
pub struct Record {
    /// The `event` key.
    pub event: &'static str,
    /// The other keys, in contract order.
    pub obj: Obj,
    /// One readable line.
    pub text: String,
}

impl Record {
    /// A record with no keys yet.
    pub fn new(event: &'static str, text: impl Into<String>) -> Self {
        Record {
            event,
            obj: Obj::new(),
            text: text.into(),
        }
    }

    /// An `error` record: something failed on this side (TCP, a time-out, a request).
    pub fn error(layer: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut r = Record::new("error", format!("error ({layer}): {message}"));
        r.obj.set("layer", layer);
        r.obj.set("message", message);
        r
    }
}

/// The layer names of the `refused`, `rejected`, `aborted` and `error` records: COTP (and
/// TPKT) are "transport".
pub fn layer_name(layer: Layer) -> &'static str {
    match layer {
        Layer::Tpkt | Layer::Cotp => "transport",
        other => other.name(),
    }
}

fn contexts_json(contexts: &[ContextOutcome]) -> J {
    J::A(
        contexts
            .iter()
            .map(|c| {
                let mut o = Obj::new();
                o.set("id", c.id);
                if let Some(a) = &c.abstract_syntax {
                    o.set("abstract_syntax", a.to_string());
                }
                o.set("result", c.result.0);
                if let Some(r) = c.provider_reason {
                    o.set("provider_reason", r.0);
                }
                J::O(o)
            })
            .collect(),
    )
}

fn contexts_text(contexts: &[ContextOutcome]) -> String {
    let parts: Vec<String> = contexts
        .iter()
        .map(|c| {
            let what = match (c.result.0, c.provider_reason) {
                (0, _) => "accepted".to_owned(),
                (1, _) => "rejected by the user".to_owned(),
                (_, Some(r)) => format!("rejected by the provider (reason {})", r.0),
                (r, None) => format!("result {r}"),
            };
            match &c.abstract_syntax {
                Some(a) => format!("{} ({a}) {what}", c.id),
                None => format!("{} {what}", c.id),
            }
        })
        .collect();
    parts.join(", ")
}

/// The record of an association event; `None` for the events that are not printed (associate
/// and release indications, which the commands answer themselves, and `Closed`).
pub fn record(event: &Event) -> Option<Record> {
    let r = match event {
        Event::TransportConnected { tpdu_size } => {
            let mut r = Record::new(
                "transport-connected",
                format!("transport connected, TPDU size {tpdu_size}"),
            );
            r.obj.set("tpdu_size", *tpdu_size);
            r
        }
        Event::Associated(a) => {
            let mut text = match a.result {
                Some(result) => format!(
                    "associated: result {}; contexts {}",
                    result.0,
                    contexts_text(&a.contexts)
                ),
                None => "associated (x.410-1984 mode)".to_owned(),
            };
            let mut r = Record::new("associated", String::new());
            if let Some(result) = a.result {
                r.obj.set("result", result.0);
                r.obj.set("contexts", contexts_json(&a.contexts));
            } else {
                r.obj.set("mode", "x410");
            }
            if let Some(info) = a.user_information.as_ref().or(a.x410_parameters.as_ref()) {
                r.obj.set("user_info", hex(info));
                let _ = write!(text, "; user information {}", hex(info));
            }
            r.text = text;
            r
        }
        Event::Refused(refusal) => {
            let layer = layer_name(refusal.layer());
            let code = refusal.reason.code();
            let reason = refusal.reason.to_string();
            let mut r = Record::new(
                "refused",
                match code {
                    Some(c) => format!("refused by the peer's {layer} layer (code {c}): {reason}"),
                    None => format!("refused by the peer's {layer} layer: {reason}"),
                },
            );
            r.obj.set("layer", layer);
            r.obj.set("reason", reason);
            if let Some(c) = code {
                r.obj.set("code", c);
            }
            if let Some(info) = &refusal.user_information {
                r.obj.set("user_info", hex(info));
            }
            r
        }
        Event::Rejected(rejection) => {
            let layer = layer_name(rejection.layer());
            let code = rejection.sent.code();
            let cause = rejection.cause.to_string();
            let mut r = Record::new(
                "rejected",
                match code {
                    Some(c) => format!("rejected at the {layer} layer (code {c}): {cause}"),
                    None => format!("rejected at the {layer} layer: {cause}"),
                },
            );
            r.obj.set("layer", layer);
            r.obj.set("reason", cause);
            if let Some(s) = rejection.received_selector() {
                r.obj.set("selector", hex(s));
            }
            if let Some(c) = code {
                r.obj.set("code", c);
            }
            r
        }
        Event::Data(d) => {
            let mut r = Record::new(
                "data",
                match d.context_id {
                    Some(c) => format!("data on context {c}: {}", hex(&d.value)),
                    None => format!("data (simply encoded): {}", hex(&d.value)),
                },
            );
            if let Some(c) = d.context_id {
                r.obj.set("context", c);
            }
            r.obj.set("data", hex(&d.value));
            r
        }
        Event::Released { collision } => {
            let mut r = Record::new(
                "released",
                if *collision {
                    "released (release collision)"
                } else {
                    "released"
                },
            );
            if *collision {
                r.obj.set("collision", true);
            }
            r
        }
        Event::ReleaseRefused => Record::new("release-refused", "the peer refused to release"),
        Event::Aborted(a) => {
            let layer = layer_name(a.layer());
            let reason = a.reason.to_string();
            let mut r = Record::new(
                "aborted",
                format!("aborted by {} ({layer}): {reason}", a.source.name()),
            );
            r.obj.set("source", a.source.name());
            r.obj.set("layer", layer);
            r.obj.set("reason", reason);
            match a.reason {
                // The peer's DR or ER, typed: its reason or cause code.
                osi_stack::association::AbortReason::Transport(
                    osi_stack::cotp::connection::Disconnect::Dr(dr),
                ) => r.obj.set("code", i64::from(dr.0)),
                osi_stack::association::AbortReason::Transport(
                    osi_stack::cotp::connection::Disconnect::Er(er),
                ) => r.obj.set("code", i64::from(er.0)),
                // A timer of the adapter (connect, idle, io).
                osi_stack::association::AbortReason::Timeout(
                    osi_stack::association::Timeout::Driver(which),
                ) => r.obj.set("timeout", which.name()),
                _ => {}
            }
            r
        }
        _ => return None,
    };
    Some(r)
}

/// Which association of `osi listen` a record belongs to.
pub struct Tag<'a> {
    /// 1-based number of the transport connection.
    pub association: u64,
    /// The service it matched, once known.
    pub service: Option<&'a str>,
}

/// Writes records to stdout, one line each, flushed (a line-buffered stdout). A closed stdout
/// is ignored: the commands go on and exit with the status of the association.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    format: Format,
}

impl Printer {
    /// Records in `format`.
    pub fn new(format: Format) -> Self {
        Printer { format }
    }

    /// Prints `record`, tagged for `osi listen`.
    pub fn print(&self, tag: Option<&Tag<'_>>, record: &Record) {
        let line = self.line(tag, record);
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    }

    /// The line of `record` (without the newline), tagged for `osi listen`.
    pub fn line(&self, tag: Option<&Tag<'_>>, record: &Record) -> String {
        match self.format {
            Format::Json => {
                let mut o = Obj::new();
                o.set("event", record.event);
                if let Some(t) = tag {
                    o.set("association", t.association);
                    if let Some(s) = t.service {
                        o.set("service", s);
                    }
                }
                o.extend(record.obj.clone());
                o.to_json()
            }
            Format::Text => match tag {
                Some(Tag {
                    association,
                    service: Some(s),
                }) => format!("#{association} [{s}] {}", record.text),
                Some(Tag {
                    association,
                    service: None,
                }) => format!("#{association} {}", record.text),
                None => record.text.clone(),
            },
        }
    }

    /// Prints the record of `event`, if it has one.
    pub fn event(&self, tag: Option<&Tag<'_>>, event: &Event) {
        if let Some(r) = record(event) {
            self.print(tag, &r);
        }
    }
}

/// The six selectors of an A-ASSOCIATE indication that were present, as hex keys
/// (`calling_tsel` … `called_psel`).
pub fn set_selectors(obj: &mut Obj, ind: &AssociateIndication) {
    let selectors = [
        ("calling_tsel", &ind.calling_tsel),
        ("called_tsel", &ind.called_tsel),
        ("calling_ssel", &ind.calling_ssel),
        ("called_ssel", &ind.called_ssel),
        ("calling_psel", &ind.calling_psel),
        ("called_psel", &ind.called_psel),
    ];
    for (key, value) in selectors {
        if let Some(v) = value {
            obj.set(key, hex(v));
        }
    }
}

/// The `shed` record of a connection closed at once for being over a cap.
pub fn shed_record(peer: std::net::SocketAddr, reason: osi_stack::tokio::ShedReason) -> Record {
    let mut r = Record::new(
        "shed",
        format!("connection from {peer} closed at once: {}", reason.name()),
    );
    r.obj.set("reason", reason.name());
    r.obj.set("peer", peer.to_string());
    r
}

/// The `error` record of a failed `accept`, retried after `retry_in`.
pub fn accept_error_record(error: &io::Error, retry_in: std::time::Duration) -> Record {
    Record::error(
        "tcp",
        format!("accept: {error} (retrying in {} ms)", retry_in.as_millis()),
    )
}

/// The record of an admission that is not a connection to serve (`shed` or an accept error).
pub fn admission_record(a: &osi_stack::tokio::Admission) -> Option<Record> {
    use osi_stack::tokio::Admission;
    match a {
        Admission::Shed { peer, reason } => Some(shed_record(*peer, *reason)),
        Admission::Error { error, retry_in } => Some(accept_error_record(error, *retry_in)),
        _ => None,
    }
}
