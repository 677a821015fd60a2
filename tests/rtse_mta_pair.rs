//! An in-memory MTA pair built on `rtse::Rts`: 100 messages of 0 to 2 MiB per combination of
//! checkpoint size (0, 1, 30 KiB) and window (1, 5), first over a clean transport, then with
//! the transport cut at seeded pseudo-random points (each cut followed by a reopen that
//! resumes or restarts the interrupted transfer). Every message must arrive exactly once, in
//! order, byte-equal.
//!
//! Every mode: 1988 normal mode (ACSE, RTORQ in the AARQ, RTTR in P-DATA), 1984 and
//! 1988-X.410 (X.410-1984 presentation mode: RTORQ components in the CP, raw S-DATA).
//!
//! No clock: time is a fixed `Instant` advanced by hand (past the recovery timeout on some cuts
//! to take the restart-from-the-beginning path).

use std::time::{Duration, Instant};

use bytes::Bytes;
use osi_stack::association::{AssociateRequest, Config, Dispatch};
use osi_stack::rtse::{
    ConnectorProfile, DialogueMode, OpenSchedule, Rts, RtsEvent, RtsSettings, TransferState,
    X400Mode,
};

const MIB: usize = 1 << 20;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// 100 messages: the first is empty, the second 2 MiB, then mostly small with some large.
fn messages(seed: u64, count: usize) -> Vec<Bytes> {
    let mut rng = Rng(seed | 1);
    (0..count)
        .map(|i| {
            let len = match i {
                0 => 0,
                1 => 2 * MIB,
                _ if rng.below(12) == 0 => rng.below(2 * MIB as u64 + 1) as usize,
                _ => rng.below(40 * 1024) as usize,
            };
            let salt = rng.next();
            let mut v = Vec::with_capacity(len);
            let mut x = salt | 1;
            while v.len() < len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let take = (len - v.len()).min(8);
                v.extend_from_slice(&x.to_le_bytes()[..take]);
            }
            Bytes::from(v)
        })
        .collect()
}

fn profile() -> ConnectorProfile {
    ConnectorProfile::new(
        "\"mta\"/\"mta\"/\"mta\"/Internet=192.0.2.9"
            .parse()
            .unwrap(),
    )
}

fn request() -> AssociateRequest {
    let profile = ConnectorProfile::new(
        "\"mta\"/\"mta\"/\"mta\"/Internet=192.0.2.9"
            .parse()
            .unwrap(),
    );
    profile.associate_request(None).unwrap().unwrap()
}

struct Pair {
    client: Rts,
    server: Rts,
    client_settings: RtsSettings,
    server_settings: RtsSettings,
    server_state: TransferState,
    now: Instant,
    received: Vec<Bytes>,
    confirmed: Vec<u64>,
    failed: Vec<u64>,
    /// Octets the transport still carries before it is cut (None: never).
    budget: Option<usize>,
    cuts: usize,
    opens: usize,
    schedule: OpenSchedule,
    recovered_opens: usize,
}

impl Pair {
    fn new(client_settings: RtsSettings, server_settings: RtsSettings) -> Self {
        let now = Instant::now();
        let mut p = Pair {
            client: Rts::initiator(
                Config::default(),
                client_settings.clone(),
                TransferState::new(),
            ),
            server: Rts::responder(
                Config::default(),
                Dispatch::default(),
                None,
                server_settings.clone(),
            ),
            client_settings,
            server_settings,
            server_state: TransferState::new(),
            now,
            received: Vec::new(),
            confirmed: Vec::new(),
            failed: Vec::new(),
            budget: None,
            cuts: 0,
            opens: 0,
            schedule: OpenSchedule::from_profile(&profile()),
            recovered_opens: 0,
        };
        p.open();
        p
    }

    fn open(&mut self) {
        self.opens += 1;
        self.client.open(request(), None, self.now).unwrap();
    }

