//! The floor of loading the records: every records table read with
//! rusqlite alone, no grouping and no records built (shared by the
//! `records` and `scale` benches).

use std::hint::black_box;
use std::path::Path;

/// Reads every row of the records' tables; returns how many.
pub(crate) fn floor(db: &Path) -> usize {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut rows = 0;
    for sql in [
        "SELECT id, name, policy_toml FROM assistant_programs ORDER BY id",
        "SELECT id, email, time_zone, name FROM assistant_participants ORDER BY id",
        "SELECT participant_id, program_id FROM assistant_memberships ORDER BY participant_id, program_id",
        "SELECT id, program_id, mentor, mentee FROM assistant_pairs ORDER BY id",
        "SELECT id, program_id, name FROM assistant_groups ORDER BY id",
        "SELECT group_id, participant_id FROM assistant_group_members ORDER BY group_id, position",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        let columns = stmt.column_count();
        let mut cursor = stmt.query([]).unwrap();
        while let Some(row) = cursor.next().unwrap() {
            for c in 0..columns {
                black_box(row.get_ref(c).unwrap());
            }
            rows += 1;
        }
    }
    rows
}
