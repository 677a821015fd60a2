//! A small analyser over [`osi_stack::dissect`]: reads a pcap or pcapng capture, follows every
//! RFC 1006 stream (port 102) and prints one line per association event an IDS would care about
//! (transport connects and disconnects, association requests with their application context and
//! AP-titles, refusals, aborts, RTSE openings) plus every decoding error, then a summary.
//!
//! ```sh
//! cargo run --example dissect --features pcap -- testdata/captures/mms__dina__refuse.pcapng
//! ```

use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;

use osi_stack::acse::{ApTitle, Apdu, AssociateResult};
use osi_stack::cotp::Tpdu;
use osi_stack::dissect::{Direction, Presentation, Record, RecordKind, Tracker, capture};
use osi_stack::presentation::AbortPpdu;
use osi_stack::rtse;

/// What one stream did.
#[derive(Debug, Default)]
struct Summary {
    frames: u64,
    associations: u64,
    refused: u64,
    aborted: u64,
    errors: u64,
}

fn title(t: Option<&ApTitle<'_>>) -> String {
    match t {
        Some(ApTitle::Form2(oid)) => oid.to_string(),
        Some(ApTitle::Form1(_)) => "(form 1)".to_owned(),
        None => "-".to_owned(),
    }
}

fn dir(d: Direction) -> &'static str {
    match d {
        Direction::Client => "c>s",
        Direction::Server => "s>c",
        Direction::Unknown => "?",
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| "testdata/captures/mms__dina__refuse.pcapng".into());
    let mut streams: BTreeMap<u64, Summary> = BTreeMap::new();
    let mut tracker = Tracker::new(vec![102]);
    let mut on_record = |r: Record<'_>| {
        let id = r.stream.unwrap_or(0);
        let s = streams.entry(id).or_default();
        let at = format!("stream {id} {} off {}", dir(r.direction), r.offset);
        if let Some(e) = r.error() {
            s.errors += 1;
            println!(
                "{at}: ERROR {} layer at offset {}: {e}",
                e.layer(),
                e.offset()
            );
        }
        let RecordKind::Frame(frame) = &r.kind else {
            return;
        };
        s.frames += 1;
        match frame.tpdu() {
            Some(Tpdu::Cr(cr)) => println!("{at}: transport connect, src-ref {:#06x}", cr.src_ref),
            Some(Tpdu::Dr(dr)) => println!("{at}: transport disconnect, reason {:?}", dr.reason),
            _ => {}
        }
        let Some(upper) = frame.upper() else { return };
        match &upper.acse {
            Some(Apdu::Aarq(aarq)) => {
                s.associations += 1;
                println!(
                    "{at}: association request, context {}, calling {} called {}",
                    aarq.application_context_name,
                    title(aarq.calling.ap_title.as_ref()),
                    title(aarq.called.ap_title.as_ref()),
                );
            }
            Some(Apdu::Aare(aare)) if aare.result != AssociateResult::ACCEPTED => {
                s.refused += 1;
                println!(
                    "{at}: association refused, result {:?}, diagnostic {:?}",
                    aare.result, aare.result_source_diagnostic
                );
            }
            Some(Apdu::Abrt(abrt)) => {
                s.aborted += 1;
                println!("{at}: association aborted by {:?}", abrt.source);
            }
            _ => {}
        }
        if let Some(Presentation::Abort(AbortPpdu::Arp(arp))) = &upper.presentation {
            s.aborted += 1;
            println!("{at}: presentation provider abort {:?}", arp.abort_reason);
        }
        if let Some(rtse::Apdu::Rtorq(rq)) = &upper.rtse {
            println!("{at}: RTSE open, window {}", rq.window_size_or_default());
        }
    };
    let read = capture::for_each_segment(&path, |seg| tracker.segment(&seg, &mut on_record));
    tracker.finish(&mut on_record);
    read.map_err(|e| format!("{}: {e}", path.display()))?;
    for (id, s) in &streams {
        println!("stream {id}: {s:?}");
    }
    Ok(())
}
