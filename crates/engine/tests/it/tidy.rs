//! Tidy checks on the engine's source text (in the spirit of rust-analyzer's `xtask/src/tidy.rs`):
//! rules of ARCHITECTURE.md that the compiler cannot see.
//!
//! - plans are pure: a `plan.rs` does no I/O, reads no clock and never sees the store;
//! - vendor field names stay in the client crates: the engine asks `connectwise`/`sophos` through
//!   typed helpers, never with a field name of theirs in a string (or a hand-built condition/patch);
//! - vendor models stay in the client crates: the engine works on its own domain values, built from
//!   what the clients return. [`MODELS_ALLOWED`] lists the files not converted yet;
//! - every door runs a job through the harness: only `engine::job` takes leases, writes run rows and
//!   per-customer statuses (the sync functions also need a `job::Run`, which only it makes).

use std::path::{Path, PathBuf};

/// Text a `plan.rs` must not contain (as a whole word, outside `//` comments), with what to do.
const PLAN_FORBIDDEN: &[(&str, &str)] = &[
    (
        "async",
        "planning is a pure function: do the I/O in the read or apply step",
    ),
    (
        "Timestamp::now",
        "pass the time in as a value (the read step takes it)",
    ),
    ("SystemTime", "pass the time in as a value"),
    ("Instant::now", "pass the time in as a value"),
    (
        "crate::store",
        "give the planner an engine domain type, converted from the store row in the read step",
    ),
    (
        "Store",
        "give the planner an engine domain type, not the store or its rows",
    ),
];

/// Vendor wire field names (ConnectWise, Sophos) that must not appear as string literals in the
/// engine: the client crates own them.
const WIRE_NAMES: &[&str] = &[
    "externalXRef",
    "closedFlag",
    "_info/lastUpdated",
    "lastUpdated",
    "cancelledDate",
    "cancelledFlag",
    "agreementStatus",
    "deletedFlag",
    "closedStatus",
    "billCustomer",
    "effectiveDate",
    "initialDescription",
    "resolutionFlag",
    "detailDescriptionFlag",
    "product/id",
    "company/id",
    "status/id",
    "apiHost",
    "raisedAt",
    "managedAgent",
    "allowedActions",
];

/// Building blocks of raw vendor queries and patches: the engine calls a typed client helper
/// instead, so field names stay with the client.
const RAW_VENDOR_CALLS: &[&str] = &["Conditions::", "PatchOp::", "Query::new"];

/// Vendor model types a client crate re-exports at its root (`sophos::Alert` is
/// `sophos::models::Alert`): naming them is naming the model.
const ROOT_MODELS: &[(&str, &[&str])] = &[(
    "sophos",
    &[
        "ActionResult",
        "Alert",
        "AlertAction",
        "ApiHosts",
        "BillingType",
        "Category",
        "IdType",
        "ManagedAgent",
        "Product",
        "Severity",
        "Tenant",
        "UsageItem",
        "UsageMonth",
        "WhoAmI",
    ],
)];

/// Files of `crates/engine/src` that still name `connectwise::models` / `sophos::models`, each with
/// why. The goal is an empty list; an entry whose file no longer names a model fails the test, so
/// the list only shrinks.
const MODELS_ALLOWED: &[(&str, &str)] = &[];

/// Store calls that belong to the run harness alone (and the store that defines them).
const HARNESS_CALLS: &[&str] = &[
    "start_sync_run",
    "finish_sync_run",
    "abandon_running_sync_runs",
    "acquire_lease",
    "renew_lease",
    "release_lease",
    "upsert_customer_status",
    "upsert_customer_statuses",
];

/// Where [`HARNESS_CALLS`] may appear: the harness and the store.
const HARNESS_HOMES: &[&str] = &["crates/engine/src/job/", "crates/engine/src/store/"];

fn harness_violations(path: &str, text: &str) -> Vec<String> {
    if HARNESS_HOMES.iter().any(|h| path.starts_with(h)) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = code_of(line);
        for call in HARNESS_CALLS {
            if contains_word(code, call) {
                out.push(format!(
                    "{path}:{}: `{call}` is the run harness's: start the run with \
                     `engine::job::start` (or the CLI's `cmd::run::start`) and finish it with \
                     `Run::finish` / `Run::record_customer`, so every door takes the lease",
                    n + 1
                ));
            }
        }
    }
    out
}

/// Every source file of the crates that hold doors (the engine and the binary).
fn door_sources() -> Vec<(String, String)> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    for krate in ["engine", "centralbridge"] {
        let root = workspace.join("crates").join(krate).join("src");
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        for p in files {
            let rel = p
                .strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            out.push((format!("crates/{krate}/src/{rel}"), text));
        }
    }
    out
}

