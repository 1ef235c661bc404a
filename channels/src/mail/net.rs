//! Connections to a mailbox's servers: IMAP (async-imap) and SMTP (lettre),
//! over rustls with the platform's roots (or `SSL_CERT_FILE`), each failure
//! named by the step that failed: DNS, connecting, TLS, logging in.

use std::sync::Arc;
use std::time::Duration;

use lettre::AsyncSmtpTransport;
use lettre::Tokio1Executor;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use meshdesk_model::{MailServer, MailTls};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::MailError;

/// How long one step (resolving, connecting, a handshake) may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// A stream IMAP runs over: plain TCP or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Stream for T {}

pub type ImapSession = async_imap::Session<Box<dyn Stream>>;

fn roots() -> Vec<rustls::pki_types::CertificateDer<'static>> {
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::debug!(error = %e, "a platform certificate could not be read");
    }
    found.certs
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    let mut store = rustls::RootCertStore::empty();
    let (_added, _ignored) = store.add_parsable_certificates(roots());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(store).with_no_client_auth());
    match config {
        Ok(c) => Arc::new(c),
        // ring supports the default versions; this is unreachable in practice.
        Err(e) => {
            tracing::error!(error = %e, "no TLS configuration");
            Arc::new(
                rustls::ClientConfig::builder()
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
            )
        }
    }
}

async fn tcp(server: &MailServer) -> Result<TcpStream, MailError> {
    let what = format!("{}:{}", server.host, server.port);
    let addrs: Vec<_> = tokio::time::timeout(
        STEP_TIMEOUT,
        tokio::net::lookup_host((server.host.as_str(), server.port)),
    )
    .await
    .map_err(|_| MailError::Dns(what.clone(), "timed out".into()))?
    .map_err(|e| MailError::Dns(what.clone(), e.to_string()))?
    .collect();
    if addrs.is_empty() {
        return Err(MailError::Dns(what, "no address".into()));
    }
    tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(&addrs[..]))
        .await
        .map_err(|_| MailError::Connect(what.clone(), "timed out".into()))?
        .map_err(|e| MailError::Connect(what, e.to_string()))
}

async fn tls_over(
    server: &MailServer,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, MailError> {
    let what = format!("{}:{}", server.host, server.port);
    let name = rustls::pki_types::ServerName::try_from(server.host.clone())
        .map_err(|e| MailError::Tls(what.clone(), e.to_string()))?;
    let connector = tokio_rustls::TlsConnector::from(tls_config());
    tokio::time::timeout(STEP_TIMEOUT, connector.connect(name, tcp))
        .await
        .map_err(|_| MailError::Tls(what.clone(), "the handshake timed out".into()))?
        .map_err(|e| MailError::Tls(what, e.to_string()))
}

fn protocol(server: &MailServer, e: impl std::fmt::Display) -> MailError {
    MailError::Protocol(format!("{}:{}", server.host, server.port), e.to_string())
}

async fn greeted<T: Stream>(
    server: &MailServer,
    stream: T,
) -> Result<async_imap::Client<T>, MailError> {
    let mut client = async_imap::Client::new(stream);
    match tokio::time::timeout(STEP_TIMEOUT, client.read_response()).await {
        Ok(Ok(Some(_))) => Ok(client),
        Ok(Ok(None)) => Err(protocol(server, "the server closed the connection")),
        Ok(Err(e)) => Err(protocol(server, e)),
        Err(_) => Err(protocol(server, "no greeting")),
    }
}

/// Connects and logs in to a mailbox's IMAP server.
pub async fn imap_login(server: &MailServer, password: &str) -> Result<ImapSession, MailError> {
    let tcp = tcp(server).await?;
    let client = match server.tls {
        MailTls::Tls => {
            let tls: Box<dyn Stream> = Box::new(tls_over(server, tcp).await?);
            greeted(server, tls).await?
        }
        MailTls::None => {
            let plain: Box<dyn Stream> = Box::new(tcp);
            greeted(server, plain).await?
        }
        MailTls::Starttls => {
            let mut plain = greeted(server, tcp).await?;
            plain
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| {
                    MailError::Tls(
                        format!("{}:{}", server.host, server.port),
                        format!("STARTTLS refused: {e}"),
                    )
                })?;
            // Nothing was read past the tagged OK: TLS starts here.
            let tcp = plain.into_inner();
            let tls: Box<dyn Stream> = Box::new(tls_over(server, tcp).await?);
            async_imap::Client::new(tls)
        }
    };
    tokio::time::timeout(STEP_TIMEOUT, client.login(&server.user, password))
        .await
        .map_err(|_| protocol(server, "login timed out"))?
        .map_err(|(e, _)| {
            MailError::Auth(
                format!("IMAP {}:{}", server.host, server.port),
                server.user.clone(),
                e.to_string(),
            )
        })
}

