//! `osi probe`: find which selectors a peer accepts, layer by layer (contract: `docs/cli.md`).

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use osi_stack::address::{PSel, SSel, TSel};
use osi_stack::oid::OwnedOid;
use osi_stack::probe::{self, Attempt, Candidate, Depth, Options, Outcome, Profile, Report};

use crate::args;
use crate::json::{J, Obj, hex};
use crate::output::Format;

/// Find which selectors a peer accepts, layer by layer.
///
/// Tries selector sets — the profiles' well-known ones, then the sets made of the given
/// selectors (every combination of --tsel, --ssel and --psel) — one TCP connection each,
/// sequentially, each wait bounded by --timeout. For every attempt it prints the layer that
/// refused and the reason (DR reason, RF reason, CPR provider reason, AARE diagnostic), or
/// that it worked; it ends with the sets that work. Associations that succeed are released.
/// With no --profile and no selector every profile is tried.
///
/// JSON (--format json): one object a line, {"event": "attempt", ...} per attempt, then
/// {"event": "summary", ...}.
///
/// Exit status: 0 when at least one set works; 1 when none does; 2 on a usage error.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The peer (a name or an address, and a port)
    #[arg(value_name = "HOST:PORT")]
    address: String,
    /// Well-known selector sets to try first (repeatable): iec61850, s7, x400 or all
    #[arg(long = "profile", value_name = "NAME", value_parser = profile)]
    profiles: Vec<Vec<Profile>>,
    /// A called T-selector to try (repeatable)
    #[arg(long = "tsel", value_name = "HEX", value_parser = args::tsel)]
    tsels: Vec<TSel>,
    /// A called S-selector to try (repeatable)
    #[arg(long = "ssel", value_name = "HEX", value_parser = args::ssel)]
    ssels: Vec<SSel>,
    /// A called P-selector to try (repeatable)
    #[arg(long = "psel", value_name = "HEX", value_parser = args::psel)]
    psels: Vec<PSel>,
    /// Called AP-title (form 2) of the given sets
    #[arg(long, value_name = "OID", value_parser = args::oid)]
    ap_title: Option<OwnedOid>,
    /// Called AE-qualifier (form 2) of the given sets
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    ae_qualifier: Option<i64>,
    /// Try the given sets at the transport layer only (CR/CC, as S7 peers speak)
    #[arg(long)]
    transport_only: bool,
    /// Local address to connect from
    #[arg(long, value_name = "ADDR")]
    bind: Option<IpAddr>,
    /// Time-out of every wait of one attempt, in seconds
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = args::seconds)]
    timeout: Duration,
    /// Attempts at most
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    max_attempts: u64,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The same as --format json
    #[arg(long, conflicts_with = "format")]
    json: bool,
}

fn profile(s: &str) -> Result<Vec<Profile>, String> {
    if s == "all" {
        return Ok(Profile::ALL.to_vec());
    }
    Profile::from_name(s)
        .map(|p| vec![p])
        .ok_or_else(|| format!("{s:?} is not a profile (iec61850, s7, x400, all)"))
}

fn complain(message: &str) {
    let _ = writeln!(io::stderr(), "osi probe: {message}");
}

/// Each value as `Some`, or one `None` when there is none.
fn or_none<T: Copy>(v: &[T]) -> Vec<Option<T>> {
    if v.is_empty() {
        vec![None]
    } else {
        v.iter().copied().map(Some).collect()
    }
}

/// The given selector sets: every combination of the given selectors.
fn given(a: &ProbeArgs) -> Vec<Candidate> {
    if a.tsels.is_empty() && a.ssels.is_empty() && a.psels.is_empty() {
        return Vec::new();
    }
    let tsels = or_none(&a.tsels);
    let ssels = or_none(&a.ssels);
    let psels = or_none(&a.psels);
    let mut out = Vec::new();
    for t in &tsels {
        if a.transport_only {
            let label = format!("given {}", out.len().saturating_add(1));
            out.push(Candidate::transport(label, None, *t));
            continue;
        }
        for s in &ssels {
            for p in &psels {
                let mut request = probe::mms_request().with_called_selectors(*t, *s, *p);
                request.called.ap_title = a.ap_title.clone();
                request.called.ae_qualifier = a.ae_qualifier;
                let label = format!("given {}", out.len().saturating_add(1));
                out.push(Candidate::association(label, request));
            }
        }
    }
    out
}

fn resolve(address: &str) -> Result<SocketAddr, String> {
    address
        .to_socket_addrs()
        .map_err(|e| format!("{address}: {e}"))?
        .next()
        .ok_or_else(|| format!("{address}: no address"))
}

