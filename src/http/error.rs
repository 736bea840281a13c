//! Errors as JSON `{"error": {"kind", "message"}}`, and the one
//! mapping of an [`AssistantError`] to an HTTP status.

use axum::extract::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::AssistantError;

/// A JSON error response.
#[derive(Debug)]
pub(super) struct ApiError {
    pub(super) status: StatusCode,
    pub(super) kind: &'static str,
    pub(super) message: String,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, kind: &'static str, message: String) -> Self {
        Self {
            status,
            kind,
            message,
        }
    }

    pub(super) fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message.into())
    }
}

#[derive(Serialize)]
pub(super) struct ErrorBody<'a> {
    error: ErrorInner<'a>,
}

#[derive(Serialize)]
pub(super) struct ErrorInner<'a> {
    kind: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorInner {
                kind: self.kind,
                message: &self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<AssistantError> for ApiError {
    fn from(e: AssistantError) -> Self {
        use AssistantError as E;
        let (status, kind) = match &e {
            E::UnknownProgram(_) | E::UnknownParticipant(_) | E::UnknownPair(_) => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            E::UnknownGroup(_) => (StatusCode::NOT_FOUND, "not_found"),
            E::OnBehalfRefused { .. } => (StatusCode::FORBIDDEN, "on_behalf_refused"),
            E::NotAllowed(_) => (StatusCode::FORBIDDEN, "not_allowed"),
            E::ProviderNotAllowed { .. } => (StatusCode::FORBIDDEN, "provider_not_allowed"),
            E::GroupPollsDisabled(_) => (StatusCode::FORBIDDEN, "group_polls_disabled"),
            E::SchedulingDisabled(_) => (StatusCode::FORBIDDEN, "scheduling_disabled"),
            E::ProviderNotConfigured(_) => (StatusCode::BAD_REQUEST, "provider_not_configured"),
            E::ConnectExpired => (StatusCode::BAD_REQUEST, "connect_expired"),
            E::ConnectFailed(_) => (StatusCode::BAD_REQUEST, "connect_failed"),
            E::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "request failed");
        }
        Self::new(status, kind, e.to_string())
    }
}

pub(super) fn rejected(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad(e.to_string())
}
