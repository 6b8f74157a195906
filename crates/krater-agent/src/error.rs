//! Errors of the agent's handlers and their answers: a status and Octavia's
//! `{"message": ..., "details": ...}` body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use krater_agent_api::{Message, ParseError};

use crate::cmd::CmdError;

/// An error answer. Internal failures are logged where they are turned into one.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: Message,
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: &str, details: Option<String>) -> Self {
        Self {
            status,
            body: Message {
                message: message.to_owned(),
                details,
            },
        }
    }

    /// 400 `Invalid request`.
    pub(crate) fn invalid(details: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            Some(details.into()),
        )
    }

    /// 404 with Octavia's message for this kind of object.
    pub(crate) fn not_found(message: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, message, None)
    }

    /// 409 with details.
    pub(crate) fn conflict(message: &str, details: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message, Some(details.into()))
    }

    /// 500, logged here.
    pub(crate) fn internal(message: &str, details: impl Into<String>) -> Self {
        let details = details.into();
        tracing::error!(%details, "{message}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message, Some(details))
    }
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        Self::invalid(e.to_string())
    }
}

impl From<CmdError> for ApiError {
    fn from(e: CmdError) -> Self {
        Self::internal("Error running a command", e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
