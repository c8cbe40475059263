//! Every sentence the doctor shows, in one place so a translation can follow.

use super::rows::{RoleLevel, RoleRow};

/// The exact fix for a missing level, in ConnectWise's own words.
pub fn role_fix(row: &RoleRow, level: RoleLevel) -> String {
    format!(
        "System > Security Roles > (the API member's role) > {}: set {} = All",
        row.menu_path(),
        level.label()
    )
}

/// The title of a role-level check: the role page's menu path and the level.
pub fn role_title(row: &RoleRow, level: RoleLevel) -> String {
    format!("{}: {}", row.menu_path(), level.label())
}

/// The detail of an Inquire check whose one-record read succeeded.
pub const READ_OK: &str = "allowed: read one record";
/// The detail of an Add check whose empty record was refused on validation after the role check.
pub const ADD_OK: &str =
    "allowed: an empty record was refused on validation, after the role check (nothing created)";
/// The detail of an Add check whose empty record ConnectWise accepted, so a blank record may exist.
pub const ADD_ACCEPTED: &str = "the role allowed the request, but ConnectWise accepted an empty record: check the records created by the API member";
/// The detail of an Edit check whose failing `test` patch was refused after the role check.
pub const EDIT_OK: &str =
    "allowed: a no-op patch was refused on validation, after the role check (nothing changed)";
/// ConnectWise's own refusal text, quoted when a level is missing.
pub const DENIED: &str =
    "ConnectWise refused: \"You do not have security permission to perform this action.\"";

/// The clause saying which feature a role row is needed for.
pub fn used_for(row: &RoleRow) -> String {
    format!("needed for {}", row.used_for)
}

/// The detail of a check whose probe ConnectWise refused with a security 403.
pub fn denied(row: &RoleRow) -> String {
    format!("{DENIED} This level is {}.", used_for(row))
}

/// The detail of a check left unverified because the probed record answered 404.
pub fn not_found_unverified(path: &str) -> String {
    format!(
        "no record to probe at {path}: ConnectWise answered 404, which may come before the role check, so this level is not proven either way"
    )
}

/// The note added when an Edit probe had no existing record and probed one that does not exist.
pub fn no_record(read_title: &str) -> String {
    format!(
        "no existing record to probe (the read for {read_title} returned none); probed a record that does not exist instead"
    )
}

/// The detail of a check left unverified because the probe's error cannot tell either way.
pub fn inconclusive(error: &str) -> String {
    format!("the probe's answer does not tell either way: {error}")
}

/// The title of the check that the API member has a security role assigned.
pub const MEMBER_TITLE: &str = "API member: security role assigned (setup step 9.1, \"Member\")";
/// Why the role-assignment check cannot be verified through the API, and how to check it by hand.
pub const MEMBER_REASON: &str = "ConnectWise does not show a member's role assignment through the API. \
     Check it by hand: System > Members > API Members > (the API member) > Role ID.";

/// The note added to a non-passing check of a row whose optional feature is off.
pub const OPTIONAL_OFF: &str = "optional: the feature that needs it is turned off";

/// The title of the ConnectWise connection check.
pub const CW_CONNECTION_TITLE: &str = "ConnectWise: site, company id, keys, clientId";
/// The detail of a working ConnectWise connection: the site's origin and codebase.
pub fn cw_connected(origin: &str, codebase: &str) -> String {
    format!("signed in to {origin} (codebase {codebase})")
}
/// The detail of ConnectWise checks skipped because the connection does not work.
pub const CW_SKIPPED: &str = "skipped: the ConnectWise connection does not work (see above)";

/// The title of the clock check.
pub const CLOCK_TITLE: &str = "Clock: this machine vs ConnectWise";
/// The detail of a clock within tolerance of ConnectWise's, with the difference in seconds.
pub fn clock_ok(skew_s: i64) -> String {
    format!("this machine's clock is {skew_s} s from ConnectWise's")
}
/// The detail of a clock further from ConnectWise's than the tolerance.
pub fn clock_skewed(skew_s: i64, tolerance_s: i64) -> String {
    format!(
        "this machine's clock is {skew_s} s from ConnectWise's (more than {tolerance_s} s): alert times and billing months may be misread"
    )
}
/// The fix for a clock that is off.
pub const CLOCK_FIX: &str =
    "Turn on time synchronisation (NTP) on this machine, e.g. `timedatectl set-ntp true`.";
