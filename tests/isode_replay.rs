//! Replay of ISODE's side of recorded exchanges (`testdata/captures/isode`, see its README)
//! against the crate's machines playing the other role, in memory.
//!
//! For each capture, the frames ISODE sent are fed, in their recorded order, to an [`Rts`]
//! playing the role ISODE's peer played there (ISODE's `isod` echo server or its `isoc`
//! client, with the same application behaviour: ask for the turn, transfer, echo, close).
//! After each frame the machine's answers are collected. The test then compares, TSDU by
//! TSDU, what the crate sent with what ISODE's peer sent in the recording (the exchange ISODE
//! accepted): the TPDU kinds, the SPDU kinds of every TSDU with their Token Items, and the
//! RTSE events (turns given and asked for, transfers delivered and confirmed, release).

use std::time::Instant;

use bytes::Bytes;
use osi_stack::association::{AssociateRequest, Config, Dispatch, PresentationContext};
use osi_stack::cotp::Tpdu;
use osi_stack::oid::Oid;
use osi_stack::rts::{Rts, RtsEvent, RtsSettings, X400Mode};
use osi_stack::session::{self, SpduKind};
use osi_stack::tpkt;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/captures/isode/");

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

/// The echo application of ISODE's test programs, on top of an [`Rts`].
struct App {
    rts: Rts,
    initiator: bool,
    /// Initiator: the lines still to send.
    lines: Vec<Bytes>,
    /// Initiator: the turn requests made so far (ISODE counts the priority up).
    asked: i64,
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
                RtsEvent::Opened(o) => {
                    self.events.push(format!("opened turn={}", o.turn));
                    if self.initiator && !o.turn {
                        self.ask(now);
                    }
                }
                RtsEvent::TurnPlease { .. } => {
                    self.events.push("turn-please".into());
                    self.rts.turn_give(now).unwrap();
                }
                RtsEvent::TurnGiven => {
                    self.events.push("turn-given".into());
                    if self.initiator {
                        match self.lines.first().cloned() {
                            Some(l) => {
                                self.lines.remove(0);
                                self.rts.transfer(l, now).unwrap();
                            }
                            None => self.rts.close(now).unwrap(),
                        }
                    }
                }
                RtsEvent::Received(apdu) => {
                    self.events.push(format!("received {} octets", apdu.len()));
                    if self.initiator {
                        self.ask(now);
                    } else {
                        // isod answers each transfer with one (the echo, or the ROS result it
                        // recorded): ask for the turn, the transfer starts when it comes.
                        let answer = if self.lines.is_empty() {
                            apdu.clone()
                        } else {
                            self.lines.remove(0)
                        };
                        self.rts.transfer(answer, now).unwrap();
                        self.rts.turn_please(1, now).unwrap();
                    }
                }
                RtsEvent::Confirmed { .. } => self.events.push("confirmed".into()),
                RtsEvent::Released => self.events.push("released".into()),
                RtsEvent::Closed => self.events.push("closed".into()),
                other => self.events.push(format!("{other:?}")),
            }
        }
    }

    fn ask(&mut self, now: Instant) {
        self.asked += 1;
        self.rts.turn_please(self.asked, now).unwrap();
    }
}