/// Runs `osi probe`.
pub fn run(a: &ProbeArgs) -> ExitCode {
    let format = if a.json { Format::Json } else { a.format };
    let addr = match resolve(&a.address) {
        Ok(addr) => addr,
        Err(e) => {
            complain(&e);
            return ExitCode::from(1);
        }
    };
    let given = given(a);
    let mut profiles: Vec<Profile> = Vec::new();
    for p in a.profiles.iter().flatten() {
        if !profiles.contains(p) {
            profiles.push(*p);
        }
    }
    if profiles.is_empty() && given.is_empty() {
        profiles = Profile::ALL.to_vec();
    }
    let candidates = probe::candidates(&profiles, given);
    let options = Options::default()
        .with_timeout(a.timeout)
        .with_max_attempts(usize::try_from(a.max_attempts).unwrap_or(usize::MAX))
        .with_bind(a.bind);
    let Some(runtime) = crate::current_thread_runtime("probe") else {
        return ExitCode::from(1);
    };
    let mut out = io::stdout().lock();
    let report = runtime.block_on(probe::run(addr, candidates, options, |attempt| {
        let line = match format {
            Format::Text => attempt_text(attempt),
            Format::Json => attempt_json(attempt).to_json(),
        };
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }));
    let _ = summary(&mut out, &report, format);
    if report.working().next().is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn sel_json(obj: &mut Obj, key: &'static str, sel: Option<&[u8]>) {
    if let Some(s) = sel {
        obj.set(key, hex(s));
    }
}

fn selectors_json(c: &Candidate) -> Obj {
    let r = &c.request;
    let mut o = Obj::new();
    sel_json(
        &mut o,
        "calling_tsel",
        r.calling_tsel.as_ref().map(TSel::as_bytes),
    );
    sel_json(
        &mut o,
        "called_tsel",
        r.called_tsel.as_ref().map(TSel::as_bytes),
    );
    if c.depth == Depth::Association {
        sel_json(
            &mut o,
            "calling_ssel",
            r.calling_ssel.as_ref().map(SSel::as_bytes),
        );
        sel_json(
            &mut o,
            "called_ssel",
            r.called_ssel.as_ref().map(SSel::as_bytes),
        );
        sel_json(
            &mut o,
            "calling_psel",
            r.calling_psel.as_ref().map(PSel::as_bytes),
        );
        sel_json(
            &mut o,
            "called_psel",
            r.called_psel.as_ref().map(PSel::as_bytes),
        );
        if let Some(t) = &r.calling.ap_title {
            o.set("calling_ap_title", t.to_string());
        }
        if let Some(q) = r.calling.ae_qualifier {
            o.set("calling_ae_qualifier", q);
        }
        if let Some(t) = &r.called.ap_title {
            o.set("called_ap_title", t.to_string());
        }
        if let Some(q) = r.called.ae_qualifier {
            o.set("called_ae_qualifier", q);
        }
        o.set("application_context", r.application_context.to_string());
    }
    o
}

fn candidate_json(c: &Candidate) -> Obj {
    let mut o = Obj::new();
    o.set("label", c.label.clone());
    if let Some(p) = c.profile {
        o.set("profile", p.name());
    }
    o.set(
        "depth",
        match c.depth {
            Depth::Transport => "transport",
            _ => "association",
        },
    );
    o.set("selectors", selectors_json(c));
    o
}

fn result_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Associated { .. } | Outcome::TransportConnected { .. } => "ok",
        Outcome::Refused(_) | Outcome::TransportFailed(_) | Outcome::Closed { .. } => "refused",
        Outcome::Aborted(_) => "aborted",
        Outcome::Timeout => "timeout",
        Outcome::Unreachable(_) => "unreachable",
        _ => "error",
    }
}

/// The layer in the CLI's words: `tcp`, `transport` (TPKT and COTP), `session`,
/// `presentation`, `acse`, `upper` (the peer closed after the CN: session or above).
fn layer(o: &Outcome) -> &'static str {
    match o.layer() {
        Some(l) => crate::events::layer_name(l),
        None => o.layer_name(),
    }
}

fn attempt_text(a: &Attempt) -> String {
    let verdict = match &a.outcome {
        o if o.is_success() => "ok".to_owned(),
        Outcome::Unreachable(_) => "unreachable".to_owned(),
        Outcome::Timeout => "no answer".to_owned(),
        Outcome::Failed(_) => "failed".to_owned(),
        o => format!("refused at {}", layer(o)),
    };
    format!(
        "#{} {} [{}]: {verdict}: {}",
        a.number,
        a.candidate.label,
        a.candidate.describe(),
        a.outcome
    )
}

fn attempt_json(a: &Attempt) -> Obj {
    let mut o = Obj::new();
    o.set("event", "attempt");
    o.set("number", a.number);
    o.extend(candidate_json(&a.candidate));
    o.set("result", result_name(&a.outcome));
    if !a.outcome.is_success() {
        o.set("layer", layer(&a.outcome));
    }
    if let Some(c) = a.outcome.code() {
        o.set("code", c);
    }
    o.set("reason", a.outcome.to_string());
    o.set(
        "elapsed_ms",
        u64::try_from(a.elapsed.as_millis()).unwrap_or(u64::MAX),
    );
    o
}

fn summary(out: &mut impl Write, report: &Report, format: Format) -> io::Result<()> {
    let working: Vec<&Candidate> = report.working().collect();
    match format {
        Format::Json => {
            let mut o = Obj::new();
            o.set("event", "summary");
            o.set("attempts", report.attempts.len());
            o.set("skipped", report.skipped);
            o.set("pruned", report.pruned);
            o.set(
                "working",
                J::A(working.iter().map(|c| J::O(candidate_json(c))).collect()),
            );
            writeln!(out, "{}", o.to_json())
        }
        Format::Text => {
            write!(out, "{} attempts", report.attempts.len())?;
            if report.skipped > 0 {
                write!(out, ", {} not tried", report.skipped)?;
            }
            if report.pruned > 0 {
                write!(
                    out,
                    ", {} left out (their selectors were refused already)",
                    report.pruned
                )?;
            }
            if working.is_empty() {
                writeln!(out, "; no selector set worked")
            } else {
                writeln!(out, "; working:")?;
                for c in working {
                    writeln!(out, "  {} [{}]", c.label, c.describe())?;
                }
                Ok(())
            }
        }
    }
}
