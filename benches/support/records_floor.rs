//! The floor of loading the records: every records table read with
//! rusqlite alone, no grouping and no records built (shared by the
//! `records` and `scale` benches).

use std::hint::black_box;
use std::path::Path;

/// Reads every row of the records' tables; returns how many.
#[allow(dead_code)]
pub(crate) fn floor(db: &Path) -> usize {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut rows = 0;
    for sql in FLOOR_SQL {
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

/// A participant row read into a struct (the cold start's floor at scale:
/// a bare `SELECT` into structs, as an embedder's own loader would).
#[allow(dead_code)]
pub(crate) struct Row4(pub String, pub String, pub String, pub String);

/// Every records table read into structs of owned strings, with rusqlite
/// alone (no grouping, no maps); returns how many rows.
#[allow(dead_code)]
pub(crate) fn floor_structs(db: &Path) -> usize {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut all: Vec<Vec<Row4>> = Vec::new();
    for sql in FLOOR_SQL {
        let mut stmt = conn.prepare(sql).unwrap();
        let columns = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                let cell = |i: usize| -> rusqlite::Result<String> {
                    if i >= columns {
                        return Ok(String::new());
                    }
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                        v => v.as_str()?.to_owned(),
                    })
                };
                Ok(Row4(cell(0)?, cell(1)?, cell(2)?, cell(3)?))
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        all.push(rows);
    }
    black_box(&all);
    all.iter().map(Vec::len).sum()
}

/// The same into structs over PostgreSQL (tokio-postgres alone).
#[cfg(feature = "postgres")]
#[allow(dead_code)]
pub(crate) async fn floor_structs_postgres(client: &tokio_postgres::Client) -> usize {
    let mut all: Vec<Vec<Row4>> = Vec::new();
    for sql in FLOOR_SQL {
        let rows = client.query(sql, &[]).await.unwrap();
        all.push(
            rows.iter()
                .map(|r| {
                    let cell = |i: usize| -> String {
                        if i >= r.len() {
                            String::new()
                        } else if *r.columns()[i].type_() == tokio_postgres::types::Type::INT8 {
                            r.get::<_, i64>(i).to_string()
                        } else {
                            r.get::<_, String>(i)
                        }
                    };
                    Row4(cell(0), cell(1), cell(2), cell(3))
                })
                .collect(),
        );
    }
    black_box(&all);
    all.iter().map(Vec::len).sum()
}

/// What a cold start reads, table by table.
const FLOOR_SQL: [&str; 6] = [
    "SELECT id, name, policy_toml FROM assistant_programs ORDER BY id",
    "SELECT id, email, time_zone, name FROM assistant_participants ORDER BY id",
    "SELECT participant_id, program_id FROM assistant_memberships ORDER BY participant_id, program_id",
    "SELECT id, program_id, mentor, mentee FROM assistant_pairs ORDER BY id",
    "SELECT id, program_id, name FROM assistant_groups ORDER BY id",
    "SELECT group_id, participant_id FROM assistant_group_members ORDER BY group_id, position",
];
