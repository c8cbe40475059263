//! Request handling: one fallback handler that parses the path itself, so paths are case-insensitive,
//! trailing slashes optional and the codebase movable at runtime.
//!
//! Order for every API call: codebase → Basic auth (401) → `clientId` (400) → `Accept` version →
//! route (404/405) → security role (403) → body parsing and validation (400) → the operation.

use super::Shared;
use super::conditions::Literal;
use super::data::{Record, Store, Table, fmt_ts};
use super::paging::{self, ListOptions, Query};
use super::resources::{self, Kind, RuleCtx, spec};
use super::roles::{Level, Role, RoleFunction};
use super::wire::ApiError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};
use std::sync::Arc;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq)]
enum Route {
    Collection {
        table: Table,
        parent: Option<i64>,
    },
    Count {
        table: Table,
        parent: Option<i64>,
    },
    Search {
        table: Table,
        parent: Option<i64>,
    },
    Item {
        table: Table,
        parent: Option<i64>,
        id: i64,
    },
    TypeAssociations {
        company: i64,
    },
    AllNotes {
        ticket: i64,
    },
    SystemInfo,
    Reports,
    Report {
        name: String,
    },
    ReportColumns {
        name: String,
    },
    ReportCount {
        name: String,
    },
}

/// Collection prefixes; `#` captures the parent id.
const PREFIXES: &[(&[&str], Table)] = &[
    (
        &["company", "companies", "statuses"],
        Table::CompanyStatuses,
    ),
    (&["company", "companies", "types"], Table::CompanyTypes),
    (&["company", "companies"], Table::Companies),
    (&["company", "contacts"], Table::Contacts),
    (&["finance", "agreements", "types"], Table::AgreementTypes),
    (
        &["finance", "agreements", "#", "additions"],
        Table::Additions,
    ),
    (&["finance", "agreements"], Table::Agreements),
    (&["procurement", "catalog"], Table::Catalog),
    (
        &["procurement", "categories", "#", "subcategories"],
        Table::Subcategories,
    ),
    (&["procurement", "categories"], Table::Categories),
    (&["procurement", "subcategories"], Table::Subcategories),
    (&["procurement", "types"], Table::ProductTypes),
    (&["procurement", "manufacturers"], Table::Manufacturers),
    (
        &["service", "boards", "#", "statuses"],
        Table::BoardStatuses,
    ),
    (&["service", "boards", "#", "types"], Table::BoardTypes),
    (
        &["service", "boards", "#", "subtypes"],
        Table::BoardSubtypes,
    ),
    (&["service", "boards", "#", "items"], Table::BoardItems),
    (&["service", "boards"], Table::Boards),
    (&["service", "priorities"], Table::Priorities),
    (&["service", "sources"], Table::Sources),
    (&["service", "tickets", "#", "notes"], Table::Notes),
    (&["service", "tickets"], Table::Tickets),
    (&["system", "members"], Table::Members),
    (&["system", "callbacks"], Table::Callbacks),
];

fn route(segs: &[String], raw: &[String]) -> Option<Route> {
    match segs
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["system", "info"] => return Some(Route::SystemInfo),
        ["system", "reports"] => return Some(Route::Reports),
        ["system", "reports", _] => {
            return Some(Route::Report {
                name: raw[2].clone(),
            });
        }
        ["system", "reports", _, "columns"] => {
            return Some(Route::ReportColumns {
                name: raw[2].clone(),
            });
        }
        ["system", "reports", _, "count"] => {
            return Some(Route::ReportCount {
                name: raw[2].clone(),
            });
        }
        ["service", "tickets", id, "allnotes"] => {
            return id.parse().ok().map(|ticket| Route::AllNotes { ticket });
        }
        ["company", "companies", id, "typeassociations"] => {
            return id
                .parse()
                .ok()
                .map(|company| Route::TypeAssociations { company });
        }
        _ => {}
    }
    for (pattern, table) in PREFIXES {
        if segs.len() < pattern.len() {
            continue;
        }
        let mut parent = None;
        let ok = pattern.iter().zip(segs).all(|(p, s)| {
            if *p == "#" {
                parent = s.parse::<i64>().ok();
                parent.is_some()
            } else {
                p == s
            }
        });
        if !ok {
            continue;
        }
        let (table, parent) = (*table, parent);
        return match &segs[pattern.len()..] {
            [] => Some(Route::Collection { table, parent }),
            [c] if c == "count" => Some(Route::Count { table, parent }),
            [c] if c == "search" => Some(Route::Search { table, parent }),
            [id] => id.parse().ok().map(|id| Route::Item { table, parent, id }),
            _ => None,
        };
    }
    None
}

