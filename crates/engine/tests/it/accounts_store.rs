//! The accounts area of the store, on SQLite and PostgreSQL: names are case-insensitive and unique,
//! a password change or a disable ends the account's sessions, and the throttle round-trips.

use engine::store::{AccountStore as _, Role, SessionRow, Throttle};
use jiff::Timestamp;
use testkit::{TestStore, both_backends};

fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).unwrap()
}

fn session(id: &str, user_id: i64, at: i64) -> SessionRow {
    SessionRow {
        id_hash: id.into(),
        user_id,
        csrf: format!("csrf-{id}"),
        created_at: ts(at),
        last_seen_at: ts(at),
        expires_at: ts(at + 3600),
        client: Some("127.0.0.1".into()),
    }
}

async fn users_and_sessions(t: TestStore) {
    let s = &t.store;
    let ana = s
        .create_user("  Ana ", Role::Admin, "$argon2id$hash-a", ts(0))
        .await
        .unwrap()
        .expect("created");
    assert_eq!(
        (ana.name.as_str(), ana.role, ana.disabled),
        ("ana", Role::Admin, false)
    );
    assert!(
        s.create_user("ANA", Role::Viewer, "x", ts(1))
            .await
            .unwrap()
            .is_none(),
        "names are case-insensitive and unique"
    );
    let bo = s
        .create_user("bo", Role::Viewer, "$argon2id$hash-b", ts(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.count_enabled_admins().await.unwrap(), 1);
    let names: Vec<String> = s
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["ana", "bo"]);
    assert_eq!(s.user_by_name("Bo").await.unwrap().unwrap().id, bo.id);

    for (id, user, at) in [("a1", ana.id, 10), ("a2", ana.id, 20), ("b1", bo.id, 30)] {
        s.create_session(&session(id, user, at)).await.unwrap();
    }
    assert_eq!(
        s.session_by_hash("a1").await.unwrap().unwrap().csrf,
        "csrf-a1"
    );
    let mine: Vec<String> = s
        .user_sessions(ana.id)
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.id_hash)
        .collect();
    assert_eq!(mine, ["a2", "a1"], "newest first");
    s.touch_session("a1", ts(500)).await.unwrap();
    assert_eq!(
        s.session_by_hash("a1").await.unwrap().unwrap().last_seen_at,
        ts(500)
    );

    // Logout ends one session; a password change ends all of the account's, and only its.
    assert!(s.delete_session("a1").await.unwrap());
    assert!(!s.delete_session("a1").await.unwrap());
    assert!(
        s.set_user_password("ANA", "$argon2id$new", ts(600))
            .await
            .unwrap()
    );
    assert!(s.session_by_hash("a2").await.unwrap().is_none());
    assert!(s.session_by_hash("b1").await.unwrap().is_some());
    let ana = s.user_by_name("ana").await.unwrap().unwrap();
    assert_eq!(
        (ana.password_hash.as_str(), ana.password_changed_at),
        ("$argon2id$new", ts(600))
    );
    // Disabling ends the sessions too.
    assert!(s.set_user_disabled("bo", true).await.unwrap());
    assert!(s.session_by_hash("b1").await.unwrap().is_none());
    assert!(s.user_by_name("bo").await.unwrap().unwrap().disabled);
    assert!(!s.set_user_disabled("nobody", true).await.unwrap());
    assert!(s.set_user_role("bo", Role::Operator).await.unwrap());
    assert_eq!(
        s.user_by_id(bo.id).await.unwrap().unwrap().role,
        Role::Operator
    );

    // Stale sessions: past their end, or idle too long.
    s.create_session(&session("old", ana.id, 0)).await.unwrap();
    s.create_session(&session("idle", ana.id, 4000))
        .await
        .unwrap();
    s.create_session(&session("live", ana.id, 4500))
        .await
        .unwrap();
    assert_eq!(
        s.delete_stale_sessions(ts(4600), ts(4100)).await.unwrap(),
        2
    );
    assert!(s.session_by_hash("live").await.unwrap().is_some());
    assert_eq!(s.delete_user_sessions(ana.id).await.unwrap(), 1);
}

async fn throttle_round_trips(t: TestStore) {
    let s = &t.store;
    assert_eq!(s.throttle("user:ana").await.unwrap(), None);
    let locked = Throttle {
        failures: 10,
        last_failure_at: ts(5),
        locked_until: Some(ts(905)),
    };
    s.put_throttle("user:ana", &locked).await.unwrap();
    assert_eq!(s.throttle("user:ana").await.unwrap(), Some(locked));
    let open = Throttle {
        failures: 1,
        last_failure_at: ts(6),
        locked_until: None,
    };
    s.put_throttle("user:ana", &open).await.unwrap();
    assert_eq!(s.throttle("user:ana").await.unwrap(), Some(open));
    s.clear_throttle("user:ana").await.unwrap();
    assert_eq!(s.throttle("user:ana").await.unwrap(), None);
}

both_backends!(users_and_sessions, throttle_round_trips);
