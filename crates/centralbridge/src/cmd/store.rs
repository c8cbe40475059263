//! `centralbridge store`: create the database, or check it.

use clap::Subcommand;
use engine::secrets::KeySource;
use engine::store::{BackendKind, ConnectionKind, CoreStore as _, Store, Target};
use serde::Serialize;

use crate::context::Ctx;
use crate::error::CliError;
use crate::messages;
use crate::output::Render;

/// Arguments of `centralbridge store`: `init` or `check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Create the database (and the master key file) if they do not exist, and bring the schema up to date
    Init,
    /// Check that the database opens, its schema is current and its stored secrets decrypt
    Check,
}

#[derive(Debug, Serialize)]
struct StoreView {
    backend: BackendKind,
    /// Without password.
    location: String,
    master_key: String,
    connections: Vec<ConnectionView>,
}

#[derive(Debug, Serialize)]
struct ConnectionView {
    kind: ConnectionKind,
    settings: serde_json::Value,
    updated_at: jiff::Timestamp,
    /// "decrypts" when checked; the secret itself is never shown.
    secret: &'static str,
}

impl Render for StoreView {
    fn human(&self) -> String {
        let mut out = format!(
            "database: {} ({:?})\nmaster key: {}\n",
            self.location, self.backend, self.master_key
        );
        if self.connections.is_empty() {
            out.push_str("connections: none stored yet\n");
        }
        for c in &self.connections {
            out.push_str(&format!(
                "connection {}: saved {}, secret {}\n",
                c.kind.as_str(),
                c.updated_at,
                c.secret
            ));
        }
        out
    }
}

fn describe_key(source: &KeySource) -> String {
    match source {
        KeySource::Env => format!("from {}", engine::secrets::MASTER_KEY_ENV),
        KeySource::File(p) => format!("key file {}", p.display()),
        KeySource::New(p) => format!("key file {} (new)", p.display()),
    }
}

async fn view(store: &Store, source: &KeySource, check: bool) -> Result<StoreView, CliError> {
    let mut connections = Vec::new();
    for summary in store.list_connections().await? {
        let secret = if check {
            // Decrypting proves the key; the value is dropped at once.
            match store.load_connection(summary.kind).await? {
                Some(_) => "decrypts",
                None => "missing",
            }
        } else {
            "stored"
        };
        connections.push(ConnectionView {
            kind: summary.kind,
            settings: summary.settings,
            updated_at: summary.updated_at,
            secret,
        });
    }
    Ok(StoreView {
        backend: store.kind(),
        location: store.location(),
        master_key: describe_key(source),
        connections,
    })
}

/// Opens (`init`: creating) the store and prints its backend, location, key and connections;
/// `check` also decrypts each secret and never creates a missing SQLite file (exit 2 instead).
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let check = matches!(args.action, Action::Check);
    if check {
        // `check` must not create anything: a missing SQLite file is reported, not made.
        if let Ok(Target::Sqlite(path)) = Target::parse(&ctx.database_target())
            && !path.exists()
        {
            return Err(CliError::usage(messages::store_missing(
                &path.display().to_string(),
            )));
        }
    }
    let (store, source) = ctx.open_store().await?;
    tracing::debug!(location = %store.location(), "store opened");
    let shown = view(&store, &source, check).await;
    store.close().await;
    ctx.out.emit(&shown?)
}