fn percent_decode(s: &str) -> String {
    // Path segments: `%20` etc. decoded; `+` stays a plus (only query strings use form encoding).
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, axum::Json(body.clone())).into_response()
}

/// The axum fallback handler.
pub(super) async fn dispatch(State(sh): State<Arc<Shared>>, req: Request) -> Response {
    let mut resp = handle(&sh, req)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    let h = resp.headers_mut();
    h.insert("api-current-version", HeaderValue::from_static("2025.1"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
    h.insert("x-server-name", HeaderValue::from_static("CW-EMULATOR-01"));
    let n = sh
        .request_seq
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Ok(v) = HeaderValue::from_str(&format!("00000000-0000-4000-8000-{n:012x}")) {
        h.insert("x-cw-request-id", v);
    }
    resp
}

struct Caller {
    member: String,
    role: Role,
}

fn authenticate(sh: &Shared, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthorized)?;
    let (scheme, b64) = auth
        .trim()
        .split_once(' ')
        .ok_or_else(ApiError::unauthorized)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::unauthorized());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| ApiError::unauthorized())?;
    let text = String::from_utf8(decoded).map_err(|_| ApiError::unauthorized())?;
    let (user, private) = text.split_once(':').ok_or_else(ApiError::unauthorized)?;
    let (company, public) = user.split_once('+').ok_or_else(ApiError::unauthorized)?;
    if !company.eq_ignore_ascii_case(&sh.company_id) {
        return Err(ApiError::unauthorized());
    }
    let store = sh.read();
    store
        .keys
        .iter()
        .find(|k| {
            k.public_key == public
                && secrecy::ExposeSecret::expose_secret(&k.private_key) == private
        })
        .map(|k| Caller {
            member: k.member_identifier.clone(),
            role: k.role.clone(),
        })
        .ok_or_else(ApiError::unauthorized)
}

fn version_tuple(v: &str) -> Vec<u32> {
    v.trim()
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.trim().parse().unwrap_or(0))
        .collect()
}

/// The version asked for in `Accept`, if any (`application/vnd.connectwise.com+json; version=2021.1`).
fn accept_version(headers: &HeaderMap) -> Option<String> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    accept
        .split(',')
        .flat_map(|part| part.split(';'))
        .find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("version")
                .then(|| v.trim().trim_matches('"').to_owned())
        })
}

fn level_for(method: &Method, route: &Route) -> Option<Level> {
    Some(match (method, route) {
        (&Method::GET, _) => Level::Inquire,
        (&Method::POST, Route::Search { .. }) => Level::Inquire,
        (&Method::POST, _) => Level::Add,
        (&Method::PUT | &Method::PATCH, _) => Level::Edit,
        (&Method::DELETE, _) => Level::Delete,
        _ => return None,
    })
}

fn method_allowed(method: &Method, route: &Route) -> bool {
    match route {
        Route::Collection { .. } => matches!(*method, Method::GET | Method::POST),
        Route::Search { .. } => *method == Method::POST,
        Route::Item { .. } => matches!(
            *method,
            Method::GET | Method::PUT | Method::PATCH | Method::DELETE
        ),
        _ => *method == Method::GET,
    }
}