#[test]
fn every_door_goes_through_the_run_harness() {
    let files = door_sources();
    assert!(
        files
            .iter()
            .any(|(p, _)| p == "crates/centralbridge/src/service/scheduler.rs"),
        "found no door sources"
    );
    let problems: Vec<String> = files
        .iter()
        .flat_map(|(p, t)| harness_violations(p, t))
        .collect();
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn harness_check_can_fail() {
    let bad = "let id = store.start_sync_run(JOB, now, who).await?;\n// acquire_lease in a comment\n\
               store.acquire_lease(job, holder, now, ttl).await?;\n";
    let v = harness_violations("crates/centralbridge/src/cmd/sync.rs", bad);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(
        v[0].starts_with("crates/centralbridge/src/cmd/sync.rs:1:")
            && v[0].contains("start_sync_run")
    );
    assert!(v[1].starts_with("crates/centralbridge/src/cmd/sync.rs:3:"));
    assert!(harness_violations("crates/engine/src/job/mod.rs", bad).is_empty());
    assert!(harness_violations("crates/engine/src/store/core_area.rs", bad).is_empty());
}

fn engine_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `(relative path, text)` of every engine source file.
fn sources() -> Vec<(String, String)> {
    let root = engine_src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            (format!("crates/engine/src/{rel}"), text)
        })
        .collect()
}

/// The code of a line without a trailing `//` comment (a `//` inside a string literal is rare in
/// the engine and only makes the check stricter).
fn code_of(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `needle` in `hay` with no identifier character on either side.
fn contains_word(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        !before.is_some_and(is_ident_char) && !after.is_some_and(is_ident_char)
    })
}

/// `needle` in `hay` where no identifier character comes right before it (`connectwise::Query::new`
/// matches `Query::new`, `AlertQuery::new` does not).
fn starts_word(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle)
        .any(|(i, _)| !hay[..i].chars().next_back().is_some_and(is_ident_char))
}

/// Any identifier that is `Store` or ends in it (`Store`, `CoreStore`, `TicketStore`).
fn contains_store(hay: &str) -> bool {
    hay.split(|c: char| !is_ident_char(c))
        .any(|w| w.ends_with("Store"))
}

fn plan_violations(path: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = code_of(line);
        for (word, advice) in PLAN_FORBIDDEN {
            let hit = if *word == "Store" {
                contains_store(code)
            } else {
                contains_word(code, word)
            };
            if hit {
                out.push(format!(
                    "{path}:{}: a plan must not use `{word}`: {advice}",
                    n + 1
                ));
            }
        }
    }
    out
}

fn wire_violations(path: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = code_of(line);
        for name in WIRE_NAMES {
            if code.contains(&format!("\"{name}\"")) {
                out.push(format!(
                    "{path}:{}: the vendor field name \"{name}\" belongs in the client crate: add a typed \
                     helper to `connectwise`/`sophos` and call it",
                    n + 1
                ));
            }
        }
        for raw in RAW_VENDOR_CALLS {
            if starts_word(code, raw) {
                out.push(format!(
                    "{path}:{}: `{raw}` builds a raw vendor query or patch: add a typed helper to the \
                     client crate and call it",
                    n + 1
                ));
            }
        }
    }
    out
}

/// The items a `krate::…` path or `krate::{…}` group names, with the 1-based line each starts on.
fn named_items(text: &str, krate: &str) -> Vec<(usize, String)> {
    let code: String = text.lines().map(|l| format!("{}\n", code_of(l))).collect();
    let prefix = format!("{krate}::");
    let mut out = Vec::new();
    for (i, _) in code.match_indices(&prefix) {
        if code[..i].chars().next_back().is_some_and(is_ident_char) {
            continue;
        }
        let line = code[..i].matches('\n').count() + 1;
        let rest = &code[i + prefix.len()..];
        let names = match rest.strip_prefix('{') {
            Some(group) => &group[..group.find('}').unwrap_or(group.len())],
            None => &rest[..rest.find(|c: char| !is_ident_char(c)).unwrap_or(rest.len())],
        };
        for name in names
            .split(|c: char| !is_ident_char(c))
            .filter(|n| !n.is_empty())
        {
            out.push((line, name.to_owned()));
        }
    }
    out
}

