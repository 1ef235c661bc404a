//! The control socket: how the CLI talks to a node running on the same data dir.
//!
//! `<data_dir>/control.sock`, a Unix socket only its owner may use (0600).
//! Each request is one line of JSON ([`ControlRequest`]), each answer one line
//! of JSON ([`ControlResponse`]). A domain request travels as
//! `{"cmd":"op","request":{…}}` and comes back as the very [`Reply`] that
//! [`meshdesk_model::ops::execute`] gives without a node, so the CLI prints
//! the same either way:
//!
//! ```text
//! → {"cmd":"op","request":{"request":"list-contacts","search":null,"limit":null}}
//! ← {"status":"ok","value":{"kind":"op","value":{"reply":"contacts","value":[…]}}}
//! → {"cmd":"invite","ttl_ms":86400000,"uses":1}
//! ← {"status":"ok","value":{"kind":"invite","value":{"code":"MD1-…","expires_at":…,"addrs":[…]}}}
//! ← {"status":"error","message":"only a supervisor can revoke devices","user_error":true}
//! ```
//!
//! [`Client::connect`] gives `Ok(None)` when no node runs (no socket, or a
//! stale one nobody answers), so the CLI then opens the store itself.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use meshdesk_model::Millis;
use meshdesk_model::ops::{Reply, Request};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::node::{
    BundleExported, BundleReport, NodeError, NodeHandle, NodeStatus, OpenDataExported, PeerInfo,
};
use crate::team::MemberInfo;

/// The socket's file name in the data dir.
pub const SOCKET_FILE: &str = "control.sock";
/// The longest request line a node reads (a message body is far below this).
const MAX_LINE: usize = 4 * 1024 * 1024;

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

/// A request to a running node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum ControlRequest {
    /// A domain request, executed exactly as without a node.
    Op {
        request: Request,
    },
    /// `team invite`: the code carries the node's listen addresses.
    Invite {
        ttl_ms: Millis,
        uses: u32,
        /// Campaign names or ids the joiners are added to.
        #[serde(default)]
        campaigns: Vec<String>,
    },
    /// `team members`, with online state.
    Members,
    /// `team revoke DEVICE`.
    Revoke {
        device: String,
    },
    Peers,
    Status,
    /// `bundle export FILE [--since-device D]`; `path` is absolute.
    BundleExport {
        path: PathBuf,
        since_device: Option<String>,
    },
    /// `bundle import FILE`; `path` is absolute.
    BundleImport {
        path: PathBuf,
    },
    /// `export --automerge DIR`; `dir` is absolute.
    ExportAutomerge {
        dir: PathBuf,
    },
    /// `file get HASH`: make the file present in the data dir's blobs,
    /// fetched from a teammate if need be.
    FetchFile {
        hash: meshdesk_model::blobs::BlobHash,
    },
    /// Stop the node (as SIGTERM does).
    Shutdown,
}

/// A successful answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum ControlReply {
    Op(Reply),
    Invite {
        code: String,
        expires_at: Millis,
        addrs: Vec<String>,
    },
    Members(Vec<MemberInfo>),
    Peers(Vec<PeerInfo>),
    Status(NodeStatus),
    BundleExported(BundleExported),
    BundleImported(BundleReport),
    OpenData(OpenDataExported),
    Done,
}

/// One answer line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ControlResponse {
    Ok { value: ControlReply },
    Error { message: String, user_error: bool },
}

impl ControlResponse {
    fn from_result(result: Result<ControlReply, NodeError>) -> Self {
        match result {
            Ok(value) => ControlResponse::Ok { value },
            Err(e) => ControlResponse::Error {
                user_error: e.is_user_error(),
                message: e.to_string(),
            },
        }
    }
}

/// Why a control request failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot talk to the node: {0}")]
    Io(#[from] std::io::Error),
    #[error("the node gave an answer this version does not understand: {0}")]
    Protocol(String),
    /// The node refused or failed the request; `message` is for the user.
    #[error("{message}")]
    Remote { message: String, user_error: bool },
}

/// The running control socket server.
#[derive(Debug)]
pub struct ControlServer {
    task: JoinHandle<()>,
    path: PathBuf,
}

