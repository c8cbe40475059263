//! The core store area, run on SQLite and PostgreSQL.

use engine::audit::AuditKind;
use std::time::Duration;

use engine::secrets::{ExposeSecret as _, MasterKey, SecretString};
use engine::store::{
    AuditFilter, BackendKind, ConnectionKind, CoreStore as _, CustomerStatus, NewAudit, RunOutcome,
    Store, StoreError,
};
use jiff::Timestamp;
use serde_json::json;
use sqlx::{Connection as _, Row as _};
use testkit::{TestStore, both_backends};

const CW_PRIVATE_KEY: &str = "cw-private-KEY-9f3a1c77e2";
const SOPHOS_SECRET: &str = "sophos-client-SECRET-41d0b8aa";

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_second(1_760_000_000 + secs).unwrap()
}

async fn save_both(store: &Store) {
    store
        .save_connection(
            ConnectionKind::Connectwise,
            &json!({"site": "api-na.myconnectwise.net", "company_id": "acme"}),
            &SecretString::from(CW_PRIVATE_KEY),
        )
        .await
        .unwrap();
    store
        .save_connection(
            ConnectionKind::Sophos,
            &json!({"client_id": "sophos-client-id-123"}),
            &SecretString::from(SOPHOS_SECRET),
        )
        .await
        .unwrap();
}

async fn settings_round_trip(t: TestStore) {
    let s = &t.store;
    assert_eq!(s.get_setting("billing.day").await.unwrap(), None);
    s.set_setting("billing.day", &json!(25)).await.unwrap();
    s.set_setting(
        "alerts",
        &json!({"min_severity": "high", "types": ["malware"]}),
    )
    .await
    .unwrap();
    assert_eq!(s.get_setting("billing.day").await.unwrap(), Some(json!(25)));
    s.set_setting("billing.day", &json!(1)).await.unwrap();
    assert_eq!(s.get_setting("billing.day").await.unwrap(), Some(json!(1)));
    let all = s.list_settings().await.unwrap();
    assert_eq!(
        all,
        vec![
            (
                "alerts".to_owned(),
                json!({"min_severity": "high", "types": ["malware"]})
            ),
            ("billing.day".to_owned(), json!(1)),
        ]
    );
    assert!(s.delete_setting("billing.day").await.unwrap());
    assert!(!s.delete_setting("billing.day").await.unwrap());
    // Data survives a reopen (migrations run again and are a no-op).
    s.close().await;
    let again = t.reopen(t.key.clone()).await.unwrap();
    assert_eq!(again.list_settings().await.unwrap().len(), 1);
}

async fn connections_keep_secrets_encrypted(t: TestStore) {
    let s = &t.store;
    assert!(
        s.load_connection(ConnectionKind::Sophos)
            .await
            .unwrap()
            .is_none()
    );
    save_both(s).await;

    let cw = s
        .load_connection(ConnectionKind::Connectwise)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cw.secret.expose_secret(), CW_PRIVATE_KEY);
    assert_eq!(cw.settings["company_id"], "acme");
    let shown = format!("{cw:?}");
    assert!(
        !shown.contains(CW_PRIVATE_KEY),
        "Debug shows the secret: {shown}"
    );

    let summaries = s.list_connections().await.unwrap();
    assert_eq!(summaries.len(), 2);
    let json = serde_json::to_string(&summaries).unwrap();
    assert!(!json.contains(CW_PRIVATE_KEY) && !json.contains(SOPHOS_SECRET));

    // The raw stored bytes hold neither plaintext; the non-secret settings are there in clear
    // (which shows the search itself works).
    let mut raw: Vec<u8> = Vec::new();
    match t.kind {
        BackendKind::Sqlite => {
            t.store.close().await;
            let path = t.sqlite_path().unwrap();
            for suffix in ["", "-wal", "-shm"] {
                let file = format!("{}{suffix}", path.display());
                if let Ok(bytes) = std::fs::read(&file) {
                    raw.extend(bytes);
                }
            }
        }
        BackendKind::Postgres => {
            let mut conn = sqlx::PgConnection::connect(t.url()).await.unwrap();
            for row in sqlx::query("SELECT kind, settings, secret FROM connections")
                .fetch_all(&mut conn)
                .await
                .unwrap()
            {
                raw.extend(row.get::<String, _>("kind").into_bytes());
                raw.extend(row.get::<String, _>("settings").into_bytes());
                raw.extend(row.get::<Vec<u8>, _>("secret"));
            }
        }
    }
    let contains = |needle: &str| raw.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        contains("sophos-client-id-123"),
        "the search found no cleartext settings at all"
    );
    assert!(
        !contains(CW_PRIVATE_KEY),
        "ConnectWise private key stored in clear"
    );
    assert!(
        !contains(SOPHOS_SECRET),
        "Sophos client secret stored in clear"
    );

    // Same key: readable after reopen. Another key: refused when opening, with a clear message.
    let again = t.reopen(t.key.clone()).await.unwrap();
    let sophos = again
        .load_connection(ConnectionKind::Sophos)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sophos.secret.expose_secret(), SOPHOS_SECRET);
    let err = t.reopen(MasterKey::generate().unwrap()).await.unwrap_err();
    assert!(matches!(err, StoreError::WrongMasterKey), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("master key does not match") && msg.contains("Fix:"),
        "{msg}"
    );
    assert!(err.is_setup_error());

    assert!(
        again
            .delete_connection(ConnectionKind::Sophos)
            .await
            .unwrap()
    );
    assert!(
        again
            .load_connection(ConnectionKind::Sophos)
            .await
            .unwrap()
            .is_none()
    );
}

