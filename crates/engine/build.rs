//! Embeds the SQL migrations: `migrations/<backend>/NNNN_description.sql` become a list in
//! `$OUT_DIR/migrations.rs` that the store turns into sqlx migrators. (Without sqlx's `migrate!`
//! macro, which would build a second, host-side sqlx with both database drivers.)

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut out = String::new();
    for (backend, konst) in [("sqlite", "SQLITE"), ("postgres", "POSTGRES")] {
        let dir = root.join(backend);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        writeln!(out, "pub(crate) const {konst}: &[(i64, &str, &str)] = &[").unwrap();
        for path in files {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let (version, name) = stem
                .split_once('_')
                .unwrap_or_else(|| panic!("{}: name it NNNN_description.sql", path.display()));
            let version: i64 = version
                .parse()
                .unwrap_or_else(|_| panic!("{}: the prefix must be a number", path.display()));
            // The description as sqlx's own loader makes it, so the recorded history matches.
            let description = name.replace('_', " ");
            writeln!(
                out,
                "    ({version}, {description:?}, include_str!({:?})),",
                path.display().to_string()
            )
            .unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("migrations.rs");
    std::fs::write(dest, out).expect("write migrations.rs");
}
