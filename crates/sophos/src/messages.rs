//! Every user-facing sentence of this crate, in one place so a translation can follow.
//!
//! Texts never contain a secret or a token: callers only pass codes, ids and server messages.

/// Shown when whoami's `idType` is not `partner`.
pub const NOT_PARTNER: &str = "these credentials are not partner credentials";
/// Shown when the token endpoint refuses the client id or secret.
pub const AUTH_REJECTED: &str =
    "Sophos Central rejected the API credentials; check the client ID and secret";
/// Shown when the sign-in succeeds but the answer carries no access token.
pub const AUTH_NO_TOKEN: &str = "Sophos Central answered the sign-in without an access token";
/// Shown when an API call still answers 401 after a fresh sign-in.
pub const API_NOT_AUTHORIZED: &str =
    "Sophos Central did not accept the access token, even after signing in again";
/// Shown when a tenant-scoped call answers 403; names the usual causes.
pub const FORBIDDEN_TENANT: &str = "no access to this customer's data in Sophos Central (term customer without Partner Assistance, trial, or another partner's customer)";
/// Shown when a partner-scoped call answers 403.
pub const FORBIDDEN: &str = "Sophos Central refused access to this resource";
/// Shown on a 404 for anything other than a month without usage.
pub const NOT_FOUND: &str = "Sophos Central has no such resource";
/// Shown when 429s outlast the retries.
pub const RATE_LIMITED: &str = "Sophos Central is rate limiting our requests; try again later";
/// Shown on a 5xx (after retries) or an unexpected status.
pub const SERVER: &str = "Sophos Central answered with a server error";
/// Shown on a 4xx other than 401, 403, 404 and 429.
pub const BAD_REQUEST: &str = "Sophos Central rejected the request as invalid";
/// Shown when the connection or TLS fails (after retries).
pub const TRANSPORT: &str = "could not reach Sophos Central";
/// Shown when a request times out (after retries).
pub const TIMEOUT: &str = "Sophos Central did not answer in time";
/// Shown when a 2xx body does not have the expected shape.
pub const DECODE: &str = "could not read Sophos Central's answer";
/// Prefix of every settings or argument error found before any request.
pub const INVALID_CONFIG: &str = "the Sophos Central connection settings are invalid";
/// Shown when a bearer call would go to a plain-http host while HTTPS is required.
pub const INSECURE_HOST: &str =
    "refusing to send the access token to a host that does not use HTTPS";
/// Shown when Sophos hands out the same page key twice (paging would never end).
pub const PAGING_LOOP: &str = "Sophos Central returned the same page key twice";
/// Shown when a billing month outside 1–12 (or a year outside four digits) is asked for.
pub const BAD_MONTH: &str = "the billing month must be between 1 and 12";
/// Shown when the requests-per-second setting is not a positive number.
/// Shown when the maximum concurrency is 0.
pub const BAD_CONCURRENCY: &str = "the maximum concurrency must be at least 1";
/// Follows the quoted value of a token or global URL that is not http(s) with a host.
pub const BAD_URL: &str = "is not a valid http(s) URL";
/// Shown when the client id is empty or blank.
pub const EMPTY_CLIENT_ID: &str = "the client ID is empty";
