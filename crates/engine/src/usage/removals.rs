//! Removals made on purpose: a person deleted (or cancelled) in ConnectWise an addition
//! centralbridge managed, and says so. While acknowledged, usage sync leaves that customer's
//! product unbilled ("not billed by choice") instead of failing the customer on every run; the
//! acknowledgement can be withdrawn, and then the removal is reported again (or recreated with
//! `--recreate`).

use serde_json::json;

use crate::audit::AuditKind;
use crate::store::{MappingStore as _, NewAudit, RemovalAck, Store, UsageStore as _};

use super::UsageError;

/// The tenant's id for `customer` (a tenant id or name), and the product's identifier, checked.
async fn resolve(
    store: &Store,
    customer: &str,
    product: &str,
) -> Result<(String, String), UsageError> {
    let tenant = crate::mapping::resolve_tenant(store, customer)
        .await
        .map_err(|_| UsageError::NoSuchCustomer(customer.to_owned()))?;
    let known = super::product_views(store)
        .await?
        .into_iter()
        .any(|p| p.identifier == product);
    if !known {
        return Err(UsageError::UnknownProduct(product.to_owned()));
    }
    Ok((tenant.id.to_string(), product.to_owned()))
}

/// Acknowledges that the customer's addition for `product` was removed on purpose. Refused when
/// centralbridge manages no addition of that product for the customer (nothing was removed).
pub async fn acknowledge(
    store: &Store,
    customer: &str,
    product: &str,
    actor: &str,
    reason: &str,
) -> Result<RemovalAck, UsageError> {
    let (tenant_id, product) = resolve(store, customer, product).await?;
    let managed = store
        .list_addition_links(Some(&tenant_id))
        .await?
        .into_iter()
        .any(|l| l.product == product && l.created_by_us);
    if !managed {
        return Err(UsageError::Removal(format!(
            "centralbridge manages no addition of {product} for this customer, so there is no removal to \
             acknowledge. Fix: check the customer and product (`centralbridge status --failed` lists the removals)."
        )));
    }
    let name = store
        .get_tenant(&tenant_id)
        .await?
        .map(|t| t.name)
        .unwrap_or_else(|| tenant_id.clone());
    let ack = RemovalAck {
        tenant_id: tenant_id.as_str().into(),
        product: product.clone(),
        actor: actor.to_owned(),
        reason: if reason.trim().is_empty() {
            "removed in ConnectWise on purpose".to_owned()
        } else {
            reason.trim().to_owned()
        },
        acknowledged_at: jiff::Timestamp::now(),
    };
    let audit = NewAudit {
        at: ack.acknowledged_at,
        actor: actor.to_owned(),
        action: AuditKind::UsageRemovalAcknowledged,
        subject: format!("tenant:{tenant_id}/product:{product}"),
        before: None,
        after: Some(json!({"tenant_id": tenant_id, "product": product, "reason": ack.reason})),
        reason: format!(
            "{product} of {name} is not billed, by choice: {}",
            ack.reason
        ),
    };
    store.acknowledge_removal(&ack, &audit).await?;
    Ok(ack)
}

/// Withdraws an acknowledgement: the next run reports the removal again. Refused when there is none.
pub async fn withdraw(
    store: &Store,
    customer: &str,
    product: &str,
    actor: &str,
) -> Result<(), UsageError> {
    let (tenant_id, product) = resolve(store, customer, product).await?;
    let audit = NewAudit {
        at: jiff::Timestamp::now(),
        actor: actor.to_owned(),
        action: AuditKind::UsageRemovalWithdrawn,
        subject: format!("tenant:{tenant_id}/product:{product}"),
        before: Some(json!({"tenant_id": tenant_id, "product": product})),
        after: None,
        reason: "the removal is billed or reported again".to_owned(),
    };
    if !store.withdraw_removal(&tenant_id, &product, &audit).await? {
        return Err(UsageError::Removal(format!(
            "no removal of {product} is acknowledged for this customer. Fix: `centralbridge removals list` shows \
             the acknowledged ones."
        )));
    }
    Ok(())
}
