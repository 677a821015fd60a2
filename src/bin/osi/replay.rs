//! `osi replay`: print what [`osi_stack::replay`] found, step by step.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use osi_stack::dissect::Direction;
use osi_stack::replay::{self, CaptureOptions, Plays, Start, Step, Unit, Value, Verdict};

use crate::json::{J, Obj};
use crate::output::Format;

/// A side of the captured association.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Side {
    /// The initiator (the machine plays the responder).
    Client,
    /// The responder (the machine plays the initiator).
    Server,
}

/// Drive the crate's machine with one side of a capture and compare its answers with the real
/// peer's, PDU by PDU and layer by layer: an association (an RTS over it for an RTS
/// association), or a session or transport connection alone when the capture carries no more
/// (S7comm, RDP: application data carried, not compared).
///
/// Exit status: 0 when the machine's behaviour matches the real peer's; 1 when a step differs
/// or the capture cannot be read or replayed (no association, one direction only, or it starts
/// after the connection was established and past the CN); 2 on a usage error.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A pcap or pcapng capture
    #[arg(value_name = "FILE.pcap|FILE.pcapng")]
    file: PathBuf,
    /// The TCP stream to replay (default: the first with a CR, else the first)
    #[arg(long, value_name = "N")]
    stream: Option<u64>,
    /// The side fed to the machine, which plays the other
    #[arg(long, value_enum, default_value_t = Side::Client)]
    side: Side,
    /// Streams to or from port N (repeatable; replaces the defaults 102 and 3389)
    #[arg(long = "port", value_name = "N")]
    ports: Vec<u16>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn value(v: &Value) -> J {
    match v {
        Value::Kind(k) => J::from(*k),
        Value::Kinds(ks) => J::A(ks.iter().map(|k| J::from(*k)).collect()),
        Value::Code(c) => J::I(*c),
        Value::Codes(cs) => J::A(cs.iter().map(|c| J::I(*c)).collect()),
        Value::Oid(o) => J::S(o.to_string()),
        Value::Units(u) => J::S(format!("{u:04x}")),
        _ => J::S("absent".to_owned()),
    }
}

fn text(v: &Value) -> String {
    match value(v) {
        J::A(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    J::S(s) => s.clone(),
                    J::I(n) => n.to_string(),
                    _ => String::new(),
                })
                .collect();
            format!("[{}]", parts.join(" "))
        }
        J::S(s) => s,
        J::I(n) => n.to_string(),
        _ => String::new(),
    }
}

/// The PDU types of a unit, bottom up.
fn label(u: &Unit) -> String {
    u.label()
}

fn step_obj(n: usize, s: &Step) -> Obj {
    let mut o = Obj::new();
    o.set("step", n);
    let verdict = match &s.verdict {
        Verdict::Same => "same",
        Verdict::Different(_) => "different",
        Verdict::Missing => "missing",
        Verdict::Extra => "extra",
        Verdict::Refused(_) => "refused",
        Verdict::ClosedInstead => "closed-instead",
        Verdict::Carried => "carried",
        _ => "unknown",
    };
    o.set("verdict", verdict);
    if let Some(e) = &s.expected {
        o.set("expected", label(e));
        o.set("expected_offset", e.offset);
    }
    if let Some(a) = &s.actual {
        o.set("actual", label(a));
        o.set("actual_offset", a.offset);
    }
    match &s.verdict {
        Verdict::Different(d) => {
            let mut f = Obj::new();
            f.set("layer", d.layer.name());
            f.set("field", d.name);
            f.set("expected", value(&d.expected));
            f.set("actual", value(&d.actual));
            o.set("difference", f);
        }
        Verdict::Refused(e) => o.set("error", e.to_string()),
        _ => {}
    }
    o
}

fn step_line(n: usize, s: &Step) -> String {
    let e = s.expected.as_ref().map(label).unwrap_or_default();
    let a = s.actual.as_ref().map(label).unwrap_or_default();
    match &s.verdict {
        Verdict::Same => format!("#{n} same       {e}\n"),
        Verdict::Different(d) => format!(
            "#{n} DIFFERENT  peer {e} / machine {a}: {} {} peer {} machine {}\n",
            d.layer,
            d.name,
            text(&d.expected),
            text(&d.actual)
        ),
        Verdict::Missing => format!("#{n} MISSING    peer {e}: the machine sent nothing\n"),
        Verdict::Extra => format!("#{n} EXTRA      machine {a}: the peer sent nothing\n"),
        Verdict::Refused(err) => format!("#{n} REFUSED    peer {e}: {err}\n"),
        Verdict::ClosedInstead => {
            format!("#{n} same       {e}: the machine closed the transport connection instead\n")
        }
        Verdict::Carried => {
            format!("#{n} carried    {e}: application data, carried as captured, not compared\n")
        }
        _ => format!("#{n} ?\n"),
    }
}

/// Runs `osi replay`.
pub fn run(args: &ReplayArgs) -> ExitCode {
    let options = CaptureOptions {
        stream: args.stream,
        fed: match args.side {
            Side::Client => Direction::Client,
            Side::Server => Direction::Server,
        },
        ports: if args.ports.is_empty() {
            vec![102, 3389]
        } else {
            args.ports.clone()
        },
    };
    let (stream, report) = match replay::replay_capture(&args.file, &options) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(io::stderr(), "osi replay: {}: {e}", args.file.display());
            return ExitCode::from(1);
        }
    };
    let mut out = String::new();
    let machine = if options.fed == Direction::Client {
        "responder"
    } else {
        "initiator"
    };
    match args.format {
        Format::Text => {
            if let Start::Established { first } = &report.start {
                out.push_str(&format!(
                    "stream {stream}: capture starts after the connection was established (first unit: {first}); replayed from a synthesized transport connection\n"
                ));
            }
            let layers = match report.plays {
                Plays::Transport => " (transport only: application data carried, not compared)",
                Plays::Session => " (session only)",
                Plays::Rts => " (RTS)",
                _ => "",
            };
            out.push_str(&format!(
                "stream {stream}: the machine plays the {machine}{layers}, fed the {} side\n",
                if machine == "responder" {
                    "client"
                } else {
                    "server"
                }
            ));
            for (i, s) in report.steps.iter().enumerate() {
                out.push_str(&step_line(i + 1, s));
            }
            out.push_str(if report.matches() {
                "match\n"
            } else {
                "no match\n"
            });
        }
        Format::Json => {
            for (i, s) in report.steps.iter().enumerate() {
                let mut o = Obj::new();
                o.set("stream", stream);
                o.set("machine", machine);
                o.set("rts", report.rts);
                o.set("plays", report.plays.name());
                if let Start::Established { first } = &report.start {
                    o.set("starts_after_connection", first.as_str());
                }
                o.extend(step_obj(i + 1, s));
                out.push_str(&o.to_json());
                out.push('\n');
            }
        }
    }
    let _ = io::stdout().lock().write_all(out.as_bytes());
    if report.matches() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
