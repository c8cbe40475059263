//! Both connections saved in a store, pointed at the emulators (as `centralbridge connect` would
//! leave them).

use engine::connections::{self, ConnectWiseSettings, SophosSettings};
use engine::store::Store;
use sandbox::connectwise::CwEmulator;
use sandbox::sophos::SophosEmulator;

/// Saves the ConnectWise connection of `cw` and the Sophos connection of `sophos` in `store`.
pub async fn save_connections(store: &Store, cw: &CwEmulator, sophos: &SophosEmulator) {
    let c = cw.credentials();
    connections::save_connectwise(
        store,
        &ConnectWiseSettings {
            site: cw.site_url(),
            company_id: c.company_id.clone(),
            public_key: c.public_key.clone(),
            client_id: c.client_id.clone(),
            codebase: None,
            allow_http: true,
        },
        &c.private_key,
    )
    .await
    .expect("save the ConnectWise connection");
    let s = sophos.credentials();
    connections::save_sophos(
        store,
        &SophosSettings {
            client_id: s.client_id.clone(),
            token_url: sophos.token_url(),
            global_url: sophos.global_url(),
        },
        &s.client_secret,
    )
    .await
    .expect("save the Sophos connection");
}
