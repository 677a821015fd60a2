//! Helpers shared by the integration tests.

#[allow(dead_code)]
pub mod alloc;
pub mod process;

/// Octets from hex text; whitespace between digits is ignored.
#[allow(dead_code)]
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A presentation context identifier from a literal in `1..=127`.
#[allow(dead_code)]
pub fn cid(n: i64) -> osi_stack::presentation::ContextId {
    osi_stack::presentation::ContextId::new(n).expect("presentation context identifier in 1..=127")
}

#[allow(dead_code)]
pub mod assoc {
    //! The association pair every association test drives: `osi_stack::testing::Pair` with
    //! the steps of a normal association spelt out once.

    use std::net::IpAddr;

    use osi_stack::association::{
        AcceptResponse, AssociateRequest, Association, Config, Dispatch, Event, State,
    };
    use osi_stack::cotp::Tpdu;
    use osi_stack::session::{self, SpduKind};
    use osi_stack::testing::Pair;
    use osi_stack::tpkt::Tpkt;

    /// An association pair.
    pub type AssocPair = Pair<Association, Association>;

    /// An initiator and a responder (peer 127.0.0.1) back to back.
    pub fn pair(config: Config, dispatch: Dispatch) -> AssocPair {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        Pair::new(
            Association::initiator(config.clone()),
            Association::responder(config, dispatch, Some(peer)),
        )
    }

    /// A pair with the default configuration and no dispatch table.
    pub fn default_pair() -> AssocPair {
        pair(Config::default(), Dispatch::default())
    }

    /// Associates with `request`; the server accepts with `response`. Checks the event
    /// sequence on both sides.
    pub fn associate(p: &mut AssocPair, request: AssociateRequest, response: AcceptResponse) {
        let now = p.now;
        p.client.associate(request, now).unwrap();
        p.c2s(); // CR
        p.s2c(); // CC
        p.c2s(); // CN
        let ind = p.server_events();
        assert!(
            matches!(
                ind.as_slice(),
                [
                    Event::TransportConnected { .. },
                    Event::AssociateIndication(_)
                ]
            ),
            "{ind:?}"
        );
        p.server.accept(response, now).unwrap();
        p.s2c(); // AC
        let ev = p.client_events();
        assert!(
            matches!(
                ev.as_slice(),
                [Event::TransportConnected { .. }, Event::Associated(_)]
            ),
            "{ev:?}"
        );
        assert!(matches!(
            p.server_events().as_slice(),
            [Event::Associated(_)]
        ));
        assert_eq!(p.client.state(), State::Associated);
        assert_eq!(p.server.state(), State::Associated);
    }

    /// The SPDU kinds of every TSDU in a byte stream of whole TPKT frames.
    pub fn spdu_kinds(stream: &[u8]) -> Vec<SpduKind> {
        let mut kinds = Vec::new();
        let mut rest = stream;
        let mut tsdu = Vec::new();
        while !rest.is_empty() {
            let (tpkt, r) = Tpkt::decode(rest).unwrap();
            rest = r;
            if let Tpdu::Dt(dt) = Tpdu::decode(tpkt.payload).unwrap() {
                tsdu.extend_from_slice(dt.user_data);
                if dt.eot {
                    for s in session::spdus(&tsdu) {
                        kinds.push(s.unwrap().kind());
                    }
                    tsdu.clear();
                }
            }
        }
        kinds
    }

    /// Every event `a` has now.
    pub fn events(a: &mut Association) -> Vec<Event> {
        std::iter::from_fn(|| a.poll_event()).collect()
    }

    /// Everything `a` has to send now, as one buffer.
    pub fn drain(a: &mut Association) -> Vec<u8> {
        std::iter::from_fn(|| a.poll_transmit())
            .flat_map(|b| b.to_vec())
            .collect()
    }
}
