//! The X.400 connector profile drives a 1988-normal-mode association whose AARQ carries the
//! RTORQ with the profile's checkpoint size, window and dialogue mode.

use std::time::Instant;

use osi_stack::Limits;
use osi_stack::association::{Association, Config, Dispatch, Event};
use osi_stack::rtse::{Apdu, ConnectorProfile, DialogueMode, X400Mode};

#[test]
fn profile_request_reaches_a_responder_with_its_rtorq() {
    let mut profile = ConnectorProfile::new(
        "\"MTA1\"/\"MTA1\"/\"MTA1\"/Internet=127.0.0.1"
            .parse()
            .unwrap(),
    );
    profile.two_way_alternate = true;
    profile.checkpoint_size_kb = 1;
    let request = profile.associate_request(None).unwrap().unwrap();
    let now = Instant::now();
    let mut client = Association::initiator(profile.config());
    let mut server = Association::responder(Config::default(), Dispatch::default(), None);
    client.associate(request, now).unwrap();
    for _ in 0..2 {
        while let Some(b) = client.poll_transmit() {
            server.handle_input(&b, now);
        }
        while let Some(b) = server.poll_transmit() {
            client.handle_input(&b, now);
        }
    }
    let events: Vec<_> = std::iter::from_fn(|| server.poll_event()).collect();
    let Some(Event::AssociateIndication(ind)) = events.get(1) else {
        panic!("{events:?}")
    };
    assert_eq!(
        ind.application_context
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("2.6.0.1.6")
    );
    assert_eq!(ind.called_tsel.as_deref(), Some(&b"MTA1"[..]));
    let abstracts: Vec<String> = ind
        .contexts
        .iter()
        .map(|c| c.abstract_syntax.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(abstracts, ["2.2.1.0.1", "2.6.0.2.12", "2.6.0.2.7"]);
    let info = ind.user_information.as_ref().unwrap();
    let Apdu::Rtorq(rq) = Apdu::decode(info, &Limits::DEFAULT).unwrap() else {
        panic!("not an rtorq")
    };
    assert_eq!(rq.checkpoint_size_or_default(), 1);
    assert_eq!(rq.window_size_or_default(), 5);
    assert_eq!(rq.dialogue_mode_or_default(), DialogueMode::TWA);
}

#[test]
fn x410_modes_have_no_acse_request() {
    let mut profile = ConnectorProfile::new("Internet=127.0.0.1".parse().unwrap());
    profile.mode = X400Mode::Mode1984;
    assert!(profile.associate_request(None).unwrap().is_none());
    let config = profile.config();
    assert_eq!(config.idle_lifetime, profile.lifetime);
    assert_eq!(config.disconnect_wait, profile.disconnect);
}
