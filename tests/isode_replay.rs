//! Replay of the ISODE captures (`testdata/captures/isode`, see its README) against the crate's
//! machines playing the other role, in memory, driven by [`osi_stack::replay`]: a table of
//! capture × role × expected verdict (`table::cases`), and checks of single answers the table cannot
//! show (contexts inside an AARE, PAccept parameters, a presentation abort's reason).
//!
//! Replay feeds ISODE's side of each capture to the machine that fits it (an `Rts` for an RTS
//! association, an `Association`, a session or transport connection alone) with the application
//! behaviour the capture shows (ask for the turn, transfer, echo, close), and compares what the
//! machine sends with what ISODE's peer sent, TSDU by TSDU and layer by layer: the TPDU kinds,
//! the SPDU kinds with their Token Items, serial numbers and functional units (an AC is judged
//! within the CN's proposal where the CN offered both half-duplex and duplex), the presentation
//! and ACSE fields, the RTSE APDUs and the octets each transfer carries.
//!
//! To add a case: one row in `table::cases` (capture, side fed, layers played, verdict, why).

use std::time::Instant;

use bytes::Bytes;
use osi_stack::association::{AssociateRequest, Config, Dispatch};
use osi_stack::cotp::Tpdu;
use osi_stack::rts::{Rts, RtsEvent, RtsSettings};
use osi_stack::session::{self, SpduKind};
use osi_stack::tpkt;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/captures/isode/");

/// The table (reading captures needs the `pcap` feature).
#[cfg(feature = "pcap")]
mod table {
    use std::path::Path;

    use osi_stack::Layer;
    use osi_stack::dissect::Direction;
    use osi_stack::replay::{CaptureOptions, End, Plays, Value, Verdict, replay_capture};

    use super::DIR;

