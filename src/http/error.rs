//! Errors as JSON `{"error": {"kind", "message"}}`, and the one
//! mapping of an [`AssistantError`] to an HTTP status.

use axum::extract::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::AssistantError;
use crate::connect::ConnectFailure;

/// A JSON error response.
#[derive(Debug)]
pub(crate) struct ApiError {
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

    /// A fault of the service: the detail goes to the log (with the
    /// request id), the caller sees only that id.
    pub(super) fn internal(detail: String) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }

    /// What the caller may read: the message, or for a 500 a generic
    /// sentence with the request id (the detail may name the store, the
    /// vault or a configuration, and is logged instead).
    pub(super) fn public_message(&self) -> String {
        if self.status.is_server_error() && self.kind == "internal" {
            let id = super::security::current_request_id();
            tracing::error!(request_id = %id, error = %self.message, "request failed");
            format!("an internal error occurred (request id {id})")
        } else {
            self.message.clone()
        }
    }
}

/// Every error's body: `{"error": {"kind", "message", "request_id"?}}`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(super) struct ErrorBody<'a> {
    error: ErrorInner<'a>,
}

/// What went wrong.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ErrorInner<'a> {
    /// A stable code (`invalid`, `not_allowed`, `not_found`, ...).
    kind: &'a str,
    /// A sentence for people.
    message: &'a str,
    /// On a 500 only: the id in `x-request-id` and in the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

/// The error response every operation lists: `#/components/responses/Error`,
/// a JSON [`ErrorBody`].
pub(super) struct ErrorResponse;