/// Feeds ISODE's side of `name` to an [`Rts`] playing the other side; returns what the crate
/// sent, what ISODE's peer sent in the recording, and the RTS events.
fn replay(
    name: &str,
    crate_is_initiator: bool,
    mode: X400Mode,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let now = Instant::now();
    let frames = frames(name);
    // isoc proposes checkpoint size 63 and window 3; isod accepts at most 1 KiB and window 3.
    let (checkpoint, window) = if crate_is_initiator { (63, 3) } else { (1, 3) };
    let settings = RtsSettings::default()
        .with_mode(mode)
        .with_dialogue(true, false)
        .with_checkpoints(checkpoint, window);
    let rts = if crate_is_initiator {
        // The CC names the CR's source reference: use the one isoc used.
        let cr = &frames[0].bytes;
        let config = Config::default().with_local_reference(u16be(cr, 8) as u16);
        Rts::initiator(config, settings, Default::default())
    } else {
        Rts::responder(Config::default(), Dispatch::default(), None, settings)
    };
    let mut app = App {
        rts,
        initiator: crate_is_initiator,
        lines: Vec::new(),
        asked: 0,
        events: Vec::new(),
        sent: Vec::new(),
    };
    let theirs: Vec<Vec<u8>> = frames
        .iter()
        .filter(|f| f.from_client == crate_is_initiator)
        .map(|f| f.bytes.clone())
        .collect();
    if crate_is_initiator {
        // The lines isoc sent, as it sent them (one BER OCTET STRING each).
        app.lines = transfers(&frames, true);
        app.rts
            .open(isode_request(&frames), Some(&[0x02, 0x02, 0x5a, 0x87]), now)
            .unwrap();
    } else {
        // What isod transferred in answer.
        app.lines = transfers(&frames, false);
        app.rts.handle_transport_accepted(now);
    }
    app.react(now);
    for f in frames
        .iter()
        .filter(|f| f.from_client != crate_is_initiator)
    {
        if f.bytes.get(5) == Some(&0x80) && f.bytes.get(4) == Some(&0x06) {
            // ISODE's closing DR: the crate's transport closes too.
            app.rts.handle_transport_closed(now);
        } else {
            app.rts.handle_input(&f.bytes, now);
        }
        app.react(now);
    }
    let ours = summary(split_tpkts(&app.sent));
    let mut theirs = summary(theirs);
    // ISODE's side that receives the DN sends a class-0 DR before closing TCP; the crate closes
    // TCP (RFC 1006 §5: T-DISCONNECT is the closing of the TCP connection in class 0).
    if theirs.last().is_some_and(|l| l == "DR") && ours.last().is_some_and(|l| l != "DR") {
        theirs.pop();
    }
    (ours, theirs, app.events)
}

/// The APDUs one side transferred (the user information of its DT SPDUs, unwrapped from the
/// RTTR OCTET STRING in normal mode), in order.
fn transfers(frames: &[Frame], from_client: bool) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut tsdu = Vec::new();
    for f in frames.iter().filter(|f| f.from_client == from_client) {
        let Ok(Tpdu::Dt(dt)) = Tpdu::decode(&f.bytes[4..]) else {
            continue;
        };
        tsdu.extend_from_slice(dt.user_data);
        if !dt.eot {
            continue;
        }
        let t = std::mem::take(&mut tsdu);
        for s in session::spdus(&t) {
            let s = s.unwrap();
            match s.kind() {
                SpduKind::As => current = Some(Vec::new()),
                SpduKind::Dt => {
                    if let Some(c) = current.as_mut() {
                        c.extend_from_slice(&segment(s.user_information()));
                    }
                }
                SpduKind::Ae => out.extend(current.take().map(Bytes::from)),
                _ => {}
            }
        }
    }
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

/// The association request ISODE's `isoc` made in `frames` (same contexts, same order of
/// identifiers, ACSE on its own identifier), as an [`AssociateRequest`]; X.410 mode needs none.
fn isode_request(frames: &[Frame]) -> AssociateRequest {
    let cn = &frames
        .iter()
        .find(|f| f.from_client && f.bytes[5] == 0xf0)
        .unwrap()
        .bytes;
    let tsdu = &cn[7..];
    let spdu = session::spdus(tsdu).next().unwrap().unwrap();
    let mut request =
        AssociateRequest::new(Oid::from_static(&[0x39, 0x00, 0x01, 0x01]).to_owned_oid());
    let Some(ud) = spdu.user_data() else {
        return request;
    };
    let (cp, _) = osi_stack::presentation::Cp::decode(ud, &osi_stack::Limits::DEFAULT).unwrap();
    let Some(normal) = cp.normal else {
        return request;
    };
    for def in normal.context_definitions.unwrap().iter() {
        if def.abstract_syntax == Oid::ACSE_ABSTRACT_SYNTAX {
            request.acse_context_id = def.id;
        } else {
            request
                .contexts
                .push(PresentationContext::ber(def.id, def.abstract_syntax));
        }
    }
    request
}

fn check(name: &str, crate_is_initiator: bool, mode: X400Mode) {
    let (ours, theirs, events) = replay(name, crate_is_initiator, mode);
    eprintln!("{name} crate initiator={crate_is_initiator}: {ours:?}\n{events:?}");
    assert!(
        !events
            .iter()
            .any(|e| e.starts_with("Aborted") || e.starts_with("Refused")),
        "{name}: {events:#?}"
    );
    assert_eq!(events.last().map(String::as_str), Some("closed"), "{name}");
    assert!(
        events.iter().any(|e| e == "released"),
        "{name}: {events:#?}"
    );
    assert_eq!(
        ours,
        theirs,
        "{name} ({}): the crate's answers (left) differ from ISODE's peer (right); rts events: {events:#?}",
        if crate_is_initiator {
            "crate initiator"
        } else {
            "crate responder"
        }
    );
}

