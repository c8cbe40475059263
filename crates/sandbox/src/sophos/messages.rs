//! Every message text the emulator puts in a body, in one place. The defaults follow the values
//! Sophos publishes (reference §11); the others are the emulator's own, in plain English.

pub(super) const BAD_REQUEST: &str = "Bad request.";
pub(super) const NOT_AUTHORIZED: &str = "Not authorized.";
pub(super) const ACCESS_DENIED: &str = "Access is denied";
pub(super) const WRONG_REGION: &str =
    "This tenant is not served by this API host; use the tenant's apiHost.";
pub(super) const NOT_FOUND: &str = "Resource not found.";
pub(super) const NO_USAGE: &str = "No data for requested year or month.";
pub(super) const TOO_MANY_REQUESTS: &str = "Too many requests.";
pub(super) const INTERNAL: &str = "Internal Server Error.";
pub(super) const BAD_KEY: &str = "Invalid page key.";
pub(super) const BAD_ACTION: &str = "Unknown or missing action.";
pub(super) const ACTION_NOT_ALLOWED: &str = "This action is not allowed for this alert.";