impl<'r> utoipa::ToResponse<'r> for ErrorResponse {
    fn response() -> (
        &'r str,
        utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
    ) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Error")))
            .build();
        (
            "Error",
            ResponseBuilder::new()
                .description("An error")
                .content("application/json", content)
                .build()
                .into(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.public_message();
        let request_id = (self.status == StatusCode::INTERNAL_SERVER_ERROR)
            .then(super::security::current_request_id);
        let body = ErrorBody {
            error: ErrorInner {
                kind: self.kind,
                message: &message,
                request_id,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// The one mapping of an [`AssistantError`] to a status and a kind: bad
/// input 400, not allowed 403, unknown ids 404, a conflict 409 (Exchange
/// Online and on-premise exclude each other), and 500 only for a fault of
/// the service (its store, its vault, its set-up), which is logged.
impl From<AssistantError> for ApiError {
    fn from(e: AssistantError) -> Self {
        use AssistantError as E;
        use org_wide_auth::OrgError;
        let (status, kind) = match &e {
            E::UnknownProgram(_)
            | E::UnknownParticipant(_)
            | E::UnknownPair(_)
            | E::UnknownGroup(_)
            | E::UnknownPoll(_)
            | E::UnknownBooking(_) => (StatusCode::NOT_FOUND, "not_found"),
            E::PollNotOpen { .. } => (StatusCode::CONFLICT, "poll_not_open"),
            E::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            E::SlotTaken { .. } => (StatusCode::CONFLICT, "slot_taken"),
            E::Invitation { source, .. } if source.is_transient() => {
                (StatusCode::SERVICE_UNAVAILABLE, "invitation_failed")
            }
            E::Invitation { .. } => (StatusCode::BAD_GATEWAY, "invitation_failed"),
            // The service was set up without a way to send: nothing the
            // caller did wrong, and nothing broken either.
            E::InvitationsNotConfigured => (
                StatusCode::SERVICE_UNAVAILABLE,
                "invitations_not_configured",
            ),
            E::OnBehalfRefused { .. } => (StatusCode::FORBIDDEN, "on_behalf_refused"),
            E::NotAllowed(_) => (StatusCode::FORBIDDEN, "not_allowed"),
            E::ProviderNotAllowed { .. } => (StatusCode::FORBIDDEN, "provider_not_allowed"),
            E::GroupPollsDisabled(_) => (StatusCode::FORBIDDEN, "group_polls_disabled"),
            E::SchedulingDisabled(_) => (StatusCode::FORBIDDEN, "scheduling_disabled"),
            E::ProgramArchived(_) => (StatusCode::FORBIDDEN, "program_archived"),
            E::ProviderNotConfigured(_) => (StatusCode::BAD_REQUEST, "provider_not_configured"),
            E::ConnectExpired => (StatusCode::BAD_REQUEST, "connect_expired"),
            E::ConnectOtherSession => (StatusCode::FORBIDDEN, "connect_other_session"),
            E::ConnectFailed(ConnectFailure::Config(_)) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
            E::ConnectFailed(_) => (StatusCode::BAD_REQUEST, "connect_failed"),
            E::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            E::Organisation(OrgError::ExchangeConflict { .. }) => {
                (StatusCode::CONFLICT, "conflict")
            }
            E::Organisation(OrgError::Validation(_)) => {
                (StatusCode::BAD_REQUEST, "validation_failed")
            }
            E::Organisation(OrgError::Unsupported(_)) => (StatusCode::BAD_REQUEST, "unsupported"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        Self::new(status, kind, e.to_string())
    }
}

/// An extractor's rejection: a body that did not arrive in time is 408
/// (the body timeout of [`super::Limits`]), one over the limit 413, any
/// other malformed input 400 with the extractor's message.
pub(super) fn rejected<E>(e: E) -> ApiError
where
    E: std::error::Error + IntoResponse + 'static,
{
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if s.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body did not arrive in time".to_owned(),
            );
        }
        source = s.source();
    }
    let message = e.to_string();
    if e.into_response().status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the request body is too large".to_owned(),
        );
    }
    ApiError::bad(message)
}

#[cfg(test)]
mod tests {
    use org_wide_auth::{IntegrationKind, OrgError};

    use super::*;
    use crate::error::BuildError;
    use crate::store::StoreError;

    fn mapped(e: AssistantError) -> (StatusCode, &'static str) {
        let e = ApiError::from(e);
        (e.status, e.kind)
    }

    #[test]
    fn every_class_of_error_gets_its_status_and_500_only_for_our_faults() {
        assert_eq!(
            mapped(AssistantError::invalid("x")),
            (StatusCode::BAD_REQUEST, "invalid")
        );
        assert_eq!(
            mapped(AssistantError::UnknownGroup("g".into())),
            (StatusCode::NOT_FOUND, "not_found")
        );
        assert_eq!(
            mapped(AssistantError::Organisation(OrgError::ExchangeConflict {
                enabled: IntegrationKind::ExchangeOnline,
                requested: IntegrationKind::ExchangeOnPremise,
            })),
            (StatusCode::CONFLICT, "conflict")
        );
        assert_eq!(
            mapped(AssistantError::SlotTaken {
                participants: vec!["ada".into()]
            }),
            (StatusCode::CONFLICT, "slot_taken")
        );
        assert_eq!(
            mapped(AssistantError::InvitationsNotConfigured),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "invitations_not_configured"
            )
        );
        assert_eq!(
            mapped(AssistantError::PollNotOpen {
                poll: "p".into(),
                status: crate::model::PollStatus::Booked
            }),
            (StatusCode::CONFLICT, "poll_not_open")
        );
        assert_eq!(
            mapped(AssistantError::Invitation {
                via: "email",
                source: availability::SourceError::RateLimited { retry_after: None }
            }),
            (StatusCode::SERVICE_UNAVAILABLE, "invitation_failed")
        );
        assert_eq!(
            mapped(AssistantError::Invitation {
                via: "graph",
                source: availability::SourceError::Forbidden {
                    message: "no scope".into()
                }
            }),
            (StatusCode::BAD_GATEWAY, "invitation_failed")
        );
        assert_eq!(
            mapped(AssistantError::ConnectFailed(ConnectFailure::StateMismatch)),
            (StatusCode::BAD_REQUEST, "connect_failed")
        );
        for ours in [
            AssistantError::Store(StoreError::Corrupt("x".into())),
            AssistantError::Build(BuildError::MissingStore),
            AssistantError::ConnectFailed(ConnectFailure::Config("x".into())),
            AssistantError::Organisation(OrgError::Vault("x".into())),
        ] {
            assert_eq!(
                mapped(ours),
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            );
        }
    }

    #[test]
    fn bad_input_keeps_its_cause() {
        use std::error::Error as _;
        let cause = "x".parse::<i64>().unwrap_err();
        let e = AssistantError::invalid_because("the limit", cause.clone());
        assert_eq!(e.to_string(), format!("invalid input: the limit: {cause}"));
        let inner = e.source().unwrap();
        assert_eq!(inner.to_string(), cause.to_string());
    }
}
