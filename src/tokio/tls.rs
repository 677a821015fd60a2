//! RFC 1006 over TLS (feature `tls`): the TPKT/COTP byte stream inside a TLS session, as IEC
//! 62351-3 profiles it for IEC 61850 and ICCP (TLS 1.2 and 1.3, certificates checked against
//! the configured roots, mutual authentication when the server asks for client certificates;
//! no ALPN, the port, usually 3782, tells the protocol). Built on rustls with the `ring`
//! crypto provider.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use osi_stack::association::{AssociateRequest, Config, Dispatch};
//! use osi_stack::tokio::{Dialer, Listener, tls};
//!
//! // Server: certificate chain and key from PEM files, clients must present a certificate.
//! let server = tls::ServerOptions::new(
//!     tls::load_certs("server.pem")?,
//!     tls::load_key("server.key")?,
//! )
//! .with_client_ca(Some(tls::load_certs("ca.pem")?));
//! let acceptor = tls::acceptor(&server)?;
//! let listener = Listener::bind("0.0.0.0:3782", Config::default(), Dispatch::default()).await?;
//! # drop((listener, acceptor));
//!
//! // Client: the server's certificate must chain to `ca.pem` and name `ied1.example`.
//! let client = tls::ClientOptions::new(tls::load_certs("ca.pem")?);
//! let connector = tls::connector(&client)?;
//! let (conn, _events) = Dialer::new()
//!     .associate_with("ied1.example:3782", Config::default(), AssociateRequest::mms(),
//!         tls::upgrade_client(connector, "ied1.example")?)
//!     .await?;
//! # drop(conn);
//! # Ok(()) }
//! ```

use std::fs::File;
use std::future::Future;
use std::io::{self, BufReader};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use ::tokio::net::TcpStream;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
pub use tokio_rustls::rustls;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{
    ClientConfig, ConfigBuilder, ConfigSide, RootCertStore, ServerConfig, WantsVerifier,
    WantsVersions,
};
pub use tokio_rustls::{TlsAcceptor, TlsConnector, client, server};

use super::connection::Connection;
use super::listener::Accepted;

/// Which TLS versions to offer or accept. IEC 62351-3 (ed. 2) asks for TLS 1.2 and allows
/// 1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Versions {
    /// TLS 1.2 and 1.3 (the default).
    #[default]
    Both,
    /// TLS 1.2 only.
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl Versions {
    fn list(self) -> &'static [&'static rustls::SupportedProtocolVersion] {
        static BOTH: [&rustls::SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        static TLS12: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
        static TLS13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        match self {
            Versions::Both => &BOTH,
            Versions::Tls12 => &TLS12,
            Versions::Tls13 => &TLS13,
        }
    }
}

/// A TLS configuration that could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read or holds nothing usable.
    #[error("tls: {0}")]
    Io(#[from] io::Error),
    /// rustls refused the configuration (a key that does not match, no usable versions …).
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built (no usable CA certificate).
    #[error("tls: client certificate verifier: {0}")]
    Verifier(String),
    /// A server name that is neither a DNS name nor an IP address.
    #[error("tls: invalid server name {0:?}")]
    ServerName(String),
}

/// The certificates of a PEM file, in order.
pub fn load_certs(path: impl AsRef<Path>) -> io::Result<Vec<CertificateDer<'static>>> {
    let path = path.as_ref();
    let reader = BufReader::new(File::open(path)?);
    let certs = CertificateDer::pem_reader_iter(reader)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: no certificate", path.display()),
        ));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) of a PEM file.
pub fn load_key(path: impl AsRef<Path>) -> io::Result<PrivateKeyDer<'static>> {
    let path = path.as_ref();
    let reader = BufReader::new(File::open(path)?);
    PrivateKeyDer::from_pem_reader(reader).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(certs: &[CertificateDer<'static>]) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for c in certs {
        store.add(c.clone())?;
    }
    Ok(store)
}

