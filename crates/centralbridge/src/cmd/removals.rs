//! `centralbridge removals`: additions a person removed in ConnectWise on purpose. Acknowledging one
//! leaves that customer's product unbilled ("not billed by choice") instead of failing the customer
//! on every usage run; withdrawing it reports (or, with `sync usage --recreate`, re-adds) it again.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use engine::store::{MappingStore as _, RemovalAck, UsageStore as _};
use engine::usage::{UsageError, removals};
use serde::Serialize;

use crate::context::Ctx;
use crate::error::CliError;
use crate::output::Render;

/// Arguments of `centralbridge removals`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// The acknowledged removals
    List,
    /// Acknowledge that a customer's addition for a product was removed on purpose
    Acknowledge {
        /// The customer: Sophos tenant id or name
        #[arg(long)]
        customer: String,
        /// The product identifier, e.g. Sophos_Intercept_X
        #[arg(long)]
        product: String,
        /// Why, for the audit log
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Withdraw an acknowledgement: the removal is reported again
    Withdraw {
        /// The customer: Sophos tenant id or name
        #[arg(long)]
        customer: String,
        /// The product identifier
        #[arg(long)]
        product: String,
    },
}

#[derive(Debug, Serialize)]
struct Row {
    #[serde(flatten)]
    ack: RemovalAck,
    customer: String,
}

#[derive(Debug, Serialize)]
struct Listing {
    removals: Vec<Row>,
}

impl Render for Listing {
    fn human(&self) -> String {
        if self.removals.is_empty() {
            return "No removal is acknowledged.\n".into();
        }
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED).set_header(vec![
            "Customer",
            "Product",
            "By",
            "When (UTC)",
            "Why",
        ]);
        for r in &self.removals {
            t.add_row(vec![
                r.customer.clone(),
                r.ack.product.clone(),
                r.ack.actor.clone(),
                r.ack.acknowledged_at.strftime("%Y-%m-%d %H:%M").to_string(),
                r.ack.reason.clone(),
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

fn refused(e: UsageError) -> CliError {
    match e {
        UsageError::Store(s) => CliError::failure(s.to_string()),
        other => CliError::usage(other.to_string()),
    }
}

/// Runs one `removals` action.
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (store, _) = ctx.open_store().await?;
    let actor = super::sync::actor();
    let result = match args.action {
        Action::List => {
            let mut rows = Vec::new();
            for ack in store.removal_acks(None).await? {
                let customer = store
                    .get_tenant(ack.tenant_id.as_str())
                    .await?
                    .map(|t| t.name)
                    .unwrap_or_else(|| ack.tenant_id.to_string());
                rows.push(Row { ack, customer });
            }
            ctx.out.emit(&Listing { removals: rows })
        }
        Action::Acknowledge {
            customer,
            product,
            reason,
        } => match removals::acknowledge(&store, &customer, &product, &actor, &reason).await {
            Ok(_) => ctx.out.emit(&Done {
                message: format!(
                    "Acknowledged: {product} of {customer} is not billed, by choice. `centralbridge removals withdraw` undoes it."
                ),
            }),
            Err(e) => Err(refused(e)),
        },
        Action::Withdraw { customer, product } => {
            match removals::withdraw(&store, &customer, &product, &actor).await {
                Ok(()) => ctx.out.emit(&Done {
                    message: format!(
                        "Withdrawn: the next usage run reports the removal of {product} of {customer} again."
                    ),
                }),
                Err(e) => Err(refused(e)),
            }
        }
    };
    store.close().await;
    result
}
