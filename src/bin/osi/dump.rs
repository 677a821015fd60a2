//! `osi dump`: decode a capture or a hex byte stream.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args};

use crate::capture;
use crate::output::{Format, Output};
use crate::stack::DirDecoder;
use crate::tcp::Tracker;
use crate::upper::Upper;

/// Ports dumped when no `--port` is given: RFC 1006 (ISO-TSAP) and RDP.
const DEFAULT_PORTS: [u16; 2] = [102, 3389];

/// Decode TCP streams (pcap, pcapng) or one hex byte stream: TPKT, COTP, TSDUs, ...
///
/// Every TPKT becomes one record (a tree with --format text, one JSON object a line with
/// --format json), in the order of the packets that completed them. Segments are put in
/// order per direction; a direction that cannot be framed as TPKTs is reported and
/// not decoded further. RDP fast-path PDUs between TPKTs are skipped on streams to or from
/// port 3389, and a switch to TLS is noted without error.
///
/// Exit status: 0 when everything decoded; 1 when the input was bad: the file could not
/// be read or is not a pcap/pcapng file, the hex is invalid, or any record carries an
/// `error` (a layer failed to decode, the capture misses bytes of a stream, or a TPKT is
/// cut short); 2 on a usage error.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["file", "hex", "hex_file"])))]
pub struct DumpArgs {
    /// A pcap or pcapng capture (link types Ethernet, Linux cooked v1/v2, BSD loopback, raw IP)
    #[arg(value_name = "FILE.pcap|FILE.pcapng")]
    file: Option<PathBuf>,
    /// One direction of one TCP stream, as hex (whitespace ignored)
    #[arg(long, value_name = "HEX")]
    hex: Option<String>,
    /// The same, hex read from a file (whitespace ignored)
    #[arg(long, value_name = "FILE")]
    hex_file: Option<PathBuf>,
    /// Dump TCP streams to or from port N (repeatable; replaces the defaults 102 and 3389)
    #[arg(long = "port", value_name = "N", conflicts_with_all = ["hex", "hex_file"])]
    ports: Vec<u16>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn complain(message: &str) {
    let _ = writeln!(io::stderr(), "osi dump: {message}");
}

/// Parses hex, ignoring ASCII whitespace.
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    let value = |i: usize, d: u8| -> Result<u8, String> {
        match d {
            b'0'..=b'9' => Ok(d - b'0'),
            b'a'..=b'f' => Ok(d - b'a' + 10),
            b'A'..=b'F' => Ok(d - b'A' + 10),
            _ => Err(format!(
                "invalid hex digit {:?} at position {i}",
                char::from(d)
            )),
        }
    };
    digits
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| match pair {
            [hi, lo] => Ok(value(i * 2, *hi)? << 4 | value(i * 2 + 1, *lo)?),
            _ => Err("odd number of hex digits".to_owned()),
        })
        .collect()
}

/// Runs `osi dump`.
pub fn run(args: &DumpArgs) -> ExitCode {
    let stdout = io::stdout();
    let mut out = Output::new(BufWriter::new(stdout.lock()), args.format);
    let mut bad_input = false;
    if let Some(path) = &args.file {
        let ports = if args.ports.is_empty() {
            DEFAULT_PORTS.to_vec()
        } else {
            args.ports.clone()
        };
        let mut tracker = Tracker::new(ports);
        let read = capture::read(path, |linktype, data| {
            if let Some(seg) = capture::segment(linktype, data) {
                tracker.segment(&seg, &mut out);
            }
        });
        tracker.finish(&mut out);
        if let Err(e) = read {
            complain(&e);
            bad_input = true;
        }
    } else {
        let text = match (&args.hex, &args.hex_file) {
            (Some(h), _) => Ok(h.clone()),
            (None, Some(p)) => {
                std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
            }
            (None, None) => Err("no input".to_owned()),
        };
        match text.and_then(|t| parse_hex(&t)) {
            Err(e) => {
                complain(&e);
                return ExitCode::from(1);
            }
            Ok(bytes) => {
                let mut dec = DirDecoder::new(false);
                let mut upper = Upper::new();
                let mut recs = Vec::new();
                dec.push(&bytes, &mut recs);
                dec.finish(&mut recs);
                for rec in recs {
                    out.emit(None, None, &mut upper, rec);
                }
            }
        }
    }
    let errors = out.errors();
    match out.finish() {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            complain(&format!("writing the output: {e}"));
            return ExitCode::from(1);
        }
    }
    if errors > 0 {
        complain(&format!(
            "{errors} record{} with errors",
            if errors == 1 { "" } else { "s" }
        ));
    }
    if bad_input || errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_parsing() {
        assert_eq!(parse_hex("03 00\n00 0aFF"), Ok(vec![3, 0, 0, 0x0a, 0xff]));
        assert!(parse_hex("030").is_err());
        assert!(parse_hex("0g").is_err());
        assert_eq!(parse_hex(""), Ok(vec![]));
    }
}