/// What a TLS server presents and asks for.
#[derive(Debug)]
#[non_exhaustive]
pub struct ServerOptions {
    /// The server's certificate chain, its own first.
    pub cert_chain: Vec<CertificateDer<'static>>,
    /// The server's private key.
    pub key: PrivateKeyDer<'static>,
    /// When set, clients must present a certificate chaining to one of these.
    pub client_ca: Option<Vec<CertificateDer<'static>>>,
    /// Accepted versions. Default both.
    pub versions: Versions,
    /// Session resumption (session IDs and TLS 1.3 tickets). Default on.
    pub resumption: bool,
}

impl ServerOptions {
    /// A server presenting `cert_chain` with `key`, no client certificates asked for.
    pub fn new(cert_chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        ServerOptions {
            cert_chain,
            key,
            client_ca: None,
            versions: Versions::Both,
            resumption: true,
        }
    }

    /// The same, asking clients for a certificate from `ca`.
    #[must_use]
    pub fn with_client_ca(mut self, ca: Option<Vec<CertificateDer<'static>>>) -> Self {
        self.client_ca = ca;
        self
    }

    /// The same with other versions.
    #[must_use]
    pub fn with_versions(mut self, versions: Versions) -> Self {
        self.versions = versions;
        self
    }

    /// The same with session resumption on or off.
    #[must_use]
    pub fn with_resumption(mut self, on: bool) -> Self {
        self.resumption = on;
        self
    }
}

/// What differs between the two sides' rustls configurations; [`build`] does the rest.
trait Side {
    /// `ServerConfig` or `ClientConfig`.
    type Config: ConfigSide;
    fn versions(&self) -> Versions;
    fn resumption(&self) -> bool;
    /// The side's builder with the crate's provider.
    fn start() -> ConfigBuilder<Self::Config, WantsVersions>;
    /// The peer's verification and this side's own certificate.
    fn certificates(
        &self,
        builder: ConfigBuilder<Self::Config, WantsVerifier>,
    ) -> Result<Self::Config, TlsError>;
    /// Turns session resumption off.
    fn no_resumption(config: &mut Self::Config);
}

/// The one builder of both sides' configurations: the ring provider, the versions, the
/// side's certificates, resumption.
fn build<O: Side>(opts: &O) -> Result<Arc<O::Config>, TlsError> {
    let builder = O::start().with_protocol_versions(opts.versions().list())?;
    let mut config = opts.certificates(builder)?;
    if !opts.resumption() {
        O::no_resumption(&mut config);
    }
    Ok(Arc::new(config))
}

