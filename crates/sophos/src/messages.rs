//! Every user-facing sentence of this crate, in one place so a translation can follow.
//!
//! Texts never contain a secret or a token: callers only pass codes, ids and server messages.

pub const NOT_PARTNER: &str = "these credentials are not partner credentials";
pub const AUTH_REJECTED: &str =
    "Sophos Central rejected the API credentials; check the client ID and secret";
pub const AUTH_NO_TOKEN: &str = "Sophos Central answered the sign-in without an access token";
pub const API_NOT_AUTHORIZED: &str =
    "Sophos Central did not accept the access token, even after signing in again";
pub const FORBIDDEN_TENANT: &str = "no access to this customer's data in Sophos Central (term customer without Partner Assistance, trial, or another partner's customer)";
pub const FORBIDDEN: &str = "Sophos Central refused access to this resource";
pub const NOT_FOUND: &str = "Sophos Central has no such resource";
pub const RATE_LIMITED: &str = "Sophos Central is rate limiting our requests; try again later";
pub const SERVER: &str = "Sophos Central answered with a server error";
pub const BAD_REQUEST: &str = "Sophos Central rejected the request as invalid";
pub const TRANSPORT: &str = "could not reach Sophos Central";
pub const TIMEOUT: &str = "Sophos Central did not answer in time";
pub const DECODE: &str = "could not read Sophos Central's answer";
pub const INVALID_CONFIG: &str = "the Sophos Central connection settings are invalid";
pub const INSECURE_HOST: &str =
    "refusing to send the access token to a host that does not use HTTPS";
pub const PAGING_LOOP: &str = "Sophos Central returned the same page key twice";
pub const BAD_MONTH: &str = "the billing month must be between 1 and 12";
pub const BAD_RPS: &str = "requests per second must be a positive number";
pub const BAD_CONCURRENCY: &str = "the maximum concurrency must be at least 1";
pub const BAD_URL: &str = "is not a valid http(s) URL";
pub const EMPTY_CLIENT_ID: &str = "the client ID is empty";