    /// Moves bytes one way, respecting the cut budget; returns (moved, cut happened).
    fn carry(
        from: &mut Rts,
        to: &mut Rts,
        budget: &mut Option<usize>,
        now: Instant,
    ) -> (bool, bool) {
        let mut moved = false;
        while let Some(b) = from.poll_transmit() {
            moved = true;
            match budget {
                Some(left) if *left < b.len() => {
                    to.handle_input(&b[..*left], now);
                    *left = 0;
                    return (true, true);
                }
                Some(left) => *left -= b.len(),
                None => {}
            }
            to.handle_input(&b, now);
        }
        (moved, false)
    }

    fn events(&mut self) {
        while let Some(e) = self.server.poll_event() {
            match e {
                RtsEvent::OpenIndication(ind) => {
                    if ind.recover.is_some() {
                        self.recovered_opens += 1;
                    }
                    let state = std::mem::take(&mut self.server_state);
                    self.server.accept(Some(state), self.now).unwrap();
                }
                RtsEvent::Received(m) => self.received.push(m),
                _ => {}
            }
        }
        while let Some(e) = self.client.poll_event() {
            match e {
                RtsEvent::Confirmed { seq } => self.confirmed.push(seq),
                RtsEvent::TransferFailed { seq } => self.failed.push(seq),
                RtsEvent::Opened(_) => self.schedule.opened(),
                _ => {}
            }
        }
    }

    /// Cuts the transport: both sides see it close; their states are kept; the client
    /// reopens after `pause`.
    fn cut(&mut self, pause: Duration) {
        self.cuts += 1;
        self.client.handle_transport_closed(self.now);
        self.server.handle_transport_closed(self.now);
        self.events();
        let client_state = self.client.take_state(self.now);
        self.server_state = self.server.take_state(self.now);
        self.now += pause;
        self.client = Rts::initiator(
            Config::default(),
            self.client_settings.clone(),
            client_state,
        );
        self.server = Rts::responder(
            Config::default(),
            Dispatch::default(),
            None,
            self.server_settings.clone(),
        );
        self.open();
    }

    /// Runs until every queued message is confirmed; `cut_every` draws a new cut budget
    /// (octets) after each cut, `None` for a clean transport.
    fn run(&mut self, total: usize, rng: &mut Rng, mut cut_every: Option<u64>) {
        let mut steps = 0usize;
        while self.confirmed.len() < total {
            steps += 1;
            assert!(steps < 5_000_000, "no progress");
            let (a, cut_a) = Self::carry(
                &mut self.client,
                &mut self.server,
                &mut self.budget,
                self.now,
            );
            let (b, cut_b) = if cut_a {
                (false, false)
            } else {
                Self::carry(
                    &mut self.server,
                    &mut self.client,
                    &mut self.budget,
                    self.now,
                )
            };
            self.events();
            if cut_a || cut_b {
                // The connector reopens at once; one time in four that first attempt fails and
                // the next comes an open interval later, after the recovery timeout (restart
                // from the beginning).
                let mut at = self.schedule.broken(self.now);
                if rng.below(4) == 0 {
                    at = self.schedule.failed(at).expect("retries left");
                }
                self.cut(at - self.now);
                self.budget = cut_every.map(|n| draw_budget(rng, n));
                continue;
            }
            if !a && !b {
                if self.client.is_closed() || self.server.is_closed() || !self.client.is_open() {
                    // An abort (e.g. unrecognizedActivity) ended the association: reopen.
                    self.cut(Duration::from_secs(1));
                    continue;
                }
                panic!(
                    "stalled with {} of {total} confirmed (client open {}, turn {})",
                    self.confirmed.len(),
                    self.client.is_open(),
                    self.client.has_turn()
                );
            }
            if self.cuts > 400 {
                cut_every = None;
                self.budget = None;
            }
        }
    }
}

/// Octets until the next cut: half the time short (a cut inside the open, a checkpoint
/// exchange or the end of a small message), else up to `n`.
fn draw_budget(rng: &mut Rng, n: u64) -> usize {
    if rng.below(2) == 0 {
        1 + rng.below(64 * 1024) as usize
    } else {
        1 + rng.below(n) as usize
    }
}

