//! The HTTP side: `/healthz`, static assets, login/setup/logout, and the guard every dashboard request
//! passes (session cookie, CSRF token on every action, same-origin check, security headers).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Form, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use engine::store::{CoreStore as _, Role};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use super::AppState;
use super::auth::{self, Login, PRELOGIN_COOKIE, SESSION_COOKIE};
use super::messages;
use crate::service::dashboard;

/// The state every handler gets, shared by all requests.
pub type Shared = Arc<AppState>;

/// The vendored htmx (2.x, from the npm package `htmx.org`): no JavaScript build step.
const HTMX: &str = include_str!("../../assets/htmx.min.js");
const APP_CSS: &str = include_str!("../../assets/app.css");

/// Largest form body accepted.
const MAX_FORM: usize = 256 * 1024;

/// The whole router.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/assets/htmx.min.js", get(htmx))
        .route("/assets/app.css", get(css))
        .route("/login", get(login_page).post(login))
        .route("/setup", get(setup_page).post(setup))
        .route("/logout", post(logout))
        .merge(dashboard::routes())
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

async fn healthz(State(app): State<Shared>) -> Response {
    match app.store.get_setting(auth::LEGACY_PASSWORD_SETTING).await {
        Ok(_) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"ok"}"#,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: store unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"status":"store unavailable"}"#,
            )
                .into_response()
        }
    }
}

async fn htmx() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        HTMX,
    )
        .into_response()
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        APP_CSS,
    )
        .into_response()
}

/// A cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(app: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    // Secure whenever the page is served over HTTPS: by this process (TLS) or by a proxy in front.
    let secure = if app.secure_cookies || app.tls {
        "; Secure"
    } else {
        ""
    };
    let text =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn public_path(path: &str) -> bool {
    path == "/healthz" || path.starts_with("/assets/") || path == "/login" || path == "/setup"
}

/// True when the request's Origin (if any) is this host: browsers send it on every POST.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
    origin_host.eq_ignore_ascii_case(host)
}

fn refuse(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_owned(),
    )
        .into_response()
}

/// Session, CSRF and headers for every request.
async fn guard(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let mut resp = guard_inner(app, req, next).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        // Not `no-referrer`: with it Chrome sends `Origin: null` on form posts, which the origin check refuses.
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

async fn guard_inner(app: Shared, req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && !same_origin(req.headers()) {
        return refuse(StatusCode::FORBIDDEN, messages::ORIGIN_REFUSED);
    }
    let path = req.uri().path().to_owned();
    if public_path(&path) {
        return next.run(req).await;
    }
    let session = match cookie(req.headers(), SESSION_COOKIE) {
        Some(c) => match app.auth.session(c).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot check the session");
                return refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
            }
        },
        None => None,
    };
    let Some(session) = session else {
        if unsafe_method || req.headers().contains_key("hx-request") {
            let mut r = refuse(StatusCode::UNAUTHORIZED, "Log in first.");
            r.headers_mut()
                .insert("hx-redirect", HeaderValue::from_static("/login"));
            return r;
        }
        return Redirect::to("/login").into_response();
    };
    let needed = required_role(req.method(), &path);
    if !session.may(needed) {
        return refuse(
            StatusCode::FORBIDDEN,
            &messages::role_refused(needed.as_str(), session.role.as_str()),
        );
    }
    let mut req = req;
    if unsafe_method {
        let header_token = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_FORM).await {
            Ok(b) => b,
            Err(_) => return refuse(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large."),
        };
        let form_token = form_field(&bytes, "_csrf");
        let ok = [header_token, form_token]
            .iter()
            .flatten()
            .any(|t| auth::same(t, &session.csrf));
        if !ok {
            return refuse(StatusCode::FORBIDDEN, messages::CSRF_REFUSED);
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(session);
    next.run(req).await
}

/// The least role a request needs: reading is for everyone; settings (products, ticket
/// settings) are for admins; every other action (syncs, mappings, checks) for operators.
pub fn required_role(method: &Method, path: &str) -> Role {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) || path == "/logout" {
        return Role::Viewer;
    }
    if path.starts_with("/products/") || path == "/tickets/settings" {
        return Role::Admin;
    }
    Role::Operator
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

// --- login, setup, logout ------------------------------------------------------------------------

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    prelogin: String,
    name: String,
    error: Option<String>,
    setup_needed: bool,
}

#[derive(askama::Template)]
#[template(path = "setup.html")]
struct SetupPage {
    prelogin: String,
    token: String,
    name: String,
    error: Option<String>,
}

fn with_prelogin(
    app: &AppState,
    headers: &HeaderMap,
    page: impl FnOnce(String) -> Response,
) -> Response {
    let token = cookie(headers, PRELOGIN_COOKIE)
        .filter(|t| t.len() >= 32)
        .map(str::to_owned)
        .unwrap_or_else(auth::random_token);
    let mut resp = page(token.clone());
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(app, PRELOGIN_COOKIE, &token, 3600),
    );
    resp
}

fn prelogin_ok(headers: &HeaderMap, form_token: &str) -> bool {
    cookie(headers, PRELOGIN_COOKIE).is_some_and(|c| !c.is_empty() && auth::same(c, form_token))
}

