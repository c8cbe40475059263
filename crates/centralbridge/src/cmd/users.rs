//! `centralbridge users`: the dashboard's named accounts. Add, list, change a password or a role,
//! disable or enable, and list or end an account's sessions. Every change is in the audit log under
//! the OS user who ran it.

use std::io::{BufRead as _, IsTerminal as _};

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use engine::audit::AuditKind;
use engine::store::{AccountStore as _, CoreStore as _, NewAudit, Role, SessionRow, Store, User};
use secrecy::SecretString;
use serde::Serialize;

use crate::context::Ctx;
use crate::error::CliError;
use crate::output::Render;
use crate::service::auth::{Auth, AuthError, MIN_PASSWORD_LEN};

/// Arguments of `centralbridge users`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Create an account (the first one is an admin unless --role says otherwise)
    Add {
        /// The login name: letters, digits, `.`, `_`, `-` or `@`
        name: String,
        /// viewer reads; operator also runs syncs, maps customers, runs checks; admin also
        /// changes products, ticket settings and accounts [default: viewer; admin for the first]
        #[arg(long, value_parser = role)]
        role: Option<Role>,
        /// Read the password from the first line of stdin instead of asking
        #[arg(long)]
        password_stdin: bool,
    },
    /// Every account with its role and sessions
    List,
    /// Set an account's password; its sessions end
    Passwd {
        /// The account
        name: String,
        /// Read the password from the first line of stdin instead of asking
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change an account's role
    Role {
        /// The account
        name: String,
        /// viewer, operator or admin
        #[arg(value_parser = role)]
        role: Role,
    },
    /// Disable an account: it cannot log in, and its sessions end
    Disable {
        /// The account
        name: String,
    },
    /// Enable a disabled account
    Enable {
        /// The account
        name: String,
    },
    /// An account's sessions (when, from where); --revoke ends them all
    Sessions {
        /// The account
        name: String,
        /// End every session of the account
        #[arg(long)]
        revoke: bool,
    },
}

fn role(text: &str) -> Result<Role, String> {
    Role::from_name(text)
        .ok_or_else(|| format!("`{text}` is not a role. Fix: use viewer, operator or admin."))
}

fn refused(e: AuthError) -> CliError {
    match e {
        AuthError::Invalid(m) => CliError::usage(m),
        other => CliError::failure(other.to_string()),
    }
}

/// The new password: the first line of stdin, or asked twice on a terminal.
fn password(from_stdin: bool) -> Result<SecretString, CliError> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::usage(format!("cannot read the password from stdin: {e}")))?;
        return Ok(SecretString::from(
            line.trim_end_matches(['\r', '\n']).to_owned(),
        ));
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(
            "No password given. Fix: run this on a terminal to be asked, or pipe it in with --password-stdin.",
        ));
    }
    dialoguer::Password::new()
        .with_prompt(format!("Password ({MIN_PASSWORD_LEN} characters or more)"))
        .with_confirmation("Once more", "The two passwords are not the same.")
        .interact()
        .map(SecretString::from)
        .map_err(|e| CliError::usage(format!("password: {e}")))
}

async fn audit(store: &Store, action: AuditKind, name: &str, reason: &str) {
    let entry = NewAudit {
        at: jiff::Timestamp::now(),
        actor: super::sync::actor(),
        action,
        subject: format!("user:{name}"),
        before: None,
        after: None,
        reason: reason.to_owned(),
    };
    if let Err(e) = store.append_audit(&entry).await {
        tracing::warn!(error = %e, "cannot write the audit log");
    }
}

/// One account as `users list` shows it.
#[derive(Debug, Serialize)]
struct Row {
    #[serde(flatten)]
    user: User,
    sessions: usize,
}

#[derive(Debug, Serialize)]
struct Listing {
    users: Vec<Row>,
}

impl Render for Listing {
    fn human(&self) -> String {
        if self.users.is_empty() {
            return "No accounts yet. Create the first admin: centralbridge users add NAME\n"
                .into();
        }
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED).set_header(vec![
            "Name",
            "Role",
            "State",
            "Sessions",
            "Created",
            "Password set",
        ]);
        for r in &self.users {
            t.add_row(vec![
                r.user.name.clone(),
                r.user.role.to_string(),
                if r.user.disabled {
                    "disabled"
                } else {
                    "enabled"
                }
                .to_owned(),
                r.sessions.to_string(),
                r.user.created_at.strftime("%Y-%m-%d %H:%M").to_string(),
                r.user
                    .password_changed_at
                    .strftime("%Y-%m-%d %H:%M")
                    .to_string(),
            ]);
        }
        format!("{t}\n")
    }
}