macro_rules! rts_replays {
    ($($name:ident: $capture:literal, $mode:expr;)*) => {$(
        mod $name {
            use super::*;
            #[test]
            fn crate_responder() {
                check($capture, false, $mode);
            }
            #[test]
            fn crate_initiator() {
                check($capture, true, $mode);
            }
        }
    )*};
}

rts_replays! {
    rtse_echo: "iso-rtsap-rtse-echo", X400Mode::Normal1988;
    rtse_ckpt: "iso-rtsap-rtse-ckpt", X400Mode::Normal1988;
    rtse_ros_echo: "iso-rtsap-rtse-ros-echo", X400Mode::Normal1988;
    x410_echo: "iso-rtsap-x410-echo", X400Mode::Mode1984;
    x410_ckpt: "iso-rtsap-x410-ckpt", X400Mode::Mode1984;
    x410_ros_echo: "iso-rtsap-x410-ros-echo", X400Mode::Mode1984;
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

/// The data values one side sent (normal mode: context and single-ASN1-type value of the first
/// PDV; X.410-1984 mode: the raw user information), in order.
fn data_values(frames: &[Frame], from_client: bool) -> Vec<(i64, Bytes)> {
    use osi_stack::presentation::{PdvValues, UserData};
    let mut out = Vec::new();
    let mut tsdu = Vec::new();
    for f in frames.iter().filter(|f| f.from_client == from_client) {
        let Ok(Tpdu::Dt(dt)) = Tpdu::decode(&f.bytes[4..]) else {
            continue;
        };
        tsdu.extend_from_slice(dt.user_data);
        if !dt.eot {
            continue;
        }
        let t = std::mem::take(&mut tsdu);
        for s in session::spdus(&t) {
            let s = s.unwrap();
            if s.kind() != SpduKind::Dt {
                continue;
            }
            let ui = s.user_information();
            match UserData::decode(ui, &osi_stack::Limits::DEFAULT) {
                Ok(UserData::Full(list)) => {
                    let pdv = list.iter().next().unwrap();
                    let PdvValues::SingleAsn1Type(v) = pdv.values else {
                        panic!("single-ASN1-type")
                    };
                    out.push((pdv.context_id, Bytes::copy_from_slice(v)));
                }
                _ => out.push((0, Bytes::copy_from_slice(ui))),
            }
        }
    }
    out
}

/// The association request of the capture's CN: contexts as [`isode_request`], the session
/// functional units and token setting of the CN, and in X.410-1984 mode the PConnect
/// parameters.
fn isode_association_request(frames: &[Frame]) -> AssociateRequest {
    let cn = &frames
        .iter()
        .find(|f| f.from_client && f.bytes[5] == 0xf0)
        .unwrap()
        .bytes;
    let spdu = session::spdus(&cn[7..]).next().unwrap().unwrap();
    let setting = spdu
        .connect_accept_item()
        .and_then(|c| c.token_setting_item);
    let requirements = spdu.session_user_requirements().unwrap();
    let mut request = isode_request(frames).with_session(requirements, setting);
    let ud = spdu.user_data().unwrap();
    let (cp, _) = osi_stack::presentation::Cp::decode(ud, &osi_stack::Limits::DEFAULT).unwrap();
    if let Some(p) = cp.x410_parameters {
        request = request.with_x410_parameters(Bytes::copy_from_slice(p));
    }
    request
}

/// Feeds ISODE's side of an ACSE or ROSE exchange to an [`Association`] in the other role:
/// the crate's side sends what ISODE's peer sent (the same data values, in the same order,
/// one answer per value received), and answers the association and release requests.
fn replay_association(
    name: &str,
    crate_is_initiator: bool,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    use osi_stack::association::{AcceptResponse, Association, Event};
    let now = Instant::now();
    let frames = frames(name);
    let mut to_send = data_values(&frames, crate_is_initiator);
    let mut a = if crate_is_initiator {
        let cr = &frames[0].bytes;
        let mut a =
            Association::initiator(Config::default().with_local_reference(u16be(cr, 8) as u16));
        a.associate(isode_association_request(&frames), now)
            .unwrap();
        a
    } else {
        let mut a = Association::responder(Config::default(), Dispatch::default(), None);
        a.handle_transport_accepted(now);
        a
    };
    let mut sent = Vec::new();
    let mut events = Vec::new();
    let mut react = |a: &mut Association, sent: &mut Vec<u8>, events: &mut Vec<String>| loop {
        while let Some(b) = a.poll_transmit() {
            sent.extend_from_slice(&b);
        }
        let Some(e) = a.poll_event() else { break };
        events.push(format!("{e:?}").chars().take(60).collect());
        match e {
            Event::AssociateIndication(ind) => {
                // isod's ACSE echo returns the request's user information.
                let response = match ind.user_information.clone() {
                    Some(u) => AcceptResponse::with_user_information(u),
                    None => AcceptResponse::default(),
                };
                a.accept(response, now).unwrap();
            }
            Event::Associated(_) | Event::Data(_)
                if crate_is_initiator || matches!(e, Event::Data(_)) =>
            {
                if to_send.is_empty() {
                    if crate_is_initiator {
                        a.release(now).unwrap();
                    }
                } else {
                    let (ctx, v) = to_send.remove(0);
                    a.send_data(ctx, &v, now).unwrap();
                }
            }
            Event::ReleaseIndication => a.release_response(true, now).unwrap(),
            _ => {}
        }
    };
    react(&mut a, &mut sent, &mut events);
    for f in frames
        .iter()
        .filter(|f| f.from_client != crate_is_initiator)
    {
        if f.bytes.get(5) == Some(&0x80) && f.bytes.get(4) == Some(&0x06) {
            a.handle_transport_closed(now);
        } else {
            a.handle_input(&f.bytes, now);
        }
        react(&mut a, &mut sent, &mut events);
    }
    let mut ours = summary(split_tpkts(&sent));
    let theirs: Vec<Vec<u8>> = frames
        .iter()
        .filter(|f| f.from_client == crate_is_initiator)
        .map(|f| f.bytes.clone())
        .collect();
    let mut theirs = summary(theirs);
    if theirs.last().is_some_and(|l| l == "DR") && ours.last().is_some_and(|l| l != "DR") {
        theirs.pop();
    }
    // Where the CN proposes both half-duplex and duplex the responder chooses (X.225 §7.1):
    // isod takes half-duplex, the crate duplex. Compare the AC without its PI 20, and check
    // that the crate's choice is one the CN offered.
    if !crate_is_initiator {
        let cn = &frames
            .iter()
            .find(|f| f.from_client && f.bytes[5] == 0xf0)
            .unwrap()
            .bytes;
        let spdu = session::spdus(&cn[7..]).next().unwrap().unwrap();
        let proposed = spdu.session_user_requirements().unwrap().0;
        for (line, _) in ours.iter_mut().zip(0..) {
            if let Some(hex) = line.strip_prefix("Ac[").and_then(|r| r.strip_suffix(']')) {
                let agreed = u16::from_str_radix(hex, 16).unwrap();
                assert_eq!(
                    agreed & !proposed,
                    0,
                    "{name}: AC {agreed:04x} outside CN {proposed:04x}"
                );
                *line = "Ac".into();
            }
        }
        for line in theirs.iter_mut().filter(|l| l.starts_with("Ac[")) {
            *line = "Ac".into();
        }
    }
    (ours, theirs, events)
}

macro_rules! association_replays {
    ($($name:ident: $capture:literal;)*) => {$(
        mod $name {
            use super::*;
            #[test]
            fn crate_responder() {
                let (ours, theirs, events) = replay_association($capture, false);
                assert_eq!(ours, theirs, "{}: {events:#?}", $capture);
                assert!(!events.iter().any(|e| e.starts_with("Aborted")), "{events:#?}");
            }
            #[test]
            fn crate_initiator() {
                let (ours, theirs, events) = replay_association($capture, true);
                assert_eq!(ours, theirs, "{}: {events:#?}", $capture);
                assert!(!events.iter().any(|e| e.starts_with("Aborted")), "{events:#?}");
            }
        }
    )*};
}

association_replays! {
    acse_echo: "iso-acse-echo";
    rosap_acse_echo: "iso-rosap-acse-echo";
    rosap_echo_x410: "iso-rosap-echo-x410";
}

/// `iso-ssap-echo`: ISODE's session echo proposes all eleven functional units (`0x07ff`) and
/// exercises tokens, an activity, major synchronization, expedited data, resynchronization and
/// exceptions. What is checked here: the crate's session responder answers the CN with units
/// inside the proposal and a single one of half-duplex and duplex (X.225 §7.1; half-duplex,
/// as isod), and carries the 512-octet user data back. The exchange itself is replayed in both
/// roles, octet for octet (as the client to the release, as the server to the activity end), by
/// the session unit tests (`src/session/isode_tests.rs`).
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
        initiator: false,
        lines: Vec::new(),
        asked: 0,
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
