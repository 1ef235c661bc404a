//! HTTP errors as JSON `{"error": "..."}`, and a JSON body extractor whose
//! rejections name the field at fault.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::{BackendError, ErrorKind};

/// An error answer: a status and a one-line message, as `{"error": "..."}`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// The body field at fault, for 400s about the body.
    pub field: Option<String>,
    /// Seconds to wait, for 429s.
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn bad_field(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::bad_request(message);
        e.field = Some(field.to_string());
        e
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    pub fn too_many(wait: std::time::Duration) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests; slow down",
        );
        e.retry_after = Some(wait.as_secs().max(1));
        e
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        let status = match e.kind {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => {
                tracing::error!(error = %e.message, "request failed");
                return ApiError::internal();
            }
        };
        ApiError::new(status, e.message)
    }
}

impl From<crate::error::ChannelError> for ApiError {
    fn from(e: crate::error::ChannelError) -> Self {
        use crate::error::ChannelError as E;
        match e {
            E::Invalid(m) => ApiError::bad_request(m),
            E::NotFound(m) => ApiError::not_found(m),
            E::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, m),
            other => {
                tracing::error!(error = %other, "channel state failed");
                ApiError::internal()
            }
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
            field: self.field.as_deref(),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A JSON request body. Malformed JSON is a 400 naming the field at fault,
/// a body over the limit a 413; the content type is not insisted on.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// The field a serde message names, from "missing field `x`" / "unknown field `x`".
fn quoted_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message.get(start..)?.find('`')?;
    message.get(start..start + len).map(str::to_string)
}

/// Parses a JSON body, naming the field at fault on failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(de);
    result.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::bad_request(format!("malformed JSON: {inner}"));
        }
        let message = inner.to_string();
        // A missing field is reported at its parent's path, named in the message;
        // anything else (wrong type, unknown field) at its own path.
        let top = path == "." || path.is_empty();
        let field = match (message.starts_with("missing field"), top) {
            (true, true) => quoted_field(&message),
            (true, false) => quoted_field(&message).map(|f| format!("{path}.{f}")),
            (false, true) => quoted_field(&message),
            (false, false) => Some(path),
        };
        // serde's messages end with "at line 1 column 9": the field name says more.
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        match field {
            Some(f) => ApiError::bad_field(&f, format!("field `{f}`: {message}")),
            None => ApiError::bad_request(format!("malformed JSON: {message}")),
        }
    })
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r: BytesRejection| {
                if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "the request body is over the size limit",
                    )
                } else {
                    ApiError::new(r.status(), r.body_text())
                }
            })?;
        parse_json(&bytes).map(JsonBody)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Msg {
        text: String,
        inner: Option<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        email: String,
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<Msg>(br#"{"text": 5}"#).expect_err("wrong type");
        assert_eq!(e.field.as_deref(), Some("text"), "{e:?}");
        let e = parse_json::<Msg>(br#"{}"#).expect_err("missing");
        assert_eq!(e.field.as_deref(), Some("text"), "{e:?}");
        let e = parse_json::<Msg>(br#"{"text": "a", "txt": 1}"#).expect_err("unknown");
        assert_eq!(e.field.as_deref(), Some("txt"), "{e:?}");
        let e = parse_json::<Msg>(br#"{"text": "a", "inner": {}}"#).expect_err("nested");
        assert_eq!(e.field.as_deref(), Some("inner.email"), "{e:?}");
        let e = parse_json::<Msg>(br#"{"text": "a", "inner": {"email": 1}}"#).expect_err("nested");
        assert_eq!(e.field.as_deref(), Some("inner.email"), "{e:?}");
        let e = parse_json::<Msg>(br#"{"text": "#).expect_err("syntax");
        assert!(e.message.contains("malformed JSON"), "{e:?}");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }
}
