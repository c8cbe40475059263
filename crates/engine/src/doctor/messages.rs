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

pub fn role_title(row: &RoleRow, level: RoleLevel) -> String {
    format!("{}: {}", row.menu_path(), level.label())
}

pub const READ_OK: &str = "allowed: read one record";
pub const ADD_OK: &str =
    "allowed: an empty record was refused on validation, after the role check (nothing created)";
pub const ADD_ACCEPTED: &str = "the role allowed the request, but ConnectWise accepted an empty record: check the records created by the API member";
pub const EDIT_OK: &str =
    "allowed: a no-op patch was refused on validation, after the role check (nothing changed)";
pub const DENIED: &str =
    "ConnectWise refused: \"You do not have security permission to perform this action.\"";

pub fn used_for(row: &RoleRow) -> String {
    format!("needed for {}", row.used_for)
}

pub fn denied(row: &RoleRow) -> String {
    format!("{DENIED} This level is {}.", used_for(row))
}

pub fn not_found_unverified(path: &str) -> String {
    format!(
        "no record to probe at {path}: ConnectWise answered 404, which may come before the role check, so this level is not proven either way"
    )
}

pub fn no_record(read_title: &str) -> String {
    format!(
        "no existing record to probe (the read for {read_title} returned none); probed a record that does not exist instead"
    )
}

pub fn inconclusive(error: &str) -> String {
    format!("the probe's answer does not tell either way: {error}")
}

pub const MEMBER_TITLE: &str = "API member: security role assigned (setup step 9.1, \"Member\")";
pub const MEMBER_REASON: &str = "ConnectWise does not show a member's role assignment through the API. \
     Check it by hand: System > Members > API Members > (the API member) > Role ID.";

pub const OPTIONAL_OFF: &str = "optional: the feature that needs it is turned off";

pub const CW_CONNECTION_TITLE: &str = "ConnectWise: site, company id, keys, clientId";
pub fn cw_connected(origin: &str, codebase: &str) -> String {
    format!("signed in to {origin} (codebase {codebase})")
}
pub const CW_SKIPPED: &str = "skipped: the ConnectWise connection does not work (see above)";

pub const CLOCK_TITLE: &str = "Clock: this machine vs ConnectWise";
pub fn clock_ok(skew_s: i64) -> String {
    format!("this machine's clock is {skew_s} s from ConnectWise's")
}
pub fn clock_skewed(skew_s: i64, tolerance_s: i64) -> String {
    format!(
        "this machine's clock is {skew_s} s from ConnectWise's (more than {tolerance_s} s): alert times and billing months may be misread"
    )
}
pub const CLOCK_FIX: &str =
    "Turn on time synchronisation (NTP) on this machine, e.g. `timedatectl set-ntp true`.";
pub const CLOCK_NO_DATE: &str = "ConnectWise sent no Date header to compare with";

pub const SOPHOS_TOKEN_TITLE: &str = "Sophos Central: sign-in (client id and secret)";
pub const SOPHOS_WHOAMI_TITLE: &str = "Sophos Central: credential is a partner credential";
pub const SOPHOS_TENANTS_TITLE: &str = "Sophos Central: tenants readable";
pub const SOPHOS_BILLING_TITLE: &str = "Sophos Central: billing usage readable";
pub const SOPHOS_ALERTS_TITLE: &str = "Sophos Central: alerts readable for a sample tenant";
pub const SOPHOS_SKIPPED: &str = "skipped: the Sophos Central sign-in does not work (see above)";

pub const SOPHOS_SECRET_REFUSED: &str = "the Sophos client secret was refused — create a new credential in Sophos Central Partner: Settings & policies > API Credentials";
pub const SOPHOS_CREDENTIAL_FIX: &str = "Sophos Central Partner: Settings & policies > API Credentials: add a credential (role Service Principal Super Admin), then run `centralbridge connect sophos` with its client id and secret";
pub fn sophos_not_partner(id_type: &str) -> String {
    format!(
        "this credential belongs to a Sophos Central {id_type}, not to the partner: it cannot see your customers"
    )
}
pub const SOPHOS_NOT_PARTNER_FIX: &str = "Create the credential in Sophos Central Partner (not in a customer's Sophos Central): Settings & policies > API Credentials";
pub fn sophos_signed_in(partner_id: &str) -> String {
    format!("signed in as partner {partner_id}")
}
pub fn sophos_tenants(n: usize, more: bool) -> String {
    if more {
        format!("read the first page of tenants ({n} on it)")
    } else {
        format!("read {n} tenants")
    }
}
pub fn sophos_billing(year: i16, month: i8, items: usize, no_data: bool) -> String {
    if no_data {
        format!("usage for {year}-{month:02} is readable (no data yet for that month)")
    } else {
        format!("usage for {year}-{month:02} is readable ({items} lines)")
    }
}
pub fn sophos_alerts(tenant: &str) -> String {
    format!("alerts of {tenant} are readable")
}
pub fn sophos_alerts_forbidden(names: &str) -> String {
    format!(
        "Sophos Central refused the alerts of {names}: a term customer must turn on Partner Assistance (in its own Sophos Central) and a trial cannot be read, so their alerts cannot become tickets"
    )
}
pub const SOPHOS_NO_TENANT: &str = "no usage or term tenant to sample";
pub fn sophos_failed(what: &str, error: &str) -> String {
    format!("{what}: {error}")
}
pub const SOPHOS_PERMISSION_FIX: &str = "Give the API credential the Service Principal Super Admin role in Sophos Central Partner: Settings & policies > API Credentials";
