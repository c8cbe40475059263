//! Query parameters (case-insensitive names, `+` decoded as a space), paging with `Link` headers,
//! `orderBy` and `fields`.

use super::conditions::{self, Expr, resolve_object};
use super::wire::ApiError;
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// The parsed query string of one request.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// The raw `name=value` pieces as received, for rebuilding `Link` URLs.
    raw: Vec<(String, String)>,
    /// Decoded pairs.
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a request's query string (without the `?`; `None` when there is none), keeping the
    /// undecoded pieces for `Link` URLs.
    pub fn parse(query: Option<&str>) -> Self {
        let q = query.unwrap_or("");
        let raw: Vec<(String, String)> = q
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (p.to_owned(), String::new()),
            })
            .collect();
        // form_urlencoded decodes `+` as a space, as ConnectWise does.
        let pairs = url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Self { raw, pairs }
    }

    /// The value of a parameter, name compared case-insensitively (the last one wins).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Merges a `POST …/search` body (`conditions`, `childConditions`, `orderBy`, `fields`, `page`,
    /// `pageSize`, …) over the query string.
    pub fn merge_body(&mut self, body: &Map<String, Value>) {
        for (k, v) in body {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            self.pairs.push((k.clone(), text));
        }
    }

    /// The raw query minus some parameters, for `Link` URLs.
    fn raw_without(&self, drop: &[&str]) -> Vec<String> {
        self.raw
            .iter()
            .filter(|(k, _)| !drop.iter().any(|d| k.eq_ignore_ascii_case(d)))
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect()
    }
}

/// A listable row: a JSON object, owned or borrowed.
pub trait Row {
    /// The row as a JSON object; `None` when it is not one (such a row passes no condition).
    fn obj(&self) -> Option<&Map<String, Value>>;
    /// The row's numeric `id` (ConnectWise's record id), which forward-only paging orders and cuts
    /// by; `None` when it has none.
    fn id(&self) -> Option<i64> {
        self.obj().and_then(|m| m.get("id")).and_then(Value::as_i64)
    }
}

impl Row for Value {
    fn obj(&self) -> Option<&Map<String, Value>> {
        self.as_object()
    }
}

impl Row for &Value {
    fn obj(&self) -> Option<&Map<String, Value>> {
        self.as_object()
    }
}

impl Row for &Map<String, Value> {
    fn obj(&self) -> Option<&Map<String, Value>> {
        Some(self)
    }
}

/// The list-shaping options of one request.
#[derive(Debug)]
pub struct ListOptions {
    /// The parsed `conditions`; `None` when absent or blank.
    pub conditions: Option<Expr>,
    /// The parsed `childConditions` (on array children such as `types/name`); `None` when absent or blank.
    pub child_conditions: Option<Expr>,
    /// The parsed `customFieldConditions`, matched against each element of the record's `customFields`;
    /// `None` when absent or blank.
    pub custom_field_conditions: Option<Expr>,
    /// `orderBy` as (field path, descending) pairs, most significant first; empty keeps id order.
    pub order_by: Vec<(Vec<String>, bool)>,
    /// `fields` as the field paths to keep in each record; `None` returns whole records.
    pub fields: Option<Vec<Vec<String>>>,
    /// The navigable page number, from 1 (0 and negatives read as 1); ignored in forward-only mode.
    pub page: u64,
    /// `pageSize`, from 1 to the site's maximum; 25 when not given.
    pub page_size: u64,
    /// `Some(pageId)` in forward-only mode.
    pub forward_only: Option<i64>,
}

fn parse_cond(q: &Query, name: &str) -> Result<Option<Expr>, ApiError> {
    match q.get(name).map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => conditions::parse(text)
            .map(Some)
            .map_err(|_| ApiError::bad_conditions()),
    }
}

