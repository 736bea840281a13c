//! ARCHITECTURE.md's map of the root package stays true: every row of the
//! table under "The root package (`src/`)" names a file (or a folder,
//! counted as the sum of its files) under `src/`, and its "lines" column is
//! within 15 % of the file's line count, so a file that grows or shrinks a
//! lot fails here until the map is updated.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use std::path::{Path, PathBuf};

/// How far a stated count may be from the file's, in percent.
const TOLERANCE_PERCENT: usize = 15;

/// The rows of the table: (module as written, stated lines).
fn rows(architecture: &str) -> Vec<(String, usize)> {
    let section = architecture
        .split_once("### The root package (`src/`)")
        .expect("ARCHITECTURE.md has the section \"The root package (`src/`)\"")
        .1;
    let table: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert_eq!(
        table.first().map(|h| h.replace(' ', "")),
        Some("|module|owns|lines|".to_owned()),
        "the table's header"
    );
    table[2..]
        .iter()
        .map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            let module = cells[0].trim_matches('`').to_owned();
            let lines = cells
                .last()
                .unwrap()
                .parse()
                .unwrap_or_else(|e| panic!("{row}: the lines column: {e}"));
            (module, lines)
        })
        .collect()
}

/// Lines as `grep -c ''` counts them; a folder is the sum of its files.
fn line_count(path: &Path) -> usize {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.iter().map(|f| line_count(f)).sum()
    } else {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .lines()
            .count()
    }
}

#[test]
fn the_root_package_map_names_existing_files_with_their_sizes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let rows = rows(&architecture);
    assert!(rows.len() >= 30, "only {} rows read", rows.len());
    let mut wrong = Vec::new();
    for (module, stated) in &rows {
        let path = root.join("src").join(module);
        if !path.exists() {
            wrong.push(format!("{module}: no such file under src/"));
            continue;
        }
        let actual = line_count(&path);
        if actual.abs_diff(*stated) * 100 > TOLERANCE_PERCENT * stated {
            wrong.push(format!(
                "{module}: {actual} lines, ARCHITECTURE.md says {stated}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "update the \"lines\" column of ARCHITECTURE.md (count with `grep -c ''`):\n{}",
        wrong.join("\n")
    );
}
