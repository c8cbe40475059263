//! Which security-role row governs a request (reference §10.2), so a 403 can name the exact setting.

/// The role level a method needs: GET, `/count` and `/search` read; POST adds; PUT/PATCH edit.
pub fn level_for(method: &str, path: &str) -> &'static str {
    let p = path.trim_end_matches('/').to_ascii_lowercase();
    let m = method.to_ascii_uppercase();
    if m == "GET" || p.ends_with("/count") || (m == "POST" && p.ends_with("/search")) {
        "Inquire Level"
    } else {
        match m.as_str() {
            "POST" => "Add Level",
            "PUT" | "PATCH" => "Edit Level",
            "DELETE" => "Delete Level",
            _ => "Inquire Level",
        }
    }
}

/// "Module > Function" for a path relative to `apis/3.0/`, or `None` when undocumented.
pub fn module_function_for(path: &str) -> Option<&'static str> {
    let p = path
        .trim_start_matches('/')
        .split('?')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let seg: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    let (a, b, c) = (
        seg.first().copied().unwrap_or(""),
        seg.get(1).copied().unwrap_or(""),
        seg.get(2).copied().unwrap_or(""),
    );
    const TABLE_SETUP: &str = "System > Table Setup";
    Some(match (a, b) {
        ("company", "companies") if matches!(c, "statuses" | "types") => TABLE_SETUP,
        ("company", "companies") => "Companies > Company Maintenance",
        ("company", "contacts") => "Companies > Contacts",
        ("finance", "agreements") if c == "types" => TABLE_SETUP,
        ("finance", "agreements") => "Finance > Agreements",
        ("procurement", "catalog") => "Procurement > Product Catalog",
        ("procurement", "categories" | "subcategories" | "types" | "manufacturers") => TABLE_SETUP,
        ("service", "boards" | "priorities" | "sources" | "impacts" | "severities") => TABLE_SETUP,
        ("service", "tickets") => "Service Desk > Service Tickets",
        ("system", "members") => "System > Member Maintenance",
        ("system", "reports") => "System > API Reports",
        _ => return None,
    })
}

/// "Module > Function: Level" for a request, e.g. "Finance > Agreements: Add Level".
pub fn function_for(method: &str, path: &str) -> Option<String> {
    module_function_for(path).map(|f| format!("{f}: {}", level_for(method, path)))
}

/// The function that moving a ticket to a closed status needs.
pub const CLOSE_SERVICE_TICKETS: &str = "Service Desk > Close Service Tickets: Edit Level";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_seed_row() {
        let cases = [
            (
                "GET",
                "company/companies",
                "Companies > Company Maintenance: Inquire Level",
            ),
            (
                "GET",
                "company/companies/count",
                "Companies > Company Maintenance: Inquire Level",
            ),
            (
                "GET",
                "finance/agreements/7",
                "Finance > Agreements: Inquire Level",
            ),
            (
                "POST",
                "finance/agreements/1/additions",
                "Finance > Agreements: Add Level",
            ),
            (
                "PATCH",
                "finance/agreements/1/additions/3",
                "Finance > Agreements: Edit Level",
            ),
            (
                "POST",
                "procurement/catalog",
                "Procurement > Product Catalog: Add Level",
            ),
            (
                "PATCH",
                "procurement/catalog/9",
                "Procurement > Product Catalog: Edit Level",
            ),
            (
                "POST",
                "procurement/manufacturers",
                "System > Table Setup: Add Level",
            ),
            (
                "GET",
                "service/boards/1/statuses",
                "System > Table Setup: Inquire Level",
            ),
            (
                "GET",
                "system/members",
                "System > Member Maintenance: Inquire Level",
            ),
            (
                "POST",
                "service/tickets",
                "Service Desk > Service Tickets: Add Level",
            ),
            (
                "POST",
                "service/tickets/search",
                "Service Desk > Service Tickets: Inquire Level",
            ),
            (
                "POST",
                "service/tickets/5/notes",
                "Service Desk > Service Tickets: Add Level",
            ),
            (
                "GET",
                "system/reports/Holiday",
                "System > API Reports: Inquire Level",
            ),
            (
                "GET",
                "company/contacts",
                "Companies > Contacts: Inquire Level",
            ),
            (
                "DELETE",
                "procurement/catalog/9",
                "Procurement > Product Catalog: Delete Level",
            ),
        ];
        for (m, p, want) in cases {
            assert_eq!(function_for(m, p).as_deref(), Some(want), "{m} {p}");
        }
        assert_eq!(function_for("GET", "system/info"), None);
    }
}