impl ListOptions {
    /// Reads the options; `forward_only_header` is whether `pagination-type: forward-only` was sent.
    pub fn from_query(
        q: &Query,
        forward_only_header: bool,
        max_page_size: u32,
    ) -> Result<Self, ApiError> {
        let page_size = match q.get("pageSize") {
            None | Some("") => 25,
            Some(s) => match s.trim().parse::<i64>() {
                Ok(n) if (1..=i64::from(max_page_size)).contains(&n) => n as u64,
                _ => return Err(ApiError::page_size_out_of_range(max_page_size)),
            },
        };
        let page = match q.get("page") {
            None | Some("") => 1,
            Some(s) => match s.trim().parse::<i64>() {
                Ok(n) if n >= 1 => n as u64,
                // ConnectWise treats page 0 and negatives as the first page.
                Ok(_) => 1,
                Err(_) => return Err(ApiError::invalid_message("The value of page is not valid.")),
            },
        };
        let order_by = match q.get("orderBy").map(str::trim).filter(|s| !s.is_empty()) {
            None => Vec::new(),
            Some(text) => text
                .split(',')
                .map(|part| {
                    let mut words = part.split_whitespace();
                    let field = words.next().unwrap_or_default();
                    let desc = match words.next() {
                        None => false,
                        Some(w) if w.eq_ignore_ascii_case("asc") => false,
                        Some(w) if w.eq_ignore_ascii_case("desc") => true,
                        Some(_) => {
                            return Err(ApiError::invalid_message(format!(
                                "orderBy value '{part}' is not valid."
                            )));
                        }
                    };
                    if field.is_empty() || words.next().is_some() {
                        return Err(ApiError::invalid_message(format!(
                            "orderBy value '{part}' is not valid."
                        )));
                    }
                    Ok((field.split('/').map(str::to_owned).collect(), desc))
                })
                .collect::<Result<_, _>>()?,
        };
        let fields = q
            .get("fields")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|f| {
                f.split(',')
                    .map(|p| p.trim().split('/').map(str::to_owned).collect())
                    .filter(|p: &Vec<String>| !p[0].is_empty())
                    .collect()
            });
        let forward_only = if forward_only_header {
            if !order_by.is_empty() {
                return Err(ApiError::invalid_message(
                    "orderBy is not supported with forward-only pagination.",
                ));
            }
            Some(
                q.get("pageId")
                    .and_then(|s| s.trim().parse::<i64>().ok())
                    .unwrap_or(0),
            )
        } else {
            None
        };
        Ok(Self {
            conditions: parse_cond(q, "conditions")?,
            child_conditions: parse_cond(q, "childConditions")?,
            custom_field_conditions: parse_cond(q, "customFieldConditions")?,
            order_by,
            fields,
            page,
            page_size,
            forward_only,
        })
    }

    /// Whether `record` passes the three condition parameters.
    pub fn keeps<T: Row>(&self, record: &T) -> bool {
        let Some(record) = record.obj() else {
            return false;
        };
        self.conditions
            .as_ref()
            .is_none_or(|c| c.matches_object(record))
            && self
                .child_conditions
                .as_ref()
                .is_none_or(|c| c.matches_object(record))
            && self.custom_field_conditions.as_ref().is_none_or(|c| {
                match record.get("customFields") {
                    Some(Value::Array(items)) => items.iter().any(|i| c.matches(i)),
                    _ => false,
                }
            })
    }
}

fn sort_key_cmp(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// Sorts records by `orderBy` (stable; ties keep id order).
pub fn sort<T: Row>(records: &mut [T], order_by: &[(Vec<String>, bool)]) {
    if order_by.is_empty() {
        return;
    }
    records.sort_by(|a, b| {
        for (path, desc) in order_by {
            let va = a
                .obj()
                .map(|m| resolve_object(m, path))
                .unwrap_or_default()
                .first()
                .copied()
                .cloned()
                .unwrap_or(Value::Null);
            let vb = b
                .obj()
                .map(|m| resolve_object(m, path))
                .unwrap_or_default()
                .first()
                .copied()
                .cloned()
                .unwrap_or(Value::Null);
            let o = sort_key_cmp(&va, &vb);
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
}

/// Keeps only the `fields` paths (names matched case-insensitively, record casing kept).
pub fn project(record: &Value, fields: &[Vec<String>]) -> Value {
    let mut out = Map::new();
    for path in fields {
        insert_path(&mut out, record, path);
    }
    Value::Object(out)
}

fn insert_path(out: &mut Map<String, Value>, src: &Value, path: &[String]) {
    let Some((head, rest)) = path.split_first() else {
        return;
    };
    let Value::Object(map) = src else { return };
    let Some((key, value)) = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(head)) else {
        return;
    };
    if rest.is_empty() || !value.is_object() {
        out.insert(key.clone(), value.clone());
        return;
    }
    let entry = out
        .entry(key.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(inner) = entry {
        insert_path(inner, value, rest);
    }
}

/// One page of results plus the `Link` header value.
pub struct Page<T> {
    /// The rows of this page, at most `pageSize`.
    pub items: Vec<T>,
    /// The `Link` header value: `first`/`prev`/`next`/`last` links when navigable; a `next` link, or
    /// empty at the end, in forward-only mode.
    pub link: String,
}

/// Cuts a page out of `records` (already filtered and sorted; each has a numeric `id`) and builds the
/// `Link` header. `url` is the absolute URL of the request without its query.
pub fn paginate<T: Row>(records: Vec<T>, opts: &ListOptions, q: &Query, url: &str) -> Page<T> {
    let size = opts.page_size as usize;
    if let Some(page_id) = opts.forward_only {
        let mut after: Vec<T> = records
            .into_iter()
            .filter(|r| r.id().is_some_and(|id| id > page_id))
            .collect();
        after.sort_by_key(|r| r.id().unwrap_or(0));
        let more = after.len() > size;
        after.truncate(size);
        let link = match (more, after.last().and_then(Row::id)) {
            (true, Some(last)) => {
                let mut parts = q.raw_without(&["pageId", "page"]);
                parts.push(format!("pageId={last}"));
                format!("<{url}?{}>; rel=\"next\"", parts.join("&"))
            }
            // The end: ConnectWise sends the header, empty.
            _ => String::new(),
        };
        return Page { items: after, link };
    }
    let total = records.len();
    let last = total.div_ceil(size).max(1) as u64;
    let page = opts.page;
    let start = (page.saturating_sub(1) as usize).saturating_mul(size);
    let items: Vec<T> = records.into_iter().skip(start).take(size).collect();
    let base = q.raw_without(&["page"]);
    let link_to = |n: u64, rel: &str| {
        let mut parts = base.clone();
        parts.push(format!("page={n}"));
        format!("<{url}?{}>; rel=\"{rel}\"", parts.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link_to(1, "first"));
        links.push(link_to((page - 1).min(last), "prev"));
    }
    if page < last {
        links.push(link_to(page + 1, "next"));
    }
    links.push(link_to(last, "last"));
    Page {
        items,
        link: links.join(", "),
    }
}
