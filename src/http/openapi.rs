//! The OpenAPI 3.1 document: components here, each operation beside its
//! route in `routes`.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::routes;

/// The parameters and responses operations share.
pub(super) struct Refs {
    /// The error response.
    pub(super) error: Value,
    /// The `{id}` path parameter.
    pub(super) id: Value,
    /// The `from` query parameter.
    pub(super) from: Value,
    /// The `to` query parameter.
    pub(super) to: Value,
}

impl Refs {
    pub(super) fn new() -> Self {
        Self {
            error: json!({"$ref": "#/components/responses/Error"}),
            id: json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}),
            from: json!({"name": "from", "in": "query", "required": true, "schema": {"type": "string", "format": "date-time"}}),
            to: json!({"name": "to", "in": "query", "required": true, "schema": {"type": "string", "format": "date-time"}}),
        }
    }
}

/// A 200 response with a JSON body of `schema`.
pub(super) fn ok(schema: Value) -> Value {
    json!({"description": "OK", "content": {"application/json": {"schema": schema}}})
}

/// A reference to a component schema.
pub(super) fn schema(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The OpenAPI 3.1 document of the JSON API.
pub fn openapi() -> Value {
    static DOCUMENT: LazyLock<Value> = LazyLock::new(document);
    DOCUMENT.clone()
}

fn document() -> Value {
    let r = schema;
    let mut paths = Map::new();
    for route in routes::table() {
        if let Some(operation) = route.operation {
            let item = paths
                .entry(route.path)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(item) = item {
                item.insert(route.method.to_ascii_lowercase(), operation);
            }
        }
    }
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "scheduling-assistant",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Free/busy scheduling for mentoring programs: connections, availability (times only), mutual slots and group polls. Errors are {\"error\": {\"kind\", \"message\"}}: 400 bad input, 401 no session, 403 not allowed (cross-origin writes included), 404 unknown id, 408 a body too slow, 409 a conflict (Exchange Online and on-premise exclude each other), 413 a body too large, 421 a foreign Host, 429 too many sign-ins or connects (Retry-After), 503 overloaded, 500 only for a fault of the service (its store or vault), naming only a request id."
        },
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": super::session::cookie_name(false)}},
            "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": r("Error")}}}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["kind", "message"], "additionalProperties": false, "properties": {"kind": {"type": "string"}, "message": {"type": "string"}, "request_id": {"type": "string", "description": "On a 500 only: the id in `x-request-id` and in the log"}}}}},
                "Interval": {"type": "object", "required": ["start", "end"], "properties": {"start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"}}},
                "Me": {"type": "object", "properties": {"participant": {"type": ["string", "null"]}, "admin": {"type": ["string", "null"]}, "on_behalf_of": {"type": ["string", "null"]}}},
                "SignIn": {"type": "object", "additionalProperties": false, "properties": {"participant": {"type": "string"}, "admin": {"type": "string"}, "on_behalf_of": {"type": "string"}, "programs": {"type": "array", "items": {"type": "string"}, "description": "With admin: the programs administered (a single-track administrator); without, a global administrator"}}},
                "Program": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "time_zone": {"type": "string"}, "group_polls": {"type": "boolean"}, "scheduling_assistant": {"type": "boolean"}}},
                "Participant": {"type": "object", "required": ["id", "name", "time_zone", "programs", "relation"], "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "time_zone": {"type": "string"}, "programs": {"type": "array", "items": {"type": "string"}}, "email": {"type": "string", "description": "Only to the participant and their administrators"}, "relation": {"enum": ["stranger", "group_member", "partner", "program_administrator", "administrator", "myself"]}}},
                "Status": {"type": "object", "required": ["participant", "text", "status"], "properties": {"participant": {"type": "string"}, "text": {"type": "string", "examples": ["Your Google calendar (theo.r@gmail.com) is connected"]}, "status": {"type": "object", "required": ["state"], "properties": {"state": {"enum": ["not_connected", "connected", "through_organisation", "needs_reconnecting", "unreachable"]}, "provider": {"enum": ["google", "microsoft", "icloud", null]}, "reason": {"type": "string"}, "since": {"type": "integer"}, "account": {"type": "string", "description": "The connected account's address: only to the participant and administrators"}, "integration": {"type": "string"}}}}},
                "ConnectBody": {"type": "object", "additionalProperties": false, "properties": {"apple_id": {"type": "string"}, "app_password": {"type": "string", "format": "password"}, "return_to": {"type": "string", "description": "Google and Microsoft: the page to return to once connected, one of this service's own (default /)"}}},
                "ConnectStarted": {"type": "object", "required": ["authorization_url", "expires_at"], "properties": {"authorization_url": {"type": "string", "format": "uri"}, "expires_at": {"type": "string", "format": "date-time"}}},
                "Availability": {"type": "object", "required": ["participant", "window", "known", "unavailable"], "properties": {"participant": {"type": "string"}, "window": r("Interval"), "known": {"type": "boolean"}, "unavailable": {"type": "array", "items": r("Interval")}, "reason": {"type": ["string", "null"]}}},
                "Pair": {"type": "object", "properties": {"id": {"type": "string"}, "program": {"type": "string"}, "mentor": {"type": "string"}, "mentee": {"type": "string"}}},
                "Group": {"type": "object", "properties": {"id": {"type": "string"}, "program": {"type": "string"}, "name": {"type": "string"}, "members": {"type": "array", "items": {"type": "string"}}}},
                "PollBody": {"type": "object", "additionalProperties": false, "required": ["from", "to"], "properties": {"group": {"type": "string"}, "program": {"type": "string"}, "invitees": {"type": "array", "items": {"type": "string"}}, "duration": {"type": "string", "examples": ["30m", "1h"]}, "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"}, "slots": {"type": "integer", "minimum": 1, "maximum": 50}, "min_free": {"type": "integer", "minimum": 0}, "title": {"type": "string"}, "description": {"type": "string"}, "deadline": {"type": "string", "format": "date-time"}}},
                "Proposal": {"type": "object", "required": ["invitees", "connected", "connected_text", "slots", "problems"], "properties": {"invitees": {"type": "integer"}, "connected": {"type": "integer"}, "connected_text": {"type": "string", "examples": ["4 of 5 invitees have connected a calendar"]}, "slots": {"type": "array", "items": {"type": "object", "properties": {"interval": r("Interval"), "free": {"type": "array", "items": {"type": "string"}}, "unavailable": {"type": "array", "items": {"type": "string"}}, "unknown": {"type": "array", "items": {"type": "string"}}}}}, "problems": {"type": "array", "items": {"type": "object", "properties": {"participant": {"type": "string"}, "reason": {"type": "string"}}}}}}
            }
        },
        "security": [{"session": []}],
        "paths": paths,
    });
    // Added apart: one `json!` of every schema would pass the macro's
    // recursion limit.
    let schemas = &mut doc["components"]["schemas"];
    schemas["Hours"] = json!({"type": "object", "additionalProperties": false, "properties": {"weekly": {"type": "object", "description": "Per weekday (mon..sun), the local ranges kept; a weekday not listed keeps the program's hours", "additionalProperties": {"type": "array", "items": r("HoursRange")}}, "dates": {"type": "object", "description": "Per date (YYYY-MM-DD), ranges replacing that day's; an empty list is a day off", "additionalProperties": {"type": "array", "items": r("HoursRange")}}}});
    schemas["HoursRange"] = json!({"type": "object", "additionalProperties": false, "required": ["start", "end"], "properties": {"start": {"type": "string", "examples": ["09:00"]}, "end": {"type": "string", "examples": ["12:30"]}}});
    schemas["CreatedPoll"] = json!({"type": "object", "required": ["id", "invitees", "connected", "connected_text", "slots", "poll"], "properties": {"id": {"type": "string"}, "invitees": {"type": "integer"}, "connected": {"type": "integer"}, "connected_text": {"type": "string"}, "slots": {"type": "array", "items": {"type": "object", "properties": {"interval": r("Interval"), "free": {"type": "array", "items": {"type": "string"}}, "unavailable": {"type": "array", "items": {"type": "string"}}, "unknown": {"type": "array", "items": {"type": "string"}}}}}, "poll": r("Poll")}});
    schemas["Vote"] = json!({"enum": ["yes", "if_need_be", "no"]});
    schemas["PollStatus"] = json!({"enum": ["open", "closed", "booked", "cancelled"]});
    schemas["Poll"] = json!({"type": "object", "required": ["id", "program", "creator", "title", "status", "invitees", "manages", "slots"], "properties": {"id": {"type": "string"}, "program": {"type": "string"}, "group": {"type": ["string", "null"]}, "creator": {"type": "object"}, "title": {"type": "string"}, "description": {"type": "string"}, "duration_minutes": {"type": "integer"}, "deadline": {"type": ["integer", "null"]}, "status": r("PollStatus"), "booking": {"type": ["string", "null"]}, "invitees": {"type": "array", "items": {"type": "string"}}, "connected": {"type": "integer"}, "connected_text": {"type": ["string", "null"]}, "manages": {"type": "boolean"}, "slots": {"type": "array", "items": {"type": "object", "required": ["index", "interval", "counts"], "properties": {"index": {"type": "integer"}, "interval": r("Interval"), "counts": {"type": "object", "properties": {"yes": {"type": "integer"}, "if_need_be": {"type": "integer"}, "no": {"type": "integer"}, "unanswered": {"type": "integer"}}}, "answers": {"type": "array", "items": {"type": "array", "prefixItems": [{"type": "string"}, r("Vote")]}}, "availability": {"type": "object", "properties": {"free": {"type": "array", "items": {"type": "string"}}, "unavailable": {"type": "array", "items": {"type": "string"}}, "unknown": {"type": "array", "items": {"type": "string"}}}}, "mine": r("Vote")}}}}});
    schemas["PollSummary"] = json!({"type": "object", "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "status": r("PollStatus"), "deadline": {"type": ["integer", "null"]}, "manages": {"type": "boolean"}, "invited": {"type": "boolean"}, "waiting": {"type": "boolean"}}});
    schemas["Answers"] = json!({"type": "object", "additionalProperties": false, "required": ["answers"], "properties": {"answers": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["slot", "vote"], "properties": {"slot": {"type": "integer", "minimum": 0}, "vote": r("Vote")}}}}});
    schemas["BookBody"] = json!({"type": "object", "additionalProperties": false, "properties": {"slot": {"type": "integer", "minimum": 0}, "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"}, "title": {"type": "string"}, "description": {"type": "string"}, "force": {"type": "boolean", "default": false}}});
    schemas["Booking"] = json!({"type": "object", "required": ["id", "program", "interval", "title", "booked", "uid", "sequence", "via", "attendees"], "properties": {"id": {"type": "string"}, "program": {"type": "string"}, "poll": {"type": ["string", "null"]}, "pair": {"type": ["string", "null"]}, "creator": {"type": "object"}, "interval": r("Interval"), "title": {"type": "string"}, "description": {"type": "string"}, "booked": {"type": "boolean"}, "uid": {"type": "string"}, "sequence": {"type": "integer"}, "via": {"enum": ["email", "google", "graph"]}, "attendees": {"type": "array", "items": {"type": "string"}}}});
    // The administrator's API (`admin.rs`).
    schemas["PolicyText"] = json!({"type": "object", "additionalProperties": false, "required": ["toml"], "properties": {"toml": {"type": "string", "description": "A policy layer in TOML (DESIGN.md's keys)", "examples": ["time_zone = \"Europe/London\"\nday_start = \"09:00\""]}}});
    schemas["AdminProgram"] = json!({"type": "object", "required": ["id", "name", "archived", "policy_toml"], "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "archived": {"type": "boolean"}, "policy_toml": {"type": "string"}}});
    schemas["ProgramBody"] = json!({"type": "object", "additionalProperties": false, "required": ["id", "name"], "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "policy_toml": {"type": "string", "default": ""}}});
    schemas["ProgramPolicy"] = json!({"type": "object", "required": ["program", "toml", "resolved"], "properties": {"program": {"type": "string"}, "toml": {"type": "string"}, "resolved": {"type": "object", "description": "Every key resolved: the program's over the organisation's over the defaults"}}});
    schemas["ParticipantBody"] = json!({"type": "object", "additionalProperties": false, "required": ["id", "name", "email", "time_zone"], "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "email": {"type": "string", "format": "email"}, "time_zone": {"type": "string", "examples": ["Europe/London"]}, "programs": {"type": "array", "items": {"type": "string"}}}});
    schemas["PairBody"] = json!({"type": "object", "additionalProperties": false, "required": ["id", "program", "mentor", "mentee"], "properties": {"id": {"type": "string"}, "program": {"type": "string"}, "mentor": {"type": "string"}, "mentee": {"type": "string"}}});
    schemas["GroupBody"] = json!({"type": "object", "additionalProperties": false, "required": ["id", "program", "name", "members"], "properties": {"id": {"type": "string"}, "program": {"type": "string"}, "name": {"type": "string"}, "members": {"type": "array", "items": {"type": "string"}}}});
    schemas["ConnectionsReport"] = json!({"type": "object", "required": ["program", "name", "archived", "participants", "connected", "by_provider", "needs_reconnecting", "people"], "properties": {"program": {"type": "string"}, "name": {"type": "string"}, "archived": {"type": "boolean"}, "participants": {"type": "integer"}, "connected": {"type": "integer"}, "by_provider": {"type": "object", "required": ["google", "microsoft", "icloud", "organisation"], "properties": {"google": {"type": "integer"}, "microsoft": {"type": "integer"}, "icloud": {"type": "integer"}, "organisation": {"type": "integer"}}}, "needs_reconnecting": {"type": "array", "items": {"type": "object", "required": ["participant", "name", "provider", "reason"], "properties": {"participant": {"type": "string"}, "name": {"type": "string"}, "provider": {"enum": ["google", "microsoft", "icloud"]}, "reason": {"type": "string"}}}}, "people": {"type": "array", "items": {"type": "object", "required": ["participant", "name", "status", "last_read"], "properties": {"participant": {"type": "string"}, "name": {"type": "string"}, "status": {"type": "object", "required": ["state"], "properties": {"state": {"enum": ["not_connected", "connected", "through_organisation", "needs_reconnecting", "unreachable"]}}}, "last_read": {"type": ["string", "null"], "format": "date-time", "description": "When the calendar was last read into the busy cache; null if never"}}}}}});
    schemas["Integration"] = json!({"type": "object", "required": ["kind", "scheduling_account", "domains", "allow", "automatic_connections"], "properties": {"kind": {"enum": ["google_workspace", "exchange_online", "exchange_on_premise"]}, "scheduling_account": {"type": "string"}, "domains": {"type": "array", "items": {"type": "string"}}, "allow": {"type": "array", "items": {"type": "string"}}, "automatic_connections": {"type": "integer"}}});
    schemas["IntegrationChanged"] = json!({"type": "object", "required": ["kind", "enabled", "participants"], "properties": {"kind": {"type": "string"}, "enabled": {"type": "boolean"}, "participants": {"type": "array", "items": {"type": "string"}, "description": "Connected through it (enabled) or no longer (disabled)"}}});
    schemas["GoogleWorkspaceBody"] = json!({"type": "object", "additionalProperties": false, "required": ["service_account_key", "scheduling_account", "domains"], "properties": {"service_account_key": {"type": "string", "format": "password", "description": "The service account's JSON key, as text (kept in the vault, never returned)"}, "scheduling_account": {"type": "string"}, "domains": {"type": "array", "items": {"type": "string"}}, "allow": {"type": "array", "items": {"type": "string"}}, "via_scheduling_account": {"type": "boolean", "default": false}, "booking": {"type": "boolean", "default": false}, "token_uri": {"type": "string", "format": "uri"}, "api_base": {"type": "string", "format": "uri"}}});
    schemas["ExchangeOnlineBody"] = json!({"type": "object", "additionalProperties": false, "required": ["tenant", "client_id", "scheduling_account", "domains"], "properties": {"tenant": {"type": "string"}, "client_id": {"type": "string"}, "client_secret": {"type": "string", "format": "password"}, "certificate_key_pem": {"type": "string", "format": "password"}, "certificate_thumbprint": {"type": "string"}, "scheduling_account": {"type": "string"}, "domains": {"type": "array", "items": {"type": "string"}}, "allow": {"type": "array", "items": {"type": "string"}}, "booking": {"type": "boolean", "default": false}, "authority": {"type": "string", "format": "uri"}, "graph_base": {"type": "string", "format": "uri"}}});
    schemas["ExchangeOnPremiseBody"] = json!({"type": "object", "additionalProperties": false, "required": ["ews_url", "user", "password", "scheduling_account", "domains"], "properties": {"ews_url": {"type": "string", "format": "uri"}, "auth": {"enum": ["ntlm", "basic", "bearer"], "default": "ntlm"}, "user": {"type": "string"}, "password": {"type": "string", "format": "password"}, "scheduling_account": {"type": "string"}, "domains": {"type": "array", "items": {"type": "string"}}, "allow": {"type": "array", "items": {"type": "string"}}, "max_window_days": {"type": "integer", "minimum": 1}}});
    doc
}
