//! Files through the gateways: a customer's upload becomes a message
//! carrying the file (webchat visitor or API), and a file a message names
//! is served back (to the visitor of that chat, or to an API token).
//!
//! An upload is the request body itself (any content type), its name in
//! the `name` query parameter. Its size is bounded by the node's file limit
//! (`files.json`, 20 MiB by default; 413 above it), read with that bound
//! whatever the request says, and the type recorded is the one the bytes
//! show (`blobs::sniff_mime`), never the client's word.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use meshdesk_model::InteractionId;
use meshdesk_model::blobs::{self, Attachment, BlobHash};
use meshdesk_model::ops::{InteractionDetail, Request};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use super::intake;
use crate::backend::{Backend, ErrorKind};

/// The `name` query parameter of an upload.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct FileQuery {
    pub name: String,
}

/// A file as the gateways show it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ApiFile {
    /// blake3 of the bytes, 64 lowercase hex digits.
    pub hash: String,
    pub size: u64,
    pub mime: String,
    pub name: String,
}

impl From<&Attachment> for ApiFile {
    fn from(a: &Attachment) -> Self {
        ApiFile {
            hash: a.hash.to_hex(),
            size: a.size,
            mime: a.mime.clone(),
            name: a.name.clone(),
        }
    }
}

/// Reads an upload's body (at most the node's limit), stores it, and adds
/// a customer message carrying it to interaction `id`. `closed`: what a
/// finalized interaction is called to this client.
pub(super) async fn upload<B: Backend>(
    state: &AppState<B>,
    id: InteractionId,
    name: &str,
    body: Body,
    closed: &str,
) -> Result<Attachment, ApiError> {
    intake::check_budget(state, id).await?;
    let limit = state.backend.file_limit();
    let bytes = axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the file is over this server's limit of {limit} bytes"),
            )
        })?;
    if bytes.is_empty() {
        return Err(ApiError::bad_field("body", "the file is empty"));
    }
    let name = blobs::clean_name(name);
    let file = Attachment {
        hash: BlobHash::of(&bytes),
        size: bytes.len() as u64,
        mime: blobs::sniff_mime(&name, &bytes).to_string(),
        name,
    };
    state.backend.put_file(bytes.to_vec()).await?;
    state
        .backend
        .ask::<()>(Request::SendFiles {
            id,
            text: String::new(),
            files: vec![file.clone()],
            customer: true,
        })
        .await
        .map_err(|e| match e.kind {
            ErrorKind::Conflict => ApiError::new(StatusCode::CONFLICT, closed),
            _ => ApiError::from(e),
        })?;
    state.messages.spend(&id);
    tracing::info!(%id, hash = %file.hash, size = file.size, "file received from a customer");
    Ok(file)
}

/// A hash from a URL: malformed is a 400.
pub(super) fn hash(raw: &str) -> Result<BlobHash, ApiError> {
    raw.parse()
        .map_err(|e: blobs::BadHash| ApiError::bad_field("hash", e.to_string()))
}

/// The file `hash` if a message of `detail` carries it.
pub(super) fn named_in(detail: &InteractionDetail, hash: BlobHash) -> Option<Attachment> {
    detail
        .interaction
        .messages
        .iter()
        .flat_map(|m| &m.attachments)
        .find(|a| a.hash == hash)
        .cloned()
}

/// A file's bytes as a response: pictures shown as what they are, anything
/// else as a download; never run, never sniffed (and `nosniff` is on every
/// response), under a policy that loads nothing.
pub(super) async fn serve<B: Backend>(
    state: &AppState<B>,
    hash: BlobHash,
    file: Option<&Attachment>,
) -> Result<Response, ApiError> {
    let bytes = state.backend.file(hash).await?;
    let image = file.filter(|f| f.is_image());
    let content_type = image.map_or("application/octet-stream", |f| f.mime.as_str());
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers: &mut HeaderMap = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    let name = file.map_or_else(|| hash.to_hex(), |f| f.name.clone());
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = if image.is_some() {
        format!("inline; filename=\"{ascii}\"")
    } else {
        format!("attachment; filename=\"{ascii}\"")
    };
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
