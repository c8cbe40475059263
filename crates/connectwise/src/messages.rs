//! Every sentence this crate shows to an MSP engineer, in one place so a translation can follow.

use std::time::Duration;

pub(crate) fn auth(message: &str) -> String {
    format!(
        "ConnectWise rejected the API keys ({message}). Check the company id, the public and private key of the API member, and that the keys are not deleted."
    )
}

pub(crate) fn permission(method: &str, path: &str, function: Option<&str>) -> String {
    match function {
        Some(f) => format!(
            "ConnectWise refused {method} {path}: the API member's security role needs {f} = All (System > Security Roles > your role)."
        ),
        None => format!(
            "ConnectWise refused {method} {path}: the API member's security role does not allow it (System > Security Roles)."
        ),
    }
}

pub(crate) fn not_found(path: &str, message: &str) -> String {
    format!("ConnectWise has no record at {path} ({message}).")
}

pub(crate) fn validation(field: Option<&str>, code: &str, message: &str) -> String {
    match field {
        Some(f) => format!("ConnectWise refused the data ({code}) for field '{f}': {message}"),
        None => format!("ConnectWise refused the data ({code}): {message}"),
    }
}

pub(crate) fn invoiced(message: &str) -> String {
    format!(
        "ConnectWise refused to change a period that has already been invoiced: {message}. Use a later effective date or change it by hand in ConnectWise."
    )
}

pub(crate) fn rate_limited(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(
            "ConnectWise is rate limiting this integration; it asked to wait {} s.",
            d.as_secs()
        ),
        None => "ConnectWise is rate limiting this integration.".to_string(),
    }
}

pub(crate) fn server(status: u16, message: &str) -> String {
    format!("ConnectWise had an internal error (HTTP {status}): {message}")
}

pub(crate) fn transport(message: &str, timeout: bool) -> String {
    if timeout {
        format!("ConnectWise did not answer in time: {message}")
    } else {
        format!("Could not reach ConnectWise: {message}")
    }
}

pub(crate) fn codebase_moved(old: &str, new: &str) -> String {
    format!(
        "ConnectWise moved this site from codebase {old} to {new}, but a codebase override is configured; update or remove the override."
    )
}

pub(crate) fn company_not_found(company_id: &str) -> String {
    format!(
        "ConnectWise does not know the company id '{company_id}'. Use the company id you type on the ConnectWise login page."
    )
}

pub(crate) fn ssl_required() -> &'static str {
    "ConnectWise requires HTTPS and the api- host (for example api-na.myconnectwise.net)."
}

pub(crate) fn http_not_allowed() -> &'static str {
    "Plain http:// is only allowed for the local emulator; use https://."
}

pub(crate) fn empty_site() -> &'static str {
    "The ConnectWise site is empty; enter the host you use to log in, e.g. na.myconnectwise.net."
}

pub(crate) fn bad_site(input: &str) -> String {
    format!("'{input}' is not a valid ConnectWise site; enter a host such as na.myconnectwise.net.")
}

pub(crate) fn note_api_prefix(from: &str, to: &str) -> String {
    format!("The API of {from} is served by {to}; using {to}.")
}

pub(crate) fn note_path_dropped(path: &str) -> String {
    format!("Ignored the path '{path}' after the site's host name.")
}

pub(crate) fn unquotable(field: &str) -> String {
    format!(
        "The value for '{field}' contains both kinds of quote, which ConnectWise conditions cannot express; filter by id or by a safe substring instead."
    )
}

pub(crate) fn bad_field(field: &str) -> String {
    format!("'{field}' is not a valid ConnectWise field name for conditions.")
}

pub(crate) fn patch_not_applied(path: &str, fields: &[String]) -> String {
    format!(
        "ConnectWise answered OK to the update of {path} but did not change: {}.",
        fields.join(", ")
    )
}

pub(crate) fn decode(path: &str, message: &str) -> String {
    format!("ConnectWise sent a response for {path} that could not be read: {message}")
}

pub(crate) fn other(status: u16, message: &str) -> String {
    format!("ConnectWise answered HTTP {status}: {message}")
}

pub(crate) fn report_refused(e: &crate::error::CwError) -> String {
    format!(
        "API Reports are refused ({e}); additions are read one agreement at a time. Fix: System > Security Roles > (the API member's role) > System > API Reports: set Inquire Level = All."
    )
}

pub(crate) fn report_missing(name: &str) -> String {
    format!(
        "This ConnectWise server does not offer the {name} report (system/reports); additions are read one agreement at a time."
    )
}

pub(crate) fn report_columns_missing(name: &str, missing: &[&str]) -> String {
    format!(
        "The {name} report lacks the column(s) {}; additions are read one agreement at a time.",
        missing.join(", ")
    )
}

pub(crate) fn report_row_unreadable(row: &serde_json::Map<String, serde_json::Value>) -> String {
    let keys: Vec<&str> = row.keys().map(String::as_str).collect();
    format!(
        "a report row without agreement, addition or product id (columns {})",
        keys.join(", ")
    )
}