impl ControlServer {
    /// Stops serving and removes the socket file.
    pub fn stop(self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds `<data_dir>/control.sock` (owner-only) and serves it with `handle`.
pub(crate) async fn serve(data_dir: &Path, handle: NodeHandle) -> Result<ControlServer, NodeError> {
    let path = socket_path(data_dir);
    let err = |reason: String| NodeError::Control {
        path: path.clone(),
        reason,
    };
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(&path).is_ok() {
            return Err(err("a node is already running on this data dir".into()));
        }
        std::fs::remove_file(&path)
            .map_err(|e| err(format!("cannot remove the stale socket: {e}")))?;
    }
    // Bind under a temporary name, restrict it, then move it into place, so
    // the socket is never reachable with looser permissions.
    let tmp = data_dir.join(format!("control.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let listener = tokio::net::UnixListener::bind(&tmp).map_err(|e| err(e.to_string()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| err(e.to_string()))?;
    }
    std::fs::rename(&tmp, &path).map_err(|e| err(e.to_string()))?;
    tracing::debug!(path = %path.display(), "control socket ready");
    let task = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(stream, handle.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "control socket accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(ControlServer { task, path })
}

async fn serve_connection(stream: tokio::net::UnixStream, handle: NodeHandle) {
    let (read, mut write) = stream.into_split();
    let mut reader = tokio::io::BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        match (&mut reader)
            .take(MAX_LINE as u64)
            .read_line(&mut line)
            .await
        {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "control connection failed");
                return;
            }
        }
        let mut shutdown = false;
        let response = match serde_json::from_str::<ControlRequest>(line.trim()) {
            Ok(request) => {
                shutdown = matches!(request, ControlRequest::Shutdown);
                ControlResponse::from_result(dispatch(&handle, request).await)
            }
            Err(e) => ControlResponse::Error {
                message: format!("bad control request: {e}"),
                user_error: true,
            },
        };
        let mut out = serde_json::to_string(&response).unwrap_or_else(|e| {
            format!(r#"{{"status":"error","message":"cannot encode the answer: {e}","user_error":false}}"#)
        });
        out.push('\n');
        if write.write_all(out.as_bytes()).await.is_err() {
            return;
        }
        let _ = write.flush().await;
        if shutdown {
            let _ = handle.shutdown().await;
            return;
        }
    }
}

use tokio::io::AsyncReadExt as _;

async fn dispatch(handle: &NodeHandle, request: ControlRequest) -> Result<ControlReply, NodeError> {
    Ok(match request {
        ControlRequest::Op { request } => ControlReply::Op(handle.execute(request).await?),
        ControlRequest::Invite {
            ttl_ms,
            uses,
            campaigns,
        } => {
            let code = handle.invite_into(ttl_ms, uses, campaigns).await?;
            ControlReply::Invite {
                code: code.encode(),
                expires_at: code.expires_at,
                addrs: code.addrs.iter().map(|a| a.to_string()).collect(),
            }
        }
        ControlRequest::Members => ControlReply::Members(handle.members().await?),
        ControlRequest::Revoke { device } => {
            handle.revoke(device).await?;
            ControlReply::Done
        }
        ControlRequest::Peers => ControlReply::Peers(handle.peers().await?),
        ControlRequest::Status => ControlReply::Status(handle.status().await?),
        ControlRequest::BundleExport { path, since_device } => {
            ControlReply::BundleExported(handle.export_bundle(path, since_device).await?)
        }
        ControlRequest::BundleImport { path } => {
            ControlReply::BundleImported(handle.import_bundle(path).await?)
        }
        ControlRequest::ExportAutomerge { dir } => {
            ControlReply::OpenData(handle.export_open_data(dir).await?)
        }
        ControlRequest::FetchFile { hash } => {
            handle.fetch_file(hash).await?;
            ControlReply::Done
        }
        ControlRequest::Shutdown => ControlReply::Done,
    })
}

/// A blocking client of a node's control socket, for the CLI.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<std::os::unix::net::UnixStream>,
    writer: std::os::unix::net::UnixStream,
}