/// The function a route is governed by; `None` when any authenticated member may call it.
fn function_for(method: &Method, route: &Route, open_setup_reads: bool) -> Option<RoleFunction> {
    match route {
        Route::SystemInfo => None,
        Route::Reports
        | Route::Report { .. }
        | Route::ReportColumns { .. }
        | Route::ReportCount { .. } => Some(RoleFunction::ApiReports),
        Route::TypeAssociations { .. } => Some(RoleFunction::CompanyMaintenance),
        Route::AllNotes { .. } => Some(RoleFunction::ServiceTickets),
        Route::Collection { table, .. }
        | Route::Count { table, .. }
        | Route::Search { table, .. }
        | Route::Item { table, .. } => {
            let sp = spec(*table);
            // Setup tables answer reads to anyone [guide], unless the knob restricts them.
            if open_setup_reads
                && sp.setup
                && (*method == Method::GET || matches!(route, Route::Search { .. }))
            {
                None
            } else {
                Some(sp.function)
            }
        }
    }
}

async fn read_json(body: Body) -> Result<Option<Value>, ApiError> {
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .map_err(|_| ApiError::bad_json("body too large"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ApiError::bad_json(&e.to_string()))
}

/// The codebase every ConnectWise server answers on besides its own.
const ALWAYS_SERVED: &str = "v4_6_release";

async fn handle(sh: &Arc<Shared>, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let raw: Vec<String> = parts
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segs: Vec<String> = raw.iter().map(|s| s.to_lowercase()).collect();
    let method = parts.method.clone();

    if segs.len() == 3 && segs[0] == "login" && segs[1] == "companyinfo" {
        if method != Method::GET {
            return Err(ApiError::method_not_allowed(method.as_str()));
        }
        return Ok(json_response(StatusCode::OK, &sh.company_info(&raw[2])));
    }
    let codebase = sh.read().codebase.trim_matches('/').to_lowercase();
    // `v4_6_release/` is served beside the discovered codebase, as on every real server (the
    // Developer Guide's examples and several clients' defaults use it).
    let known = segs
        .first()
        .is_some_and(|s| *s == codebase || s == ALWAYS_SERVED);
    if segs.len() < 3 || !known || segs[1] != "apis" || segs[2] != "3.0" {
        return Err(ApiError::no_route(&parts.uri.to_string()));
    }
    let caller = authenticate(sh, &parts.headers)?;
    let settings = sh.settings();
    if settings.require_client_id
        && parts
            .headers
            .get("clientid")
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.trim().is_empty())
    {
        return Err(ApiError::missing_client_id());
    }
    if let Some(min) = &settings.min_api_version {
        let asked = accept_version(&parts.headers);
        if let Some(v) = asked
            && version_tuple(&v) < version_tuple(min)
        {
            return Err(ApiError::unsupported_version(
                &format!("{}{}", sh.site_url(), parts.uri),
                &v,
            ));
        }
    }
    let rest = &segs[3..];
    let route = route(rest, &raw[3..])
        .ok_or_else(|| ApiError::no_route(&format!("{}{}", sh.site_url(), parts.uri)))?;
    if !method_allowed(&method, &route) {
        return Err(ApiError::method_not_allowed(method.as_str()));
    }
    let level =
        level_for(&method, &route).ok_or_else(|| ApiError::method_not_allowed(method.as_str()))?;
    if let Some(function) = function_for(&method, &route, !settings.setup_reads_need_inquire)
        && !caller.role.allows(function, level)
    {
        return Err(ApiError::security());
    }

    let mut query = Query::parse(parts.uri.query());
    let forward_only = parts
        .headers
        .get("pagination-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("forward-only"));
    let url = format!("{}{}", sh.site_url(), parts.uri.path());
    let api_base = sh.api_base();
    let max_page = settings.page_size_max;

    match route {
        Route::SystemInfo => Ok(json_response(StatusCode::OK, &sh.system_info())),
        Route::Reports => {
            let list: Vec<Value> = super::reports::names(&sh.read())
                .iter()
                .map(|n| json!({"name": n}))
                .collect();
            Ok(json_response(StatusCode::OK, &Value::Array(list)))
        }
        Route::Report { name } | Route::ReportColumns { name } | Route::ReportCount { name }
            if !super::reports::exists(&sh.read(), &name) =>
        {
            Err(ApiError::not_found("Report", name))
        }
        Route::ReportColumns { name } => {
            let store = sh.read();
            Ok(json_response(
                StatusCode::OK,
                &super::reports::columns(&store, &name),
            ))
        }
        Route::ReportCount { name } => {
            let opts = ListOptions::from_query(&query, false, max_page)?;
            let store = sh.read();
            let n = super::reports::rows(&store, &name)
                .into_iter()
                .filter(|r| opts.keeps(r))
                .count();
            Ok(json_response(StatusCode::OK, &json!({"count": n})))
        }
        Route::Report { name } => report(sh, &name, &query, &url, max_page),
        Route::TypeAssociations { company } => type_associations(sh, company),
        Route::AllNotes { ticket } => {
            let opts = ListOptions::from_query(&query, forward_only, max_page)?;
            let req = ListRequest {
                opts: &opts,
                query: &query,
                url: &url,
                api_base: &api_base,
                forward_only,
            };
            list(sh, Table::Notes, Some(ticket), &req)
        }
        Route::Collection { table, parent } if method == Method::GET => {
            let opts = ListOptions::from_query(&query, forward_only, max_page)?;
            let req = ListRequest {
                opts: &opts,
                query: &query,
                url: &url,
                api_base: &api_base,
                forward_only,
            };
            list(sh, table, parent, &req)
        }
        Route::Search { table, parent } => {
            if let Some(Value::Object(b)) = read_json(body).await? {
                query.merge_body(&b);
            }
            let opts = ListOptions::from_query(&query, forward_only, max_page)?;
            let url = url
                .trim_end_matches('/')
                .trim_end_matches("search")
                .trim_end_matches("Search")
                .trim_end_matches('/')
                .to_owned();
            let req = ListRequest {
                opts: &opts,
                query: &query,
                url: &url,
                api_base: &api_base,
                forward_only,
            };
            list(sh, table, parent, &req)
        }
        Route::Count { table, parent } => {
            let opts = ListOptions::from_query(&query, false, max_page)?;
            let store = sh.read();
            check_parent(&store, table, parent)?;
            check_conditions(&store, table, &opts)?;
            let n = store
                .table(table)
                .values()
                .filter(|r| in_parent(table, r, parent))
                .filter(|r| opts.keeps(r))
                .count();
            Ok(json_response(StatusCode::OK, &json!({"count": n})))
        }
        Route::Collection { table, parent } => {
            let call = Call {
                sh,
                caller: &caller,
                api_base: &api_base,
            };
            create(&call, table, parent, read_json(body).await?)
        }
        Route::Item { table, parent, id } => {
            let call = Call {
                sh,
                caller: &caller,
                api_base: &api_base,
            };
            match method {
                Method::GET => {
                    let opts = ListOptions::from_query(&query, false, max_page)?;
                    let store = sh.read();
                    check_parent(&store, table, parent)?;
                    let _ = existing(&store, table, parent, id)?;
                    Ok(json_response(
                        StatusCode::OK,
                        &render_item(&store, table, id, &api_base, opts.fields.as_deref()),
                    ))
                }
                Method::DELETE => delete(&call, table, parent, id),
                _ => {
                    let body = read_json(body).await?;
                    update(
                        &call,
                        Target { table, parent, id },
                        method == Method::PATCH,
                        body,
                    )
                }
            }
        }
    }
}

/// What a route handler needs of one authenticated call.
struct Call<'a> {
    sh: &'a Arc<Shared>,
    caller: &'a Caller,
    api_base: &'a str,
}

