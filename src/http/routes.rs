//! Every route once: method, path (axum syntax), handler and, for the
//! JSON API, its OpenAPI operation. The router, [`super::routes()`] and the
//! OpenAPI `paths` are all built from [`table`]; add a route here.

use std::sync::Arc;

use axum::extract::Json;
use axum::routing::{MethodRouter, delete, get, post, put};
use serde_json::{Value, json};

use super::Shared;
use super::admin::{
    admin_add_group, admin_add_pair, admin_add_participant, admin_connections,
    admin_create_program, admin_disable_integration, admin_enable_integration, admin_integrations,
    admin_org_policy, admin_program_policy, admin_programs, admin_set_org_policy,
    admin_set_program_policy,
};
use super::admin_page::{
    page_admin, page_admin_disable, page_admin_enable, page_admin_org_policy,
    page_admin_program_policy,
};
use super::api::{
    api_availability, api_connect, api_disconnect, api_groups, api_hours, api_me, api_pairs,
    api_participants, api_programs, api_set_hours, api_sign_in, api_sign_out, api_slots,
    api_status, oauth_callback,
};
use super::openapi::{Refs, openapi};
use super::page::{
    page_connect, page_disconnect, page_home, page_hours, page_poll, page_poll_answer,
    page_poll_book, page_poll_view, page_sign_in, page_sign_out, page_week,
};
use super::polls::{
    api_answer_poll, api_book_pair, api_book_poll, api_booking, api_bookings, api_cancel_booking,
    api_cancel_poll, api_close_poll, api_create_poll, api_polls, api_reschedule, api_view_poll,
};

/// One route.
pub(super) struct Route {
    /// `GET`, `POST` or `DELETE`.
    pub(super) method: &'static str,
    /// The path, axum syntax.
    pub(super) path: &'static str,
    /// Its handler.
    pub(super) handler: MethodRouter<Arc<Shared>>,
    /// The OpenAPI operation (JSON API routes and `/openapi.json`); `None`
    /// for the page.
    pub(super) operation: Option<Value>,
}

fn api(
    method: &'static str,
    path: &'static str,
    handler: MethodRouter<Arc<Shared>>,
    operation: Value,
) -> Route {
    Route {
        method,
        path,
        handler,
        operation: Some(operation),
    }
}

fn page(method: &'static str, path: &'static str, handler: MethodRouter<Arc<Shared>>) -> Route {
    Route {
        method,
        path,
        handler,
        operation: None,
    }
}

