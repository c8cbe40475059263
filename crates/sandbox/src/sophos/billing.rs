//! Monthly usage lines (§7), rendered from the world on demand.

use super::util::{hash_parts, hash_str, uuid_from_hash};
use super::wire::UsageLine;
use crate::world::{BILLING_CODES, World};

/// One line of a month, before rendering: which tenant and usage row, or an orphan line (a device
/// subscription not tied to a tenant, so without `accountId`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum LineRef {
    /// (tenant position, customer index in the world, usage row).
    Tenant {
        tenant: usize,
        customer: usize,
        row: usize,
    },
    /// Orphan line number.
    Orphan(usize),
}

/// Lists every line of a month with data, in a stable order: tenants in world order, rows in order, then
/// the orphans.
pub(crate) fn index_lines(
    world: &World,
    tenant_customers: &[usize],
    orphans: usize,
) -> Vec<LineRef> {
    let mut lines = Vec::new();
    for (t, &c) in tenant_customers.iter().enumerate() {
        if let Some(tenant) = world.customers.get(c).and_then(|c| c.tenant.as_ref()) {
            for row in 0..tenant.usage.len() {
                lines.push(LineRef::Tenant {
                    tenant: t,
                    customer: c,
                    row,
                });
            }
        }
    }
    lines.extend((0..orphans).map(LineRef::Orphan));
    lines
}

/// The last day of `month` in `year`.
fn last_day(year: i16, month: i8) -> i8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Orphan lines bill firewall and wireless subscriptions (codes the MSP buys per device).
const ORPHAN_CODES: &[&str] = &["XGS-FW-MSP", "WPS-MSP", "WES-MSP"];

/// Renders one line for `(year, month)`.
pub(crate) fn render(world: &World, line: LineRef, year: i16, month: i8) -> Option<UsageLine> {
    let start = format!("{year:04}-{month:02}-01");
    let end = format!("{year:04}-{month:02}-{:02}", last_day(year, month));
    let (code, billable, line_hash, account_id, account_number) = match line {
        LineRef::Tenant { customer, row, .. } => {
            let tenant = world.customers.get(customer)?.tenant.as_ref()?;
            let (code, _) = *tenant.usage.get(row)?;
            let th = hash_str(&tenant.id);
            let qty = world.monthly_quantity(tenant, row, year, month);
            let account_number = format!("C{:013}", th % 10_000_000_000_000);
            (
                BILLING_CODES.get(code)?,
                qty,
                hash_parts(&[th, row as u64]),
                Some(tenant.id.clone()),
                account_number,
            )
        }
        LineRef::Orphan(n) => {
            let h = hash_parts(&[hash_str(&world.partner_id), n as u64, 0x0F]);
            let code_name = ORPHAN_CODES[n % ORPHAN_CODES.len()];
            let code = BILLING_CODES.iter().find(|c| c.product_code == code_name)?;
            let qty = 1 + (h % 4) as u32;
            (
                code,
                qty,
                h,
                None,
                format!("X{:012X}", h % 0x1_0000_0000_0000),
            )
        }
    };
    // Some lines are billed above what is in use (minimum commitments).
    let actual = if line_hash % 6 == 0 && billable > 1 {
        billable - 1
    } else {
        billable
    };
    let order = line_hash % 100_000_000;
    Some(UsageLine {
        partner_account_id: world.partner_id.clone(),
        partner_edi_account_number: world.partner_edi_account.clone(),
        partner_account_name: world.partner_name.clone(),
        billing_start_date: start,
        billing_end_date: end,
        order_number: format!("ORD-{order:08}"),
        order_line_item_number: format!("ORD-{order:08}-{:03}", (line_hash >> 32) % 1000),
        account_number_or_serial_number: account_number,
        product_description: code.description,
        product_group: code.group,
        sku: code.sku,
        billable_quantity: billable,
        external_id: uuid_from_hash(line_hash ^ 0xE7),
        account_id,
        account_status: "active",
        actual_quantity: actual,
        product_code: code.product_code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_ends() {
        assert_eq!(last_day(2024, 2), 29);
        assert_eq!(last_day(2100, 2), 28);
        assert_eq!(last_day(2026, 11), 30);
        assert_eq!(last_day(2026, 12), 31);
    }
}