impl Client {
    /// Connects to the node running on `data_dir`; `Ok(None)` if none runs.
    pub fn connect(data_dir: &Path) -> Result<Option<Client>, ControlError> {
        let path = socket_path(data_dir);
        let stream = match std::os::unix::net::UnixStream::connect(&path) {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        let writer = stream.try_clone()?;
        Ok(Some(Client {
            reader: BufReader::new(stream),
            writer,
        }))
    }

    /// Sends one request and waits for its answer.
    pub fn request(&mut self, request: &ControlRequest) -> Result<ControlReply, ControlError> {
        let mut line =
            serde_json::to_string(request).map_err(|e| ControlError::Protocol(e.to_string()))?;
        line.push('\n');
        self.writer.write_all(line.as_bytes())?;
        self.writer.flush()?;
        let mut answer = String::new();
        if self.reader.read_line(&mut answer)? == 0 {
            return Err(ControlError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the node closed the control connection",
            )));
        }
        match serde_json::from_str::<ControlResponse>(answer.trim()) {
            Ok(ControlResponse::Ok { value }) => Ok(value),
            Ok(ControlResponse::Error {
                message,
                user_error,
            }) => Err(ControlError::Remote {
                message,
                user_error,
            }),
            Err(e) => Err(ControlError::Protocol(e.to_string())),
        }
    }

    /// Runs a domain request on the node: the same [`Reply`] as without a node.
    pub fn execute(&mut self, request: Request) -> Result<Reply, ControlError> {
        self.expect(&ControlRequest::Op { request }, |answer| match answer {
            ControlReply::Op(reply) => Ok(reply),
            other => Err(Box::new(other)),
        })
    }

    /// `team invite`: the code and when it expires.
    pub fn invite(
        &mut self,
        ttl_ms: Millis,
        uses: u32,
        campaigns: Vec<String>,
    ) -> Result<(String, Millis), ControlError> {
        self.expect(
            &ControlRequest::Invite {
                ttl_ms,
                uses,
                campaigns,
            },
            |answer| match answer {
                ControlReply::Invite {
                    code, expires_at, ..
                } => Ok((code, expires_at)),
                other => Err(Box::new(other)),
            },
        )
    }

    /// `team members`, with online state.
    pub fn members(&mut self) -> Result<Vec<MemberInfo>, ControlError> {
        self.expect(&ControlRequest::Members, |answer| match answer {
            ControlReply::Members(members) => Ok(members),
            other => Err(Box::new(other)),
        })
    }

    /// `team peers`: the teammates linked now, and how.
    pub fn peers(&mut self) -> Result<Vec<PeerInfo>, ControlError> {
        self.expect(&ControlRequest::Peers, |answer| match answer {
            ControlReply::Peers(peers) => Ok(peers),
            other => Err(Box::new(other)),
        })
    }

    /// `bundle export`: what was written.
    pub fn export_bundle(
        &mut self,
        path: PathBuf,
        since_device: Option<String>,
    ) -> Result<BundleExported, ControlError> {
        self.expect(
            &ControlRequest::BundleExport { path, since_device },
            |answer| match answer {
                ControlReply::BundleExported(done) => Ok(done),
                other => Err(Box::new(other)),
            },
        )
    }

    /// `bundle import`: what the bundle did to the store.
    pub fn import_bundle(&mut self, path: PathBuf) -> Result<BundleReport, ControlError> {
        self.expect(
            &ControlRequest::BundleImport { path },
            |answer| match answer {
                ControlReply::BundleImported(report) => Ok(report),
                other => Err(Box::new(other)),
            },
        )
    }

    /// `export --automerge DIR`: what was written.
    pub fn export_open_data(&mut self, dir: PathBuf) -> Result<OpenDataExported, ControlError> {
        self.expect(
            &ControlRequest::ExportAutomerge { dir },
            |answer| match answer {
                ControlReply::OpenData(done) => Ok(done),
                other => Err(Box::new(other)),
            },
        )
    }

    /// Sends a request and takes the one kind of answer it gives.
    fn expect<T>(
        &mut self,
        request: &ControlRequest,
        take: impl FnOnce(ControlReply) -> Result<T, Box<ControlReply>>,
    ) -> Result<T, ControlError> {
        take(self.request(request)?)
            .map_err(|other| ControlError::Protocol(format!("unexpected answer {other:?}")))
    }
}
