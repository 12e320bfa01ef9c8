use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

#[cfg(feature = "ssr")]
use leptos::server_fn::codec::JsonEncoding;
#[cfg(feature = "ssr")]
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What went wrong, independent of how it is shown (a page message or a JSON API status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// Malformed request (bad encoding, missing fields).
    BadRequest,
    /// The body is larger than the server accepts.
    PayloadTooLarge,
    /// The body is not in a format the endpoint reads.
    UnsupportedMediaType,
    /// One or more fields failed validation; see `fields`.
    Validation,
    /// Not logged in, or the session has ended.
    Unauthenticated,
    /// A second step's code was wrong, replayed or spent (SPEC §7: 401 `invalid_code`).
    InvalidCode,
    /// Logged in but not allowed (including a refused cross-site request).
    Forbidden,
    NotFound,
    /// The method is not one this site or endpoint serves.
    MethodNotAllowed,
    /// The request conflicts with existing data (e.g. an email already registered).
    Conflict,
    TooManyRequests,
    /// The server is too busy to take the request now; try again shortly.
    Unavailable,
    Internal,
}

/// The single error type of the service layer and of every server function.
///
/// `fields` maps a form field name to its message; `values` carries the non-secret values the
/// person typed, so a form re-rendered after a plain (no-JavaScript) post can keep them.
/// `source` keeps an unexpected failure's cause on the server; it never reaches a client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    #[serde(skip)]
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

/// Equal when a client would see the same error; the server-side cause is not compared.
impl PartialEq for AppError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.message == other.message
            && self.fields == other.fields
            && self.values == other.values
            && self.retry_after_secs == other.retry_after_secs
    }
}

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            fields: BTreeMap::new(),
            values: BTreeMap::new(),
            retry_after_secs: None,
            source: None,
        }
    }

    /// An unexpected failure: the person sees a generic message, the server keeps the cause.
    pub fn internal_from(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        let mut err = Self::internal();
        err.source = Some(Arc::new(cause));
        err
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorKind::Unauthenticated, "Please log in to continue.")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }

    pub fn not_found() -> Self {
        Self::new(ErrorKind::NotFound, "Not found.")
    }

    pub fn internal() -> Self {
        Self::new(
            ErrorKind::Internal,
            "Something went wrong on our side. Please try again.",
        )
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let minutes = retry_after_secs.div_ceil(60).max(1);
        let unit = if minutes == 1 { "minute" } else { "minutes" };
        let mut err = Self::new(
            ErrorKind::TooManyRequests,
            format!("Too many attempts. Try again in {minutes} {unit}."),
        );
        err.retry_after_secs = Some(retry_after_secs);
        err
    }

    /// The server is saturated; the client should retry after `retry_after_secs`.
    pub fn busy(retry_after_secs: u64) -> Self {
        let mut err = Self::new(
            ErrorKind::Unavailable,
            "The server is busy right now. Please try again in a moment.",
        );
        err.retry_after_secs = Some(retry_after_secs);
        err
    }

    /// A validation failure on one field; the message doubles as the summary.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut err = Self::new(ErrorKind::Validation, message.clone());
        err.fields.insert(field.to_string(), message);
        err
    }

    /// Collects field errors; `None` when there are none.
    pub fn from_fields(fields: BTreeMap<String, String>) -> Option<Self> {
        if fields.is_empty() {
            return None;
        }
        let message = if fields.len() == 1 {
            fields.values().next().cloned().unwrap_or_default()
        } else {
            "Please correct the highlighted fields.".to_string()
        };
        let mut err = Self::new(ErrorKind::Validation, message);
        err.fields = fields;
        Some(err)
    }

    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        let mut err = Self::field(field, message);
        err.kind = ErrorKind::Conflict;
        err
    }

    /// Files a field's message under another name (the same check serves differently named
    /// fields).
    pub fn rename_field(mut self, from: &str, to: &str) -> Self {
        if let Some(message) = self.fields.remove(from) {
            self.fields.insert(to.to_string(), message);
        }
        self
    }

    /// Remembers what the person typed (never pass passwords here).
    pub fn with_values<'a>(mut self, values: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        self.values = values
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|cause| cause as &(dyn std::error::Error + 'static))
    }
}

#[cfg(feature = "ssr")]
impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::Deserialization(_) => {
                Self::bad_request("The form could not be read. Please try again.")
            }
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => Self::new(
                ErrorKind::Internal,
                "Could not reach the server. Check your connection and try again.",
            ),
            _ => Self::internal(),
        }
    }
}
