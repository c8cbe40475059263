//! `Link` header parsing for navigable and forward-only paging (reference §4).

/// The relations of one `Link` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    /// URL of the first page (`rel="first"`).
    pub first: Option<String>,
    /// URL of the previous page (`prev` or `previous`); `None` on the first page.
    pub prev: Option<String>,
    /// URL of the next page; `None` on the last page.
    pub next: Option<String>,
    /// URL of the last page for the current page size.
    pub last: Option<String>,
    /// Every URL in the header, whatever its rel (forward-only may use any rel name).
    pub all: Vec<String>,
}

/// Parse an RFC 5988 `Link` header: `<url>; rel="next", <url>; rel="last"`.
pub fn parse_link_header(value: &str) -> Links {
    let mut links = Links::default();
    let mut rest = value;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start + 1..].find('>') else {
            break;
        };
        let url = rest[start + 1..start + 1 + len].trim().to_string();
        rest = &rest[start + 1 + len + 1..];
        // Parameters run up to the next '<' (URLs themselves are inside <>).
        let params_end = rest.find('<').unwrap_or(rest.len());
        let params = &rest[..params_end];
        let rel = params
            .split(';')
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim().eq_ignore_ascii_case("rel")).then(|| {
                    v.trim()
                        .trim_end_matches(',')
                        .trim()
                        .trim_matches('"')
                        .to_ascii_lowercase()
                })
            })
            .next();
        links.all.push(url.clone());
        match rel.as_deref() {
            Some("first") => links.first = Some(url),
            Some("prev") | Some("previous") => links.prev = Some(url),
            Some("next") => links.next = Some(url),
            Some("last") => links.last = Some(url),
            _ => {}
        }
    }
    links
}

/// The value of query parameter `name` (case-insensitive) in a URL, percent-decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        k.eq_ignore_ascii_case(name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The next navigable page number from a `Link` header, if there is a `next`.
pub fn next_page(links: &Links) -> Option<u32> {
    links
        .next
        .as_deref()
        .and_then(|u| query_param(u, "page"))
        .and_then(|p| p.parse().ok())
}

/// The next forward-only `pageId` from any URL of the header.
pub fn next_page_id(links: &Links) -> Option<i64> {
    let from = |u: &String| query_param(u, "pageId").and_then(|p| p.parse().ok());
    links
        .next
        .iter()
        .find_map(from)
        .or_else(|| links.all.iter().find_map(from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn navigable_link() {
        let h = r#"<https://api-na.myconnectwise.net/v2025_1/apis/3.0/company/companies?pageSize=50&page=2>; rel="next", <https://api-na.myconnectwise.net/v2025_1/apis/3.0/company/companies?pageSize=50&page=4>; rel="last""#;
        let l = parse_link_header(h);
        assert_eq!(next_page(&l), Some(2));
        assert!(l.last.as_deref().unwrap().ends_with("page=4"));
        assert_eq!(l.prev, None);
        assert_eq!(l.all.len(), 2);
    }

    #[test]
    fn navigable_last_page_has_no_next() {
        let h = r#"<http://h/x?conditions=name%20like%20%22A%25%22&pageSize=5&page=1>; rel="first", <http://h/x?pageSize=5&page=3>; rel="prev""#;
        let l = parse_link_header(h);
        assert_eq!(next_page(&l), None);
        assert_eq!(
            query_param(l.first.as_deref().unwrap(), "conditions").as_deref(),
            Some("name like \"A%\"")
        );
    }

    #[test]
    fn forward_only_link() {
        let l = parse_link_header(
            r#"<https://h/v1/apis/3.0/service/tickets?pageSize=1000&pageid=1000>; rel="next""#,
        );
        assert_eq!(next_page_id(&l), Some(1000));
        let l = parse_link_header(r#"<https://h/x?pageId=77&pageSize=2>; rel="forward""#);
        assert_eq!(next_page_id(&l), Some(77));
        let l = parse_link_header("");
        assert_eq!(next_page_id(&l), None);
        assert!(l.all.is_empty());
    }

    #[test]
    fn tolerates_garbage() {
        for h in [
            "<",
            "<>",
            "<x",
            ">; rel=next",
            "<a>; rel",
            "<a>;;; rel=\"\"",
        ] {
            let _ = parse_link_header(h);
        }
        assert_eq!(query_param("x?a=%zz&b=%4", "a").as_deref(), Some("%zz"));
        assert_eq!(query_param("x?a=%zz&b=%4", "b").as_deref(), Some("%4"));
    }
}
