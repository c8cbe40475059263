//! `centralbridge connect connectwise|sophos`: ask for (or take from flags / env) each value, check it
//! on entry, test the connection, and only then save it (secrets encrypted, old connection kept on any
//! failure).

use std::io::IsTerminal as _;

use clap::Subcommand;
use engine::connections::{self, ConnectProblem, ConnectWiseSettings, SophosSettings};
use secrecy::SecretString;
use serde::Serialize;

use crate::context::Ctx;
use crate::error::CliError;
use crate::output::Render;

/// The Sophos secret's variable. Not `CENTRALBRIDGE_SOPHOS_*`: those are config settings, and the
/// config refuses secrets.
const SOPHOS_SECRET_ENV: &str = "CENTRALBRIDGE_CENTRAL_CLIENT_SECRET";

/// Arguments of `centralbridge connect`: which vendor, and its values.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    target: Target,
}

#[derive(Debug, Subcommand)]
enum Target {
    /// Connect to ConnectWise PSA with an API member's keys (System > Members > API Members > API Keys)
    Connectwise(CwArgs),
    /// Connect to Sophos Central Partner with an API credential (Settings & policies > API Credentials)
    Sophos(SophosArgs),
}

#[derive(Debug, clap::Args)]
struct CwArgs {
    /// The site you open ConnectWise with, e.g. na.myconnectwise.net
    #[arg(long, env = "CENTRALBRIDGE_CW_SITE")]
    site: Option<String>,
    /// The company you type on the ConnectWise login page
    #[arg(long, env = "CENTRALBRIDGE_CW_COMPANY_ID")]
    company_id: Option<String>,
    /// The API member's public key
    #[arg(long, env = "CENTRALBRIDGE_CW_PUBLIC_KEY")]
    public_key: Option<String>,
    /// The API member's private key (prefer the environment variable: flags show in `ps`)
    #[arg(long, env = "CENTRALBRIDGE_CW_PRIVATE_KEY", hide_env_values = true)]
    private_key: Option<String>,
    /// The integration's clientId GUID (developer.connectwise.com > ClientID)
    #[arg(long, env = "CENTRALBRIDGE_CW_CLIENT_ID")]
    client_id: Option<String>,
    /// Use this codebase instead of discovering it (e.g. v2025_1/)
    #[arg(long, env = "CENTRALBRIDGE_CW_CODEBASE")]
    codebase: Option<String>,
    /// Allow a plain http:// site (the sandbox only)
    #[arg(long)]
    allow_http: bool,
    /// Accept values that look wrong without asking
    #[arg(long)]
    yes: bool,
}

#[derive(Debug, clap::Args)]
struct SophosArgs {
    /// The API credential's client id [default: `[sophos] client_id` of the config]
    #[arg(long)]
    client_id: Option<String>,
    /// The API credential's client secret (prefer the environment variable: flags show in `ps`)
    #[arg(long, env = SOPHOS_SECRET_ENV, hide_env_values = true)]
    client_secret: Option<String>,
    /// Token endpoint [default: `[sophos] token_url` of the config, else Sophos production]
    #[arg(long)]
    token_url: Option<String>,
    /// Global API endpoint [default: `[sophos] api_url` of the config, else Sophos production]
    #[arg(long)]
    api_url: Option<String>,
}

/// What `connect` prints: never a secret.
#[derive(Debug, Serialize)]
struct Connected {
    connection: &'static str,
    saved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    site: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    company_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codebase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partner_id: Option<String>,
    notes: Vec<String>,
}

impl Render for Connected {
    fn human(&self) -> String {
        let mut out = String::new();
        match self.connection {
            "connectwise" => out.push_str(&format!(
                "ConnectWise connection tested and saved: {} (company {}{}, codebase {}).\n",
                self.site.as_deref().unwrap_or(""),
                self.company_id.as_deref().unwrap_or(""),
                self.company_name
                    .as_deref()
                    .map(|n| format!(", \"{n}\""))
                    .unwrap_or_default(),
                self.codebase.as_deref().unwrap_or(""),
            )),
            _ => out.push_str(&format!(
                "Sophos Central connection tested and saved: partner {}.\n",
                self.partner_id.as_deref().unwrap_or("")
            )),
        }
        out.push_str(
            "Next: `centralbridge doctor` checks every permission the integration needs.\n",
        );
        out
    }
}

fn problem(p: ConnectProblem) -> CliError {
    CliError::failure(p.message)
}

/// A value from flag/env, or asked for on a terminal; checked either way.
fn value(
    given: Option<String>,
    prompt: &str,
    flag: &str,
    env: &str,
    secret: bool,
    check: impl Fn(&str) -> Result<String, ConnectProblem> + Clone + 'static,
) -> Result<String, CliError> {
    if let Some(v) = given {
        return check(&v).map_err(|p| CliError::usage(p.message));
    }
    if !std::io::stdin().is_terminal() {
        // The check of an empty value says what the value is and where to get it.
        let why = check("").err().map(|p| p.message).unwrap_or_default();
        return Err(CliError::usage(format!(
            "{prompt} is missing: pass {flag} or set {env}. {why}"
        )));
    }
    let answer = if secret {
        let c = check.clone();
        dialoguer::Password::new()
            .with_prompt(prompt)
            .validate_with(move |s: &String| c(s).map(|_| ()).map_err(|p| p.message))
            .interact()
    } else {
        let c = check.clone();
        dialoguer::Input::<String>::new()
            .with_prompt(prompt)
            .validate_with(move |s: &String| c(s).map(|_| ()).map_err(|p| p.message))
            .interact_text()
    }
    .map_err(|e| CliError::usage(format!("{prompt}: {e}")))?;
    check(&answer).map_err(|p| CliError::usage(p.message))
}

