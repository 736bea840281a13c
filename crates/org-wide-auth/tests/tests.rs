//! Integration tests of org-wide-auth against wiremock token endpoints and
//! APIs speaking Google's and Microsoft Graph's documented JSON.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

/// Booking is opt-in: the writers, their scopes and tokens.
mod booking;

/// Google Workspace and Exchange Online: validate, enable, resolve, query,
/// disable; mutual exclusion.
mod integrations;

/// Pacing: the registry's setting reaches every source and writer, an
/// integration's source and writer share one pacer, and the scheduling
/// account's identity outlives its token refreshes.
mod pacing;

/// The stored `IntegrationSettings` JSON, pinned: what the enabled
/// integrations store, and the stored rows read back and restored.
mod settings;