impl Side for ServerOptions {
    type Config = ServerConfig;
    fn versions(&self) -> Versions {
        self.versions
    }
    fn resumption(&self) -> bool {
        self.resumption
    }
    fn start() -> ConfigBuilder<ServerConfig, WantsVersions> {
        ServerConfig::builder_with_provider(provider())
    }
    fn certificates(
        &self,
        builder: ConfigBuilder<ServerConfig, WantsVerifier>,
    ) -> Result<ServerConfig, TlsError> {
        let builder = match &self.client_ca {
            Some(ca) => {
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
                        .build()
                        .map_err(|e| TlsError::Verifier(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        Ok(builder.with_single_cert(self.cert_chain.clone(), self.key.clone_key())?)
    }
    fn no_resumption(config: &mut ServerConfig) {
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
}

/// The rustls server configuration of `opts`.
pub fn server_config(opts: &ServerOptions) -> Result<Arc<ServerConfig>, TlsError> {
    build(opts)
}

/// A TLS acceptor for `opts`.
pub fn acceptor(opts: &ServerOptions) -> Result<TlsAcceptor, TlsError> {
    Ok(TlsAcceptor::from(server_config(opts)?))
}

/// What a TLS client trusts and presents.
#[derive(Debug)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The server's certificate must chain to one of these.
    pub roots: Vec<CertificateDer<'static>>,
    /// A client certificate chain and key, for servers that ask for one.
    pub identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    /// Offered versions. Default both.
    pub versions: Versions,
    /// Session resumption. Default on.
    pub resumption: bool,
}

impl ClientOptions {
    /// A client trusting `roots`, with no certificate of its own.
    pub fn new(roots: Vec<CertificateDer<'static>>) -> Self {
        ClientOptions {
            roots,
            identity: None,
            versions: Versions::Both,
            resumption: true,
        }
    }

    /// The same presenting `chain` and `key` when asked.
    #[must_use]
    pub fn with_identity(
        mut self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        self.identity = Some((chain, key));
        self
    }

    /// The same with other versions.
    #[must_use]
    pub fn with_versions(mut self, versions: Versions) -> Self {
        self.versions = versions;
        self
    }

    /// The same with session resumption on or off.
    #[must_use]
    pub fn with_resumption(mut self, on: bool) -> Self {
        self.resumption = on;
        self
    }
}

impl Side for ClientOptions {
    type Config = ClientConfig;
    fn versions(&self) -> Versions {
        self.versions
    }
    fn resumption(&self) -> bool {
        self.resumption
    }
    fn start() -> ConfigBuilder<ClientConfig, WantsVersions> {
        ClientConfig::builder_with_provider(provider())
    }
    fn certificates(
        &self,
        builder: ConfigBuilder<ClientConfig, WantsVerifier>,
    ) -> Result<ClientConfig, TlsError> {
        let builder = builder.with_root_certificates(roots(&self.roots)?);
        Ok(match &self.identity {
            Some((chain, key)) => builder.with_client_auth_cert(chain.clone(), key.clone_key())?,
            None => builder.with_no_client_auth(),
        })
    }
    fn no_resumption(config: &mut ClientConfig) {
        config.resumption = rustls::client::Resumption::disabled();
    }
}

/// The rustls client configuration of `opts`.
pub fn client_config(opts: &ClientOptions) -> Result<Arc<ClientConfig>, TlsError> {
    build(opts)
}

/// A TLS connector for `opts`.
pub fn connector(opts: &ClientOptions) -> Result<TlsConnector, TlsError> {
    Ok(TlsConnector::from(client_config(opts)?))
}

/// A boxed TLS handshake future.
pub type Handshake<S> = Pin<Box<dyn Future<Output = io::Result<S>> + Send>>;

/// The `upgrade` of [`Dialer::associate_with`](super::Dialer::associate_with): a TLS client
/// handshake with `connector`, checking that the server's certificate names `server_name` (a
/// DNS name or an IP address).
pub fn upgrade_client(
    connector: TlsConnector,
    server_name: &str,
) -> Result<impl Fn(TcpStream) -> Handshake<client::TlsStream<TcpStream>> + use<>, TlsError> {
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|_| TlsError::ServerName(server_name.to_owned()))?;
    Ok(
        move |tcp: TcpStream| -> Handshake<client::TlsStream<TcpStream>> {
            let connector = connector.clone();
            let name = name.clone();
            Box::pin(async move { connector.connect(name, tcp).await })
        },
    )
}

/// The `upgrade` of [`Listener::serve_with`](super::Listener::serve_with) and
/// [`Accepted::upgrade`]: a TLS server handshake with `acceptor`.
pub fn upgrade_server(
    acceptor: TlsAcceptor,
) -> impl Fn(TcpStream) -> Handshake<server::TlsStream<TcpStream>> + Clone + Send + 'static {
    move |tcp: TcpStream| -> Handshake<server::TlsStream<TcpStream>> {
        let acceptor = acceptor.clone();
        Box::pin(async move { acceptor.accept(tcp).await })
    }
}

/// An accepted connection over TLS: the handshake, within what is left of the connect timer.
///
/// Cancel safety: cancel safe; the connection is dropped.
pub async fn accept(
    accepted: Accepted,
    acceptor: &TlsAcceptor,
) -> io::Result<Connection<server::TlsStream<TcpStream>>> {
    accepted.upgrade(upgrade_server(acceptor.clone())).await
}
