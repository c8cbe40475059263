//! The `conditions` query language (connectwise-psa-api.md §5.2): a parser and an evaluator over JSON
//! records.
//!
//! Emulator choices where the reference is silent: string comparisons are case-insensitive; `=` does not
//! treat `*` as a wildcard (only `like` does); a path that crosses an array (e.g. `types/name`) matches
//! when any element matches, and a negated operator (`!=`, `not like`, `not in`, `not contains`)
//! matches when no element matches the positive form.

use jiff::Timestamp;
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// The message ConnectWise returns for any malformed condition [observed]; always this text.
pub const PARSE_ERROR_MESSAGE: &str = "Expected a boolean value, not a numeric.  String values should be enclosed in double or \
     single quotes; DateTime values should be enclosed in square brackets; numbers should consist of only digits, and \
     optionally a decimal point and a negation sign; boolean values should be indicated with the keywords true or \
     false; null values should be indicated by the keyword null.";

/// A literal on the right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string in single or double quotes (no escapes: it ends at the next matching quote).
    Str(String),
    /// A number: digits with an optional leading `-` and decimal part.
    Num(f64),
    /// The keyword `true` or `false`.
    Bool(bool),
    /// The keyword `null`: matches a null or missing field.
    Null,
    /// A datetime in square brackets, e.g. `[2024-03-01T00:00:00Z]` (zone-less values are UTC).
    Date(Timestamp),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`.
    Eq,
    /// `!=`: holds when no value at the path equals the literal.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Terms joined by `or`: holds when any of them holds.
    Or(Vec<Expr>),
    /// Factors joined by `and` (binds tighter than `or`): holds when all of them hold.
    And(Vec<Expr>),
    /// `field op value`, e.g. `company/id = 250`.
    Compare {
        /// The field path split on `/`, e.g. `["company", "id"]`; names match case-insensitively.
        field: Vec<String>,
        /// The comparison operator.
        op: Op,
        /// The right-hand side.
        value: Literal,
    },
    /// `field in (v1, v2, …)` or `field not in (…)`.
    In {
        /// The field path split on `/`.
        field: Vec<String>,
        /// True for `not in`.
        negated: bool,
        /// The listed values, at least one.
        values: Vec<Literal>,
    },
    /// `field like "pattern"` or `field not like "pattern"`; see [`like`] for the pattern syntax.
    Like {
        /// The field path split on `/`.
        field: Vec<String>,
        /// True for `not like`.
        negated: bool,
        /// The pattern as written, between its quotes.
        pattern: String,
    },
    /// `field contains "text"` or `field not contains "text"`: a case-insensitive substring test.
    Contains {
        /// The field path split on `/`.
        field: Vec<String>,
        /// True for `not contains`.
        negated: bool,
        /// The text to look for, as written between its quotes.
        needle: String,
    },
}

/// Why a condition did not parse. `detail` is for humans and tests; the wire message is always
/// [`PARSE_ERROR_MESSAGE`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail} (at character {position})")]
pub struct ParseError {
    /// What was wrong, e.g. `unbalanced quote` or `expected an operator`.
    pub detail: String,
    /// Where, as a character (not byte) offset into the condition; its length at the end of input.
    pub position: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Op(Op),
    Str(String),
    Num(f64),
    Date(Timestamp),
    Word(String),
}

fn err(detail: impl Into<String>, position: usize) -> ParseError {
    ParseError {
        detail: detail.into(),
        position,
    }
}

/// Parses a datetime as conditions and records write it: an RFC 3339 timestamp, or a zone-less
/// date-time or a plain date taken as UTC (midnight). `None` when it is none of these.
pub fn parse_datetime(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return jiff::tz::TimeZone::UTC.to_timestamp(dt).ok();
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return jiff::tz::TimeZone::UTC
            .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
            .ok();
    }
    None
}

fn tokenize(input: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((Tok::LParen, start));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, start));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, start));
                i += 1;
            }
            '=' => {
                out.push((Tok::Op(Op::Eq), start));
                i += 1;
            }
            '!' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push((Tok::Op(Op::Ne), start));
                    i += 2;
                } else {
                    return Err(err("'!' must be followed by '='", start));
                }
            }
            '<' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push((Tok::Op(Op::Le), start));
                    i += 2;
                } else {
                    out.push((Tok::Op(Op::Lt), start));
                    i += 1;
                }
            }
            '>' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push((Tok::Op(Op::Ge), start));
                    i += 2;
                } else {
                    out.push((Tok::Op(Op::Gt), start));
                    i += 1;
                }
            }
            '"' | '\'' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == c)
                    .ok_or_else(|| err("unbalanced quote", start))?;
                out.push((Tok::Str(chars[i + 1..i + 1 + end].iter().collect()), start));
                i += end + 2;
            }
            '[' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == ']')
                    .ok_or_else(|| err("unbalanced '['", start))?;
                let text: String = chars[i + 1..i + 1 + end].iter().collect();
                let t = parse_datetime(&text)
                    .ok_or_else(|| err(format!("not a datetime: {text}"), start))?;
                out.push((Tok::Date(t), start));
                i += end + 2;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                {
                    i += 1;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                let text: String = chars[start..i].iter().collect();
                let n: f64 = text
                    .parse()
                    .map_err(|_| err(format!("not a number: {text}"), start))?;
                if chars
                    .get(i)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_')
                {
                    return Err(err("a number runs into a name", start));
                }
                out.push((Tok::Num(n), start));
            }
            c if c.is_alphabetic() || c == '_' => {
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '/' | '.'))
                {
                    i += 1;
                }
                out.push((Tok::Word(chars[start..i].iter().collect()), start));
            }
            other => return Err(err(format!("unexpected character {other:?}"), start)),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end: usize,
    depth: usize,
}

/// Deep nesting is refused rather than overflowing the stack.
const MAX_DEPTH: usize = 64;

fn is_kw(t: Option<&Tok>, kw: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map(|(_, p)| *p).unwrap_or(self.end)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(t, _)| t.clone());
        self.pos += 1;
        t
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.term()?];
        while is_kw(self.peek(), "or") {
            self.pos += 1;
            terms.push(self.term()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        let mut factors = vec![self.factor()?];
        while is_kw(self.peek(), "and") {
            self.pos += 1;
            factors.push(self.factor()?);
        }
        Ok(if factors.len() == 1 {
            factors.remove(0)
        } else {
            Expr::And(factors)
        })
    }

    fn factor(&mut self) -> Result<Expr, ParseError> {
        if self.peek() == Some(&Tok::LParen) {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(err("too deeply nested", self.at()));
            }
            self.pos += 1;
            let e = self.expr()?;
            if self.next() != Some(Tok::RParen) {
                return Err(err("expected ')'", self.at()));
            }
            self.depth -= 1;
            return Ok(e);
        }
        self.comparison()
    }

    fn field(&mut self) -> Result<Vec<String>, ParseError> {
        let at = self.at();
        match self.next() {
            Some(Tok::Word(w)) if !is_reserved(&w) => {
                let parts: Vec<String> = w.split('/').map(str::to_owned).collect();
                if parts.iter().any(String::is_empty) {
                    return Err(err("empty name in a field path", at));
                }
                Ok(parts)
            }
            _ => Err(err("expected a field name", at)),
        }
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let field = self.field()?;
        let negated = if is_kw(self.peek(), "not") {
            self.pos += 1;
            true
        } else {
            false
        };
        let at = self.at();
        match self.next() {
            Some(Tok::Op(op)) if !negated => Ok(Expr::Compare {
                field,
                op,
                value: self.value()?,
            }),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("like") => Ok(Expr::Like {
                field,
                negated,
                pattern: self.string()?,
            }),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("contains") => Ok(Expr::Contains {
                field,
                negated,
                needle: self.string()?,
            }),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => {
                if self.next() != Some(Tok::LParen) {
                    return Err(err("expected '(' after in", self.at()));
                }
                let mut values = vec![self.value()?];
                loop {
                    match self.next() {
                        Some(Tok::Comma) => values.push(self.value()?),
                        Some(Tok::RParen) => break,
                        _ => return Err(err("expected ',' or ')' in a list", self.at())),
                    }
                }
                Ok(Expr::In {
                    field,
                    negated,
                    values,
                })
            }
            _ => Err(err("expected an operator", at)),
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let at = self.at();
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            _ => Err(err("expected a quoted string", at)),
        }
    }

    fn value(&mut self) -> Result<Literal, ParseError> {
        let at = self.at();
        match self.next() {
            Some(Tok::Str(s)) => Ok(Literal::Str(s)),
            Some(Tok::Num(n)) => Ok(Literal::Num(n)),
            Some(Tok::Date(t)) => Ok(Literal::Date(t)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Literal::Bool(true)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Literal::Bool(false)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Ok(Literal::Null),
            _ => Err(err("expected a value", at)),
        }
    }
}

fn is_reserved(w: &str) -> bool {
    [
        "and", "or", "not", "in", "like", "contains", "true", "false", "null",
    ]
    .iter()
    .any(|k| w.eq_ignore_ascii_case(k))
}

/// Parses a `conditions` (or `childConditions`) string.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let toks = tokenize(input)?;
    let end = input.chars().count();
    if toks.is_empty() {
        return Err(err("empty condition", 0));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        end,
        depth: 0,
    };
    let e = p.expr()?;
    if p.pos < p.toks.len() {
        return Err(err("unexpected text after the condition", p.at()));
    }
    Ok(e)
}

/// [`resolve`] starting from an object.
pub fn resolve_object<'a>(map: &'a Map<String, Value>, path: &[String]) -> Vec<&'a Value> {
    let Some((head, rest)) = path.split_first() else {
        return Vec::new();
    };
    match map.iter().find(|(k, _)| k.eq_ignore_ascii_case(head)) {
        Some((_, v)) => resolve(v, rest),
        None => Vec::new(),
    }
}

/// The values at `path` inside `v`, names compared case-insensitively; arrays are flattened.
pub fn resolve<'a>(v: &'a Value, path: &[String]) -> Vec<&'a Value> {
    let mut current = vec![v];
    for name in path {
        let mut next = Vec::new();
        for item in current {
            let items: Vec<&Value> = match item {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            for it in items {
                if let Value::Object(map) = it
                    && let Some((_, found)) = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))
                {
                    next.push(found);
                }
            }
        }
        current = next;
    }
    // The final field itself may be an array of scalars.
    current
        .into_iter()
        .flat_map(|v| {
            if let Value::Array(a) = v {
                a.iter().collect()
            } else {
                vec![v]
            }
        })
        .collect()
}

fn compare(field: &Value, lit: &Literal) -> Option<Ordering> {
    match (field, lit) {
        (Value::Null, Literal::Null) => Some(Ordering::Equal),
        (_, Literal::Null) | (Value::Null, _) => None,
        (Value::Number(n), Literal::Num(x)) => n.as_f64()?.partial_cmp(x),
        (Value::String(s), Literal::Num(x)) => s.trim().parse::<f64>().ok()?.partial_cmp(x),
        (Value::Number(n), Literal::Str(s)) => {
            n.as_f64()?.partial_cmp(&s.trim().parse::<f64>().ok()?)
        }
        (Value::String(s), Literal::Str(x)) => Some(s.to_lowercase().cmp(&x.to_lowercase())),
        (Value::Bool(b), Literal::Bool(x)) => Some(b.cmp(x)),
        (Value::String(s), Literal::Bool(x)) => s.parse::<bool>().ok().map(|b| b.cmp(x)),
        (Value::Bool(b), Literal::Str(s)) => s
            .to_ascii_lowercase()
            .parse::<bool>()
            .ok()
            .map(|x| b.cmp(&x)),
        (Value::String(s), Literal::Date(t)) => parse_datetime(s).map(|d| d.cmp(t)),
        _ => None,
    }
}

fn op_holds(op: Op, field: &Value, lit: &Literal) -> bool {
    let ord = compare(field, lit);
    match op {
        Op::Eq => ord == Some(Ordering::Equal),
        Op::Ne => ord != Some(Ordering::Equal),
        Op::Lt => ord == Some(Ordering::Less),
        Op::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => ord == Some(Ordering::Greater),
        Op::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
    }
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// SQL-style LIKE: `%` and `*` match any run, `_` one character, `[abc]` one of a set (so `[[]` is a
/// literal `[`). Case-insensitive.
pub fn like(text: &str, pattern: &str) -> bool {
    #[derive(Debug)]
    enum P {
        Any,
        One,
        Set(Vec<char>),
        Lit(char),
    }
    let pc: Vec<char> = pattern.to_lowercase().chars().collect();
    let mut pat = Vec::new();
    let mut i = 0;
    while i < pc.len() {
        match pc[i] {
            '%' | '*' => pat.push(P::Any),
            '_' => pat.push(P::One),
            '[' => match pc[i + 1..].iter().skip(1).position(|&c| c == ']') {
                Some(off) => {
                    let set: Vec<char> = pc[i + 1..i + 2 + off].to_vec();
                    pat.push(P::Set(set));
                    i += off + 2;
                }
                None => pat.push(P::Lit('[')),
            },
            c => pat.push(P::Lit(c)),
        }
        i += 1;
    }
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // dp[j] = pattern prefix of length j matches the text prefix processed so far.
    let mut dp = vec![false; pat.len() + 1];
    dp[0] = true;
    for j in 0..pat.len() {
        dp[j + 1] = dp[j] && matches!(pat[j], P::Any);
    }
    for &ch in &t {
        let mut next = vec![false; pat.len() + 1];
        for j in 0..pat.len() {
            next[j + 1] = match &pat[j] {
                P::Any => next[j] || dp[j + 1] || dp[j],
                P::One => dp[j],
                P::Set(s) => dp[j] && s.contains(&ch),
                P::Lit(c) => dp[j] && *c == ch,
            };
        }
        dp = next;
    }
    dp[pat.len()]
}

fn null_if_empty(mut values: Vec<&Value>) -> Vec<&Value> {
    if values.is_empty() {
        values.push(&Value::Null);
    }
    values
}

/// `lastUpdated` and `dateEntered` written as top-level fields (the Developer Guide's own example,
/// and integrations in the wild) mean `_info/lastUpdated` and `_info/dateEntered`.
fn info_alias(path: &[String]) -> Option<[String; 2]> {
    match path {
        [one]
            if one.eq_ignore_ascii_case("lastUpdated")
                || one.eq_ignore_ascii_case("dateEntered") =>
        {
            Some(["_info".to_owned(), one.clone()])
        }
        _ => None,
    }
}

impl Expr {
    /// Every field the condition names, with the literals it is compared with (`like` and
    /// `contains` compare with text, shown as no literal).
    pub fn comparisons(&self) -> Vec<(&[String], Vec<&Literal>)> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<(&'a [String], Vec<&'a Literal>)>) {
        match self {
            Expr::Or(es) | Expr::And(es) => es.iter().for_each(|e| e.collect(out)),
            Expr::Compare { field, value, .. } => out.push((field, vec![value])),
            Expr::In { field, values, .. } => out.push((field, values.iter().collect())),
            Expr::Like { field, .. } | Expr::Contains { field, .. } => {
                out.push((field, Vec::new()));
            }
        }
    }

    /// Whether `record` satisfies the condition.
    pub fn matches(&self, record: &Value) -> bool {
        self.eval(&|path| {
            let found = resolve(record, path);
            match info_alias(path) {
                Some(alias) if found.is_empty() => resolve(record, &alias),
                _ => found,
            }
        })
    }

    /// Same as [`Expr::matches`] on a JSON object, without wrapping it in a `Value`.
    pub fn matches_object(&self, record: &Map<String, Value>) -> bool {
        self.eval(&|path| {
            let found = resolve_object(record, path);
            match info_alias(path) {
                Some(alias) if found.is_empty() => resolve_object(record, &alias),
                _ => found,
            }
        })
    }

    fn eval<'a>(&self, get: &dyn Fn(&[String]) -> Vec<&'a Value>) -> bool {
        match self {
            Expr::Or(es) => es.iter().any(|e| e.eval(get)),
            Expr::And(es) => es.iter().all(|e| e.eval(get)),
            Expr::Compare { field, op, value } => {
                let values = null_if_empty(get(field));
                match op {
                    Op::Ne => !values.iter().any(|v| op_holds(Op::Eq, v, value)),
                    _ => values.iter().any(|v| op_holds(*op, v, value)),
                }
            }
            Expr::In {
                field,
                negated,
                values,
            } => {
                let found = null_if_empty(get(field))
                    .iter()
                    .any(|v| values.iter().any(|lit| op_holds(Op::Eq, v, lit)));
                found != *negated
            }
            Expr::Like {
                field,
                negated,
                pattern,
            } => {
                let found = get(field)
                    .iter()
                    .filter_map(|v| as_text(v))
                    .any(|s| like(&s, pattern));
                found != *negated
            }
            Expr::Contains {
                field,
                negated,
                needle,
            } => {
                let needle = needle.to_lowercase();
                let found = get(field)
                    .iter()
                    .filter_map(|v| as_text(v))
                    .any(|s| s.to_lowercase().contains(&needle));
                found != *negated
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(cond: &str, v: &Value) -> bool {
        parse(cond)
            .unwrap_or_else(|e| panic!("{cond}: {e}"))
            .matches(v)
    }

    #[test]
    fn top_level_last_updated_and_date_entered_mean_the_info_fields() {
        let r = json!({"id": 1, "_info": {"lastUpdated": "2024-03-01T10:00:00Z", "dateEntered": "2023-01-01T00:00:00Z"}});
        assert!(m("lastUpdated > [2024-01-01T00:00:00Z]", &r));
        assert!(!m("lastUpdated > [2024-06-01T00:00:00Z]", &r));
        assert!(m("dateEntered >= [2023-01-01T00:00:00Z]", &r));
        assert!(m("LastUpdated = [2024-03-01T10:00:00Z]", &r));
        assert!(m("_info/lastUpdated > [2024-01-01T00:00:00Z]", &r));
    }

    #[test]
    fn evaluates_the_reference_examples() {
        let t = json!({"id": 7, "summary": "test alert", "closedFlag": false, "contact": {"name": "Fred Smith"},
            "dateEntered": "2016-01-01T00:00:00Z", "board": {"id": 12}, "parentTicketId": null,
            "types": [{"id": 1, "name": "Client"}, {"id": 2, "name": "Vendor"}]});
        assert!(m(
            r#"(contact/name like "Fred%" and closedFlag = false) and dateEntered > [2015-12-23T05:53:27Z] or summary contains "test" AND summary != "Some Summary""#,
            &t
        ));
        assert!(m("Board/Id=12 AND closedflag=FALSE", &t));
        assert!(m("parentTicketId = null", &t));
        assert!(!m("parentTicketId != null", &t));
        assert!(m("id in (1, 7)", &t));
        assert!(m("id not in (1,2)", &t));
        assert!(m("summary not contains 'Low Priority'", &t));
        assert!(m("contact/name like 'fred*'", &t));
        assert!(m("types/name=\"Client\"", &t));
        assert!(!m("types/name=\"Prospect\"", &t));
        assert!(m("id >= 7 and id < 7.5 and id <= -1 or id > 6", &t));
    }

    #[test]
    fn hostile_names() {
        let c = json!({"name": "O'Brien \"Tech\" & Co"});
        assert!(parse(r#"name = 'O'Brien "Tech" & Co'"#).is_err());
        assert!(m(
            r#"name = "o'brien tech & co""#,
            &json!({"name": "O'Brien Tech & Co"})
        ));
        assert!(m(r#"name contains "O'Brien""#, &c));
        assert!(m(r#"name contains '"Tech"'"#, &c));
        assert!(m("name like '%& co'", &c));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "id =",
            "id = 1 and",
            "name = 'x",
            "(id = 1",
            "id = 1)",
            "id 1",
            "= 1",
            "id = [nope]",
            "id in 1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn like_patterns() {
        assert!(like("john@example.com", "john@*"));
        assert!(like("Fred", "F_ed"));
        assert!(like("[x]y", "[[]x]%"));
        assert!(!like("abc", "abd%"));
        assert!(like("", "%"));
    }
}