fn check(sent: &[Bytes], received: &[Bytes]) {
    assert_eq!(sent.len(), received.len(), "message count");
    for (i, (s, r)) in sent.iter().zip(received).enumerate() {
        assert!(
            s == r,
            "message {i}: {} octets sent, {} received",
            s.len(),
            r.len()
        );
    }
}

const MODES: [X400Mode; 3] = [
    X400Mode::Normal1988,
    X400Mode::X410Mode1988,
    X400Mode::Mode1984,
];

const COMBINATIONS: [(u32, u32); 6] = [(0, 1), (0, 5), (1, 1), (1, 5), (30, 1), (30, 5)];

fn transfer_all(
    mode: X400Mode,
    checkpoint: u32,
    window: u32,
    seed: u64,
    cut_every: Option<u64>,
) -> Pair {
    let settings = RtsSettings::default()
        .with_mode(mode)
        .with_checkpoints(checkpoint, window)
        .with_recovery_timeout(Duration::from_secs(60));
    let server = RtsSettings::default().with_checkpoints(30, 5);
    let msgs = messages(seed, 100);
    let mut pair = Pair::new(settings, server);
    let mut rng = Rng(seed.wrapping_mul(7) | 1);
    pair.budget = cut_every.map(|n| draw_budget(&mut rng, n));
    for m in &msgs {
        pair.client.transfer(m.clone(), pair.now).unwrap();
    }
    pair.run(msgs.len(), &mut rng, cut_every);
    assert_eq!(
        pair.server.association().is_x410(),
        mode != X400Mode::Normal1988
    );
    check(&msgs, &pair.received);
    let seqs: Vec<u64> = (0..100).collect();
    assert_eq!(pair.confirmed, seqs);
    pair
}

#[test]
fn every_mode_clean_transport_all_combinations() {
    for (m, &mode) in MODES.iter().enumerate() {
        for (i, &(cp, w)) in COMBINATIONS.iter().enumerate() {
            let pair = transfer_all(mode, cp, w, 0x1000 + (m * 16 + i) as u64, None);
            assert_eq!(pair.cuts, 0);
            assert_eq!(pair.opens, 1);
        }
    }
}

#[test]
fn every_mode_with_cuts_all_combinations() {
    for (m, &mode) in MODES.iter().enumerate() {
        for (i, &(cp, w)) in COMBINATIONS.iter().enumerate() {
            let pair = transfer_all(
                mode,
                cp,
                w,
                0x2000 + (m * 16 + i) as u64,
                Some(3 * MIB as u64),
            );
            eprintln!(
                "{mode:?} checkpoint {cp} window {w}: {} cuts, {} opens, {} recovering",
                pair.cuts, pair.opens, pair.recovered_opens
            );
            assert!(
                pair.cuts > 0,
                "{mode:?} checkpoint {cp} window {w}: no cut happened"
            );
            if cp > 0 {
                assert!(
                    pair.recovered_opens > 0,
                    "{mode:?} checkpoint {cp} window {w}: never recovered"
                );
            }
        }
    }
}

#[test]
fn negotiation_is_the_minimum() {
    let client = RtsSettings::default().with_checkpoints(30, 5);
    let server = RtsSettings::default().with_checkpoints(1, 2);
    let mut pair = Pair::new(client, server);
    let mut opened = None;
    for _ in 0..10 {
        Pair::carry(&mut pair.client, &mut pair.server, &mut None, pair.now);
        pair.events();
        Pair::carry(&mut pair.server, &mut pair.client, &mut None, pair.now);
        while let Some(e) = pair.client.poll_event() {
            if let RtsEvent::Opened(o) = e {
                opened = Some(o);
            }
        }
    }
    let o = opened.expect("opened");
    assert_eq!((o.checkpoint_size_kb, o.window_size), (1, 2));
    assert_eq!(o.dialogue_mode, DialogueMode::MONOLOGUE);
    assert!(o.turn);
    // In monologue the responder may not transfer.
    assert!(
        pair.server
            .transfer(Bytes::from_static(b"x"), pair.now)
            .is_err()
    );
}

