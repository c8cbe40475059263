//! `centralbridge demo --once` on a small MSP: the whole cycle runs on a fresh machine with no
//! configuration, prints its summary, keeps its store in `--dir`, and exits 0.

use std::process::Command;

#[test]
fn demo_once_runs_the_whole_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_centralbridge"))
        .args(["demo", "--once", "--customers", "6", "--dir"])
        .arg(dir.path())
        .env_remove("CENTRALBRIDGE_MASTER_KEY")
        .env_remove("CENTRALBRIDGE_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for step in 1..=10 {
        assert!(
            stdout.contains(&format!("[{step}/10]")),
            "step {step} missing:\n{stdout}"
        );
    }
    // The technician's close and delete, and what the next cycle did about each.
    let line = |needle: &str| {
        stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{stdout}"))
            .to_owned()
    };
    let closed = line("closed ticket #");
    let ticket = closed
        .split("closed ticket #")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("a ticket number")
        .to_owned();
    assert!(
        line("deleted addition #").contains("agreement #"),
        "{stdout}"
    );
    assert!(
        line(&format!("ticket #{ticket} was closed in ConnectWise")).contains("acknowledged"),
        "{stdout}"
    );
    assert!(
        line("removed in ConnectWise and not recreated").contains("usage sync, "),
        "{stdout}"
    );
    assert!(line("what to do:").contains("--recreate"), "{stdout}");
    let number = |label: &str| -> u64 {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no `{label}` in:\n{stdout}"));
        line.split(':')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(number("customers mapped") > 0, "{stdout}");
    assert!(number("additions created") > 0, "{stdout}");
    assert!(number("tickets opened") > 0, "{stdout}");
    // The store and its key stay in --dir; the key is not printed.
    assert!(dir.path().join("centralbridge.db").exists());
    let key = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    assert!(!stdout.contains(key.trim()));
}

#[test]
fn the_sample_config_in_deploy_loads() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/config.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_centralbridge"))
        .args(["--config", sample, "config"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("tickets_interval = \"60s\""), "{text}");
}