async fn login_page(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let setup_needed = !app.auth.has_users().await.unwrap_or(true);
    with_prelogin(&app, &headers, |prelogin| {
        dashboard::render(&LoginPage {
            prelogin,
            name: String::new(),
            error: None,
            setup_needed,
        })
    })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    _prelogin: String,
}

/// "14 s" or "15 min".
fn wait_text(wait: std::time::Duration) -> String {
    let secs = wait.as_secs().max(1);
    if secs < 120 {
        format!("{secs} s")
    } else {
        format!("{} min", secs.div_ceil(60))
    }
}

/// The client's address as the login throttle keys it: the peer, unless a proxy in front
/// (`behind_proxy`) names the client in `X-Forwarded-For`.
fn client_addr(
    app: &AppState,
    headers: &HeaderMap,
    peer: Option<std::net::SocketAddr>,
) -> Option<String> {
    if app.behind_proxy
        && let Some(first) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    {
        return Some(first.to_owned());
    }
    peer.map(|p| p.ip().to_string())
}

async fn login(
    State(app): State<Shared>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !prelogin_ok(&headers, &form._prelogin) {
        return refuse(StatusCode::FORBIDDEN, messages::CSRF_REFUSED);
    }
    let client = client_addr(&app, &headers, peer.map(|p| (p.0).0));
    let password = SecretString::from(form.password);
    let (error, status) = match app.auth.has_users().await {
        Ok(false) => (
            messages::LOGIN_NO_USERS.to_owned(),
            StatusCode::UNAUTHORIZED,
        ),
        Ok(true) => match app
            .auth
            .login(&form.name, &password, client.as_deref())
            .await
        {
            Ok(Login::Ok { cookie, session }) => {
                tracing::info!(user = %session.user, "dashboard session started");
                return start_session(&app, cookie.expose_secret());
            }
            Ok(Login::Refused) => (messages::LOGIN_FAILED.to_owned(), StatusCode::UNAUTHORIZED),
            Ok(Login::Throttled { retry_in, .. }) => (
                messages::login_throttled(&wait_text(retry_in)),
                StatusCode::TOO_MANY_REQUESTS,
            ),
            Err(e) => (e.to_string(), StatusCode::SERVICE_UNAVAILABLE),
        },
        Err(e) => (e.to_string(), StatusCode::SERVICE_UNAVAILABLE),
    };
    tracing::info!(status = status.as_u16(), "dashboard login refused");
    let name = form.name.clone();
    let mut resp = with_prelogin(&app, &headers, |prelogin| {
        dashboard::render(&LoginPage {
            prelogin,
            name,
            error: Some(error),
            setup_needed: false,
        })
    });
    *resp.status_mut() = status;
    resp
}

fn start_session(app: &AppState, cookie_value: &str) -> Response {
    let max_age = i64::try_from(app.auth.policy().absolute.as_secs()).unwrap_or(i64::MAX);
    let mut resp = Redirect::to("/customers").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(app, SESSION_COOKIE, cookie_value, max_age),
    );
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(app, PRELOGIN_COOKIE, "", 0));
    resp
}

#[derive(Deserialize)]
struct SetupQuery {
    #[serde(default)]
    token: String,
}

async fn setup_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<SetupQuery>,
) -> Response {
    if !app.auth.check_setup_token(&q.token) {
        return refuse(StatusCode::FORBIDDEN, messages::SETUP_BAD_TOKEN);
    }
    with_prelogin(&app, &headers, |prelogin| {
        dashboard::render(&SetupPage {
            prelogin,
            token: q.token.clone(),
            name: "admin".to_owned(),
            error: None,
        })
    })
}

#[derive(Deserialize)]
struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    _prelogin: String,
}

/// The one-time setup link: creates the first admin account, then logs it in.
async fn setup(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Response {
    if !prelogin_ok(&headers, &form._prelogin) {
        return refuse(StatusCode::FORBIDDEN, messages::CSRF_REFUSED);
    }
    if !app.auth.check_setup_token(&form.token) || app.auth.has_users().await.unwrap_or(true) {
        return refuse(StatusCode::FORBIDDEN, messages::SETUP_BAD_TOKEN);
    }
    let password = SecretString::from(form.password.clone());
    let error = if form.password != form.confirm {
        Some(messages::SETUP_MISMATCH.to_owned())
    } else {
        match app.auth.add_user(&form.name, Role::Admin, &password).await {
            Ok(_) => None,
            Err(auth::AuthError::Invalid(m)) => Some(m),
            Err(e) => return refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        }
    };
    if let Some(error) = error {
        let (token, name) = (form.token.clone(), form.name.clone());
        return with_prelogin(&app, &headers, |prelogin| {
            dashboard::render(&SetupPage {
                prelogin,
                token,
                name,
                error: Some(error),
            })
        });
    }
    let name = engine::store::normalise_name(&form.name);
    dashboard::audit(
        &app,
        &auth::actor_of(&name),
        engine::audit::AuditKind::UserAdd,
        &name,
        "the first admin, created through the setup link",
    )
    .await;
    match app.auth.session_for(&name).await {
        Ok((cookie, _)) => start_session(&app, cookie.expose_secret()),
        Err(e) => refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// Ends the session in the store (a copy of the cookie is worthless afterwards) and clears it.
async fn logout(State(app): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(c) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = app.auth.logout(c).await
    {
        tracing::warn!(error = %e, "cannot end the session");
        return refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&app, SESSION_COOKIE, "", 0));
    resp
}
