//! Opening a store that cannot work fails with a message naming the problem and the fix, and writes
//! nothing.

use engine::secrets::MasterKey;
use engine::store::{Store, StoreError};

#[tokio::test]
async fn unwritable_sqlite_path_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where a directory should be: fails even for root.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let target = blocker.join("db").join("centralbridge.db");
    let err = Store::open(target.to_str().unwrap(), MasterKey::generate().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unwritable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&target.display().to_string()) && msg.contains("Fix:"),
        "{msg}"
    );
    assert!(err.is_setup_error());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing else written"
    );
}

#[tokio::test]
async fn silent_postgres_is_named_without_its_password() {
    // Port 1 on loopback: nothing listens there.
    let url = "postgres://cb:pw-Zq81xx@127.0.0.1:1/centralbridge";
    let err = Store::open(url, MasterKey::generate().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("127.0.0.1:1") && msg.contains("did not answer"),
        "{msg}"
    );
    assert!(!msg.contains("pw-Zq81xx"), "password leaked: {msg}");
    assert!(
        !format!("{err:?}").contains("pw-Zq81xx"),
        "password leaked in Debug"
    );
}

#[tokio::test]
async fn unsupported_scheme_is_refused() {
    let err = Store::open("mysql://u:p@h/d", MasterKey::generate().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidTarget { .. }), "{err:?}");
}
