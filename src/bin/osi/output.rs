//! Writing records: JSON lines or an indented text tree.

use std::fmt::Write as _;
use std::io::{self, Write};

use osi_stack::dissect::{Direction, Record, RecordKind};

use crate::json::{J, Obj};

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An indented tree, one block a TPKT.
    Text,
    /// One JSON object a line.
    Json,
}

/// Where records go; numbers the frames and remembers whether any error was reported.
pub struct Output<W: Write> {
    w: W,
    format: Format,
    frames: u64,
    errors: u64,
    failed: Option<io::Error>,
}

impl<W: Write> Output<W> {
    /// Records are written to `w` in `format`.
    pub fn new(w: W, format: Format) -> Self {
        Output {
            w,
            format,
            frames: 0,
            errors: 0,
            failed: None,
        }
    }

    /// Number of records that carried an `error`.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Numbers the record (TPKTs only) and writes it.
    pub fn record(&mut self, rec: &Record<'_>) {
        let body = crate::stack::body(rec);
        let mut obj = Obj::new();
        if matches!(rec.kind, RecordKind::Frame(_)) {
            self.frames = self.frames.saturating_add(1);
            obj.set("frame", self.frames);
        }
        if let Some(s) = rec.stream {
            obj.set("stream", s);
        }
        match rec.direction {
            Direction::Client if rec.stream.is_some() => obj.set("dir", "c>s"),
            Direction::Server if rec.stream.is_some() => obj.set("dir", "s>c"),
            _ => {}
        }
        // `error` and `note` go last, after every layer.
        let error = body.get("error").cloned();
        let note = body.get("note").cloned();
        let mut rest = Obj::new();
        for (k, v) in body.iter() {
            if k != "error" && k != "note" {
                rest.set(k, v.clone());
            }
        }
        obj.extend(rest);
        if let Some(e) = error {
            self.errors = self.errors.saturating_add(1);
            obj.set("error", e);
        }
        if let Some(n) = note {
            obj.set("note", n);
        }
        let line = match self.format {
            Format::Json => {
                let mut s = obj.to_json();
                s.push('\n');
                s
            }
            Format::Text => text(&obj),
        };
        self.write(line.as_bytes());
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            if let Err(e) = self.w.write_all(bytes) {
                self.failed = Some(e);
            }
        }
    }

    /// Hands what was written so far to the writer's destination (errors are kept for
    /// [`Output::finish`]).
    pub fn flush(&mut self) {
        if self.failed.is_none() {
            if let Err(e) = self.w.flush() {
                self.failed = Some(e);
            }
        }
    }

    /// Flushes the writer; the first write error, if any.
    pub fn finish(mut self) -> Result<(), io::Error> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.w.flush()
    }
}

fn scalar(key: &str, v: &J) -> String {
    match v {
        J::U(n) if key == "code" => format!("{n:#04x}"),
        J::U(n) if key.ends_with("_ref") => format!("{n:#06x}"),
        J::U(n) => n.to_string(),
        J::I(n) => n.to_string(),
        J::B(b) => b.to_string(),
        J::S(s) if s.is_empty() => "\"\"".to_owned(),
        J::S(s) if s.len() > 96 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            format!("{}… ({} octets)", s.get(..96).unwrap_or(s), s.len() / 2)
        }
        J::S(s) => s.clone(),
        J::A(items) => {
            let parts: Vec<String> = items.iter().map(|i| scalar("", i)).collect();
            format!("[{}]", parts.join(", "))
        }
        J::O(o) => {
            let parts: Vec<String> = o
                .iter()
                .map(|(k, v)| format!("{k} {}", scalar(k, v)))
                .collect();
            format!("{{{}}}", parts.join(" "))
        }
    }
}

/// `KEY type k v k v …` for one layer object; nested objects (`params`) are flattened.
fn layer_line(out: &mut String, label: &str, o: &Obj) {
    let _ = write!(out, "  {label}");
    if let Some(J::S(t)) = o.get("type") {
        let _ = write!(out, " {t}");
    }
    for (k, v) in o.iter() {
        match (k, v) {
            // The type names the TPDU; its code octet is in the JSON.
            ("type", _) | ("code", _) => {}
            (_, J::O(inner)) => {
                for (ik, iv) in inner.iter() {
                    let _ = write!(out, " {ik} {}", scalar(ik, iv));
                }
            }
            _ => {
                let _ = write!(out, " {k} {}", scalar(k, v));
            }
        }
    }
    out.push('\n');
}

/// The text form of one record.
pub fn text(rec: &Obj) -> String {
    let mut out = String::new();
    match rec.get("frame") {
        Some(J::U(n)) => {
            let _ = write!(out, "#{n}");
        }
        _ => out.push('-'),
    }
    if let Some(J::U(s)) = rec.get("stream") {
        let _ = write!(out, " stream {s}");
    }
    if let Some(J::S(d)) = rec.get("dir") {
        let _ = write!(out, " {d}");
    }
    if let Some(J::U(o)) = rec.get("offset") {
        let _ = write!(out, " off {o}");
    }
    if let Some(J::O(t)) = rec.get("tpkt") {
        match t.get("length") {
            Some(J::U(len)) => {
                let _ = write!(out, " TPKT len {len}");
            }
            _ => out.push_str(" TPKT"),
        }
    }
    out.push('\n');
    for (k, v) in rec.iter() {
        match (k, v) {
            ("frame" | "stream" | "dir" | "offset" | "tpkt", _) => {}
            ("tsdu", J::O(t)) => {
                let len = t.get("length").map(|v| scalar("", v)).unwrap_or_default();
                match t.get("segments") {
                    Some(J::U(1)) | None => {
                        let _ = writeln!(out, "  TSDU {len} octets");
                    }
                    Some(n) => {
                        let _ = writeln!(out, "  TSDU {len} octets in {} segments", scalar("", n));
                    }
                }
            }
            ("error", J::O(e)) => {
                // The message names the layer and the offset already.
                let message = e.get("message").map(|v| scalar("", v)).unwrap_or_default();
                let _ = writeln!(out, "  ERROR {message}");
            }
            ("note", v) => {
                let _ = writeln!(out, "  NOTE {}", scalar("", v));
            }
            (_, J::O(o)) => layer_line(&mut out, &k.to_uppercase(), o),
            (_, J::A(items)) => {
                for item in items {
                    match item {
                        J::O(o) => layer_line(&mut out, &k.to_uppercase(), o),
                        other => {
                            let _ = writeln!(out, "  {} {}", k.to_uppercase(), scalar("", other));
                        }
                    }
                }
            }
            (_, v) => {
                let _ = writeln!(out, "  {} {}", k.to_uppercase(), scalar(k, v));
            }
        }
    }
    out
}
