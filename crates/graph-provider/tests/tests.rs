//! Integration tests of graph-provider, against wiremock on loopback
//! speaking Microsoft Graph's documented JSON.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

/// Delegated OAuth with rotating refresh tokens; app-only credentials.
mod auth;
/// Booking through the scheduling account's mailbox: create, update,
/// cancel; the bodies pinned, statuses, throttling, no address in errors.
mod booking;
/// calendarView for personal accounts: paging and busy rules.
mod calendar_view;
/// Shared helpers.
mod common;
/// A loopback server that holds requests to count how many are in
/// flight at once.
mod held;
/// getSchedule: request shape, batching, statuses, working hours, errors,
/// throttling.
mod schedule;
