//! `osi dump`: decode a capture or a hex byte stream.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgGroup, Args};
use osi_stack::dissect::{Direction, Record, Stream, Tracker, capture};

use crate::output::{Format, Output};

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
/// Records are printed as they are decoded, and memory does not grow with the input: a hex
/// file is read twice (checked, then decoded) in blocks; `--hex-file -` (standard input) and
/// pipes are read once, records flushed block by block, so invalid hex there stops the dump
/// after the records before it.
///
/// Exit status: 0 when everything decoded; 1 when the input was bad: the file could not
/// be read or is not a pcap/pcapng file, the hex is invalid, or any record carries an
/// `error` (a layer failed to decode, the capture misses bytes of a stream, or a TPKT is
/// cut short); 2 on a usage error.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["file", "hex", "hex_file"])))]
pub struct DumpArgs {
    /// A pcap or pcapng capture (link types Ethernet, Linux cooked v1/v2, BSD loopback, raw IP);
    /// "-" reads it from standard input
    #[arg(value_name = "FILE.pcap|FILE.pcapng")]
    file: Option<PathBuf>,
    /// One direction of one TCP stream, as hex (whitespace ignored)
    #[arg(long, value_name = "HEX")]
    hex: Option<String>,
    /// The same, hex read from a file (whitespace ignored; "-" reads standard input)
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

/// The value of one hex digit.
fn nibble(d: u8) -> Option<u8> {
    match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    }
}

/// Hex text turned into octets block by block, ignoring ASCII whitespace. Errors name the
/// position among the digits, as if the whole text had been read at once.
#[derive(Debug, Default)]
struct HexDecoder {
    /// Digits seen.
    digits: usize,
    /// A high nibble waiting for its low one.
    high: Option<u8>,
    /// The first invalid digit and its position.
    invalid: Option<(usize, u8)>,
}

impl HexDecoder {
    /// Decodes `text` into `out`; stops at the first invalid digit.
    fn feed(&mut self, text: &[u8], out: &mut Vec<u8>) {
        for &d in text.iter().filter(|b| !b.is_ascii_whitespace()) {
            if self.invalid.is_some() {
                self.digits += 1;
                continue;
            }
            match nibble(d) {
                None => self.invalid = Some((self.digits, d)),
                Some(v) => match self.high.take() {
                    None => self.high = Some(v),
                    Some(h) => out.push(h << 4 | v),
                },
            }
            self.digits += 1;
        }
    }

    /// The error, if the text was not valid hex (odd length first, as the contract's checks).
    fn error(&self) -> Option<String> {
        if self.digits % 2 != 0 {
            return Some(format!("odd number of hex digits ({})", self.digits));
        }
        self.invalid
            .map(|(i, d)| format!("invalid hex digit {:?} at position {i}", char::from(d)))
    }
}

/// Parses hex, ignoring ASCII whitespace.
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let mut dec = HexDecoder::default();
    let mut out = Vec::new();
    dec.feed(text.as_bytes(), &mut out);
    match dec.error() {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Size of the blocks a hex file is read in.
const HEX_BLOCK: usize = 64 << 10;

/// Reads `r` block by block, feeding a [`HexDecoder`]; `on_octets` gets each block's octets.
fn read_hex(
    mut r: impl Read,
    dec: &mut HexDecoder,
    mut on_octets: impl FnMut(&[u8]),
) -> io::Result<()> {
    let mut text = vec![0u8; HEX_BLOCK];
    let mut octets = Vec::with_capacity(HEX_BLOCK / 2);
    loop {
        let n = match r.read(&mut text) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        octets.clear();
        dec.feed(text.get(..n).unwrap_or_default(), &mut octets);
        if !octets.is_empty() {
            on_octets(&octets);
        }
    }
}

/// Dissects one direction of one stream given as hex in the file at `path` ("-": standard
/// input), printing as it goes. Returns the error to complain about, if any.
fn dump_hex_file<W: Write>(path: &Path, out: &mut Output<W>) -> Result<(), String> {
    let name = path.display();
    let mut stream = Stream::new();
    let mut dec = HexDecoder::default();
    let stdin = path == Path::new("-");
    // A pipe or a device cannot be read twice.
    let regular = !stdin && std::fs::metadata(path).is_ok_and(|m| m.is_file());
    if !regular {
        // Standard input may be a live feed: each block's records are flushed.
        let read = if stdin {
            read_hex(io::stdin().lock(), &mut dec, |b| {
                stream.push(Direction::Unknown, b, &mut |r| out.record(&r));
                out.flush();
            })
        } else {
            let file = File::open(path).map_err(|e| format!("{name}: {e}"))?;
            read_hex(file, &mut dec, |b| {
                stream.push(Direction::Unknown, b, &mut |r| out.record(&r));
                out.flush();
            })
        };
        let mut print = |r: Record<'_>| out.record(&r);
        stream.finish(Direction::Unknown, &mut print);
        read.map_err(|e| {
            if stdin {
                format!("standard input: {e}")
            } else {
                format!("{name}: {e}")
            }
        })?;
        return dec.error().map_or(Ok(()), Err);
    }
    let mut print = |r: Record<'_>| out.record(&r);
    // A first pass checks the hex, so that nothing is printed for an invalid file.
    let open = || File::open(path).map_err(|e| format!("{name}: {e}"));
    read_hex(open()?, &mut dec, |_| {}).map_err(|e| format!("{name}: {e}"))?;
    if let Some(e) = dec.error() {
        return Err(e);
    }
    let mut dec = HexDecoder::default();
    let read = read_hex(open()?, &mut dec, |b| {
        stream.push(Direction::Unknown, b, &mut print);
    });
    stream.finish(Direction::Unknown, &mut print);
    read.map_err(|e| format!("{name}: {e}"))
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
        let read = if path == Path::new("-") {
            // Standard input may be a live capture: each packet's records are flushed.
            capture::for_each_segment_in(io::stdin().lock(), |seg| {
                tracker.segment(&seg, &mut |r| out.record(&r));
                out.flush();
            })
        } else {
            capture::for_each_segment(path, |seg| {
                tracker.segment(&seg, &mut |r| out.record(&r));
            })
        };
        tracker.finish(&mut |r| out.record(&r));
        if let Err(e) = read {
            complain(&format!("{}: {e}", path.display()));
            bad_input = true;
        }
    } else if let Some(hex) = &args.hex {
        match parse_hex(hex) {
            Err(e) => {
                complain(&e);
                return ExitCode::from(1);
            }
            Ok(bytes) => {
                let mut stream = Stream::new();
                let mut print = |r: Record<'_>| out.record(&r);
                stream.push(Direction::Unknown, &bytes, &mut print);
                stream.finish(Direction::Unknown, &mut print);
            }
        }
    } else if let Some(path) = &args.hex_file {
        if let Err(e) = dump_hex_file(path, &mut out) {
            complain(&e);
            // Records printed before the error (standard input) are flushed.
            let _ = out.finish();
            return ExitCode::from(1);
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
