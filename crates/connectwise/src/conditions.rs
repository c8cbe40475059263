//! A builder for `conditions` strings whose values are always safely quoted (reference §5.3), and the
//! query-string encoding ConnectWise expects (§5.4).

use std::fmt::Write as _;

use crate::error::CwError;

/// A value on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum CondValue {
    /// A string, quoted with `"` or `'`; one holding both is a [`CwError::Unquotable`] error.
    Str(String),
    /// An integer, written as plain digits.
    Int(i64),
    /// A decimal number, written in plain digits; NaN or infinity is a [`CwError::BadField`] error.
    Num(f64),
    /// A boolean, written `true` or `false` (what flag fields such as `closedFlag` take).
    Bool(bool),
    /// `null`: compares a field with "no value".
    Null,
    /// A moment, written in brackets in UTC to the second: `[2024-03-01T00:00:00Z]`.
    DateTime(jiff::Timestamp),
}

impl From<&str> for CondValue {
    fn from(v: &str) -> Self {
        CondValue::Str(v.to_string())
    }
}
impl From<String> for CondValue {
    fn from(v: String) -> Self {
        CondValue::Str(v)
    }
}
impl From<&String> for CondValue {
    fn from(v: &String) -> Self {
        CondValue::Str(v.clone())
    }
}
impl From<i64> for CondValue {
    fn from(v: i64) -> Self {
        CondValue::Int(v)
    }
}
impl From<i32> for CondValue {
    fn from(v: i32) -> Self {
        CondValue::Int(i64::from(v))
    }
}
impl From<u32> for CondValue {
    fn from(v: u32) -> Self {
        CondValue::Int(i64::from(v))
    }
}
impl From<f64> for CondValue {
    fn from(v: f64) -> Self {
        CondValue::Num(v)
    }
}
impl From<bool> for CondValue {
    fn from(v: bool) -> Self {
        CondValue::Bool(v)
    }
}
impl From<jiff::Timestamp> for CondValue {
    fn from(v: jiff::Timestamp) -> Self {
        CondValue::DateTime(v)
    }
}

/// Quote a string for conditions: `"v"`, or `'v'` when it holds `"`; `None` when it holds both.
pub fn quote(value: &str) -> Option<String> {
    if !value.contains('"') {
        Some(format!("\"{value}\""))
    } else if !value.contains('\'') {
        Some(format!("'{value}'"))
    } else {
        None
    }
}

/// The longest piece of `value` that contains neither quote character: filter with `contains` on it
/// and compare the full value client-side. `None` when no such piece is non-empty.
pub fn safe_substring(value: &str) -> Option<&str> {
    value
        .split(['"', '\''])
        .max_by_key(|s| s.chars().count())
        .filter(|s| !s.trim().is_empty())
}

/// Escape SQL LIKE specials so a literal can be used inside a `like` pattern (`[` first).
pub fn escape_like(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        match c {
            '[' => out.push_str("[[]"),
            '%' => out.push_str("[%]"),
            '_' => out.push_str("[_]"),
            c => out.push(c),
        }
    }
    out
}

fn valid_field(field: &str) -> bool {
    !field.is_empty()
        && field.split('/').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !part.starts_with(|c: char| c.is_ascii_digit())
        })
}

fn render_value(field: &str, v: &CondValue) -> Result<String, CwError> {
    Ok(match v {
        CondValue::Str(s) => quote(s).ok_or_else(|| CwError::Unquotable {
            field: field.to_string(),
        })?,
        CondValue::Int(i) => i.to_string(),
        CondValue::Num(n) if n.is_finite() => {
            // Plain digits: ConnectWise has no exponent syntax.
            let s = format!("{n}");
            if s.contains('e') || s.contains("inf") || s.contains("NaN") {
                return Err(CwError::BadField {
                    field: field.to_string(),
                });
            }
            s
        }
        CondValue::Num(_) => {
            return Err(CwError::BadField {
                field: field.to_string(),
            });
        }
        CondValue::Bool(b) => b.to_string(),
        CondValue::Null => "null".to_string(),
        CondValue::DateTime(t) => format!("[{}]", t.strftime("%Y-%m-%dT%H:%M:%SZ")),
    })
}

