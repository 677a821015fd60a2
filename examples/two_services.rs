//! Two services on one loopback port, told apart by T-selector (an MTA's "connectors"): a
//! [`Listener`] with a dispatch table of two services, and an initiator that associates with
//! each in turn, sends one P-DATA, reads the answer and releases. Both sides print what happens.
//!
//! ```sh
//! cargo run --example two_services --features tokio
//! ```

use std::error::Error;

use osi_stack::address::TSel;
use osi_stack::association::{
    AcceptResponse, AssociateRequest, Config, Dispatch, Event, Selector, Service,
};
use osi_stack::presentation::ContextId;
use osi_stack::tokio::{Connection, Dialer, Listener};

/// The MMS presentation context `AssociateRequest::mms` proposes.
const MMS: ContextId = ContextId::new(3).unwrap();

/// One line for an event.
fn show(event: &Event) -> String {
    match event {
        Event::TransportConnected { tpdu_size } => {
            format!("transport connected (TPDU size {tpdu_size})")
        }
        Event::AssociateIndication(ind) => format!(
            "associate indication for service {:?}, called T-selector {:?}",
            ind.service_name.as_deref().unwrap_or("?"),
            String::from_utf8_lossy(ind.called_tsel.as_deref().unwrap_or_default())
        ),
        Event::Associated(a) => format!("associated ({} contexts)", a.contexts.len()),
        Event::Refused(r) => format!("{r}"),
        Event::Rejected(r) => format!("rejected: {r}"),
        Event::Data(d) => match d.context_id {
            Some(c) => format!("P-DATA on context {c}: {:02x?}", &d.value[..]),
            None => format!("P-DATA: {:02x?}", &d.value[..]),
        },
        Event::ReleaseIndication => "release indication".to_owned(),
        Event::Released { .. } => "released".to_owned(),
        Event::Aborted(a) => format!("{a}"),
        Event::Closed => "closed".to_owned(),
        other => format!("{other:?}"),
    }
}

/// The responder side of one association: accept, answer each P-DATA with the service's name
/// in front of it, agree to release.
async fn serve(mut conn: Connection) -> Result<(), Box<dyn Error + Send + Sync>> {
    let mut service = "-".to_owned();
    while let Some(event) = conn.next_event().await? {
        println!("  server [{service}]: {}", show(&event));
        match event {
            Event::AssociateIndication(ind) => {
                service = ind.service_name.unwrap_or_default();
                conn.accept(AcceptResponse::default()).await?;
            }
            Event::Data(d) => {
                // One BER value (single-ASN1-type): a SEQUENCE of an OCTET STRING naming the
                // service and the value received.
                let inner_len = service
                    .len()
                    .saturating_add(2)
                    .saturating_add(d.value.len());
                let mut answer = vec![0x30, u8::try_from(inner_len)?, 0x04];
                answer.push(u8::try_from(service.len())?);
                answer.extend_from_slice(service.as_bytes());
                answer.extend_from_slice(&d.value);
                conn.send_data(d.context_id.unwrap_or(MMS), &answer).await?;
            }
            Event::ReleaseIndication => conn.release_response(true).await?,
            _ => {}
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let services = [("mms", &b"MMS1"[..]), ("x400", &b"MTA1"[..])];
    let dispatch = Dispatch::new(
        services
            .iter()
            .map(|(name, tsel)| Ok(Service::new(*name).with_tsel(Selector::Is(TSel::new(tsel)?))))
            .collect::<Result<Vec<_>, osi_stack::address::AddressError>>()?,
    );
    let mut listener = Listener::bind("127.0.0.1:0", Config::default(), dispatch).await?;
    let addr = listener.local_addr()?;
    println!("listening on {addr} for services mms (T-selector MMS1) and x400 (T-selector MTA1)");

    // The responder: one association per service, one after the other.
    let server = tokio::spawn(async move {
        for _ in 0..services.len() {
            let conn = listener.accept().await?;
            serve(conn).await?;
        }
        Ok::<(), Box<dyn Error + Send + Sync>>(())
    });

    for (name, tsel) in services {
        println!(
            "client: associating with {name} at {addr}, called T-selector {:?}",
            String::from_utf8_lossy(tsel)
        );
        let request =
            AssociateRequest::mms().with_called_selectors(Some(TSel::new(tsel)?), None, None);
        let (mut conn, events) = Dialer::new()
            .associate(addr, Config::default(), request)
            .await?;
        for event in &events {
            println!("client: {}", show(event));
        }
        // An MMS identify request (confirmed-request, invoke id 1) on context 3.
        conn.send_data(MMS, &[0xa0, 0x05, 0x02, 0x01, 0x01, 0x82, 0x00])
            .await?;
        while let Some(event) = conn.next_event().await? {
            println!("client: {}", show(&event));
            if matches!(event, Event::Data(_)) {
                break;
            }
        }
        let outcome = conn.release().await?;
        for event in &outcome.events {
            println!("client: {}", show(event));
        }
        if !outcome.released {
            return Err(format!("{name}: not released").into());
        }
    }
    server.await??;
    Ok(())
}