/// One record, as a URL names it.
#[derive(Clone, Copy)]
struct Target {
    table: Table,
    parent: Option<i64>,
    id: i64,
}

/// A system report's rows (filtered, ordered, paged) in the report shape.
fn report(
    sh: &Shared,
    name: &str,
    query: &Query,
    url: &str,
    max_page: u32,
) -> Result<Response, ApiError> {
    let opts = ListOptions::from_query(query, false, max_page)?;
    let columns: Option<Vec<String>> = query.get("columns").map(|c| {
        c.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let store = sh.read();
    let rows = report_rows(sh, &store, name, query, &opts);
    let page = paging::paginate(rows.iter().collect(), &opts, query, url);
    let items: Vec<Value> = page.items.into_iter().cloned().collect();
    let body = super::reports::shape(&store, name, &items, columns.as_deref());
    let mut resp = json_response(StatusCode::OK, &body);
    set_link(&mut resp, &page.link, false);
    Ok(resp)
}

/// A report's rows that match the query, in its order: built once per query and generation of
/// the data, so reading a report page by page costs one pass over the table.
fn report_rows(
    sh: &Shared,
    store: &Store,
    name: &str,
    query: &Query,
    opts: &ListOptions,
) -> Arc<Vec<Value>> {
    let generation = sh.generation();
    let key = (
        name.to_ascii_lowercase(),
        query.get("conditions").unwrap_or_default().to_owned(),
        query.get("orderBy").unwrap_or_default().to_owned(),
    );
    let mut cache = sh
        .report_cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(c) = cache.as_ref()
        && c.key == key
        && c.generation == generation
    {
        return c.rows.clone();
    }
    let mut rows: Vec<Value> = super::reports::rows(store, name)
        .into_iter()
        .filter(|r| opts.keeps(r))
        .collect();
    paging::sort(&mut rows, &opts.order_by);
    let rows = Arc::new(rows);
    *cache = Some(super::ReportCache {
        key,
        generation,
        rows: rows.clone(),
    });
    rows
}

/// `company/companies/{id}/typeAssociations`, derived from the company's types.
fn type_associations(sh: &Shared, company: i64) -> Result<Response, ApiError> {
    let store = sh.read();
    let c = store
        .get(Table::Companies, company)
        .ok_or_else(|| ApiError::not_found("Company", company))?;
    let list: Vec<Value> = c
        .get("types")
        .and_then(Value::as_array)
        .map(|types| {
            types
                .iter()
                .enumerate()
                .map(|(i, t)| json!({"id": i + 1, "type": t, "company": {"id": company}}))
                .collect()
        })
        .unwrap_or_default();
    Ok(json_response(StatusCode::OK, &Value::Array(list)))
}

/// POST to a collection: defaults, the body, the server's rules, then `_info`.
fn create(
    call: &Call<'_>,
    table: Table,
    parent: Option<i64>,
    body: Option<Value>,
) -> Result<Response, ApiError> {
    let Call {
        sh,
        caller,
        api_base,
    } = call;
    let Some(Value::Object(body)) = body else {
        return Err(ApiError::bad_json("expected a JSON object"));
    };
    let mut store = sh.write();
    check_parent(&store, table, parent)?;
    let now = sh.now();
    let ctx = RuleCtx {
        role: &caller.role,
        member: &caller.member,
        now,
        parent,
        body: &body,
        prorate_exempt: false,
    };
    let base = resources::defaults(&store, table);
    let mut rec = resources::merge(&store, table, &body, base)?;
    resources::apply_rules(&store, table, &mut rec, None, &ctx)?;
    let stamp = fmt_ts(now);
    rec.insert(
        "_info".into(),
        json!({"lastUpdated": stamp, "updatedBy": caller.member, "dateEntered": stamp, "enteredBy": caller.member}),
    );
    let id = store.insert(table, rec);
    if table == Table::Tickets {
        ticket_created(&mut store, id, &body, &caller.member, now);
    }
    let out = render_item(&store, table, id, api_base, None);
    Ok(json_response(StatusCode::CREATED, &out))
}

/// DELETE one record (a ticket takes its notes with it).
fn delete(
    call: &Call<'_>,
    table: Table,
    parent: Option<i64>,
    id: i64,
) -> Result<Response, ApiError> {
    let mut store = call.sh.write();
    check_parent(&store, table, parent)?;
    let _ = existing(&store, table, parent, id)?;
    store.table_mut(table).remove(&id);
    if table == Table::Tickets {
        store
            .table_mut(Table::Notes)
            .retain(|_, n| resources::parent_of(n, "ticketId") != Some(id));
        store.hidden.remove(&id);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// PUT (the whole record) or PATCH (JSON Patch ops) of one record, through the server's rules.
fn update(
    call: &Call<'_>,
    target: Target,
    is_patch: bool,
    body: Option<Value>,
) -> Result<Response, ApiError> {
    let Call {
        sh,
        caller,
        api_base,
    } = call;
    let Target { table, parent, id } = target;
    let mut store = sh.write();
    check_parent(&store, table, parent)?;
    let old = existing(&store, table, parent, id)?.clone();
    let body: Record = if is_patch {
        let Some(Value::Array(ops)) = body else {
            return Err(ApiError::bad_json(
                "a PATCH body must be a JSON Patch array",
            ));
        };
        match patch_to_body(table, &old, &ops)? {
            Some(b) => b,
            // Only sub-paths inside references: the false 200 of the real server.
            None => {
                return Ok(json_response(
                    StatusCode::OK,
                    &render_item(&store, table, id, api_base, None),
                ));
            }
        }
    } else {
        let Some(Value::Object(b)) = body else {
            return Err(ApiError::bad_json("expected a JSON object"));
        };
        b
    };
    let now = sh.now();
    let base = if is_patch {
        old.clone()
    } else {
        let defaults = resources::defaults(&store, table);
        let mut base = old.clone();
        for f in spec(table).fields {
            base.insert(
                f.name.into(),
                defaults.get(f.name).cloned().unwrap_or(Value::Null),
            );
        }
        base
    };
    let ctx = RuleCtx {
        role: &caller.role,
        member: &caller.member,
        now,
        parent,
        body: &body,
        prorate_exempt: false,
    };
    let mut rec = resources::merge(&store, table, &body, base)?;
    resources::apply_rules(&store, table, &mut rec, Some(&old), &ctx)?;
    if rec != old {
        let mut info = old.get("_info").cloned().unwrap_or_else(|| json!({}));
        info["lastUpdated"] = json!(fmt_ts(now));
        info["updatedBy"] = json!(caller.member);
        rec.insert("_info".into(), info);
    }
    store.table_mut(table).insert(id, rec);
    Ok(json_response(
        StatusCode::OK,
        &render_item(&store, table, id, api_base, None),
    ))
}

fn set_link(resp: &mut Response, link: &str, forward_only: bool) {
    if link.is_empty() && !forward_only {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(link) {
        resp.headers_mut().insert(header::LINK, v);
    }
}

fn in_parent(table: Table, r: &Record, parent: Option<i64>) -> bool {
    match (spec(table).parent, parent) {
        (Some((field, _)), Some(p)) => resources::parent_of(r, field) == Some(p),
        _ => true,
    }
}

fn check_parent(store: &Store, table: Table, parent: Option<i64>) -> Result<(), ApiError> {
    if let (Some((_, ptable)), Some(p)) = (spec(table).parent, parent)
        && store.get(ptable, p).is_none()
    {
        return Err(ApiError::not_found(spec(ptable).label, p));
    }
    // `procurement/categories/{id}/subcategories` is the only child route whose table is also flat.
    if table == Table::Subcategories
        && let Some(p) = parent
        && store.get(Table::Categories, p).is_none()
    {
        return Err(ApiError::not_found("Category", p));
    }
    Ok(())
}

fn existing(
    store: &Store,
    table: Table,
    parent: Option<i64>,
    id: i64,
) -> Result<&Record, ApiError> {
    store
        .get(table, id)
        .filter(|r| {
            if table == Table::Subcategories {
                parent.is_none_or(|p| resources::parent_of(r, "category") == Some(p))
            } else {
                in_parent(table, r, parent)
            }
        })
        .ok_or_else(|| ApiError::not_found(spec(table).label, id))
}

fn render_item(
    store: &Store,
    table: Table,
    id: i64,
    api_base: &str,
    fields: Option<&[Vec<String>]>,
) -> Value {
    let rendered = store
        .get(table, id)
        .map(|r| resources::render(store, table, r, api_base))
        .unwrap_or(Value::Null);
    match fields {
        Some(f) => paging::project(&rendered, f),
        None => rendered,
    }
}

/// How a list request asked for its page, and where its links point.
struct ListRequest<'a> {
    opts: &'a ListOptions,
    query: &'a Query,
    url: &'a str,
    api_base: &'a str,
    /// Forward-only paging (`pagination-type: forward-only`): a `Link` with `next` only.
    forward_only: bool,
}

/// Refuses `conditions` that name a field the resource does not have, or compare a boolean field
/// with a number, a string or a date (`closedFlag=1`): ConnectWise answers those 400, never with an
/// empty list, so a client bug found here is not first found in the field. Known names are the
/// resource's fields, the keys its records carry, and `lastUpdated`/`dateEntered` (for `_info`).
fn check_conditions(store: &Store, table: Table, opts: &ListOptions) -> Result<(), ApiError> {
    let Some(expr) = &opts.conditions else {
        return Ok(());
    };
    let fields = spec(table).fields;
    for (path, literals) in expr.comparisons() {
        let Some(head) = path.first() else { continue };
        let known = ["id", "_info", "lastUpdated", "dateEntered"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(head))
            || fields.iter().any(|f| f.name.eq_ignore_ascii_case(head))
            || store
                .table(table)
                .values()
                .any(|r| r.keys().any(|k| k.eq_ignore_ascii_case(head)));
        if !known {
            return Err(ApiError::invalid_message(format!(
                "{head} is not a valid field for this resource."
            )));
        }
        // Only a comparison with something other than true/false/null can be a type error.
        let typed = literals
            .iter()
            .any(|l| !matches!(l, Literal::Bool(_) | Literal::Null));
        if path.len() == 1 && typed && is_boolean_field(store, table, head) {
            return Err(ApiError::bad_conditions());
        }
    }
    Ok(())
}

/// Boolean by the resource's spec, or by what its records hold (computed flags such as a ticket's
/// `closedFlag` are not in the writable spec): some record has a boolean there and none has
/// anything else but null. The scan stops at the first other value.
fn is_boolean_field(store: &Store, table: Table, name: &str) -> bool {
    if spec(table)
        .fields
        .iter()
        .any(|f| f.name.eq_ignore_ascii_case(name) && matches!(f.kind, Kind::Bool))
    {
        return true;
    }
    let mut seen = false;
    for r in store.table(table).values() {
        match r
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
        {
            None | Some(Value::Null) => {}
            Some(Value::Bool(_)) => seen = true,
            Some(_) => return false,
        }
    }
    seen
}

fn list(
    sh: &Shared,
    table: Table,
    parent: Option<i64>,
    req: &ListRequest<'_>,
) -> Result<Response, ApiError> {
    let &ListRequest {
        opts,
        query,
        url,
        api_base,
        forward_only,
    } = req;
    let store = sh.read();
    check_parent(&store, table, parent)?;
    check_conditions(&store, table, opts)?;
    let mut rows: Vec<&Record> = store
        .table(table)
        .values()
        .filter(|r| {
            if table == Table::Subcategories {
                parent.is_none_or(|p| resources::parent_of(r, "category") == Some(p))
            } else {
                in_parent(table, r, parent)
            }
        })
        .filter(|r| opts.keeps(r))
        .collect();
    paging::sort(&mut rows, &opts.order_by);
    let page = paging::paginate(rows, opts, query, url);
    let items: Vec<Value> = page
        .items
        .iter()
        .filter_map(|r| r.get("id").and_then(Value::as_i64))
        .map(|id| render_item(&store, table, id, api_base, opts.fields.as_deref()))
        .collect();
    let mut resp = json_response(StatusCode::OK, &Value::Array(items));
    set_link(&mut resp, &page.link, forward_only);
    Ok(resp)
}

/// Turns a JSON Patch array into a partial body. `Ok(None)`: every op was a sub-path inside a
/// reference, which the real server acknowledges without changing anything.
fn patch_to_body(table: Table, old: &Record, ops: &[Value]) -> Result<Option<Record>, ApiError> {
    let sp = spec(table);
    let mut body = Record::new();
    let mut ignored = 0;
    for op in ops {
        let kind = op
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let path = path.strip_prefix('/').unwrap_or(path);
        let mut segs = path.split('/');
        let head = segs.next().unwrap_or("");
        let nested = segs.next().is_some();
        let known = sp.fields.iter().any(|f| f.name == head) || old.contains_key(head);
        if !known || head.is_empty() {
            return Err(ApiError::invalid_message(format!(
                "Cannot apply the patch: '{path}' is not a field of {}.",
                sp.resource
            )));
        }
        if nested {
            ignored += 1;
            continue;
        }
        match kind.as_str() {
            "add" | "replace" => {
                body.insert(
                    head.to_owned(),
                    op.get("value").cloned().unwrap_or(Value::Null),
                );
            }
            "remove" => {
                body.insert(head.to_owned(), Value::Null);
            }
            other => {
                return Err(ApiError::invalid_message(format!(
                    "The patch operation '{other}' is not supported."
                )));
            }
        }
    }
    if body.is_empty() && ignored > 0 {
        Ok(None)
    } else {
        Ok(Some(body))
    }
}

/// Stores the POST-only fields and turns them into the ticket's first notes, as ConnectWise does.
fn ticket_created(store: &mut Store, id: i64, body: &Record, member: &str, now: jiff::Timestamp) {
    let mut hidden = Record::new();
    for (key, flag) in [
        ("initialDescription", "detailDescriptionFlag"),
        ("initialInternalAnalysis", "internalAnalysisFlag"),
        ("initialResolution", "resolutionFlag"),
    ] {
        let Some(text) = body
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| v.as_str())
        else {
            continue;
        };
        hidden.insert(key.into(), json!(text));
        if text.trim().is_empty() {
            continue;
        }
        let member_ref = store
            .find_by(Table::Members, "identifier", member)
            .map(|m| resources::reference(Table::Members, m));
        let stamp = fmt_ts(now);
        let note = json!({"ticketId": id, "text": text, "detailDescriptionFlag": flag == "detailDescriptionFlag",
            "internalAnalysisFlag": flag == "internalAnalysisFlag", "resolutionFlag": flag == "resolutionFlag", "issueFlag": false,
            "member": member_ref, "contact": null, "customerUpdatedFlag": false, "processNotifications": false,
            "dateCreated": stamp, "createdBy": member, "internalFlag": flag == "internalAnalysisFlag",
            "externalFlag": flag != "internalAnalysisFlag",
            "_info": {"lastUpdated": stamp, "updatedBy": member, "dateEntered": stamp, "enteredBy": member}});
        if let Value::Object(n) = note {
            store.insert(Table::Notes, n);
        }
    }
    if !hidden.is_empty() {
        store.hidden.insert(id, hidden);
    }
}