fn note(text: &str) {
    eprintln!("note: {text}");
}

async fn connectwise(ctx: &Ctx, a: CwArgs) -> Result<(), CliError> {
    let allow_http = a.allow_http;
    let site_input = value(
        a.site.or_else(|| ctx.config.connectwise.site.clone()),
        "ConnectWise site",
        "--site",
        "CENTRALBRIDGE_CW_SITE",
        false,
        move |s| connections::check_site(s, allow_http).map(|_| s.trim().to_owned()),
    )?;
    let (site, notes) =
        connections::check_site(&site_input, allow_http).map_err(|p| CliError::usage(p.message))?;
    for n in &notes {
        note(n);
    }
    let company_id = value(
        a.company_id
            .or_else(|| ctx.config.connectwise.company_id.clone()),
        "Company id",
        "--company-id",
        "CENTRALBRIDGE_CW_COMPANY_ID",
        false,
        |s| connections::check_company_id(s).map(|(v, _)| v),
    )?;
    let (_, company_notes) =
        connections::check_company_id(&company_id).map_err(|p| CliError::usage(p.message))?;
    for n in &company_notes {
        note(n);
    }
    let public_key = value(
        a.public_key
            .or_else(|| ctx.config.connectwise.public_key.clone()),
        "Public key",
        "--public-key",
        "CENTRALBRIDGE_CW_PUBLIC_KEY",
        false,
        connections::check_public_key,
    )?;
    let pk = public_key.clone();
    let private_key = value(
        a.private_key,
        "Private key",
        "--private-key",
        "CENTRALBRIDGE_CW_PRIVATE_KEY",
        true,
        move |s| connections::check_private_key(s, &pk).map(|_| s.trim().to_owned()),
    )?;
    if let Ok(Some(question)) = connections::check_private_key(&private_key, &public_key) {
        let go_on = if a.yes {
            true
        } else if std::io::stdin().is_terminal() {
            dialoguer::Confirm::new()
                .with_prompt(format!("{question} Use it anyway?"))
                .default(false)
                .interact()
                .unwrap_or(false)
        } else {
            note(&question);
            true
        };
        if !go_on {
            return Err(CliError::usage(question));
        }
    }
    let client_id = value(
        a.client_id
            .or_else(|| ctx.config.connectwise.client_id.clone()),
        "clientId",
        "--client-id",
        "CENTRALBRIDGE_CW_CLIENT_ID",
        false,
        connections::check_client_id,
    )?;
    let settings = ConnectWiseSettings {
        site,
        company_id,
        public_key,
        client_id,
        codebase: a.codebase.filter(|c| !c.trim().is_empty()),
        allow_http,
    };
    let key = SecretString::from(private_key);
    let (store, _) = ctx.open_store().await?;
    let result = connections::connect_connectwise(&store, &settings, &key).await;
    store.close().await;
    let test = result.map_err(problem)?;
    ctx.out.emit(&Connected {
        connection: "connectwise",
        saved: true,
        site: Some(test.origin),
        company_id: Some(settings.company_id),
        company_name: test.company_name,
        codebase: Some(test.codebase),
        partner_id: None,
        notes: notes.into_iter().chain(company_notes).collect(),
    })
}

async fn sophos(ctx: &Ctx, a: SophosArgs) -> Result<(), CliError> {
    let client_id = value(
        a.client_id.or_else(|| ctx.config.sophos.client_id.clone()),
        "Sophos client id",
        "--client-id",
        "CENTRALBRIDGE_SOPHOS_CLIENT_ID",
        false,
        |s| {
            let v = s.trim();
            if v.is_empty() {
                Err(ConnectProblem {
                    field: Some(connections::ConnectField::SophosClientId),
                    message: connections::messages::SOPHOS_CLIENT_ID_MISSING.to_owned(),
                })
            } else {
                Ok(v.to_owned())
            }
        },
    )?;
    let secret = value(
        a.client_secret,
        "Sophos client secret",
        "--client-secret",
        SOPHOS_SECRET_ENV,
        true,
        |s| {
            let v = s.trim();
            if v.is_empty() {
                Err(ConnectProblem {
                    field: Some(connections::ConnectField::SophosClientSecret),
                    message: connections::messages::SOPHOS_SECRET_MISSING.to_owned(),
                })
            } else {
                Ok(v.to_owned())
            }
        },
    )?;
    let settings = SophosSettings {
        client_id,
        token_url: a
            .token_url
            .unwrap_or_else(|| ctx.config.sophos.token_url.clone())
            .trim()
            .to_owned(),
        global_url: a
            .api_url
            .unwrap_or_else(|| ctx.config.sophos.api_url.clone())
            .trim()
            .to_owned(),
    };
    let secret = SecretString::from(secret);
    let (store, _) = ctx.open_store().await?;
    let result = connections::connect_sophos(&store, &settings, &secret).await;
    store.close().await;
    let test = result.map_err(problem)?;
    ctx.out.emit(&Connected {
        connection: "sophos",
        saved: true,
        site: None,
        company_id: None,
        company_name: None,
        codebase: None,
        partner_id: Some(test.partner_id),
        notes: Vec::new(),
    })
}

/// Checks each value, tests the connection and only then saves it, the secret encrypted. Exit 2 on
/// a missing or bad value, 1 when the test fails; the old connection stays either way.
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    match args.target {
        Target::Connectwise(a) => connectwise(ctx, a).await,
        Target::Sophos(a) => sophos(ctx, a).await,
    }
}
