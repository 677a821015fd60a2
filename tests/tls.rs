//! RFC 1006 over TLS on loopback (feature `tls`): an association with rustls on both sides
//! (server-only and mutual authentication, TLS 1.2 and 1.3), a refused untrusted certificate,
//! a client without the certificate the server asks for, a plain-TCP client against a TLS
//! listener, and `osi connect --tls` against `osi listen --tls`. Certificates are made with
//! rcgen for each run. Every wait is bounded.
#![cfg(feature = "tls")]
// The PEM forms are read only by the CLI tests.
#![cfg_attr(not(feature = "cli"), allow(dead_code))]

mod common;
use common::cid;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use osi_stack::association::{AcceptResponse, AssociateRequest, Config, Dispatch, Event};
use osi_stack::tokio::{Connection, DialError, Dialer, Listener, tls};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::sync::mpsc;

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("test timed out")
}

/// A CA and a certificate it signed for `name`.
struct Pki {
    ca: CertificateDer<'static>,
    ca_pem: String,
    issuer: rcgen::Certificate,
    issuer_key: KeyPair,
}

struct Leaf {
    cert: CertificateDer<'static>,
    cert_pem: String,
    key: PrivateKeyDer<'static>,
    key_pem: String,
}

impl Pki {
    fn new() -> Pki {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).unwrap();
        Pki {
            ca: ca.der().clone(),
            ca_pem: ca.pem(),
            issuer: ca,
            issuer_key: key,
        }
    }

    fn leaf(&self, name: &str) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        let cert = params
            .signed_by(&key, &self.issuer, &self.issuer_key)
            .unwrap();
        Leaf {
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            key_pem: key.serialize_pem(),
        }
    }
}

/// A TLS listener echoing P-DATA; reports whether each client presented a certificate.
async fn start(opts: tls::ServerOptions) -> (SocketAddr, mpsc::UnboundedReceiver<bool>) {
    let acceptor = tls::acceptor(&opts).unwrap();
    let listener = Listener::bind("127.0.0.1:0", Config::default(), Dispatch::default())
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        listener
            .serve_with(
                std::future::pending(),
                tls::upgrade_server(acceptor),
                move |mut conn: Connection<tls::server::TlsStream<tokio::net::TcpStream>>| {
                    let tx = tx.clone();
                    async move {
                        let _ = tx.send(conn.get_ref().get_ref().1.peer_certificates().is_some());
                        while let Ok(Some(ev)) = conn.next_event().await {
                            match ev {
                                Event::AssociateIndication(_) => {
                                    let _ = conn.accept(AcceptResponse::default()).await;
                                }
                                Event::Data(d) => {
                                    let _ = conn.send_data(d.context_id.unwrap(), &d.value).await;
                                }
                                Event::ReleaseIndication => {
                                    let _ = conn.release_response(true).await;
                                }
                                _ => {}
                            }
                        }
                    }
                },
            )
            .await
            .unwrap();
    });
    (addr, rx)
}

async fn dial(
    addr: SocketAddr,
    opts: &tls::ClientOptions,
) -> Result<
    (
        Connection<tls::client::TlsStream<tokio::net::TcpStream>>,
        Vec<Event>,
    ),
    DialError,
> {
    let upgrade = tls::upgrade_client(tls::connector(opts).unwrap(), "localhost").unwrap();
    Dialer::new()
        .with_connect_timeout(Duration::from_secs(5))
        .associate_with(
            addr,
            Config::default().with_response_timeout(Duration::from_secs(3)),
            AssociateRequest::mms(),
            upgrade,
        )
        .await
}

async fn echo_and_release(conn: &mut Connection<tls::client::TlsStream<tokio::net::TcpStream>>) {
    let value = [0xa0, 0x05, 0x02, 0x01, 0x02, 0x82, 0x00];
    conn.send_data(cid(3), &value).await.unwrap();
    loop {
        match conn.next_event().await.unwrap() {
            Some(Event::Data(d)) => {
                assert_eq!(d.value[..], value[..]);
                break;
            }
            Some(_) => {}
            None => panic!("closed before the echo"),
        }
    }
    assert!(conn.release().await.unwrap().released);
}

#[tokio::test]
async fn an_association_over_tls_server_authenticated() {
    bounded(async {
        let pki = Pki::new();
        let server = pki.leaf("localhost");
        let (addr, mut presented) =
            start(tls::ServerOptions::new(vec![server.cert], server.key)).await;
        for versions in [
            tls::Versions::Both,
            tls::Versions::Tls12,
            tls::Versions::Tls13,
        ] {
            let opts = tls::ClientOptions::new(vec![pki.ca.clone()]).with_versions(versions);
            let (mut conn, events) = dial(addr, &opts).await.unwrap();
            assert!(matches!(events.last(), Some(Event::Associated(_))));
            let version = conn.get_ref().get_ref().1.protocol_version();
            match versions {
                tls::Versions::Tls12 => {
                    assert_eq!(version, Some(tls::rustls::ProtocolVersion::TLSv1_2))
                }
                _ => assert_eq!(version, Some(tls::rustls::ProtocolVersion::TLSv1_3)),
            }
            echo_and_release(&mut conn).await;
            assert_eq!(presented.recv().await, Some(false));
        }
    })
    .await;
}

