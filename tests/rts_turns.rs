//! RTS turn management and exception reports (X.228 as mapped in the `rts` module docs):
//! RT-TURN-GIVE is S-CONTROL-GIVE (GTC) between transfers, RT-TURN-PLEASE an S-TOKEN-PLEASE for
//! the data token with the RTTP; an exception report from the receiver interrupts (AI, then AR)
//! or discards (AD, then a new AS) the transfer instead of aborting. Every mode.

use std::time::{Duration, Instant};

use bytes::Bytes;
use osi_stack::association::{Config, Dispatch};
use osi_stack::cotp::Tpdu;
use osi_stack::rts::{ConnectorProfile, Rts, RtsEvent, RtsSettings, TransferState, X400Mode};
use osi_stack::session;
use osi_stack::tpkt;

const MODES: [X400Mode; 3] = [
    X400Mode::Normal1988,
    X400Mode::Mode1984,
    X400Mode::X410Mode1988,
];

struct Pair {
    client: Rts,
    server: Rts,
    now: Instant,
    /// SPDU kinds sent, per side, in order ("c:Gtc", "s:Pt{01}").
    wire: Vec<String>,
    client_events: Vec<RtsEvent>,
    server_events: Vec<RtsEvent>,
}

fn kinds(side: &str, bytes: &[u8], out: &mut Vec<String>) {
    let mut rest = bytes;
    while let Ok(Some(n)) = tpkt::frame_len(rest) {
        if let Ok(Tpdu::Dt(dt)) = Tpdu::decode(&rest[4..n]) {
            // Every TSDU here fits in one DT.
            for s in session::spdus(dt.user_data).flatten() {
                let t = s
                    .token_item()
                    .map_or(String::new(), |t| format!("{{{:02x}}}", t.0));
                out.push(format!("{side}:{:?}{t}", s.kind()));
            }
        }
        rest = &rest[n..];
    }
}

impl Pair {
    fn new(mode: X400Mode, checkpoint_kb: u32) -> Self {
        let now = Instant::now();
        let settings = RtsSettings::default()
            .with_mode(mode)
            .with_dialogue(true, true)
            .with_checkpoints(checkpoint_kb, 5)
            .with_transfer_limits(None, 2, Duration::from_secs(1));
        let profile = ConnectorProfile::new(
            "\"mta\"/\"mta\"/\"mta\"/Internet=192.0.2.9"
                .parse()
                .unwrap(),
        );
        let mut p = Pair {
            client: Rts::initiator(Config::default(), settings.clone(), TransferState::new()),
            server: Rts::responder(Config::default(), Dispatch::default(), None, settings),
            now,
            wire: Vec::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
        };
        p.server.handle_transport_accepted(now);
        let request = profile.associate_request(None).unwrap().unwrap_or_else(|| {
            osi_stack::association::AssociateRequest::new(
                osi_stack::oid::Oid::X400_AC_MTS_TRANSFER.to_owned_oid(),
            )
        });
        p.client.open(request, None, now).unwrap();
        p.settle();
        assert!(
            p.client.is_open() && p.server.is_open(),
            "{:?}",
            p.client_events
        );
        p
    }