/// Builds a `conditions` expression. Comparisons are joined with `and` unless `.or()` comes between
/// them; `.group()` parenthesises a sub-expression. The first error (unquotable value, bad field) is
/// kept and returned by [`Conditions::build`].
///
/// ```
/// use connectwise::Conditions;
/// let c = Conditions::new().eq("company/id", 250).eq("closedFlag", false).build().unwrap();
/// assert_eq!(c, "company/id = 250 and closedFlag = false");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    expr: String,
    pending_or: bool,
    error: Option<CwError>,
}

impl Conditions {
    /// An empty expression; it builds to `""`, which list calls leave out.
    pub fn new() -> Self {
        Conditions::default()
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.expr.is_empty() && self.error.is_none()
    }

    /// Join the next comparison with `and` (the default).
    pub fn and(mut self) -> Self {
        self.pending_or = false;
        self
    }

    /// Join the next comparison with `or`.
    pub fn or(mut self) -> Self {
        self.pending_or = true;
        self
    }

    fn push(mut self, piece: Result<String, CwError>) -> Self {
        if self.error.is_some() {
            return self;
        }
        match piece {
            Ok(p) => {
                if !self.expr.is_empty() {
                    self.expr
                        .push_str(if self.pending_or { " or " } else { " and " });
                }
                self.expr.push_str(&p);
                self.pending_or = false;
            }
            Err(e) => self.error = Some(e),
        }
        self
    }

    fn cmp(self, field: &str, op: &str, value: CondValue) -> Self {
        let piece = if valid_field(field) {
            render_value(field, &value).map(|v| format!("{field} {op} {v}"))
        } else {
            Err(CwError::BadField {
                field: field.to_string(),
            })
        };
        self.push(piece)
    }

    /// Add `field = value`; a bad field name or value becomes the
    /// builder's error.
    pub fn eq(self, field: &str, value: impl Into<CondValue>) -> Self {
        self.cmp(field, "=", value.into())
    }
    /// Add `field != value`; a bad field name or value becomes the
    /// builder's error.
    pub fn ne(self, field: &str, value: impl Into<CondValue>) -> Self {
        self.cmp(field, "!=", value.into())
    }
    /// Add `field < value` (for numbers and datetimes); a bad field name or value becomes the
    /// builder's error.
    pub fn lt(self, field: &str, value: impl Into<CondValue>) -> Self {
        self.cmp(field, "<", value.into())
    }
    /// Add `field <= value` (for numbers and datetimes); a bad field name or value becomes the
    /// builder's error.
    pub fn le(self, field: &str, value: impl Into<CondValue>) -> Self {
        self.cmp(field, "<=", value.into())
    }
    /// Add `field > value` (for numbers and datetimes); a bad field name or value becomes the
    /// builder's error.
    pub fn gt(self, field: &str, value: impl Into<CondValue>) -> Self {
        self.cmp(field, ">", value.into())
    }
    /// Add `field >= value` (for numbers and datetimes); a bad field name or value becomes the
    /// builder's error.
    pub fn ge(self, field: &str, value: impl Into<CondValue>) -> Self {
        self.cmp(field, ">=", value.into())
    }
    /// `field = true/false` (same as `eq` with a bool; reads better at call sites).
    pub fn eq_bool(self, field: &str, value: bool) -> Self {
        self.cmp(field, "=", CondValue::Bool(value))
    }
    /// Add `field = null`: the field has no value.
    pub fn is_null(self, field: &str) -> Self {
        self.cmp(field, "=", CondValue::Null)
    }
    /// Add `field != null`: the field has a value.
    pub fn not_null(self, field: &str) -> Self {
        self.cmp(field, "!=", CondValue::Null)
    }
    /// Substring match on a string field.
    pub fn contains(self, field: &str, value: &str) -> Self {
        self.cmp(field, "contains", CondValue::Str(value.to_string()))
    }
    /// Add `field not contains "value"`: the string field does not hold `value`.
    pub fn not_contains(self, field: &str, value: &str) -> Self {
        self.cmp(field, "not contains", CondValue::Str(value.to_string()))
    }
    /// `like` with the caller's `%` wildcards; use [`escape_like`] for literal parts.
    pub fn like(self, field: &str, pattern: &str) -> Self {
        self.cmp(field, "like", CondValue::Str(pattern.to_string()))
    }

