//! What every command gets, whichever door it came in by: the loaded config, the way to print, and
//! the way to open the store. The command line (`cli`) builds it; the commands (`cmd`) use it.

use std::path::Path;

use engine::secrets::{KeySource, MASTER_KEY_ENV, MasterKey};
use engine::store::Store;

use crate::config::{self, Config, ConfigSource, Dirs};
use crate::error::CliError;
use crate::messages;
use crate::output::Output;

/// What every command gets: the loaded config and the way to print and to open the store.
#[derive(Debug)]
pub struct Ctx {
    /// The effective configuration: the file, then `CENTRALBRIDGE_*` variables, then `--database`.
    pub config: Config,
    /// Which config file was read and which variables changed a setting.
    pub source: ConfigSource,
    /// The per-user directories the default paths are in.
    pub dirs: Dirs,
    /// How results are printed: human text, or JSON with `--json`.
    pub out: Output,
}

impl Ctx {
    /// Loads the config (file, then env, then the flags: `--config`, `--database`, `--json`).
    pub fn load(
        config_file: Option<&Path>,
        database: Option<String>,
        json: bool,
    ) -> Result<Self, CliError> {
        let dirs = Dirs::detect();
        let env: Vec<(String, String)> = std::env::vars().collect();
        let (mut config, source) = config::load(config_file, &dirs, &env)?;
        if let Some(db) = database {
            config.database.url = Some(db);
        }
        let out = Output { json };
        set_rate_limits(&config);
        Ok(Ctx {
            config,
            source,
            dirs,
            out,
        })
    }

    /// `--connectwise-rate` / `--sophos-rate`: they beat the config and its variables.
    pub fn apply_rate_flags(&mut self, cw: Option<config::Limit>, sophos: Option<config::Limit>) {
        if cw.is_some() {
            self.config.connectwise.requests_per_minute = cw;
        }
        if sophos.is_some() {
            self.config.sophos.requests_per_minute = sophos;
        }
        set_rate_limits(&self.config);
    }

    /// The database location (with any password: never print it; use [`Store::location`]).
    pub fn database_target(&self) -> String {
        self.config.database_target(&self.dirs)
    }

    /// Opens (creating on first use) the store, with the master key from `CENTRALBRIDGE_MASTER_KEY` or
    /// the key file. A new key file is written only after the store has opened and accepted the key,
    /// so a failure leaves nothing behind.
    pub async fn open_store(&self) -> Result<(Store, KeySource), CliError> {
        let key_file = self.config.key_file(&self.dirs);
        let env_key = std::env::var(MASTER_KEY_ENV).ok();
        let (key, source) = MasterKey::resolve(env_key.as_deref(), &key_file)?;
        let store = Store::open(&self.database_target(), key.clone()).await?;
        if let KeySource::New(path) = &source {
            if let Err(e) = key.persist(path) {
                store.close().await;
                return Err(e.into());
            }
            tracing::info!("{}", messages::key_file_created(path));
        }
        Ok((store, source))
    }
}

/// Every vendor client this process builds paces itself as the config says.
fn set_rate_limits(config: &Config) {
    let d = engine::connections::RateLimits::default();
    engine::connections::set_rate_limits(engine::connections::RateLimits {
        connectwise: config
            .connectwise
            .requests_per_minute
            .map_or(d.connectwise, config::Limit::rate_limit),
        sophos: config
            .sophos
            .requests_per_minute
            .map_or(d.sophos, config::Limit::rate_limit),
    });
}