    fn settle(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(b) = self.client.poll_transmit() {
                kinds("c", &b, &mut self.wire);
                self.server.handle_input(&b, self.now);
                moved = true;
            }
            while let Some(e) = self.server.poll_event() {
                if let RtsEvent::OpenIndication(_) = e {
                    self.server.accept(None, self.now).unwrap();
                }
                self.server_events.push(e);
                moved = true;
            }
            while let Some(b) = self.server.poll_transmit() {
                kinds("s", &b, &mut self.wire);
                self.client.handle_input(&b, self.now);
                moved = true;
            }
            while let Some(e) = self.client.poll_event() {
                self.client_events.push(e);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("no quiescence");
    }

    fn received(&self) -> Vec<Bytes> {
        self.server_events
            .iter()
            .filter_map(|e| match e {
                RtsEvent::Received(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }
}

fn message(len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| (i * 7 % 251) as u8).collect::<Vec<_>>())
}

#[test]
fn turns_pass_both_ways_with_control_give() {
    for mode in MODES {
        let mut p = Pair::new(mode, 0);
        assert!(p.client.has_turn() && !p.server.has_turn());
        p.client.transfer(message(100), p.now).unwrap();
        p.settle();
        p.wire.clear();
        // The server asks (PT for the data token carrying the RTTP), the client gives with GTC,
        // answered by GTA.
        p.server.turn_please(7, p.now).unwrap();
        p.settle();
        assert!(
            p.client_events
                .contains(&RtsEvent::TurnPlease { priority: 7 }),
            "{mode:?}"
        );
        p.client.turn_give(p.now).unwrap();
        p.settle();
        assert_eq!(p.wire, ["s:Pt{01}", "c:Gtc", "s:Gta"], "{mode:?}");
        assert!(p.server.has_turn() && !p.client.has_turn());
        assert!(p.server_events.contains(&RtsEvent::TurnGiven));
        // And back: the server transfers, then gives the turn without being asked.
        p.server.transfer(message(200), p.now).unwrap();
        p.settle();
        p.wire.clear();
        p.server.turn_give(p.now).unwrap();
        p.settle();
        assert_eq!(p.wire, ["s:Gtc", "c:Gta"], "{mode:?}");
        assert!(p.client.has_turn());
        assert!(p.client_events.contains(&RtsEvent::TurnGiven));
        let client_received = p
            .client_events
            .iter()
            .filter(|e| matches!(e, RtsEvent::Received(m) if m.len() == 200))
            .count();
        assert_eq!((p.received(), client_received), (vec![message(100)], 1));
        // Giving a turn this side does not hold is refused before anything is sent.
        assert!(p.server.turn_give(p.now).is_err());
        assert!(p.client.turn_please(1, p.now).is_err());
    }
}

/// PT + ED (reason 5, local SS-user error) in one DT TPDU, as the receiving side's RTPM sends
/// an S-U-EXCEPTION-REPORT.
const ED: [u8; 14] = [
    0x03, 0x00, 0x00, 0x0e, 0x02, 0xf0, 0x80, 0x02, 0x00, 0x30, 0x03, 0x32, 0x01, 0x05,
];

#[test]
fn exception_report_after_a_checkpoint_interrupts_and_resumes() {
    for mode in MODES {
        let mut p = Pair::new(mode, 1);
        let m = message(10 * 1024);
        p.client.transfer(m.clone(), p.now).unwrap();
        // Let the first window (5 MIPs) reach the server and its MIAs come back.
        p.settle();
        // The transfer has finished by now in memory; start another and report during it.
        let m2 = message(12 * 1024 + 5);
        p.client.transfer(m2.clone(), p.now).unwrap();
        // Deliver the client's first part only (AS, DT, MIP…) and the server's MIAs.
        let mut first = Vec::new();
        while let Some(b) = p.client.poll_transmit() {
            first.push(b);
        }
        for b in &first {
            kinds("c", b, &mut p.wire);
            p.server.handle_input(b, p.now);
        }
        while let Some(b) = p.server.poll_transmit() {
            kinds("s", &b, &mut p.wire);
            p.client.handle_input(&b, p.now);
        }
        p.wire.clear();
        p.client.handle_input(&ED, p.now);
        p.settle();
        assert!(p.wire.iter().any(|w| w == "c:Ai"), "{mode:?}: {:?}", p.wire);
        assert!(p.wire.iter().any(|w| w == "c:Ar"), "{mode:?}: {:?}", p.wire);
        assert!(
            !p.wire.iter().any(|w| w.ends_with(":Ab")),
            "{mode:?}: {:?}",
            p.wire
        );
        assert_eq!(p.received(), [m, m2], "{mode:?}");
    }
}

#[test]
fn exception_report_before_a_checkpoint_discards_and_restarts() {
    for mode in MODES {
        let mut p = Pair::new(mode, 1);
        let m = message(10 * 1024);
        p.client.transfer(m.clone(), p.now).unwrap();
        // AS and the first window of DT + MIP reach the server; its receiving RTPM fails and
        // reports (ED) instead of confirming: its MIAs never leave.
        while let Some(b) = p.client.poll_transmit() {
            kinds("c", &b, &mut p.wire);
            p.server.handle_input(&b, p.now);
        }
        while p.server.poll_transmit().is_some() {}
        p.wire.clear();
        p.client.handle_input(&ED, p.now);
        p.settle();
        assert!(p.wire.iter().any(|w| w == "c:Ad"), "{mode:?}: {:?}", p.wire);
        assert!(
            !p.wire.iter().any(|w| w.ends_with(":Ab")),
            "{mode:?}: {:?}",
            p.wire
        );
        assert!(p.received().is_empty());
        // Discarded: the transfer starts again (AS) after the transfer interval.
        p.now += Duration::from_secs(2);
        p.client.handle_timeout(p.now);
        p.server.handle_timeout(p.now);
        p.settle();
        assert_eq!(p.received(), [m], "{mode:?}: {:?}", p.wire);
        assert!(
            p.client_events
                .iter()
                .any(|e| matches!(e, RtsEvent::Confirmed { .. })),
            "{mode:?}"
        );
    }
}

/// ISODE's provider abort as recorded in `testdata/captures/isode/osi2iso-rtse-lib-normal.pcap`
/// (last frame from ISODE): AB carrying an ARU whose ABRT holds the RTAB tagged `36` (UNIVERSAL
/// 22) instead of `b6`, abortReason protocolError.
const ISODE_AB: &str = "03000040 02f080 1937110103c132a030a012300702010106025101300702010306025101611a3018020101a0136411800100be0c280a020103a0053603800104";

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn isode_mistagged_rtab_is_read_and_reported() {
    use osi_stack::association::{AbortReason as Why, AbortSource};
    use osi_stack::rts::RtsAbortCause;
    use osi_stack::rtse::AbortReason;
    let mut p = Pair::new(X400Mode::Normal1988, 0);
    p.client.handle_input(&hex(ISODE_AB), p.now);
    p.settle();
    let aborted = p
        .client_events
        .iter()
        .find_map(|e| match e {
            RtsEvent::Aborted { cause, rtab } => Some((cause.clone(), *rtab)),
            _ => None,
        })
        .expect("aborted");
    assert_eq!(aborted.1, Some(AbortReason::PROTOCOL_ERROR), "{aborted:?}");
    // The ARU from ISODE's user, its RTAB read although tagged 36, and said so.
    let RtsAbortCause::IsodeRtab(abort) = &aborted.0 else {
        panic!("{aborted:?}");
    };
    assert_eq!(
        (abort.source, &abort.reason),
        (AbortSource::PeerUser, &Why::User),
        "{aborted:?}"
    );
    assert!(aborted.0.to_string().ends_with("instead of b6: tolerated)"));
}

/// A responder whose AARE carries no RTOAC (a plain association accepting the RTORQ's AARQ),
/// then one whose RTOAC does not decode: the initiator reports the typed cause and aborts with
/// RTAB protocolError (X.228 §7.1).
#[test]
fn an_aare_without_a_valid_rtoac_is_a_typed_protocol_error() {
    use osi_stack::association::{AcceptResponse, Association, Config, Dispatch, Event};
    use osi_stack::rts::{Rts, RtsAbortCause, RtsSettings, TransferState};
    for user_information in [None, Some(vec![0x02, 0x01, 0x00])] {
        let now = std::time::Instant::now();
        let profile = osi_stack::rts::ConnectorProfile::new(
            "\"mta\"/\"mta\"/\"mta\"/Internet=192.0.2.9"
                .parse()
                .unwrap(),
        );
        let mut c = Rts::initiator(
            Config::default(),
            RtsSettings::from_profile(&profile),
            TransferState::new(),
        );
        let mut s = Association::responder(Config::default(), Dispatch::default(), None);
        s.handle_transport_accepted(now);
        c.open(profile.associate_request(None).unwrap().unwrap(), None, now)
            .unwrap();
        let mut events = Vec::new();
        for _ in 0..10 {
            while let Some(b) = c.poll_transmit() {
                s.handle_input(&b, now);
            }
            while let Some(e) = s.poll_event() {
                if let Event::AssociateIndication(_) = e {
                    let response = match &user_information {
                        None => AcceptResponse::default(),
                        Some(u) => AcceptResponse::with_user_information(u.clone()),
                    };
                    s.accept(response, now).unwrap();
                }
            }
            while let Some(b) = s.poll_transmit() {
                c.handle_input(&b, now);
            }
            while let Some(e) = c.poll_event() {
                events.push(e);
            }
        }
        let cause = events
            .iter()
            .find_map(|e| match e {
                RtsEvent::Aborted { cause, rtab: None } => Some(cause.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{events:?}"));
        match (&user_information, &cause) {
            (None, RtsAbortCause::InvalidRtoac(None)) => {}
            (Some(_), RtsAbortCause::InvalidRtoac(Some(e))) => {
                assert_eq!(e.layer(), osi_stack::Layer::Rtse, "{e}");
            }
            _ => panic!("{user_information:?}: {cause:?}"),
        }
        assert_eq!(cause.to_string(), "rtse: the aare carries no valid rtoac");
        assert!(!events.iter().any(|e| matches!(e, RtsEvent::Opened(_))));
    }
}