    fn in_list<I, V>(self, field: &str, op: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<CondValue>,
    {
        if !valid_field(field) {
            return self.push(Err(CwError::BadField {
                field: field.to_string(),
            }));
        }
        let rendered: Result<Vec<String>, CwError> = values
            .into_iter()
            .map(|v| render_value(field, &v.into()))
            .collect();
        let piece = rendered.and_then(|vals| {
            if vals.is_empty() {
                // `in ()` is not valid syntax; an empty set can never match.
                Err(CwError::BadField {
                    field: field.to_string(),
                })
            } else {
                Ok(format!("{field} {op} ({})", vals.join(",")))
            }
        });
        self.push(piece)
    }

    /// Add `field in (v1,v2,…)`; an empty list is a [`CwError::BadField`] error, since `in ()`
    /// cannot be sent.
    pub fn is_in<I, V>(self, field: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<CondValue>,
    {
        self.in_list(field, "in", values)
    }
    /// Add `field not in (v1,v2,…)`; an empty list is a [`CwError::BadField`] error.
    pub fn not_in<I, V>(self, field: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<CondValue>,
    {
        self.in_list(field, "not in", values)
    }

    /// Add a parenthesised sub-expression.
    pub fn group(self, inner: Conditions) -> Self {
        let piece = inner.build().map(|s| format!("({s})"));
        self.push(piece)
    }

    /// The expression, or the first error met while building it.
    pub fn build(&self) -> Result<String, CwError> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(self.expr.clone()),
        }
    }
}

/// Query parameters of a list call.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Filter on the record's own fields (`conditions`); `None` or empty matches every record.
    pub conditions: Option<Conditions>,
    /// Filter on array children such as a company's `types` (`childConditions`).
    pub child_conditions: Option<Conditions>,
    /// Filter on custom field values (`customFieldConditions`).
    pub custom_field_conditions: Option<Conditions>,
    /// Not allowed with forward-only paging; when set, lists use navigable paging.
    pub order_by: Option<String>,
    /// `fields`: the comma-separated fields to return (e.g. `id,name,status/id`); `None`
    /// returns whole records.
    pub fields: Option<String>,
}

impl Query {
    /// No filter, order or field list: every record, whole.
    pub fn new() -> Self {
        Query::default()
    }
    /// Filter on the record's own fields with `c`.
    pub fn conditions(mut self, c: Conditions) -> Self {
        self.conditions = Some(c);
        self
    }
    /// Filter on array children with `c`.
    pub fn child_conditions(mut self, c: Conditions) -> Self {
        self.child_conditions = Some(c);
        self
    }
    /// Sort by `o` (e.g. `id desc`); list calls then use navigable paging.
    pub fn order_by(mut self, o: impl Into<String>) -> Self {
        self.order_by = Some(o.into());
        self
    }
    /// Return only these comma-separated fields (e.g. `id,closedFlag,externalXRef`).
    pub fn fields(mut self, f: impl Into<String>) -> Self {
        self.fields = Some(f.into());
        self
    }

    /// The parameters as (name, value) pairs, unencoded.
    pub(crate) fn params(&self) -> Result<Vec<(String, String)>, CwError> {
        let mut out = Vec::new();
        for (name, c) in [
            ("conditions", &self.conditions),
            ("childConditions", &self.child_conditions),
            ("customFieldConditions", &self.custom_field_conditions),
        ] {
            if let Some(c) = c {
                let s = c.build()?;
                if !s.is_empty() {
                    out.push((name.to_string(), s));
                }
            }
        }
        if let Some(o) = &self.order_by {
            out.push(("orderBy".to_string(), o.clone()));
        }
        if let Some(f) = &self.fields {
            out.push(("fields".to_string(), f.clone()));
        }
        Ok(out)
    }
}

impl From<Conditions> for Query {
    fn from(c: Conditions) -> Self {
        Query::new().conditions(c)
    }
}

impl From<()> for Query {
    fn from(_: ()) -> Self {
        Query::new()
    }
}