    /// What replay of one capture in one role must find.
    #[derive(Debug)]
    enum Expect {
        /// Every step matches; the machine's association was released in order and it finished.
        Released,
        /// Every step matches (a refusal, an abort …); the machine's end as given.
        Match(Option<End>),
        /// The first difference is at `(layer, field)`: ISODE's peer sent the first value, the
        /// machine the second.
        Differs(Layer, &'static str, Value, Value),
        /// The first difference: ISODE's peer sent the unit with this label, the machine nothing.
        Missing(&'static str),
    }

    use Direction::{Client, Server};
    use Expect::{Differs, Match, Missing, Released};

    fn kinds(k: &[&'static str]) -> Value {
        Value::Kinds(k.to_vec())
    }

    /// One case: capture (in `testdata/captures/isode/`), the side fed (`Client`: ISODE's `isoc`
    /// is fed, the machine plays `isod`'s role), the layers the machine plays, the verdict, why.
    type Case = (&'static str, Direction, Plays, Expect, &'static str);

    /// The cases. RTS and ACSE/ROSE echoes between ISODE's own programs match in both roles; the
    /// rest shows what the machines lack (session activities, major synchronization, typed and
    /// capability data, expedited data) or what ISODE does differently, at the first difference.
    fn cases() -> Vec<Case> {
        vec![
            // RTSE normal mode and X.410-1984 mode: two-way alternate, the turn by PT(RTTP), GTC, GTA,
            // each transfer an activity with MIP/MIA per checkpoint, FN(RLRQ)/DN(RLRE).
            (
                "iso-rtsap-rtse-echo",
                Client,
                Plays::Rts,
                Released,
                "isod's role",
            ),
            (
                "iso-rtsap-rtse-echo",
                Server,
                Plays::Rts,
                Released,
                "isoc's role",
            ),
            (
                "iso-rtsap-rtse-ckpt",
                Client,
                Plays::Rts,
                Released,
                "checkpoints",
            ),
            (
                "iso-rtsap-rtse-ckpt",
                Server,
                Plays::Rts,
                Released,
                "checkpoints",
            ),
            (
                "iso-rtsap-rtse-ros-echo",
                Client,
                Plays::Rts,
                Released,
                "ROS results",
            ),
            (
                "iso-rtsap-rtse-ros-echo",
                Server,
                Plays::Rts,
                Released,
                "ROS invokes",
            ),
            (
                "iso-rtsap-x410-echo",
                Client,
                Plays::Rts,
                Released,
                "PAccept",
            ),
            (
                "iso-rtsap-x410-echo",
                Server,
                Plays::Rts,
                Released,
                "PConnect",
            ),
            (
                "iso-rtsap-x410-ckpt",
                Client,
                Plays::Rts,
                Released,
                "X.410 checkpoints",
            ),
            (
                "iso-rtsap-x410-ckpt",
                Server,
                Plays::Rts,
                Released,
                "X.410 checkpoints",
            ),
            (
                "iso-rtsap-x410-ros-echo",
                Client,
                Plays::Rts,
                Released,
                "X.410 ROS",
            ),
            (
                "iso-rtsap-x410-ros-echo",
                Server,
                Plays::Rts,
                Released,
                "X.410 ROS",
            ),
            // ACSE and ROSE over ACSE; ROS in X.410-1984 mode (no activities: not RTS).
            (
                "iso-acse-echo",
                Client,
                Plays::Association,
                Released,
                "AARE echoes 3 EXTERNALs; isod chose half-duplex, the machine duplex (both proposed)",
            ),
            (
                "iso-acse-echo",
                Server,
                Plays::Association,
                Released,
                "AARQ with 3 EXTERNALs, RLRQ",
            ),
            (
                "iso-rosap-acse-echo",
                Client,
                Plays::Association,
                Released,
                "ROSE results",
            ),
            (
                "iso-rosap-acse-echo",
                Server,
                Plays::Association,
                Released,
                "ROSE invokes",
            ),
            (
                "iso-rosap-echo-x410",
                Client,
                Plays::Association,
                Released,
                "X.410-mode PAccept",
            ),
            (
                "iso-rosap-echo-x410",
                Server,
                Plays::Association,
                Released,
                "X.410-mode PConnect from the CN, units 0x0003",
            ),
            // Session only (ISODE's S-selector 0080): all eleven functional units.
            (
                "iso-ssap-echo",
                Client,
                Plays::Session,
                Missing("ED"),
                "the machine answers the CN (0x07ff) with half-duplex and the token units, as isod; activity start, data, tokens and the major sync point match up to isod's PR on the class-0 expedited flow, which the crate's class 0 does not have",
            ),
            (
                "iso-ssap-echo",
                Server,
                Plays::Session,
                Missing("DT [GT MAP]"),
                "activity start, data and tokens match; the replay's application does not ask for \
             the major sync point isoc set next (the session machine has it: \
             src/session/isode_tests.rs plays this role to the release)",
            ),
            // Presentation without ACSE (P-selector 0080): the association machine always
            // carries ACSE.
            (
                "iso-psap-echo",
                Client,
                Plays::Association,
                Differs(Layer::Session, "type", kinds(&["AC"]), kinds(&["RF"])),
                "the machine refuses a CP without an AARQ",
            ),
            (
                "iso-psap-echo",
                Server,
                Plays::Association,
                Differs(Layer::Acse, "type", Value::Absent, Value::Kind("AARQ")),
                "the machine's CP carries an AARQ",
            ),
            // ISODE's isod aborted by osi connect (the A-ABORT is the capture's).
            (
                "osi2iso-acse-abort",
                Client,
                Plays::Association,
                Match(Some(End::Aborted)),
                "isod's role: the abort arrives",
            ),
            (
                "osi2iso-acse-abort",
                Server,
                Plays::Association,
                Match(Some(End::Aborted)),
                "the machine aborts as osi connect did",
            ),
            // Transport only (T-selector 0080): ED after the expedited option.
            (
                "iso-tsap-echo",
                Client,
                Plays::Transport,
                Differs(Layer::Cotp, "type", Value::Kind("ED"), Value::Kind("ER")),
                "the crate's class 0 has no expedited data: the machine rejects ISODE's ED with ER",
            ),
            (
                "iso-tsap-echo",
                Server,
                Plays::Transport,
                Missing("ED"),
                "expedited data is not sent",
            ),
        ]
    }

    #[test]
    fn isode_cases() {
        let mut failures = Vec::new();
        for (capture, fed, plays, expect, why) in &cases() {
            let options = CaptureOptions {
                fed: *fed,
                stream: None,
                ports: vec![102, 11102],
            };
            let path = Path::new(DIR).join(format!("{capture}.pcap"));
            let (_, report) = match replay_capture(&path, &options) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{capture} fed {fed:?}: {e}"));
                    continue;
                }
            };
            let first = report.first_difference();
            let ok = report.plays == *plays
                && match expect {
                    Released => {
                        report.matches()
                            && report.end == Some(End::Released)
                            && report.closed
                            && report.steps.len() >= 3
                    }
                    Match(end) => {
                        report.matches() && report.end == *end && !report.steps.is_empty()
                    }
                    Differs(layer, field, e, a) => matches!(
                        first.map(|s| &s.verdict),
                        Some(Verdict::Different(d)) if d.layer == *layer && d.name == *field
                            && &d.expected == e && &d.actual == a
                    ),
                    Missing(label) => first.is_some_and(|s| {
                        s.verdict == Verdict::Missing
                            && s.expected.as_ref().map(|u| u.label()).as_deref() == Some(*label)
                    }),
                };
            if !ok {
                failures.push(format!(
                "{capture} fed {fed:?}: expected {plays:?} {expect:?} ({why}); got {:?}, end {:?}, closed {}, first difference {first:?}",
                report.plays, report.end, report.closed
            ));
            }
            // An RTS transfer is compared down to where the RTS cut it, and its checkpoints.
            if *plays == Plays::Rts && matches!(expect, Released) {
                let expected = |layer, name| {
                    report.steps.iter().any(|s| {
                        s.expected
                            .as_ref()
                            .is_some_and(|u| u.get(layer, name).is_some())
                    })
                };
                let octets =
                    expected(Layer::Rtse, "octets") || expected(Layer::Presentation, "octets");
                if !octets || !expected(Layer::Session, "tokens") {
                    failures.push(format!(
                        "{capture} fed {fed:?}: no transfer octets or tokens compared"
                    ));
                }
            }
            // Every CN and AC was compared with its functional units.
            for s in &report.steps {
                let Some(u) = &s.expected else { continue };
                let connect = matches!(u.get(Layer::Session, "type"), Some(Value::Kinds(k)) if k.contains(&"CN") || k.contains(&"AC"));
                if connect && u.get(Layer::Session, "requirements").is_none() {
                    failures.push(format!(
                        "{capture} fed {fed:?}: {} without functional units",
                        u.label()
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }
}

/// One TPKT and who sent it.
#[derive(Debug, Clone)]
struct Frame {
    from_client: bool,
    bytes: Vec<u8>,
}

fn u16be(b: &[u8], at: usize) -> usize {
    usize::from(b[at]) << 8 | usize::from(b[at + 1])
}

fn u32be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The TPKTs of a classic little-endian pcap with Ethernet framing (how the ISODE captures
/// were written), per TCP direction, in order; the client is the side that sent the SYN.
fn frames(name: &str) -> Vec<Frame> {
    let data = std::fs::read(format!("{DIR}{name}.pcap")).expect("capture");
    assert_eq!(&data[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "classic pcap");
    assert_eq!(
        u32::from_le_bytes(data[20..24].try_into().unwrap()),
        1,
        "ethernet"
    );
    let mut off = 24;
    let mut server_port = None;
    let mut next_seq: [Option<u32>; 2] = [None, None];
    let mut stream: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut out = Vec::new();
    while off + 16 <= data.len() {
        let incl = u32::from_le_bytes(data[off + 8..off + 12].try_into().unwrap()) as usize;
        let pkt = &data[off + 16..off + 16 + incl];
        off += 16 + incl;
        let ip = &pkt[14..];
        if u16be(pkt, 12) != 0x0800 || ip[9] != 6 {
            continue;
        }
        let ihl = usize::from(ip[0] & 15) * 4;
        let total = u16be(ip, 2);
        let tcp = &ip[ihl..total];
        let (sport, dport) = (u16be(tcp, 0), u16be(tcp, 2));
        let flags = tcp[13];
        if flags & 0x12 == 0x02 {
            server_port = Some(dport);
        }
        let from_client = Some(dport) == server_port;
        let dir = usize::from(!from_client);
        let seq = u32be(tcp, 4);
        let payload = &tcp[usize::from(tcp[12] >> 4) * 4..];
        let _ = sport;
        if payload.is_empty() {
            continue;
        }
        if let Some(n) = next_seq[dir] {
            if seq != n {
                continue; // a retransmission
            }
        }
        next_seq[dir] = Some(seq.wrapping_add(payload.len() as u32));
        stream[dir].extend_from_slice(payload);
        while let Ok(Some(n)) = tpkt::frame_len(&stream[dir]) {
            if stream[dir].len() < n {
                break;
            }
            let bytes: Vec<u8> = stream[dir].drain(..n).collect();
            out.push(Frame { from_client, bytes });
        }
    }
    out
}

/// What one side sent, one line per TPDU other than DT and per TSDU: TPDU kind, or the SPDU
/// kinds of the TSDU with their Token Items (`Pt{01}`).
#[derive(Default)]
struct Summary {
    tsdu: Vec<u8>,
    lines: Vec<String>,
}

impl Summary {
    fn push(&mut self, frame: &[u8]) {
        let payload = &frame[4..];
        match Tpdu::decode(payload).expect("tpdu") {
            Tpdu::Dt(dt) => {
                self.tsdu.extend_from_slice(dt.user_data);
                if dt.eot {
                    let tsdu = std::mem::take(&mut self.tsdu);
                    let kinds: Vec<String> = session::spdus(&tsdu)
                        .map(|s| {
                            let s = s.expect("spdu");
                            let kind = match s.kind() {
                                // SI 42 is MAA or AEA: RTS uses only activities.
                                SpduKind::MaaOrAea => "Aea".to_string(),
                                k => format!("{k:?}"),
                            };
                            let mut line = match s.token_item() {
                                Some(t) if t.0 != 0 => format!("{kind}{{{:02x}}}", t.0),
                                _ => kind,
                            };
                            // Fields: functional units of CN/AC, serial numbers of the
                            // synchronization SPDUs, the APDU a PT/FN/DN carries (RTTP `02`,
                            // RLRQ `62`, RLRE `63`), the octets a DT transfers.
                            if let Some(r) = s.session_user_requirements() {
                                line.push_str(&format!("[{:04x}]", r.0));
                            }
                            if let Some(n) = s.serial_number().and_then(|n| n.value()) {
                                line.push_str(&format!("#{n}"));
                            }
                            match s.kind() {
                                SpduKind::Pt | SpduKind::Fn | SpduKind::Dn => {
                                    if let Some(ud) = s.user_data() {
                                        line.push_str(&apdu_tag(ud));
                                    }
                                }
                                SpduKind::Dt => {
                                    line.push_str(&format!(
                                        "({})",
                                        segment(s.user_information()).len()
                                    ));
                                }
                                _ => {}
                            }
                            line
                        })
                        .collect();
                    self.lines.push(kinds.join("+"));
                }
            }
            Tpdu::Cr(_) => self.lines.push("CR".into()),
            Tpdu::Cc(_) => self.lines.push("CC".into()),
            Tpdu::Dr(_) => self.lines.push("DR".into()),
            other => self.lines.push(format!("{other:?}")),
        }
    }
}

fn summary(frames: impl IntoIterator<Item = Vec<u8>>) -> Vec<String> {
    let mut s = Summary::default();
    for f in frames {
        s.push(&f);
    }
    s.lines
}

fn split_tpkts(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Ok(Some(n)) = tpkt::frame_len(rest) {
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    assert!(rest.is_empty(), "whole tpkts");
    out
}

/// The octets of one transfer segment: in normal mode the content of the RTTR OCTET STRING
/// inside a fully-encoded PDV, in X.410-1984 mode the user information itself.
fn segment(ui: &[u8]) -> Vec<u8> {
    if ui.first() != Some(&0x61) {
        return ui.to_vec();
    }
    let value = first_pdv_value(ui);
    match osi_stack::rtse::Rttr::decode(value, &osi_stack::Limits::DEFAULT) {
        Ok(rttr) => rttr.segments().flat_map(|s| s.iter().copied()).collect(),
        // Not RTSE (ROSE over ACSE): the value itself.
        Err(_) => value.to_vec(),
    }
}

/// The tag of the APDU in a PT, FN or DN user data: normal mode, the first octet of the first
/// PDV value; X.410-1984 mode, the first octet of the user data.
fn apdu_tag(ud: &[u8]) -> String {
    let first = if ud.first() == Some(&0x61) {
        first_pdv_value(ud).first()
    } else {
        ud.first()
    };
    first.map_or(String::new(), |t| format!("<{t:02x}>"))
}

/// The single-ASN1-type value of the first PDV of a fully-encoded user data.
fn first_pdv_value(ui: &[u8]) -> &[u8] {
    use osi_stack::presentation::{PdvValues, UserData};
    let Ok(UserData::Full(list)) = UserData::decode(ui, &osi_stack::Limits::DEFAULT) else {
        panic!("fully-encoded user data");
    };
    match list.iter().next().expect("one pdv").values {
        PdvValues::SingleAsn1Type(v) => v,
        other => panic!("{other:?}"),
    }
}

/// `osi2iso-ssap-echo`: ISODE's session echo server answers the CN with an AC that carries the
/// CP back. The CPA decoder skips the elements it does not know, so the answer must be judged
/// at presentation: the crate's initiator sends AB with an ARP (X.226 §8.4, abort-reason
/// unexpected-ppdu-parameter, the first CP-only element) and reports a presentation protocol
/// error; nothing reaches ACSE.
#[test]
fn cpa_echoing_the_cp_is_refused_at_presentation() {
    use osi_stack::association::{AbortReason, Association, Event};
    use osi_stack::presentation::{AbortPpdu, AbortReason as ArpReason};
    let now = Instant::now();
    let frames = frames("osi2iso-ssap-echo");
    let cr = &frames[0].bytes;
    let mut a = Association::initiator(Config::default().with_local_reference(u16be(cr, 8) as u16));
    a.associate(AssociateRequest::mms(), now).unwrap();
    while a.poll_transmit().is_some() {}
    for f in frames
        .iter()
        .filter(|f| !f.from_client && f.bytes[5] != 0x80)
    {
        a.handle_input(&f.bytes, now);
    }
    let mut sent = Vec::new();
    while let Some(b) = a.poll_transmit() {
        sent.extend_from_slice(&b);
    }
    let frames = split_tpkts(&sent);
    // The CN after ISODE's CC, then the abort answering its AC.
    assert_eq!(summary(frames.clone()), ["Cn[0002]", "Ab"]);
    let Ok(Tpdu::Dt(dt)) = Tpdu::decode(&frames[1][4..]) else {
        panic!("dt")
    };
    let ab = session::spdus(dt.user_data).next().unwrap().unwrap();
    let arp = AbortPpdu::decode(ab.user_data().unwrap(), &osi_stack::Limits::DEFAULT).unwrap();
    let AbortPpdu::Arp(arp) = arp else {
        panic!("{arp:?}")
    };
    assert_eq!(arp.abort_reason, Some(ArpReason::UNEXPECTED_PPDU_PARAMETER));
    let events: Vec<Event> = std::iter::from_fn(|| a.poll_event()).collect();
    let aborted = events
        .iter()
        .find_map(|e| match e {
            Event::Aborted(a) => Some(a.clone()),
            _ => None,
        })
        .expect("aborted");
    assert!(
        matches!(&aborted.reason, AbortReason::ProtocolError(e) if e.layer() == osi_stack::Layer::Presentation),
        "{aborted:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Associated(_) | Event::Refused(_)))
    );
}

/// `iso-ssap-echo`: ISODE's session echo proposes all eleven functional units (`0x07ff`) and
/// exercises tokens, an activity, major synchronization, expedited data, resynchronization and
/// exceptions. What is checked here: the crate's session responder answers the CN with units
/// inside the proposal and a single one of half-duplex and duplex (X.225 §7.1; half-duplex,
/// as isod), and carries the 512-octet user data back. The whole exchange is replayed in
/// `table::cases` (session only), up to its first difference, and octet for octet in both roles
/// (as the client to the release, as the server to the activity end) by the session unit tests
/// (`src/session/isode_tests.rs`).
#[test]
fn ssap_echo_connect_is_answered_within_the_proposal() {
    use osi_stack::session::connection::{Connection, Event};
    let now = Instant::now();
    let frames = frames("iso-ssap-echo");
    let cn = frames
        .iter()
        .find(|f| f.from_client && f.bytes[5] == 0xf0)
        .unwrap();
    let tsdu = Bytes::copy_from_slice(&cn.bytes[7..]);
    let proposed = session::spdus(&tsdu)
        .next()
        .unwrap()
        .unwrap()
        .session_user_requirements()
        .unwrap();
    let mut s = Connection::responder(Default::default());
    s.handle_transport_connected(now);
    s.handle_tsdu(tsdu, now);
    let Some(Event::ConnectIndication(ind)) = s.poll_event() else {
        panic!("connect indication")
    };
    assert_eq!(ind.user_data.len(), 512);
    s.accept(ind.user_data.clone(), now).unwrap();
    let ac = s.poll_transmit().unwrap().to_bytes();
    let spdu = session::spdus(&ac).next().unwrap().unwrap();
    assert_eq!(spdu.kind(), SpduKind::Ac);
    let agreed = spdu.session_user_requirements().unwrap();
    assert_eq!(agreed.0 & !proposed.0, 0, "{agreed:?} outside {proposed:?}");
    assert_eq!((agreed.0 & 0x0003).count_ones(), 1, "{agreed:?}");
    // Half-duplex with minor and major sync, resync, negotiated release, activities,
    // capability data, exceptions and typed data (not expedited, symmetric sync).
    assert_eq!(agreed.0, 0x07f9, "{agreed:?}");
    assert_eq!(spdu.user_data().map(<[u8]>::len), Some(512));
}

/// An echo responder on top of an [`Rts`]: accepts, gives the turn when asked (what `isod`
/// does before it transfers).
struct App {
    rts: Rts,
    events: Vec<String>,
    sent: Vec<u8>,
}

impl App {
    fn react(&mut self, now: Instant) {
        loop {
            while let Some(b) = self.rts.poll_transmit() {
                self.sent.extend_from_slice(&b);
            }
            let Some(e) = self.rts.poll_event() else {
                break;
            };
            match &e {
                RtsEvent::OpenIndication(_) => {
                    self.events.push("open-indication".into());
                    self.rts.accept(None, now).unwrap();
                }
                RtsEvent::Opened(o) => self.events.push(format!("opened turn={}", o.turn)),
                RtsEvent::TurnPlease { .. } => {
                    self.events.push("turn-please".into());
                    self.rts.turn_give(now).unwrap();
                }
                other => self.events.push(format!("{other:?}")),
            }
        }
    }
}

/// The crate's answers (as TPKTs) when ISODE's side of `name` is fed to an `Rts` responder
/// that accepts and gives the turn when asked: for the `iso2osi-*` captures, where the crate's
/// earlier answers made ISODE give up.
fn responder_answers(name: &str) -> (Vec<Vec<u8>>, Vec<String>) {
    let now = Instant::now();
    let mut app = App {
        rts: Rts::responder(
            Config::default(),
            Dispatch::default(),
            None,
            RtsSettings::default().with_checkpoints(1, 3),
        ),
        events: Vec::new(),
        sent: Vec::new(),
    };
    app.rts.handle_transport_accepted(now);
    for f in frames(name).iter().filter(|f| f.from_client) {
        app.rts.handle_input(&f.bytes, now);
        app.react(now);
    }
    (split_tpkts(&app.sent), app.events)
}

/// The session user data of the first SPDU of a DT TPKT.
fn spdu_user_data(frame: &[u8]) -> Vec<u8> {
    let Ok(Tpdu::Dt(dt)) = Tpdu::decode(&frame[4..]) else {
        panic!("dt")
    };
    let s = session::spdus(dt.user_data).next().unwrap().unwrap();
    s.user_data().unwrap().to_vec()
}

/// `iso2osi-rtse-echo`: ISODE's isoc opened an RTS association with its RTSE context on
/// identifier 17 and asked for the turn; `osi listen` answered on context 1 and never gave the
/// turn (isoc timed out). Now the RTOAC travels on context 17 and the PT is answered by GTC.
#[test]
fn isoc_gets_its_rtoac_on_the_rtse_context_and_the_turn() {
    use osi_stack::acse::Apdu;
    use osi_stack::presentation::{Cpa, PdvValues, UserData};
    let (sent, events) = responder_answers("iso2osi-rtse-echo");
    assert_eq!(
        summary(sent.clone()),
        ["CC", "Ac[0249]", "Gtc"],
        "{events:#?}"
    );
    let ud = spdu_user_data(&sent[1]);
    let cpa = Cpa::decode(&ud, &osi_stack::Limits::DEFAULT).unwrap();
    let Some(UserData::Full(list)) = cpa.normal.unwrap().user_data else {
        panic!("user data")
    };
    let pdv = list.iter().next().unwrap();
    assert_eq!(pdv.context_id, 19, "isoc's ACSE context");
    let PdvValues::SingleAsn1Type(aare) = pdv.values else {
        panic!()
    };
    let Apdu::Aare(aare) = Apdu::decode(aare, &osi_stack::Limits::DEFAULT).unwrap() else {
        panic!("aare")
    };
    let external = aare.user_information.unwrap().iter().next().unwrap();
    assert_eq!(external.indirect_reference, Some(17), "isoc's RTSE context");
    let PdvValues::SingleAsn1Type(rtoac) = external.encoding else {
        panic!()
    };
    osi_stack::rtse::Rtoac::decode(rtoac, &osi_stack::Limits::DEFAULT).unwrap();
}

/// `iso2osi-rtse-x410-echo`: `osi listen` accepted an X.410-1984-mode CP with an empty PAccept
/// SET (`a1 00`) and ISODE refused it ("missing mandatory parameter … pUserData expecting
/// CONT/2"). Now the PAccept carries connectionDataAC `[2]`.
#[test]
fn x410_paccept_carries_connection_data() {
    use osi_stack::presentation::Cpa;
    use osi_stack::rtse::{ConnectionData, Rtoac};
    let (sent, events) = responder_answers("iso2osi-rtse-x410-echo");
    assert_eq!(
        summary(sent.clone())[..2],
        ["CC", "Ac[0249]"],
        "{events:#?}"
    );
    let ud = spdu_user_data(&sent[1]);
    let cpa = Cpa::decode(&ud, &osi_stack::Limits::DEFAULT).unwrap();
    let params = cpa.x410_parameters.expect("x410 paccept");
    let rtoac = Rtoac::decode_components(params, &osi_stack::Limits::DEFAULT).unwrap();
    assert!(matches!(rtoac.connection_data, ConnectionData::Open(_)));
    assert!(
        events.iter().any(|e| e.starts_with("opened")),
        "{events:#?}"
    );
}

/// The user-information EXTERNALs of the AARE in an AC TPKT: (direct-reference,
/// indirect-reference, value) each.
fn aare_externals(ac_tpkt: &[u8]) -> Vec<(Option<String>, Option<i64>, Vec<u8>)> {
    use osi_stack::acse::Apdu;
    use osi_stack::presentation::{Cpa, PdvValues, UserData};
    let lim = osi_stack::Limits::DEFAULT;
    let ud = spdu_user_data(ac_tpkt);
    let cpa = Cpa::decode(&ud, &lim).expect("cpa");
    let Some(UserData::Full(list)) = cpa.normal.and_then(|n| n.user_data) else {
        panic!("fully-encoded user data")
    };
    let PdvValues::SingleAsn1Type(aare) = list.iter().next().expect("a pdv").values else {
        panic!("single-ASN1-type aare")
    };
    let Ok(Apdu::Aare(aare)) = Apdu::decode(aare, &lim) else {
        panic!("aare")
    };
    aare.user_information
        .map(|l| {
            l.iter()
                .map(|e| {
                    let PdvValues::SingleAsn1Type(v) = e.encoding else {
                        panic!("{e:?}")
                    };
                    (
                        e.direct_reference.map(|o| o.to_string()),
                        e.indirect_reference,
                        v.to_vec(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `iso2osi-acse-echo` failed with "expecting 3 hellos, got 1 elements": ISODE's `isoc` sends
/// three user-information EXTERNALs (contexts 1, 3, 5, direct-reference BER) and checks that
/// the AARE returns all three, as its own `isod` does (`iso-acse-echo`). A responder answering
/// with [`AcceptResponse::echoing`] returns the same three EXTERNALs ISODE's AARE carried.
#[test]
fn acse_echo_accept_returns_every_user_information_external() {
    use osi_stack::association::{AcceptResponse, Association, Event};
    let now = Instant::now();
    let frames = frames("iso-acse-echo");
    let mut a = Association::responder(Config::default(), Dispatch::default(), None);
    a.handle_transport_accepted(now);
    let mut sent = Vec::new();
    for f in frames.iter().filter(|f| f.from_client).take(2) {
        a.handle_input(&f.bytes, now);
        while let Some(e) = a.poll_event() {
            if let Event::AssociateIndication(ind) = e {
                assert_eq!(ind.user_information_list.len(), 3);
                a.accept(AcceptResponse::echoing(&ind), now).unwrap();
            }
        }
        while let Some(b) = a.poll_transmit() {
            sent.extend_from_slice(&b);
        }
    }
    let ours = split_tpkts(&sent)
        .into_iter()
        .find(|t| t.get(7) == Some(&0x0e))
        .expect("an AC");
    let theirs = frames
        .iter()
        .find(|f| !f.from_client && f.bytes.get(7) == Some(&0x0e))
        .expect("isod's AC");
    let isode = aare_externals(&theirs.bytes);
    assert_eq!(isode.len(), 3);
    assert_eq!(aare_externals(&ours), isode);
}