#[derive(Debug, Serialize)]
struct Sessions {
    user: String,
    sessions: Vec<SessionRow>,
    revoked: Option<u64>,
}

impl Render for Sessions {
    fn human(&self) -> String {
        if let Some(n) = self.revoked {
            return format!("Ended {n} session(s) of {}.\n", self.user);
        }
        if self.sessions.is_empty() {
            return format!("{} has no session.\n", self.user);
        }
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED).set_header(vec![
            "Logged in",
            "Last seen",
            "Ends",
            "From",
        ]);
        for s in &self.sessions {
            let when = |t: jiff::Timestamp| t.strftime("%Y-%m-%d %H:%M:%S").to_string();
            t.add_row(vec![
                when(s.created_at),
                when(s.last_seen_at),
                when(s.expires_at),
                s.client.clone().unwrap_or_else(|| "–".into()),
            ]);
        }
        format!("{t}\n")
    }
}

#[derive(Debug, Serialize)]
struct Done {
    message: String,
}

impl Render for Done {
    fn human(&self) -> String {
        format!("{}\n", self.message)
    }
}

fn done(ctx: &Ctx, message: String) -> Result<(), CliError> {
    ctx.out.emit(&Done { message })
}

/// Runs one `users` action.
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (store, _) = ctx.open_store().await?;
    let auth = Auth::new(store.clone());
    let result = act(ctx, &store, &auth, args.action).await;
    store.close().await;
    result
}

async fn act(ctx: &Ctx, store: &Store, auth: &Auth, action: Action) -> Result<(), CliError> {
    match action {
        Action::Add {
            name,
            role,
            password_stdin,
        } => {
            let first = !auth.has_users().await.map_err(refused)?;
            let role = role.unwrap_or(if first { Role::Admin } else { Role::Viewer });
            let pw = password(password_stdin)?;
            let user = auth.add_user(&name, role, &pw).await.map_err(refused)?;
            audit(
                store,
                AuditKind::UserAdd,
                &user.name,
                &format!("role {role}"),
            )
            .await;
            done(ctx, format!("Created {} ({role}).", user.name))
        }
        Action::List => {
            let mut users = Vec::new();
            for user in store.list_users().await? {
                let sessions = store.user_sessions(user.id).await?.len();
                users.push(Row { user, sessions });
            }
            ctx.out.emit(&Listing { users })
        }
        Action::Passwd {
            name,
            password_stdin,
        } => {
            auth.user(&name).await.map_err(refused)?;
            let pw = password(password_stdin)?;
            auth.set_password(&name, &pw).await.map_err(refused)?;
            audit(
                store,
                AuditKind::UserPasswd,
                &name,
                "password changed; its sessions ended",
            )
            .await;
            done(
                ctx,
                format!("Changed the password of {name}; its sessions ended."),
            )
        }
        Action::Role { name, role } => {
            auth.set_role(&name, role).await.map_err(refused)?;
            audit(store, AuditKind::UserRole, &name, &format!("now {role}")).await;
            done(ctx, format!("{name} is now {role}."))
        }
        Action::Disable { name } => {
            auth.set_disabled(&name, true).await.map_err(refused)?;
            audit(
                store,
                AuditKind::UserDisable,
                &name,
                "disabled; its sessions ended",
            )
            .await;
            done(ctx, format!("Disabled {name}; its sessions ended."))
        }
        Action::Enable { name } => {
            auth.set_disabled(&name, false).await.map_err(refused)?;
            audit(store, AuditKind::UserEnable, &name, "enabled").await;
            done(ctx, format!("Enabled {name}."))
        }
        Action::Sessions { name, revoke } => {
            let user = auth.user(&name).await.map_err(refused)?;
            let revoked = if revoke {
                let n = auth.revoke_sessions(&name).await.map_err(refused)?;
                audit(
                    store,
                    AuditKind::UserSessionsRevoked,
                    &user.name,
                    &format!("{n} session(s) ended"),
                )
                .await;
                Some(n)
            } else {
                None
            };
            let sessions = store.user_sessions(user.id).await?;
            ctx.out.emit(&Sessions {
                user: user.name,
                sessions,
                revoked,
            })
        }
    }
}
