//! `connect` as the engine does it: each bad value is named with where to get a good one, the
//! connection is tested before it is saved, and a failed re-connect keeps the old connection.

use engine::connections::{
    self, ConnectField, ConnectWiseSettings, SophosSettings, check_client_id, check_company_id,
    check_private_key, check_public_key, check_site,
};
use engine::doctor::{self, CheckStatus, DoctorOptions};
use engine::store::{ConnectionKind, CoreStore as _};
use sandbox::{Sandbox, SandboxOptions};
use secrecy::{ExposeSecret as _, SecretString};
use testkit::{TestStore, both_backends};

async fn sandbox() -> Sandbox {
    let mut o = SandboxOptions::demo(11, 6);
    o.realtime_speed = None;
    o.alert_rate = 0.0;
    Sandbox::spawn(o).await.unwrap()
}

fn cw_settings(sb: &Sandbox) -> (ConnectWiseSettings, SecretString) {
    let c = sb.connectwise.credentials();
    (
        ConnectWiseSettings {
            site: sb.connectwise.site_url(),
            company_id: c.company_id,
            public_key: c.public_key,
            client_id: c.client_id,
            codebase: None,
            allow_http: true,
        },
        c.private_key,
    )
}

fn sophos_settings(sb: &Sandbox) -> (SophosSettings, SecretString) {
    let c = sb.sophos.credentials();
    (
        SophosSettings {
            client_id: c.client_id,
            token_url: sb.sophos.token_url(),
            global_url: sb.sophos.global_url(),
        },
        c.client_secret,
    )
}

#[test]
fn values_are_checked_on_entry() {
    let (o, notes) = check_site("na.myconnectwise.net", false).unwrap();
    assert_eq!(o, "https://api-na.myconnectwise.net");
    assert!(notes[0].contains("api-na.myconnectwise.net"), "{notes:?}");
    let (o, notes) = check_site("https://na.myconnectwise.net/", false).unwrap();
    assert_eq!(o, "https://api-na.myconnectwise.net");
    assert_eq!(notes.len(), 1);
    let e = check_site("http://cw.example.com", false).unwrap_err();
    assert_eq!(e.field, Some(ConnectField::Site));

    assert_eq!(check_company_id(" examplemsp ").unwrap().0, "examplemsp");
    let e = check_company_id("https://na.myconnectwise.net").unwrap_err();
    assert_eq!(e.field, Some(ConnectField::CompanyId));
    assert!(e.message.contains("login page"));
    assert!(!check_company_id("12345").unwrap().1.is_empty());

    assert!(check_public_key("AbCdEf0123456789").is_ok());
    assert_eq!(
        check_public_key("not a key!").unwrap_err().field,
        Some(ConnectField::PublicKey)
    );
    let e = check_private_key("AbCdEf0123456789", "AbCdEf0123456789").unwrap_err();
    assert_eq!(e.field, Some(ConnectField::PrivateKey));
    assert!(e.message.contains("shown only once"));
    assert!(
        check_private_key("abcdef0123456789", "AbCdEf0123456789")
            .unwrap()
            .is_some()
    );
    assert!(
        check_private_key("ZyXw9876543210Qp", "AbCdEf0123456789")
            .unwrap()
            .is_none()
    );

    let e = check_client_id("").unwrap_err();
    assert_eq!(e.field, Some(ConnectField::ClientId));
    assert!(e.message.contains("developer.connectwise.com"));
    assert!(check_client_id("not-a-guid").is_err());
    assert_eq!(
        check_client_id("{00000000-0000-4000-8000-00000000C11D}").unwrap(),
        "00000000-0000-4000-8000-00000000c11d"
    );
}

async fn connect_then_replace(t: TestStore) {
    let store = &t.store;
    let sb = sandbox().await;
    let (good, key) = cw_settings(&sb);
    let test = connections::connect_connectwise(store, &good, &key)
        .await
        .unwrap();
    assert_eq!(test.codebase, "v2025_1/");
    let saved = connections::connectwise_config(store).await.unwrap();
    assert_eq!(saved.private_key.expose_secret(), key.expose_secret());

    // Each bad value: named, and the stored connection is untouched.
    let bad_key = SecretString::from("WrongPrivate0001");
    let e = connections::connect_connectwise(store, &good, &bad_key)
        .await
        .unwrap_err();
    assert_eq!(e.field, Some(ConnectField::PrivateKey));
    assert!(
        e.message.contains("public/private key pair was refused"),
        "{e}"
    );
    assert!(
        e.message
            .contains("System > Members > API Members > API Keys")
    );

    let mut s = good.clone();
    s.company_id = "nosuchco".into();
    let e = connections::connect_connectwise(store, &s, &key)
        .await
        .unwrap_err();
    assert_eq!(e.field, Some(ConnectField::CompanyId));
    assert!(
        e.message
            .contains("company id nosuchco is not known on this site"),
        "{e}"
    );

    let mut s = good.clone();
    s.site = "http://127.0.0.1:9".into();
    let e = connections::connect_connectwise(store, &s, &key)
        .await
        .unwrap_err();
    assert_eq!(e.field, Some(ConnectField::Site));
    assert!(e.message.contains("127.0.0.1:9"), "{e}");

    let mut s = good.clone();
    s.client_id = String::new();
    let e = connections::connect_connectwise(store, &s, &key)
        .await
        .unwrap_err();
    assert_eq!(e.field, Some(ConnectField::ClientId), "{e}");
    assert!(e.message.contains("developer.connectwise.com"), "{e}");

    let after = connections::connectwise_config(store).await.unwrap();
    assert_eq!(after.private_key.expose_secret(), key.expose_secret());
    assert_eq!(after.company_id, good.company_id);
    assert_eq!(after.client_id, good.client_id);

    // Sophos: good, then a revoked secret keeps the old one.
    let (so, secret) = sophos_settings(&sb);
    let t2 = connections::connect_sophos(store, &so, &secret)
        .await
        .unwrap();
    assert_eq!(t2.partner_id, sb.sophos.partner_id());
    let e = connections::connect_sophos(store, &so, &SecretString::from("revoked-secret"))
        .await
        .unwrap_err();
    assert_eq!(e.field, Some(ConnectField::SophosClientSecret));
    assert!(
        e.message.contains("Settings & policies > API Credentials"),
        "{e}"
    );
    let kept = store
        .load_connection(ConnectionKind::Sophos)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.secret.expose_secret(), secret.expose_secret());

    // The doctor through the store: everything required passes.
    let r = doctor::run_doctor(store, &DoctorOptions::default()).await;
    let table: String = r
        .checks
        .iter()
        .map(|c| format!("{} {} {}\n", c.status.symbol(), c.id, c.detail))
        .collect();
    assert!(r.ok, "{table}");
    for id in [
        "sophos.token",
        "sophos.whoami",
        "sophos.tenants",
        "sophos.billing",
        "sophos.alerts",
    ] {
        assert_eq!(r.check(id).unwrap().status, CheckStatus::Pass, "{table}");
    }

    // A revoked secret: the doctor says which value and where to get a new one.
    sb.sophos.revoke_secret();
    let r = doctor::run_doctor(store, &DoctorOptions::default()).await;
    let c = r.check("sophos.token").unwrap();
    assert_eq!(c.status, CheckStatus::Fail);
    assert!(
        c.detail.contains("the Sophos client secret was refused"),
        "{}",
        c.detail
    );
    assert!(!r.ok);
}

both_backends!(connect_then_replace);