/// Checks a mailbox's IMAP server: connects, logs in, opens INBOX.
pub async fn imap_check(server: &MailServer, password: &str) -> Result<String, MailError> {
    let mut session = imap_login(server, password).await?;
    let inbox = session
        .select("INBOX")
        .await
        .map_err(|e| protocol(server, format!("INBOX: {e}")))?;
    let idle = session
        .capabilities()
        .await
        .map(|c| c.has_str("IDLE"))
        .unwrap_or(false);
    let _ = session.logout().await;
    Ok(format!(
        "IMAP {}:{} ({}): logged in as {}, INBOX holds {} messages{}",
        server.host,
        server.port,
        server.tls,
        server.user,
        inbox.exists,
        if idle {
            ", IDLE offered"
        } else {
            ", no IDLE (polling)"
        }
    ))
}

/// An SMTP transport for a mailbox's server.
pub fn smtp_transport(
    server: &MailServer,
    password: &str,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let what = format!("{}:{}", server.host, server.port);
    let mut params =
        TlsParameters::builder(server.host.clone()).certificate_store(CertificateStore::None);
    for der in roots() {
        match Certificate::from_der(der.to_vec()) {
            Ok(cert) => params = params.add_root_certificate(cert),
            Err(e) => tracing::debug!(error = %e, "a platform certificate was skipped"),
        }
    }
    let tls = match server.tls {
        MailTls::None => Tls::None,
        mode => {
            let params: TlsParameters = params
                .build_rustls()
                .map_err(|e| MailError::Tls(what.clone(), e.to_string()))?;
            if mode == MailTls::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        }
    };
    Ok(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.as_str())
            .port(server.port)
            .tls(tls)
            .credentials(Credentials::new(server.user.clone(), password.to_string()))
            .timeout(Some(STEP_TIMEOUT))
            .build(),
    )
}

/// What an SMTP failure was, in the words `mailbox test` shows.
pub fn smtp_error(server: &MailServer, e: &lettre::transport::smtp::Error) -> MailError {
    let what = format!("{}:{}", server.host, server.port);
    let text = e.to_string();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    let full = if detail.is_empty() || text.contains(&detail) {
        text.clone()
    } else {
        format!("{text}: {detail}")
    };
    let lower = full.to_lowercase();
    if e.is_tls() || lower.contains("certificate") || lower.contains("tls") {
        MailError::Tls(what, full)
    } else if e.status().is_some_and(|c| c.to_string().starts_with("535"))
        || lower.contains("authentication")
        || lower.contains("auth")
    {
        MailError::Auth(format!("SMTP {what}"), server.user.clone(), full)
    } else if lower.contains("resolve")
        || lower.contains("lookup")
        || lower.contains("name or service")
    {
        MailError::Dns(what, full)
    } else if lower.contains("connect") || e.is_timeout() {
        MailError::Connect(what, full)
    } else {
        MailError::Protocol(what, full)
    }
}

/// Checks a mailbox's SMTP server: resolves it, connects, TLS, logs in.
pub async fn smtp_check(server: &MailServer, password: &str) -> Result<String, MailError> {
    // DNS and connecting first, so their failures are named as such.
    drop(tcp(server).await?);
    let transport = smtp_transport(server, password)?;
    match transport.test_connection().await {
        Ok(true) => Ok(format!(
            "SMTP {}:{} ({}): logged in as {}",
            server.host, server.port, server.tls, server.user
        )),
        Ok(false) => Err(protocol(server, "the server did not answer")),
        Err(e) => Err(smtp_error(server, &e)),
    }
}