/// The routes, in the order the page and the document list them.
pub(super) fn table() -> Vec<Route> {
    let Refs {
        error,
        id,
        from,
        to,
    } = Refs::new();
    let ok = super::openapi::ok;
    let r = super::openapi::schema;
    vec![
        api(
            "POST",
            "/api/session",
            post(api_sign_in),
            json!({"summary": "Sign in as a participant, or as an administrator working on someone's behalf (sets the session cookie)", "security": [], "requestBody": {"required": true, "content": {"application/json": {"schema": r("SignIn")}}}, "responses": {"200": ok(r("Me")), "400": error, "403": error, "404": error}}),
        ),
        api(
            "DELETE",
            "/api/session",
            delete(api_sign_out),
            json!({"summary": "Sign out", "responses": {"204": {"description": "Signed out"}}}),
        ),
        api(
            "GET",
            "/api/me",
            get(api_me),
            json!({"summary": "Who the session acts as", "responses": {"200": ok(r("Me")), "401": error}}),
        ),
        api(
            "GET",
            "/api/programs",
            get(api_programs),
            json!({"summary": "Programs and their policy switches", "responses": {"200": ok(json!({"type": "array", "items": r("Program")})), "401": error}}),
        ),
        api(
            "GET",
            "/api/participants",
            get(api_participants),
            json!({"summary": "The participants the caller may schedule with (emails only to the person and administrators)", "responses": {"200": ok(json!({"type": "array", "items": r("Participant")})), "401": error}}),
        ),
        api(
            "GET",
            "/api/participants/{id}/hours",
            get(api_hours),
            json!({"summary": "A participant's own hours: narrower weekly hours and date overrides in their zone, inside the program's (the participant and their administrators)", "parameters": [id], "responses": {"200": ok(r("Hours")), "401": error, "403": error, "404": error}}),
        ),
        api(
            "PUT",
            "/api/participants/{id}/hours",
            put(api_set_hours),
            json!({"summary": "Set a participant's own hours (the participant or an administrator; an empty object removes them)", "parameters": [id], "requestBody": {"required": true, "content": {"application/json": {"schema": r("Hours")}}}, "responses": {"200": ok(r("Hours")), "400": error, "401": error, "403": error, "404": error}}),
        ),
        api(
            "GET",
            "/api/participants/{id}/status",
            get(api_status),
            json!({"summary": "A participant's connection status and its sentence: to the participant and their administrators with the connected account and the provider's reasons, to current partners and group members with fixed reason codes, to nobody else", "parameters": [id], "responses": {"200": ok(r("Status")), "401": error, "403": error, "404": error}}),
        ),
        api(
            "POST",
            "/api/participants/{id}/connect/{provider}",
            post(api_connect),
            json!({"summary": "Connect a calendar: Google and Microsoft return the authorization URL; iCloud takes the Apple ID and app-specific password and validates them first. Only the participant may: an administrator working on their behalf gets 403 on_behalf_refused", "parameters": [id, {"name": "provider", "in": "path", "required": true, "schema": {"enum": ["google", "microsoft", "icloud"]}}], "requestBody": {"required": false, "content": {"application/json": {"schema": r("ConnectBody")}}}, "responses": {"200": ok(json!({"oneOf": [r("ConnectStarted"), r("Status")]})), "400": error, "401": error, "403": error, "404": error}}),
        ),
        api(
            "DELETE",
            "/api/participants/{id}/connection",
            delete(api_disconnect),
            json!({"summary": "Disconnect: deletes the credentials and cached busy times", "parameters": [id], "responses": {"200": ok(json!({"type": "object", "properties": {"disconnected": {"type": "boolean"}}})), "401": error, "403": error, "404": error}}),
        ),
        api(
            "GET",
            "/api/participants/{id}/availability",
            get(api_availability),
            json!({"summary": "A participant's Unavailable times in a window (times only): to themselves, current partners, group members and their programs' administrators", "parameters": [id, from, to], "responses": {"200": ok(r("Availability")), "400": error, "401": error, "403": error, "404": error}}),
        ),
        api(
            "GET",
            "/api/pairs",
            get(api_pairs),
            json!({"summary": "The session's mentoring pairs", "responses": {"200": ok(json!({"type": "array", "items": r("Pair")})), "401": error}}),
        ),
        api(
            "GET",
            "/api/pairs/{id}/slots",
            get(api_slots),
            json!({"summary": "Mutual free slots of a pair inside its program's policy", "parameters": [id, from, to, {"name": "duration", "in": "query", "schema": {"type": "string", "default": "30m"}}, {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 5}}], "responses": {"200": ok(r("Proposal")), "400": error, "401": error, "403": error, "404": error}}),
        ),
        api(
            "GET",
            "/api/groups",
            get(api_groups),
            json!({"summary": "The session's groups", "responses": {"200": ok(json!({"type": "array", "items": r("Group")})), "401": error}}),
        ),
        api(
            "POST",
            "/api/polls",
            post(api_create_poll),
            json!({"summary": "Create and store a poll: proposed slots ranked by free invitees (then earliest), with k of n connected; the proposal's fields at the top level, the stored poll under `poll`", "requestBody": {"required": true, "content": {"application/json": {"schema": r("PollBody")}}}, "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": r("CreatedPoll")}}}, "400": error, "401": error, "403": error, "404": error}}),
        ),
        api(
            "GET",
            "/api/polls",
            get(api_polls),
            json!({"summary": "The polls the session created or is invited to, newest first; `waiting`: open and not yet answered by them", "responses": {"200": ok(json!({"type": "array", "items": r("PollSummary")})), "401": error}}),
        ),
        api(
            "GET",
            "/api/polls/{id}",
            get(api_view_poll),
            json!({"summary": "A poll: to invitees the slots, counts and their own answers; to its creator and the program's administrators also each answer and who is free now (read again), and k of n connected", "parameters": [id], "responses": {"200": ok(r("Poll")), "401": error, "404": error}}),
        ),
        api(
            "PUT",
            "/api/polls/{id}/answers",
            put(api_answer_poll),
            json!({"summary": "Answer a poll (yes, if_need_be, no per slot), replacing one's earlier answers; the invitee's own act, until it closes", "parameters": [id], "requestBody": {"required": true, "content": {"application/json": {"schema": r("Answers")}}}, "responses": {"200": ok(r("Poll")), "400": error, "401": error, "403": error, "404": error, "409": error}}),
        ),
        api(
            "POST",
            "/api/polls/{id}/close",
            post(api_close_poll),
            json!({"summary": "Close a poll to answers (its creator, the program's administrators)", "parameters": [id], "responses": {"200": ok(r("Poll")), "401": error, "403": error, "404": error, "409": error}}),
        ),
        api(
            "DELETE",
            "/api/polls/{id}",
            delete(api_cancel_poll),
            json!({"summary": "Cancel a poll that is not booked", "parameters": [id], "responses": {"200": ok(r("Poll")), "401": error, "403": error, "404": error, "409": error}}),
        ),
        api(
            "POST",
            "/api/polls/{id}/booking",
            post(api_book_poll),
            json!({"summary": "Book a poll's slot: every connected invitee re-read fresh (409 slot_taken names who is now busy, unless `force`), the meeting sent (scheduling account or iTIP email) and stored; exactly one booking of a poll wins", "parameters": [id], "requestBody": {"required": true, "content": {"application/json": {"schema": r("BookBody")}}}, "responses": {"201": {"description": "Booked", "content": {"application/json": {"schema": r("Booking")}}}, "400": error, "401": error, "403": error, "404": error, "409": error, "502": error, "503": error}}),
        ),
        api(
            "POST",
            "/api/pairs/{id}/bookings",
            post(api_book_pair),
            json!({"summary": "Book a 1:1 for a pair (`from`, `to`, inside the program's hours): both re-read fresh, then sent and stored", "parameters": [id], "requestBody": {"required": true, "content": {"application/json": {"schema": r("BookBody")}}}, "responses": {"201": {"description": "Booked", "content": {"application/json": {"schema": r("Booking")}}}, "400": error, "401": error, "403": error, "404": error, "409": error, "502": error, "503": error}}),
        ),
        api(
            "GET",
            "/api/bookings",
            get(api_bookings),
            json!({"summary": "The bookings the session attends or made, newest first", "responses": {"200": ok(json!({"type": "array", "items": r("Booking")})), "401": error}}),
        ),
        api(
            "GET",
            "/api/bookings/{id}",
            get(api_booking),
            json!({"summary": "A booking (its attendees, creator and the program's administrators)", "parameters": [id], "responses": {"200": ok(r("Booking")), "401": error, "404": error}}),
        ),
        api(
            "PUT",
            "/api/bookings/{id}/time",
            put(api_reschedule),
            json!({"summary": "Move a booking (`from`, `to`): same UID, SEQUENCE + 1, re-checked as at booking", "parameters": [id], "requestBody": {"required": true, "content": {"application/json": {"schema": r("BookBody")}}}, "responses": {"200": ok(r("Booking")), "400": error, "401": error, "403": error, "404": error, "409": error, "502": error, "503": error}}),
        ),
        api(
            "DELETE",
            "/api/bookings/{id}",
            delete(api_cancel_booking),
            json!({"summary": "Cancel a booking (METHOD:CANCEL, or the provider's cancellation)", "parameters": [id], "responses": {"200": ok(r("Booking")), "401": error, "403": error, "404": error, "409": error, "502": error, "503": error}}),
        ),
        api(
            "GET",
            "/api/oauth/callback",
            get(oauth_callback),
            json!({"summary": "The providers' OAuth redirect target (RFC 6749 4.1.2): completes the connection and redirects to the page", "security": [], "parameters": [{"name": "state", "in": "query", "schema": {"type": "string"}}, {"name": "code", "in": "query", "schema": {"type": "string"}}, {"name": "error", "in": "query", "schema": {"type": "string"}}], "responses": {"303": {"description": "Connected; back to the page"}, "400": {"description": "Declined, expired or refused (an HTML page)"}, "500": {"description": "The service is misconfigured (an HTML page)"}}}),
        ),
        // The administrator's API and page (`admin.rs`, `admin_page.rs`):
        // participants get 403 on every one.
        api(
            "GET",
            "/api/admin/policy",
            get(admin_org_policy),
            json!({"summary": "The organisation's policy layer an administrator stored (TOML; empty: only the service's own layer applies). Any administrator", "responses": {"200": ok(r("PolicyText")), "401": error, "403": error}}),
        ),
        api(
            "PUT",
            "/api/admin/policy",
            put(admin_set_org_policy),
            json!({"summary": "Set the organisation's policy layer (global administrators): over the service's own layer, under every program's; every program must still resolve, else nothing changes. Applied on every instance", "requestBody": {"required": true, "content": {"application/json": {"schema": r("PolicyText")}}}, "responses": {"200": ok(r("PolicyText")), "400": error, "401": error, "403": error}}),
        ),
        api(
            "GET",
            "/api/admin/programs",
            get(admin_programs),
            json!({"summary": "The programs the caller administers, with their policies as written", "responses": {"200": ok(json!({"type": "array", "items": r("AdminProgram")})), "401": error, "403": error}}),
        ),
        api(
            "POST",
            "/api/admin/programs",
            post(admin_create_program),
            json!({"summary": "Create a program (global administrators); its policy must resolve", "requestBody": {"required": true, "content": {"application/json": {"schema": r("ProgramBody")}}}, "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": r("AdminProgram")}}}, "400": error, "401": error, "403": error, "409": error}}),
        ),
        api(
            "GET",
            "/api/admin/programs/{id}/policy",
            get(admin_program_policy),
            json!({"summary": "A program's policy as written and resolved (its administrators)", "parameters": [id], "responses": {"200": ok(r("ProgramPolicy")), "401": error, "403": error, "404": error}}),
        ),
        api(
            "PUT",
            "/api/admin/programs/{id}/policy",
            put(admin_set_program_policy),
            json!({"summary": "Set a program's policy (its administrators): validated over the organisation's, nothing changes otherwise; applied on every instance", "parameters": [id], "requestBody": {"required": true, "content": {"application/json": {"schema": r("PolicyText")}}}, "responses": {"200": ok(r("ProgramPolicy")), "400": error, "401": error, "403": error, "404": error}}),
        ),
        api(
            "GET",
            "/api/admin/programs/{id}/connections",
            get(admin_connections),
            json!({"summary": "A program's connections report (its administrators): connected k of n by provider, who needs reconnecting and why, when each calendar was last read", "parameters": [id], "responses": {"200": ok(r("ConnectionsReport")), "401": error, "403": error, "404": error}}),
        ),
        api(
            "POST",
            "/api/admin/participants",
            post(admin_add_participant),
            json!({"summary": "Add a participant and enrol them in programs (administrators of every program named; an existing participant's details only by administrators of all their programs)", "requestBody": {"required": true, "content": {"application/json": {"schema": r("ParticipantBody")}}}, "responses": {"201": {"description": "Added", "content": {"application/json": {"schema": r("ParticipantBody")}}}, "400": error, "401": error, "403": error, "404": error}}),
        ),
        api(
            "POST",
            "/api/admin/pairs",
            post(admin_add_pair),
            json!({"summary": "Add a mentoring pair (the program's administrators); both must be in the program", "requestBody": {"required": true, "content": {"application/json": {"schema": r("PairBody")}}}, "responses": {"201": {"description": "Added", "content": {"application/json": {"schema": r("PairBody")}}}, "400": error, "401": error, "403": error, "404": error}}),
        ),
        api(
            "POST",
            "/api/admin/groups",
            post(admin_add_group),
            json!({"summary": "Add a group (the program's administrators); every member must be in the program", "requestBody": {"required": true, "content": {"application/json": {"schema": r("GroupBody")}}}, "responses": {"201": {"description": "Added", "content": {"application/json": {"schema": r("GroupBody")}}}, "400": error, "401": error, "403": error, "404": error}}),
        ),
        api(
            "GET",
            "/api/admin/integrations",
            get(admin_integrations),
            json!({"summary": "The enabled organisation integrations, without secrets (global administrators)", "responses": {"200": ok(json!({"type": "array", "items": r("Integration")})), "401": error, "403": error}}),
        ),
        api(
            "POST",
            "/api/admin/integrations/{kind}",
            post(admin_enable_integration),
            json!({"summary": "Enable an organisation integration (global administrators): one real call validates it first, the secret goes to the vault and is never echoed, then covered participants without a calendar of their own are connected. 409 when the other Exchange kind is enabled", "parameters": [{"name": "kind", "in": "path", "required": true, "schema": {"enum": ["google_workspace", "exchange_online", "exchange_on_premise"]}}], "requestBody": {"required": true, "content": {"application/json": {"schema": {"oneOf": [r("GoogleWorkspaceBody"), r("ExchangeOnlineBody"), r("ExchangeOnPremiseBody")]}}}}, "responses": {"200": ok(r("IntegrationChanged")), "400": error, "401": error, "403": error, "404": error, "409": error}}),
        ),
        api(
            "DELETE",
            "/api/admin/integrations/{kind}",
            delete(admin_disable_integration),
            json!({"summary": "Disable an organisation integration (global administrators): its secret, settings and automatic connections go", "parameters": [{"name": "kind", "in": "path", "required": true, "schema": {"enum": ["google_workspace", "exchange_online", "exchange_on_premise"]}}], "responses": {"200": ok(r("IntegrationChanged")), "401": error, "403": error, "404": error}}),
        ),
        page("GET", "/admin", get(page_admin)),
        page("POST", "/admin/policy", post(page_admin_org_policy)),
        page(
            "POST",
            "/admin/programs/{id}/policy",
            post(page_admin_program_policy),
        ),
        page(
            "POST",
            "/admin/integrations/{kind}",
            post(page_admin_enable),
        ),
        page(
            "POST",
            "/admin/integrations/{kind}/disable",
            post(page_admin_disable),
        ),
        api(
            "GET",
            "/openapi.json",
            get(|| async { Json(openapi()) }),
            json!({"summary": "This document", "security": [], "responses": {"200": ok(json!({"type": "object"}))}}),
        ),
        page("GET", "/", get(page_home)),
        page("POST", "/session", post(page_sign_in)),
        page("POST", "/logout", post(page_sign_out)),
        page("POST", "/connect/{provider}", post(page_connect)),
        page("POST", "/disconnect", post(page_disconnect)),
        page("POST", "/hours", post(page_hours)),
        page("GET", "/week/{id}", get(page_week)),
        page("POST", "/polls", post(page_poll)),
        page("GET", "/polls/{id}", get(page_poll_view)),
        page("POST", "/polls/{id}/answers", post(page_poll_answer)),
        page("POST", "/polls/{id}/book", post(page_poll_book)),
    ]
}