fn model_lines(text: &str) -> Vec<usize> {
    let mut lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| code_of(l).contains("models::"))
        .map(|(n, _)| n + 1)
        .collect();
    for (krate, models) in ROOT_MODELS {
        lines.extend(
            named_items(text, krate)
                .into_iter()
                .filter(|(_, name)| models.contains(&name.as_str()))
                .map(|(line, _)| line),
        );
    }
    lines.sort_unstable();
    lines.dedup();
    lines
}

fn model_violations(path: &str, text: &str) -> Vec<String> {
    model_lines(text)
        .into_iter()
        .map(|n| {
            format!(
                "{path}:{n}: vendor models stay in the client crates: work on an engine domain type \
                 (or a domain-shaped type the client returns outside `models`)"
            )
        })
        .collect()
}

fn check_all(files: &[(String, String)], allowed: &[(&str, &str)]) -> Vec<String> {
    let mut out = Vec::new();
    for (path, text) in files {
        if path.ends_with("/plan.rs") {
            out.extend(plan_violations(path, text));
        }
        out.extend(wire_violations(path, text));
        if !allowed.iter().any(|(p, _)| p == path) {
            out.extend(model_violations(path, text));
        }
    }
    for (entry, _) in allowed {
        match files.iter().find(|(p, _)| p == entry) {
            None => out.push(format!(
                "{entry}: on the models allow-list of tests/tidy.rs but missing: remove the entry"
            )),
            Some((_, text)) if model_lines(text).is_empty() => out.push(format!(
                "{entry}: names no vendor model any more: remove it from the allow-list in tests/tidy.rs"
            )),
            Some(_) => {}
        }
    }
    out
}

#[test]
fn engine_source_is_tidy() {
    let files = sources();
    assert!(
        files.iter().any(|(p, _)| p.ends_with("tickets/plan.rs")),
        "found no engine sources under {}",
        engine_src().display()
    );
    let problems = check_all(&files, MODELS_ALLOWED);
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn plan_check_catches_io_clock_and_store() {
    let bad = "use crate::store::AlertLink;\npub async fn plan() {}\nlet t = Timestamp::now();\n\
               fn f(s: &Store) {}\nuse crate::store::{CoreStore as _};\nlet i = Instant::now();\n\
               let s = SystemTime::now();\n";
    let v = plan_violations("x/plan.rs", bad);
    for word in [
        "crate::store",
        "async",
        "Timestamp::now",
        "Store",
        "Instant::now",
        "SystemTime",
    ] {
        assert!(
            v.iter().any(|m| m.contains(&format!("`{word}`"))),
            "{word}: {v:?}"
        );
    }
    assert!(v.iter().any(|m| m.starts_with("x/plan.rs:1:")), "{v:?}");
    assert!(v.iter().any(|m| m.starts_with("x/plan.rs:5:")), "{v:?}");
    // Words that merely contain the forbidden ones, and comments, are fine.
    let ok = "// reads the store, async elsewhere\nlet asynchronous = 1; let restore = 2;\n";
    assert_eq!(plan_violations("x/plan.rs", ok), Vec::<String>::new());
    // Only plan files are held to it.
    let files = vec![("crates/engine/src/a/sync.rs".to_owned(), bad.to_owned())];
    assert!(check_all(&files, &[]).is_empty());
}

#[test]
fn wire_check_catches_field_names_and_raw_queries() {
    let bad = "let c = x.eq_bool(\"closedFlag\", true);\nlet p = PatchOp::replace(\"cancelledDate\", d);\n\
               let q = connectwise::Query::new();\nlet c = Conditions::new();\n";
    let v = wire_violations("crates/engine/src/u.rs", bad);
    assert!(
        v.iter()
            .any(|m| m.starts_with("crates/engine/src/u.rs:1:") && m.contains("closedFlag")),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|m| m.starts_with("crates/engine/src/u.rs:2:") && m.contains("cancelledDate")),
        "{v:?}"
    );
    assert!(v.iter().any(|m| m.contains("`PatchOp::`")), "{v:?}");
    assert!(
        v.iter().any(|m| m.starts_with("crates/engine/src/u.rs:3:")),
        "{v:?}"
    );
    assert!(
        v.iter().any(|m| m.starts_with("crates/engine/src/u.rs:4:")),
        "{v:?}"
    );
    // Our own JSON keys, other types' constructors and prose are not vendor field names.
    let ok = "json!({\"quantity\": 1, \"ticket_id\": 2}); AlertQuery::new() // closedFlag\n";
    assert!(wire_violations("crates/engine/src/u.rs", ok).is_empty());
}