/// Percent-encode a query-string component: everything but `A-Z a-z 0-9 - _ . ~ /` and `,`, so spaces
/// go as `%20` (never `+`) and `+ & " ' * % = ( )` are all encoded.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b',' => {
                out.push(b as char)
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// `name=value&…` with each part encoded; the `&` between parameters stays literal.
pub fn encode_query(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_rules() {
        assert_eq!(quote("Acme"), Some("\"Acme\"".into()));
        assert_eq!(quote("O'Brien"), Some("\"O'Brien\"".into()));
        assert_eq!(quote("The \"Best\""), Some("'The \"Best\"'".into()));
        assert_eq!(quote("O'Brien \"Tech\" & Co"), None);
    }

    #[test]
    fn hostile_company_name() {
        let name = "O'Brien \"Tech\" & Co";
        let err = Conditions::new().eq("name", name).build().unwrap_err();
        assert!(matches!(err, CwError::Unquotable { ref field } if field == "name"));
        assert_eq!(safe_substring(name), Some("Brien "));
        let c = Conditions::new()
            .contains("name", safe_substring(name).unwrap())
            .build()
            .unwrap();
        assert_eq!(c, "name contains \"Brien \"");
        let c = Conditions::new()
            .eq("name", "O'Brien & Co")
            .build()
            .unwrap();
        assert_eq!(c, "name = \"O'Brien & Co\"");
        assert_eq!(
            encode_component(&c),
            "name%20%3D%20%22O%27Brien%20%26%20Co%22"
        );
    }

    #[test]
    fn builder_joins_and_groups() {
        let c = Conditions::new()
            .eq("company/id", 250)
            .eq_bool("cancelledFlag", false)
            .group(
                Conditions::new()
                    .eq("agreementStatus", "Active")
                    .or()
                    .is_null("agreementStatus"),
            )
            .and()
            .is_in("status/id", [1, 2, 3])
            .not_null("parentTicketId")
            .gt(
                "dateEntered",
                "2016-08-20T18:04:26Z".parse::<jiff::Timestamp>().unwrap(),
            )
            .build()
            .unwrap();
        assert_eq!(
            c,
            "company/id = 250 and cancelledFlag = false and (agreementStatus = \"Active\" or agreementStatus = null) and status/id in (1,2,3) and parentTicketId != null and dateEntered > [2016-08-20T18:04:26Z]"
        );
    }

    #[test]
    fn every_operator_of_the_grammar_renders() {
        let c = Conditions::new()
            .ne("name", "Acme")
            .le("id", 10)
            .ge("id", 2)
            .lt("id", 9)
            .not_contains("name", "Test")
            .not_in("status/id", [4, 5])
            .like("identifier", "AC%")
            .build()
            .unwrap();
        assert_eq!(
            c,
            "name != \"Acme\" and id <= 10 and id >= 2 and id < 9 and name not contains \"Test\" and status/id not in (4,5) and identifier like \"AC%\""
        );
    }

    #[test]
    fn bad_fields_and_empty_in_are_errors() {
        assert!(Conditions::new().eq("name = 1 or x", 1).build().is_err());
        assert!(Conditions::new().eq("", 1).build().is_err());
        assert!(Conditions::new().eq("a//b", 1).build().is_err());
        assert!(
            Conditions::new()
                .is_in("id", Vec::<i64>::new())
                .build()
                .is_err()
        );
        assert!(Conditions::new().eq("x", f64::NAN).build().is_err());
    }

    #[test]
    fn encoding_per_reference() {
        assert_eq!(
            encode_component("a b+c&d\"e'f*g%h"),
            "a%20b%2Bc%26d%22e%27f%2Ag%25h"
        );
        assert_eq!(encode_component("é"), "%C3%A9");
        let q = encode_query(&[
            (
                "conditions".into(),
                "board/id=12 and closedFlag=false".into(),
            ),
            ("pageSize".into(), "1000".into()),
        ]);
        assert_eq!(
            q,
            "conditions=board/id%3D12%20and%20closedFlag%3Dfalse&pageSize=1000"
        );
    }

    #[test]
    fn like_escape() {
        assert_eq!(escape_like("50%_[x]"), "50[%][_][[]x]");
    }
}