/// The detail of a clock check left unverified because ConnectWise sent no Date header.
pub const CLOCK_NO_DATE: &str = "ConnectWise sent no Date header to compare with";

/// The title of the Sophos sign-in check.
pub const SOPHOS_TOKEN_TITLE: &str = "Sophos Central: sign-in (client id and secret)";
/// The title of the check that the Sophos credential belongs to the partner.
pub const SOPHOS_WHOAMI_TITLE: &str = "Sophos Central: credential is a partner credential";
/// The title of the Sophos tenant-listing check.
pub const SOPHOS_TENANTS_TITLE: &str = "Sophos Central: tenants readable";
/// The title of the Sophos billing-usage check.
pub const SOPHOS_BILLING_TITLE: &str = "Sophos Central: billing usage readable";
/// The title of the check that a sample tenant's alerts can be read.
pub const SOPHOS_ALERTS_TITLE: &str = "Sophos Central: alerts readable for a sample tenant";
/// The detail of Sophos checks skipped because the sign-in does not work.
pub const SOPHOS_SKIPPED: &str = "skipped: the Sophos Central sign-in does not work (see above)";

/// The detail of a Sophos sign-in refused for a bad client id or secret.
pub const SOPHOS_SECRET_REFUSED: &str = "the Sophos client secret was refused — create a new credential in Sophos Central Partner: Settings & policies > API Credentials";
/// The fix for a Sophos sign-in that fails: how to create a partner credential and connect with it.
pub const SOPHOS_CREDENTIAL_FIX: &str = "Sophos Central Partner: Settings & policies > API Credentials: add a credential (role Service Principal Super Admin), then run `centralbridge connect sophos` with its client id and secret";
/// The detail of a Sophos credential that belongs to a tenant or organization, not the partner.
pub fn sophos_not_partner(id_type: &str) -> String {
    format!(
        "this credential belongs to a Sophos Central {id_type}, not to the partner: it cannot see your customers"
    )
}
/// The fix for a credential that is not a partner credential.
pub const SOPHOS_NOT_PARTNER_FIX: &str = "Create the credential in Sophos Central Partner (not in a customer's Sophos Central): Settings & policies > API Credentials";
/// The detail of a partner credential that signed in, naming the partner id.
pub fn sophos_signed_in(partner_id: &str) -> String {
    format!("signed in as partner {partner_id}")
}
/// The detail of a readable tenant list, with the count (of the first page when there are more).
pub fn sophos_tenants(n: usize, more: bool) -> String {
    if more {
        format!("read the first page of tenants ({n} on it)")
    } else {
        format!("read {n} tenants")
    }
}
/// The detail of a readable billing-usage month, with its line count or "no data yet".
pub fn sophos_billing(year: i16, month: i8, items: usize, no_data: bool) -> String {
    if no_data {
        format!("usage for {year}-{month:02} is readable (no data yet for that month)")
    } else {
        format!("usage for {year}-{month:02} is readable ({items} lines)")
    }
}
/// The detail of a sample tenant whose alerts are readable.
pub fn sophos_alerts(tenant: &str) -> String {
    format!("alerts of {tenant} are readable")
}
/// The note naming tenants whose alerts Sophos refused (term without Partner Assistance, trial).
pub fn sophos_alerts_forbidden(names: &str) -> String {
    format!(
        "Sophos Central refused the alerts of {names}: a term customer must turn on Partner Assistance (in its own Sophos Central) and a trial cannot be read, so their alerts cannot become tickets"
    )
}
/// The detail of an alerts check skipped because no usage or term tenant exists to sample.
pub const SOPHOS_NO_TENANT: &str = "no usage or term tenant to sample";
/// The detail of a Sophos check that failed: what was read and the error.
pub fn sophos_failed(what: &str, error: &str) -> String {
    format!("{what}: {error}")
}
/// The fix for a Sophos read refused for lack of permission: the role the credential needs.
pub const SOPHOS_PERMISSION_FIX: &str = "Give the API credential the Service Principal Super Admin role in Sophos Central Partner: Settings & policies > API Credentials";

/// The bulk-read check's title.
pub const BULK_TITLE: &str = "API Reports: AgreementAdditions report for bulk reads (optional)";

/// The report can serve bulk reads.
pub fn bulk_ok(prices: bool) -> String {
    if prices {
        "offered with every column usage sync reads: additions are read 1,000 a call".to_owned()
    } else {
        "offered (without prices): additions are read 1,000 a call".to_owned()
    }
}