#[tokio::test]
async fn an_association_over_tls_mutually_authenticated() {
    bounded(async {
        let pki = Pki::new();
        let server = pki.leaf("localhost");
        let client = pki.leaf("client.example");
        let (addr, mut presented) = start(
            tls::ServerOptions::new(vec![server.cert], server.key)
                .with_client_ca(Some(vec![pki.ca.clone()])),
        )
        .await;
        let opts = tls::ClientOptions::new(vec![pki.ca.clone()])
            .with_identity(vec![client.cert], client.key);
        let (mut conn, _) = dial(addr, &opts).await.unwrap();
        echo_and_release(&mut conn).await;
        assert_eq!(presented.recv().await, Some(true));
        // Without a certificate: refused in the handshake (TLS 1.3 reports it on first read).
        let anonymous = tls::ClientOptions::new(vec![pki.ca.clone()]);
        assert!(dial(addr, &anonymous).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn an_untrusted_server_certificate_is_refused() {
    bounded(async {
        let pki = Pki::new();
        let other = Pki::new();
        let server = pki.leaf("localhost");
        let (addr, _) = start(tls::ServerOptions::new(vec![server.cert], server.key)).await;
        let opts = tls::ClientOptions::new(vec![other.ca.clone()]);
        match dial(addr, &opts).await {
            Err(DialError::Io(e)) => {
                assert!(e.to_string().contains("certificate"), "{e}");
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("an untrusted certificate was accepted"),
        }
        // A certificate for another name is refused too.
        let wrong = pki.leaf("elsewhere.example");
        let (addr, _) = start(tls::ServerOptions::new(vec![wrong.cert], wrong.key)).await;
        let opts = tls::ClientOptions::new(vec![pki.ca.clone()]);
        assert!(matches!(dial(addr, &opts).await, Err(DialError::Io(_))));
    })
    .await;
}

#[tokio::test]
async fn a_plain_tcp_client_is_refused_by_a_tls_listener() {
    bounded(async {
        let pki = Pki::new();
        let server = pki.leaf("localhost");
        let (addr, mut presented) =
            start(tls::ServerOptions::new(vec![server.cert], server.key)).await;
        let r = Dialer::new()
            .associate(
                addr,
                Config::default().with_response_timeout(Duration::from_secs(3)),
                AssociateRequest::mms(),
            )
            .await;
        assert!(r.is_err(), "a plain CR associated with a TLS listener");
        // The handler never ran: the handshake failed first.
        assert!(presented.try_recv().is_err());
    })
    .await;
}

#[cfg(feature = "cli")]
#[test]
fn osi_connect_tls_against_osi_listen_tls() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    let pki = Pki::new();
    let server = pki.leaf("localhost");
    let client = pki.leaf("client.example");
    let dir = std::env::temp_dir().join(format!("osi-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let ca = write("ca.pem", &pki.ca_pem);
    let other_ca = write("other.pem", &Pki::new().ca_pem);
    let cert = write("server.pem", &server.cert_pem);
    let key = write("server.key", &server.key_pem);
    let ccert = write("client.pem", &client.cert_pem);
    let ckey = write("client.key", &client.key_pem);

    let mut child = Command::new(env!("CARGO_BIN_EXE_osi"))
        .args(["listen", "127.0.0.1:0", "--format", "json", "--echo"])
        .args(["--tls", "--cert", &cert, "--key", &key, "--client-ca", &ca])
        .args(["--max-associations", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let _guard = Kill(child);
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    let address = v["address"].as_str().unwrap().to_owned();

    let connect = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_osi"))
            .args(["connect", &address, "--format", "json", "--timeout", "5"])
            .args(["--tls", "--server-name", "localhost"])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = connect(&[
        "--ca",
        &ca,
        "--cert",
        &ccert,
        "--key",
        &ckey,
        "--send",
        "3=a0050201028200",
    ]);
    assert_eq!(code, Some(0), "{out}");
    let events: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].to_string())
        .collect();
    assert_eq!(
        events,
        [
            "\"transport-connected\"",
            "\"associated\"",
            "\"data\"",
            "\"released\""
        ],
        "{out}"
    );
    // The server's certificate does not chain to this CA.
    let (code, out) = connect(&["--ca", &other_ca, "--cert", &ccert, "--key", &ckey]);
    assert_eq!(code, Some(1), "{out}");
    // No client certificate: the listener refuses.
    let (code, out) = connect(&["--ca", &ca]);
    assert_eq!(code, Some(1), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The options reach the rustls configurations of both sides (the versions are exercised by
/// the associations above): resumption and the client's identity.
#[test]
fn options_reach_both_configurations() {
    let pki = Pki::new();
    let leaf = pki.leaf("localhost");
    let server = |resumption| {
        tls::server_config(
            &tls::ServerOptions::new(vec![leaf.cert.clone()], leaf.key.clone_key())
                .with_resumption(resumption),
        )
        .unwrap()
    };
    assert!(server(true).send_tls13_tickets > 0);
    assert_eq!(server(false).send_tls13_tickets, 0);
    let client = |o: tls::ClientOptions| tls::client_config(&o).unwrap();
    let anonymous = client(tls::ClientOptions::new(vec![pki.ca.clone()]));
    assert!(!anonymous.client_auth_cert_resolver.has_certs());
    let identified = client(
        tls::ClientOptions::new(vec![pki.ca.clone()])
            .with_identity(vec![leaf.cert.clone()], leaf.key.clone_key()),
    );
    assert!(identified.client_auth_cert_resolver.has_certs());
}
