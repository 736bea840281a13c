//! The schema, one migration per step, and the version checks. Every
//! table's `CREATE` is here; each table's other SQL has one owner
//! (`records`, `attempts`, `busy`).

use super::StoreError;

/// The schema, one migration per step; a database records how many it has
/// applied in `assistant_schema` and refuses to open when it is newer than
/// this build.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the records.
    "CREATE TABLE assistant_programs (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, policy_toml TEXT NOT NULL);
     CREATE TABLE assistant_participants (
        id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, time_zone TEXT NOT NULL,
        name TEXT NOT NULL);
     CREATE TABLE assistant_memberships (
        program_id TEXT NOT NULL REFERENCES assistant_programs(id),
        participant_id TEXT NOT NULL REFERENCES assistant_participants(id),
        PRIMARY KEY (program_id, participant_id));
     CREATE TABLE assistant_pairs (
        id TEXT PRIMARY KEY, program_id TEXT NOT NULL REFERENCES assistant_programs(id),
        mentor TEXT NOT NULL REFERENCES assistant_participants(id),
        mentee TEXT NOT NULL REFERENCES assistant_participants(id));
     CREATE TABLE assistant_groups (
        id TEXT PRIMARY KEY, program_id TEXT NOT NULL REFERENCES assistant_programs(id),
        name TEXT NOT NULL);
     CREATE TABLE assistant_group_members (
        group_id TEXT NOT NULL REFERENCES assistant_groups(id),
        position BIGINT NOT NULL,
        participant_id TEXT NOT NULL REFERENCES assistant_participants(id),
        PRIMARY KEY (group_id, participant_id));
     CREATE TABLE assistant_connections (
        participant_id TEXT PRIMARY KEY REFERENCES assistant_participants(id),
        provider TEXT NOT NULL, account TEXT NOT NULL, connected_at BIGINT NOT NULL,
        needs_reconnect TEXT NOT NULL);",
    // 2: organisation integrations' settings (their secrets are in the vault).
    "CREATE TABLE assistant_org_integrations (
        kind TEXT PRIMARY KEY, settings_json TEXT NOT NULL);",
    // 3: several instances on one database. Busy times shared by them, one
    // row per participant with the refresh lease (used on PostgreSQL; see
    // `busy`), and a revision every write of the records above
    // bumps, so instances know when to reload them.
    "CREATE TABLE assistant_busy (
        participant_id TEXT PRIMARY KEY, source_key TEXT NOT NULL, account TEXT NOT NULL,
        window_start BIGINT NOT NULL, window_end BIGINT NOT NULL,
        fetched_at BIGINT NOT NULL, result_json TEXT NOT NULL,
        lease_owner TEXT, lease_until BIGINT);
     CREATE TABLE assistant_revision (id BIGINT PRIMARY KEY, revision BIGINT NOT NULL);
     INSERT INTO assistant_revision (id, revision) VALUES (1, 0);",
    // 4: OAuth attempts between `begin_connect` and the provider's callback,
    // so any instance can complete them (the PKCE verifier is in the vault).
    "CREATE TABLE assistant_oauth_attempts (
        state_hash TEXT PRIMARY KEY, participant_id TEXT NOT NULL, provider TEXT NOT NULL,
        expires_at BIGINT NOT NULL);",
    // 5: when busy times were fetched, in milliseconds. `fetched_at` keeps
    // whole seconds for instances of the previous build during an upgrade;
    // readers take the later of the two, so rows either build wrote stay
    // fresh for both.
    "ALTER TABLE assistant_busy ADD COLUMN fetched_ms BIGINT NOT NULL DEFAULT 0;
     UPDATE assistant_busy SET fetched_ms = fetched_at * 1000;",
    // 6: a participant's own hours (narrower weekly hours, date overrides)
    // as `policy_rules::ParticipantHours` JSON.
    "CREATE TABLE assistant_participant_hours (
        participant_id TEXT PRIMARY KEY REFERENCES assistant_participants(id),
        hours_json TEXT NOT NULL);",
    // 7: partnerships that end and programs that are archived (0: current):
    // ended pairs stay as history (who was paired when), without access.
    "ALTER TABLE assistant_pairs ADD COLUMN ended_at BIGINT NOT NULL DEFAULT 0;
     ALTER TABLE assistant_programs ADD COLUMN archived_at BIGINT NOT NULL DEFAULT 0;",
    // 8: stored polls (their proposed slots, invitees and votes) and booked
    // meetings (their attendees). A poll's `claim_until` is the instant an
    // instance's booking attempt stops holding it (0: nobody holds it);
    // `claim_token` says whose attempt it is; `deadline` and `booking_id` are 0 and '' when there is none. Slots
    // keep who was free when proposed (a JSON array of ids), so a booking
    // can tell "no longer free" from "never was". A booking attempt holds
    // each attendee in `assistant_booking_locks` until `claim_until`, so two
    // attempts never check and book one person at once. Times are whole seconds.
    "CREATE TABLE assistant_polls (
        id TEXT PRIMARY KEY,
        program_id TEXT NOT NULL REFERENCES assistant_programs(id),
        creator TEXT NOT NULL,
        group_id TEXT NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL,
        duration_secs BIGINT NOT NULL,
        deadline BIGINT NOT NULL,
        status TEXT NOT NULL,
        claim_until BIGINT NOT NULL DEFAULT 0,
        claim_token TEXT NOT NULL DEFAULT '',
        booking_id TEXT NOT NULL DEFAULT '',
        created_at BIGINT NOT NULL);
     CREATE TABLE assistant_poll_slots (
        poll_id TEXT NOT NULL REFERENCES assistant_polls(id),
        position BIGINT NOT NULL,
        start_s BIGINT NOT NULL,
        end_s BIGINT NOT NULL,
        free_json TEXT NOT NULL,
        PRIMARY KEY (poll_id, position));
     CREATE TABLE assistant_poll_invitees (
        poll_id TEXT NOT NULL REFERENCES assistant_polls(id),
        position BIGINT NOT NULL,
        participant_id TEXT NOT NULL REFERENCES assistant_participants(id),
        PRIMARY KEY (poll_id, participant_id));
     CREATE INDEX assistant_poll_invitees_by_participant
        ON assistant_poll_invitees (participant_id);
     CREATE TABLE assistant_poll_votes (
        poll_id TEXT NOT NULL REFERENCES assistant_polls(id),
        participant_id TEXT NOT NULL REFERENCES assistant_participants(id),
        position BIGINT NOT NULL,
        vote TEXT NOT NULL,
        PRIMARY KEY (poll_id, participant_id, position));
     CREATE TABLE assistant_bookings (
        id TEXT PRIMARY KEY,
        program_id TEXT NOT NULL REFERENCES assistant_programs(id),
        poll_id TEXT NOT NULL,
        pair_id TEXT NOT NULL,
        creator TEXT NOT NULL,
        uid TEXT NOT NULL,
        sequence BIGINT NOT NULL,
        start_s BIGINT NOT NULL,
        end_s BIGINT NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL,
        status TEXT NOT NULL,
        via TEXT NOT NULL,
        event_ref TEXT NOT NULL,
        created_at BIGINT NOT NULL);
     CREATE INDEX assistant_bookings_by_end ON assistant_bookings (end_s);
     CREATE TABLE assistant_booking_attendees (
        booking_id TEXT NOT NULL REFERENCES assistant_bookings(id),
        participant_id TEXT NOT NULL REFERENCES assistant_participants(id),
        PRIMARY KEY (booking_id, participant_id));
     CREATE INDEX assistant_booking_attendees_by_participant
        ON assistant_booking_attendees (participant_id);
     CREATE TABLE assistant_booking_locks (
        participant_id TEXT PRIMARY KEY REFERENCES assistant_participants(id),
        claim_until BIGINT NOT NULL,
        claim_token TEXT NOT NULL);",
    // 9: the HTTP layer. Sign-in sessions, under a hash of their token (the
    // token itself is never stored), with the actor they act as (JSON), when
    // they began and were last used, so every instance expires them alike.
    // An OAuth attempt keeps a hash of the session that began it, checked at
    // the callback, and where to return (one of the router's own paths).
    // `assistant_settings` holds run-time settings by key (the
    // organisation's policy layer, as TOML, under `org_policy`).
    "CREATE TABLE assistant_sessions (
        token_hash TEXT PRIMARY KEY, actor_json TEXT NOT NULL,
        created_at BIGINT NOT NULL, last_seen BIGINT NOT NULL);
     CREATE INDEX assistant_sessions_by_last_seen ON assistant_sessions (last_seen);
     ALTER TABLE assistant_oauth_attempts ADD COLUMN session_hash TEXT NOT NULL DEFAULT '';
     ALTER TABLE assistant_oauth_attempts ADD COLUMN return_to TEXT NOT NULL DEFAULT '';
     CREATE TABLE assistant_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 10: the change log (`changes`): each write of the records names the
    // records it changed under the revision it took, so other instances
    // reload those alone; the indexes reloading one participant's or
    // program's records reads by; and when each participant's busy time
    // was last asked for (`demand`: the refresher's working set).
    "CREATE TABLE assistant_changes (
        revision BIGINT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
        PRIMARY KEY (revision, kind, key));
     CREATE INDEX assistant_memberships_by_participant
        ON assistant_memberships (participant_id);
     CREATE INDEX assistant_pairs_by_mentor ON assistant_pairs (mentor);
     CREATE INDEX assistant_pairs_by_mentee ON assistant_pairs (mentee);
     CREATE INDEX assistant_pairs_by_program ON assistant_pairs (program_id);
     CREATE INDEX assistant_group_members_by_participant
        ON assistant_group_members (participant_id);
     CREATE TABLE assistant_demand (
        participant_id TEXT PRIMARY KEY, demanded_at BIGINT NOT NULL);
     CREATE INDEX assistant_demand_by_time ON assistant_demand (demanded_at);",
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(super) fn check_version(found: i64) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    Ok(())
}

pub(super) fn usize_of(v: i64) -> usize {
    usize::try_from(v).unwrap_or(0)
}

pub(super) fn i64_of(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_schema_is_refused_and_conversions_saturate() {
        assert!(check_version(SCHEMA_VERSION).is_ok());
        assert!(matches!(
            check_version(SCHEMA_VERSION + 1),
            Err(StoreError::SchemaTooNew { found, known }) if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION
        ));
        assert_eq!(usize_of(-1), 0);
        assert_eq!(i64_of(usize::MAX), i64::MAX);
    }
}