#[test]
fn model_check_and_allow_list_can_fail() {
    let bad = "use connectwise::models::Ticket;\nfn f(a: sophos::models::Alert) {}\n";
    let v = model_violations("crates/engine/src/t.rs", bad);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0].starts_with("crates/engine/src/t.rs:1:"));
    assert!(v[1].starts_with("crates/engine/src/t.rs:2:"));
    let nested = "use connectwise::{CwError, models::Ticket};\n";
    assert_eq!(model_violations("t.rs", nested).len(), 1);
    assert!(model_violations("t.rs", "// no models:: here\nlet x = 1;\n").is_empty());
    // The models a client re-exports at its root count too, alone or in a group over lines.
    let reexported =
        "fn f(a: sophos::Alert) {}\nuse sophos::{\n    AlertQuery,\n    Severity,\n};\n";
    let v = model_violations("t.rs", reexported);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(
        v[0].starts_with("t.rs:1:") && v[1].starts_with("t.rs:2:"),
        "{v:?}"
    );
    let fine = "use sophos::{AlertQuery, SophosError, TenantRef};\nlet c: sophos::Client;\n";
    assert!(model_violations("t.rs", fine).is_empty());

    // An allow-listed file may name models; an entry that is stale or missing fails.
    let files = vec![
        ("crates/engine/src/t.rs".to_owned(), bad.to_owned()),
        (
            "crates/engine/src/done.rs".to_owned(),
            "let x = 1;\n".to_owned(),
        ),
    ];
    assert!(check_all(&files, &[("crates/engine/src/t.rs", "why")]).is_empty());
    let v = check_all(
        &files,
        &[
            ("crates/engine/src/t.rs", "why"),
            ("crates/engine/src/done.rs", "why"),
            ("crates/engine/src/gone.rs", "why"),
        ],
    );
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0].starts_with("crates/engine/src/done.rs: names no vendor model"));
    assert!(v[1].starts_with("crates/engine/src/gone.rs: on the models allow-list"));
    assert_eq!(check_all(&files, &[]).len(), 2);
}

/// Field names that hold a vendor id: in the engine they are typed (`engine::ids`), so an
/// agreement id cannot be passed where a company id belongs and no `0` stands for a missing one.
const TYPED_ID_FIELDS: &[(&str, &str)] = &[
    ("tenant_id", "TenantId"),
    ("company_id", "CompanyId"),
    ("agreement_id", "AgreementId"),
    ("addition_id", "AdditionId"),
    ("catalog_item_id", "CatalogItemId"),
    ("ticket_id", "TicketId"),
    ("previous_ticket_id", "TicketId"),
];

/// Fields that share a name with an id but are not one: `(file, field)`.
const RAW_ID_ALLOWED: &[(&str, &str)] = &[
    // The ConnectWise login "company id" (the MSP's site name, e.g. `mymsp`), not a company record.
    ("crates/engine/src/connections.rs", "company_id"),
];

/// Struct fields (and enum variant fields) named for a vendor id but declared as a raw `i64` or
/// `String`, outside `#[cfg(test)]` code.
fn raw_id_violations(path: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = code_of(line).trim_start();
        let code = code.strip_prefix("pub ").unwrap_or(code);
        for (field, ty) in TYPED_ID_FIELDS {
            let Some(rest) = code.strip_prefix(field).and_then(|r| r.strip_prefix(": ")) else {
                continue;
            };
            let raw = ["i64", "String", "Option<i64>", "Option<String>"]
                .iter()
                .any(|t| rest.trim_end_matches([',', ' ']) == *t);
            let allowed = RAW_ID_ALLOWED.contains(&(path, field));
            if raw && !allowed && !code.contains('(') {
                out.push(format!(
                    "{path}:{}: `{field}` is a raw `{}`: make it `{ty}` (engine::ids)",
                    n + 1,
                    rest.trim_end_matches([',', ' '])
                ));
            }
        }
    }
    out
}

#[test]
fn vendor_ids_are_typed_in_the_engine() {
    let problems: Vec<String> = sources()
        .iter()
        .flat_map(|(p, t)| raw_id_violations(p, t))
        .collect();
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn raw_id_check_can_fail() {
    let bad = "pub struct Op {\n    pub agreement_id: i64,\n    tenant_id: String,\n    fn f(company_id: i64) {}\n}\n#[cfg(test)]\nmod tests { struct T { ticket_id: i64 } }\n";
    let found = raw_id_violations("x.rs", bad);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("x.rs:2") && found[0].contains("AgreementId"));
    assert!(found[1].contains("x.rs:3") && found[1].contains("TenantId"));
    assert!(raw_id_violations("x.rs", "    pub ticket_id: Option<TicketId>,\n").is_empty());
}