async fn audit_log_appends_and_filters(t: TestStore) {
    let s = &t.store;
    let mut ids = Vec::new();
    for (i, (actor, action, subject)) in [
        ("alice", AuditKind::MappingAccept, "tenant:1"),
        ("sync", AuditKind::UsageUpdateQuantity, "tenant:1"),
        ("alice", AuditKind::MappingAccept, "tenant:2"),
        ("bob", AuditKind::TicketsSettings, "tickets"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = s
            .append_audit(&NewAudit {
                at: ts(i as i64 * 60),
                actor: actor.into(),
                action,
                subject: subject.into(),
                before: (i == 1).then(|| json!({"quantity": 10})),
                after: Some(json!({"quantity": 10 + i})),
                reason: format!("reason {i}"),
            })
            .await
            .unwrap();
        ids.push(id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");

    let all = s.list_audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].actor, "bob", "newest first");
    assert_eq!(all[2].before, Some(json!({"quantity": 10})));
    assert_eq!(all[2].at, ts(60));

    let alice = s
        .list_audit(&AuditFilter {
            actor: Some("alice".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        alice.iter().map(|e| e.subject.as_str()).collect::<Vec<_>>(),
        ["tenant:2", "tenant:1"]
    );

    let tenant1 = s
        .list_audit(&AuditFilter {
            subject: Some("tenant:1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tenant1.len(), 2);

    let window = s
        .list_audit(&AuditFilter {
            since: Some(ts(60)),
            until: Some(ts(180)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        window.iter().map(|e| e.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );

    let limited = s
        .list_audit(&AuditFilter {
            action: Some("mapping.accept".into()),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].subject, "tenant:2");
}

async fn sync_runs_record_start_and_finish(t: TestStore) {
    let s = &t.store;
    let first = s
        .start_sync_run("usage", ts(0), "cli|test|h|1|a")
        .await
        .unwrap();
    let other = s
        .start_sync_run("alerts", ts(5), "cli|test|h|1|b")
        .await
        .unwrap();
    let second = s
        .start_sync_run("usage", ts(10), "cli|test|h|1|c")
        .await
        .unwrap();
    assert!(
        s.finish_sync_run(
            first,
            ts(3),
            RunOutcome::Partial,
            &json!({"updated": 4, "failed": 1}),
            Some("tenant 9: no mapping")
        )
        .await
        .unwrap()
    );
    assert!(
        !s.finish_sync_run(999_999, ts(3), RunOutcome::Ok, &json!({}), None)
            .await
            .unwrap()
    );

    let usage = s.list_sync_runs(Some("usage"), 10).await.unwrap();
    assert_eq!(
        usage.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second, first]
    );
    assert_eq!(usage[0].outcome, RunOutcome::Running);
    assert_eq!(usage[0].finished_at, None);
    assert_eq!(usage[1].outcome, RunOutcome::Partial);
    assert_eq!(usage[1].finished_at, Some(ts(3)));
    assert_eq!(usage[1].counts, json!({"updated": 4, "failed": 1}));
    assert_eq!(usage[1].error.as_deref(), Some("tenant 9: no mapping"));

    let all = s.list_sync_runs(None, 2).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second, other]
    );
}

async fn customer_status_upserts(t: TestStore) {
    let s = &t.store;
    let mut status = CustomerStatus {
        tenant_id: "t-1".into(),
        job: "usage".into(),
        last_run_at: ts(0),
        ok: false,
        counts: json!({"updated": 0}),
        error: Some("ConnectWise refused: no agreement".into()),
        advice: Some("Create an agreement for this company".into()),
    };
    s.upsert_customer_status(&status).await.unwrap();
    s.upsert_customer_status(&CustomerStatus {
        tenant_id: "t-2".into(),
        ok: true,
        error: None,
        advice: None,
        ..status.clone()
    })
    .await
    .unwrap();
    s.upsert_customer_status(&CustomerStatus {
        job: "alerts".into(),
        ..status.clone()
    })
    .await
    .unwrap();

    status.ok = true;
    status.last_run_at = ts(60);
    status.counts = json!({"updated": 3});
    status.error = None;
    status.advice = None;
    s.upsert_customer_status(&status).await.unwrap();

    let usage = s.list_customer_status(Some("usage")).await.unwrap();
    assert_eq!(usage.len(), 2);
    assert_eq!(usage[0], status);
    assert_eq!(usage[1].tenant_id, "t-2");
    let all = s.list_customer_status(None).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].job, "alerts");
    assert!(!all[0].ok);

    // A batch: one new, one replaced.
    let batch = vec![
        CustomerStatus {
            tenant_id: "t-3".into(),
            ..status.clone()
        },
        CustomerStatus {
            tenant_id: "t-2".into(),
            ok: false,
            error: Some("held".into()),
            ..status.clone()
        },
    ];
    s.upsert_customer_statuses(&batch).await.unwrap();
    let usage = s.list_customer_status(Some("usage")).await.unwrap();
    assert_eq!(usage.len(), 3);
    assert_eq!(usage[1], batch[1]);
    assert_eq!(usage[2], batch[0]);
}

async fn leases_are_exclusive_and_expire(t: TestStore) {
    let s = &t.store;
    let ttl = Duration::from_secs(30);
    assert!(
        s.acquire_lease("usage", "worker-a", ts(0), ttl)
            .await
            .unwrap()
    );
    assert!(
        !s.acquire_lease("usage", "worker-b", ts(1), ttl)
            .await
            .unwrap()
    );
    assert_eq!(
        s.lease_holder("usage", ts(1))
            .await
            .unwrap()
            .unwrap()
            .holder,
        "worker-a"
    );
    // Another job is independent.
    assert!(
        s.acquire_lease("alerts", "worker-b", ts(1), ttl)
            .await
            .unwrap()
    );
    // The holder may renew (and re-acquire); the other may not.
    assert!(
        s.renew_lease("usage", "worker-a", ts(20), ttl)
            .await
            .unwrap()
    );
    assert!(
        !s.renew_lease("usage", "worker-b", ts(20), ttl)
            .await
            .unwrap()
    );
    assert!(
        s.acquire_lease("usage", "worker-a", ts(21), ttl)
            .await
            .unwrap()
    );
    // Still held at 21 + 30 - 1, expired at 21 + 30.
    assert!(
        !s.acquire_lease("usage", "worker-b", ts(50), ttl)
            .await
            .unwrap()
    );
    assert!(s.lease_holder("usage", ts(51)).await.unwrap().is_none());
    assert!(
        s.acquire_lease("usage", "worker-b", ts(51), ttl)
            .await
            .unwrap()
    );
    assert!(
        !s.renew_lease("usage", "worker-a", ts(52), ttl)
            .await
            .unwrap(),
        "a lost lease cannot be renewed"
    );
    assert!(!s.release_lease("usage", "worker-a").await.unwrap());
    assert!(s.release_lease("usage", "worker-b").await.unwrap());
    assert!(s.lease_holder("usage", ts(52)).await.unwrap().is_none());

    // Many holders racing for one free job at the same instant: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..12 {
        let store = s.clone();
        tasks.push(tokio::spawn(async move {
            store
                .acquire_lease("race", &format!("w{i}"), ts(100), ttl)
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
}

both_backends!(
    settings_round_trip,
    connections_keep_secrets_encrypted,
    audit_log_appends_and_filters,
    sync_runs_record_start_and_finish,
    customer_status_upserts,
    leases_are_exclusive_and_expire,
);
