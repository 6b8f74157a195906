//! The one mapping from failures to HTTP answers, in Octavia's two body formats:
//! WSME faults (`{"faultcode","faultstring","debuginfo"}`) from controllers, and
//! pecan's `{"code","title","description"}` from routing and query parsing.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use krater_db::DbError;
use serde_json::json;

/// An answer other than success.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Pecan's body format instead of WSME's.
    pub pecan: bool,
    /// Pecan's `title`, when it is not the status's reason.
    title: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            pecan: false,
            title: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    /// Octavia's answer to a caller whose roles do not allow the request.
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Policy does not allow this request to be performed.",
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    /// `Validation failure: <detail>`
    pub fn validation(detail: impl std::fmt::Display) -> Self {
        Self::bad_request(format!("Validation failure: {detail}"))
    }
    /// 501 for an option `provider` cannot honour (Octavia's UnsupportedOptionError).
    pub fn unsupported_option(provider: &str, what: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("Provider '{provider}' does not support a requested option: {what}"),
        )
    }
    /// 501 for an action `provider` cannot carry out (Octavia's NotImplementedError).
    pub fn unsupported_action(provider: &str, what: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("Provider '{provider}' does not support a requested action: {what}"),
        )
    }
    /// An error in pecan's body format.
    pub fn pecan(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            message: description.into(),
            pecan: true,
            title: None,
        }
    }
    /// A 404 for the missing parent of a nested resource: pecan's body, titled
    /// "Bad Request" as Octavia titles it.
    pub fn missing_parent(description: impl Into<String>) -> Self {
        Self {
            title: Some("Bad Request"),
            ..Self::pecan(StatusCode::NOT_FOUND, description)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = if self.pecan {
            json!({
                "code": self.status.as_u16(),
                "title": self.title.or(self.status.canonical_reason()).unwrap_or(""),
                "description": self.message,
            })
        } else {
            let faultcode = if self.status.is_client_error() {
                "Client"
            } else {
                "Server"
            };
            json!({"faultcode": faultcode, "faultstring": self.message, "debuginfo": null})
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::NotFound { .. } => Self::not_found(err.to_string()),
            DbError::Immutable { .. } => Self::conflict(err.to_string()),
            DbError::BadMarker(_) => Self::bad_request(err.to_string()),
            DbError::Duplicate(_) => Self::conflict("Already an entity with that specified id."),
            DbError::Corrupt(_)
            | DbError::Sql(_)
            | DbError::LeaseLost { .. }
            | DbError::Schema { .. } => {
                tracing::error!(error = %err, "database error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "An unknown exception occurred.",
                )
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