/// Moves everything one way and returns the octets.
fn carry_all(from: &mut Rts, to: &mut Rts, now: Instant) -> Vec<u8> {
    let mut all = Vec::new();
    while let Some(b) = from.poll_transmit() {
        all.extend_from_slice(&b);
        to.handle_input(&b, now);
    }
    all
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// TSDU starts (TPKT + COTP DT header, then the first SPDUs).
const PT_AR: [u8; 6] = [0x02, 0xf0, 0x80, 0x02, 0x00, 0x1d];
const GT_AS: [u8; 6] = [0x02, 0xf0, 0x80, 0x01, 0x00, 0x2d];

fn settle(pair: &mut Pair) -> Vec<u8> {
    let mut c2s = Vec::new();
    loop {
        let a = carry_all(&mut pair.client, &mut pair.server, pair.now);
        pair.events();
        let b = carry_all(&mut pair.server, &mut pair.client, pair.now);
        pair.events();
        if a.is_empty() && b.is_empty() {
            return c2s;
        }
        c2s.extend_from_slice(&a);
    }
}

#[test]
fn resume_from_the_last_confirmed_checkpoint() {
    let settings = RtsSettings::default().with_checkpoints(1, 5);
    let mut pair = Pair::new(settings.clone(), settings);
    settle(&mut pair);
    let msg = messages(7, 3).swap_remove(1); // 2 MiB
    pair.client.transfer(msg.clone(), pair.now).unwrap();
    // Carry about 600 KiB client → server, with the server's MIAs flowing back.
    let mut moved = 0usize;
    while moved < 600 * 1024 {
        let a = carry_all(&mut pair.client, &mut pair.server, pair.now);
        moved += a.len();
        pair.events();
        carry_all(&mut pair.server, &mut pair.client, pair.now);
        pair.events();
    }
    assert!(pair.client.state().has_checkpoint());
    // What the receiver holds of the unfinished transfer counts as its buffered input (a
    // driver charges it to a memory budget).
    let held = pair.server.buffered_input();
    assert!(
        held >= 500 * 1024 && held <= moved,
        "{held} octets held of {moved} carried"
    );
    pair.cut(Duration::from_secs(1));
    let c2s = settle(&mut pair);
    assert_eq!(pair.recovered_opens, 1);
    assert_eq!(count(&c2s, &PT_AR), 1, "resumed with AR");
    assert_eq!(count(&c2s, &GT_AS), 0, "not restarted");
    // Much less than the whole message went again.
    assert!(
        c2s.len() < 2 * MIB - 400 * 1024,
        "{} octets resent",
        c2s.len()
    );
    check(&[msg], &pair.received);
    assert_eq!(pair.confirmed, [0]);
}

#[test]
fn after_the_recovery_timeout_the_transfer_starts_again() {
    let settings = RtsSettings::default()
        .with_checkpoints(1, 5)
        .with_recovery_timeout(Duration::from_secs(60));
    let mut pair = Pair::new(settings.clone(), settings);
    settle(&mut pair);
    let msg = messages(8, 2).swap_remove(1);
    pair.client.transfer(msg.clone(), pair.now).unwrap();
    for _ in 0..40 {
        carry_all(&mut pair.client, &mut pair.server, pair.now);
        pair.events();
        carry_all(&mut pair.server, &mut pair.client, pair.now);
        pair.events();
    }
    assert!(pair.client.state().has_checkpoint());
    pair.cut(Duration::from_secs(61));
    let c2s = settle(&mut pair);
    assert_eq!(pair.recovered_opens, 0, "open, not recover");
    assert_eq!(count(&c2s, &PT_AR), 0);
    assert_eq!(count(&c2s, &GT_AS), 1);
    check(&[msg], &pair.received);
}

/// The cut falls after the receiver delivered (AE) and before the sender saw the AEA: the
/// transfer is resumed, taken through, and not delivered a second time.
#[test]
fn cut_between_activity_end_and_its_answer_delivers_once() {
    for checkpoint in [0, 1] {
        let settings = RtsSettings::default().with_checkpoints(checkpoint, 1);
        let mut pair = Pair::new(settings.clone(), settings);
        settle(&mut pair);
        let msg = Bytes::from(vec![0x5a; 3000]);
        pair.client.transfer(msg.clone(), pair.now).unwrap();
        // Run until the server has delivered, then cut before its AEA reaches the client.
        while pair.received.is_empty() {
            carry_all(&mut pair.client, &mut pair.server, pair.now);
            pair.events();
            if pair.received.is_empty() {
                carry_all(&mut pair.server, &mut pair.client, pair.now);
                pair.events();
            }
        }
        assert!(pair.confirmed.is_empty());
        pair.cut(Duration::from_secs(1));
        settle(&mut pair);
        check(std::slice::from_ref(&msg), &pair.received);
        assert_eq!(pair.confirmed, [0]);
        // The next message goes through normally.
        pair.client
            .transfer(Bytes::from_static(b"next"), pair.now)
            .unwrap();
        settle(&mut pair);
        assert_eq!(pair.received.len(), 2);
        assert_eq!(&pair.received[1][..], b"next");
    }
}

/// A responder that lost its state cannot resume: it aborts the AR with RTAB
/// unrecognizedActivity, and the sender starts from the beginning next time.
#[test]
fn a_responder_without_the_partial_data_refuses_the_resume() {
    let settings = RtsSettings::default().with_checkpoints(1, 5);
    let mut pair = Pair::new(settings.clone(), settings);
    settle(&mut pair);
    let msg = messages(9, 2).swap_remove(1);
    pair.client.transfer(msg.clone(), pair.now).unwrap();
    for _ in 0..40 {
        carry_all(&mut pair.client, &mut pair.server, pair.now);
        pair.events();
        carry_all(&mut pair.server, &mut pair.client, pair.now);
        pair.events();
    }
    pair.cut(Duration::from_secs(1));
    pair.server_state = TransferState::new(); // the responder forgot everything
    let mut aborted = None;
    for _ in 0..20 {
        carry_all(&mut pair.client, &mut pair.server, pair.now);
        pair.events();
        carry_all(&mut pair.server, &mut pair.client, pair.now);
        while let Some(e) = pair.client.poll_event() {
            if let RtsEvent::Aborted { rtab, cause } = e {
                // The responder's RT-U-ABORT: an ABRT from the peer's user carrying the RTAB.
                let a = cause.association_abort().expect("the association's abort");
                assert_eq!(
                    a.source,
                    osi_stack::association::AbortSource::PeerUser,
                    "{cause}"
                );
                aborted = rtab;
            }
        }
        if pair.client.is_closed() {
            break;
        }
    }
    assert_eq!(
        aborted,
        Some(osi_stack::rtse::AbortReason::UNRECOGNIZED_ACTIVITY)
    );
    assert!(!pair.client.state().has_checkpoint());
    pair.cut(Duration::from_secs(1));
    let c2s = settle(&mut pair);
    assert_eq!(count(&c2s, &GT_AS), 1, "started again");
    check(&[msg], &pair.received);
}

/// Two-way alternate: the turn is asked for with an RTTP priority, given, and the responder
/// transfers; the initiator's initial turn can also be left to the responder.
#[test]
fn two_way_alternate_turns() {
    let settings = RtsSettings::default()
        .with_checkpoints(1, 1)
        .with_dialogue(true, true);
    let mut pair = Pair::new(settings.clone(), settings.clone());
    settle(&mut pair);
    assert!(pair.client.has_turn());
    assert!(!pair.server.has_turn());
    pair.client
        .transfer(Bytes::from(vec![1; 5000]), pair.now)
        .unwrap();
    settle(&mut pair);
    assert_eq!(pair.received.len(), 1);
    // Without the turn the server queues its message and asks for the turn (RTTP priority 1).
    pair.server
        .transfer(Bytes::from(vec![2; 7000]), pair.now)
        .unwrap();
    assert!(pair.server.turn_give(pair.now).is_err());
    pair.server.turn_please(1, pair.now).unwrap();
    carry_all(&mut pair.server, &mut pair.client, pair.now);
    let mut asked = None;
    while let Some(e) = pair.client.poll_event() {
        if let RtsEvent::TurnPlease { priority } = e {
            asked = Some(priority);
        }
    }
    assert_eq!(asked, Some(1));
    pair.client.turn_give(pair.now).unwrap();
    assert!(!pair.client.has_turn());
    let mut client_got = Vec::new();
    for _ in 0..20 {
        carry_all(&mut pair.client, &mut pair.server, pair.now);
        pair.events();
        carry_all(&mut pair.server, &mut pair.client, pair.now);
        while let Some(e) = pair.client.poll_event() {
            if let RtsEvent::Received(m) = e {
                client_got.push(m);
            }
        }
    }
    assert_eq!(client_got, [Bytes::from(vec![2; 7000])]);
    assert!(pair.server.has_turn());
    // The client asks for the turn back with priority 2; the server gives it.
    pair.client.turn_please(2, pair.now).unwrap();
    carry_all(&mut pair.client, &mut pair.server, pair.now);
    let mut asked = None;
    while let Some(e) = pair.server.poll_event() {
        if let RtsEvent::TurnPlease { priority } = e {
            asked = Some(priority);
        }
    }
    assert_eq!(asked, Some(2));
    pair.server.turn_give(pair.now).unwrap();
    carry_all(&mut pair.server, &mut pair.client, pair.now);
    let mut given = false;
    while let Some(e) = pair.client.poll_event() {
        given |= e == RtsEvent::TurnGiven;
    }
    assert!(given && pair.client.has_turn());
    // Close needs the turn: the client has it.
    assert!(pair.server.close(pair.now).is_err());
    pair.client.close(pair.now).unwrap();
    settle(&mut pair);
    assert!(pair.client.is_closed());

    // Initial turn on the responder's side.
    let settings = RtsSettings::default().with_dialogue(true, false);
    let mut pair = Pair::new(settings.clone(), settings);
    settle(&mut pair);
    assert!(!pair.client.has_turn());
    assert!(pair.server.has_turn());
}

/// X.410-1984 mode on the wire: the CN carries a `PConnect` (mode x410-1984, the RTORQ
/// components with applicationProtocol 1 in 1984 mode, 12 in 1988-X.410 mode) and no AARQ;
/// segments travel as raw S-DATA.
#[test]
fn x410_mode_on_the_wire() {
    for (mode, protocol) in [(X400Mode::Mode1984, 1u8), (X400Mode::X410Mode1988, 12)] {
        let settings = RtsSettings::default()
            .with_mode(mode)
            .with_checkpoints(30, 5);
        let mut pair = Pair::new(settings.clone(), settings);
        let mut c2s = settle(&mut pair);
        // CP-type 31 LL { a0 03 80 01 00  a1 LL { 80 01 1e 81 01 05 a3 04 a0 02 80 00
        // 84 01 pp } } (open without user data: X.228's [0] IMPLICIT NULL inside [0])
        let pconnect = [
            0xa0, 0x03, 0x80, 0x01, 0x00, 0xa1, 0x0f, 0x80, 0x01, 0x1e, 0x81, 0x01, 0x05, 0xa3,
            0x04, 0xa0, 0x02, 0x80, 0x00, 0x84, 0x01, protocol,
        ];
        assert_eq!(count(&c2s, &pconnect), 1, "{mode:?}: {c2s:02x?}");
        assert_eq!(count(&c2s, &[0x60]), 0, "no aarq");
        pair.client
            .transfer(Bytes::from_static(b"raw segment"), pair.now)
            .unwrap();
        c2s = settle(&mut pair);
        // GT DT + the octets themselves, no OCTET STRING header.
        assert_eq!(count(&c2s, b"\x01\x00\x01\x00raw segment"), 1, "{c2s:02x?}");
        assert_eq!(&pair.received[0][..], b"raw segment");
    }
}

/// A transfer that does not end within its time limit is discarded and started again after the
/// transfer interval; after the retries it is given up and the next message goes on. Time is
/// advanced by hand.
#[test]
fn transfer_time_limit_discards_retries_and_gives_up() {
    for retries in [1u32, 0] {
        let settings = RtsSettings::default()
            .with_checkpoints(1, 1)
            .with_transfer_limits(
                Some(Duration::from_secs(1)),
                retries,
                Duration::from_secs(30),
            );
        let mut pair = Pair::new(settings.clone(), settings);
        settle(&mut pair);
        let msg = Bytes::from(vec![7u8; 10 * 1024]);
        pair.client.transfer(msg.clone(), pair.now).unwrap();
        pair.client
            .transfer(Bytes::from_static(b"second"), pair.now)
            .unwrap();
        // The client sends AS, one KiB and a MIP; the server's MIA is held back.
        carry_all(&mut pair.client, &mut pair.server, pair.now);
        pair.events();
        let held: Vec<Bytes> = std::iter::from_fn(|| pair.server.poll_transmit()).collect();
        assert!(!held.is_empty());
        let deadline = pair.client.poll_timeout().expect("transfer deadline");
        assert_eq!(deadline, pair.now + Duration::from_secs(10));
        pair.now = deadline;
        pair.client.handle_timeout(pair.now);
        // The held MIA crosses the AD: the client ignores it.
        for b in &held {
            pair.client.handle_input(b, pair.now);
        }
        let c2s = settle(&mut pair);
        assert_eq!(count(&c2s, &[0x01, 0x00, 0x39]), 1, "GT AD sent");
        if retries == 1 {
            assert!(pair.received.is_empty());
            let retry = pair.client.poll_timeout().expect("retry time");
            assert_eq!(retry, pair.now + Duration::from_secs(30));
            pair.now = retry;
            pair.client.handle_timeout(pair.now);
            let c2s = settle(&mut pair);
            assert_eq!(
                count(&c2s, &GT_AS),
                2,
                "started again, then the second message"
            );
            check(
                &[msg.clone(), Bytes::from_static(b"second")],
                &pair.received,
            );
            assert_eq!(pair.confirmed, [0, 1]);
        } else {
            // Given up at once: the second message goes.
            settle(&mut pair);
            assert_eq!(pair.failed, [0]);
            assert_eq!(pair.received, [Bytes::from_static(b"second")]);
            assert_eq!(pair.confirmed, [1]);
        }
    }
}

/// Corrupted streams (one octet changed at a seeded random place) never make either side panic,
/// and a corrupted transfer is never delivered as if it were good unless the octet was inside the
/// message itself.
#[test]
fn corrupted_streams_never_panic() {
    for mode in MODES {
        let settings = RtsSettings::default()
            .with_mode(mode)
            .with_checkpoints(1, 2);
        let mut pair = Pair::new(settings.clone(), settings.clone());
        let msg = Bytes::from(vec![0xa5; 5000]);
        pair.client.transfer(msg.clone(), pair.now).unwrap();
        let mut c2s = Vec::new();
        let mut s2c = Vec::new();
        for _ in 0..50 {
            c2s.extend(carry_all(&mut pair.client, &mut pair.server, pair.now));
            pair.events();
            s2c.extend(carry_all(&mut pair.server, &mut pair.client, pair.now));
            pair.events();
        }
        assert_eq!(pair.received, std::slice::from_ref(&msg));
        let mut rng = Rng(0x5eed);
        for _ in 0..150 {
            // Server fed a corrupted client stream.
            let mut bad = c2s.clone();
            let i = rng.below(bad.len() as u64) as usize;
            bad[i] ^= 1 << rng.below(8);
            let mut server = Rts::responder(
                Config::default(),
                Dispatch::default(),
                None,
                settings.clone(),
            );
            for piece in bad.chunks(700) {
                server.handle_input(piece, pair.now);
                while let Some(e) = server.poll_event() {
                    match e {
                        RtsEvent::OpenIndication(_) => {
                            let _ = server.accept(None, pair.now);
                        }
                        RtsEvent::Received(m) => assert_eq!(m.len(), msg.len()),
                        _ => {}
                    }
                }
                while server.poll_transmit().is_some() {}
            }
            // Client fed a corrupted server stream.
            let mut bad = s2c.clone();
            let i = rng.below(bad.len() as u64) as usize;
            bad[i] ^= 1 << rng.below(8);
            let mut client =
                Rts::initiator(Config::default(), settings.clone(), TransferState::new());
            client.open(request(), None, pair.now).unwrap();
            client.transfer(msg.clone(), pair.now).unwrap();
            for piece in bad.chunks(300) {
                client.handle_input(piece, pair.now);
                while client.poll_event().is_some() {}
                while client.poll_transmit().is_some() {}
            }
        }
    }
}

/// A responder without state for a `recover` refuses with RTORJ cannotRecover; the initiator
/// then opens normally and starts the transfer again: still exactly once.
#[test]
fn recovery_refused_with_cannot_recover() {
    for mode in MODES {
        let settings = RtsSettings::default()
            .with_mode(mode)
            .with_checkpoints(1, 5);
        let mut pair = Pair::new(settings.clone(), settings);
        settle(&mut pair);
        let msg = Bytes::from(vec![3u8; 300 * 1024]);
        pair.client.transfer(msg.clone(), pair.now).unwrap();
        for _ in 0..20 {
            carry_all(&mut pair.client, &mut pair.server, pair.now);
            pair.events();
            carry_all(&mut pair.server, &mut pair.client, pair.now);
            pair.events();
        }
        assert!(pair.client.state().has_checkpoint());
        pair.cut(Duration::from_secs(1));
        // The open indication says recover: refuse it instead of accepting.
        carry_all(&mut pair.client, &mut pair.server, pair.now); // CR
        carry_all(&mut pair.server, &mut pair.client, pair.now); // CC
        carry_all(&mut pair.client, &mut pair.server, pair.now); // CN
        let mut recover = false;
        while let Some(e) = pair.server.poll_event() {
            if let RtsEvent::OpenIndication(ind) = e {
                recover = ind.recover.is_some();
            }
        }
        assert!(recover, "{mode:?}");
        pair.server
            .reject(osi_stack::rtse::RefuseReason::CANNOT_RECOVER, pair.now)
            .unwrap();
        carry_all(&mut pair.server, &mut pair.client, pair.now);
        let mut refused = None;
        while let Some(e) = pair.client.poll_event() {
            if let RtsEvent::Refused { refuse_reason, .. } = e {
                refused = Some(refuse_reason);
            }
        }
        let expected = if mode == X400Mode::Normal1988 {
            None // normal-mode RTORJ has no reason field
        } else {
            Some(osi_stack::rtse::RefuseReason::CANNOT_RECOVER)
        };
        assert_eq!(refused, Some(expected), "{mode:?}");
        assert!(!pair.client.state().has_checkpoint());
        pair.server_state = TransferState::new();
        pair.cut(Duration::from_secs(1));
        let c2s = settle(&mut pair);
        assert_eq!(pair.recovered_opens, 0, "{mode:?}: opened normally");
        assert_eq!(count(&c2s, &GT_AS), 1, "{mode:?}");
        check(std::slice::from_ref(&msg), &pair.received);
    }
}
