//! What a ticket says: summary, description, notes. Pure functions.

use super::alert::AlertFacts;
use crate::ids::TicketId;

use super::messages;

/// ConnectWise's `summary` limit.
pub const SUMMARY_MAX: usize = 100;

/// Repeats of one problem share this: tenant + device + alert type.
pub fn group_key(tenant_id: &str, alert: &AlertFacts) -> String {
    let device = alert.device.as_ref().map_or("-", |d| d.id.as_str());
    let kind = alert.alert_type.as_deref().unwrap_or("-");
    format!("{tenant_id}|{device}|{kind}")
}

/// `High`, `Medium`, `Low` (another value Sophos sends, capitalised; `Unknown` when none).
pub fn severity_label(s: Option<&str>) -> String {
    match s {
        Some(s) => capitalise(s),
        None => "Unknown".into(),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A readable event name from a Sophos alert type, e.g. `Event::Endpoint::OutOfDate` -> "Out of date".
pub fn event_name(alert_type: Option<&str>) -> String {
    let Some(t) = alert_type else {
        return "Sophos alert".into();
    };
    let known = [
        (
            "RealTimeProtectionDisabled",
            "Real-time protection disabled",
        ),
        ("CorePuaDetection", "PUA detected"),
        ("CoreHmpa", "Exploit prevented"),
        ("UpdateRebootRequired", "Reboot required"),
        ("NonCompliant", "Policy non-compliance"),
        ("HealthStatus", "Health status bad"),
        (
            "LostConnectionToSophosCentral",
            "Lost connection to Sophos Central",
        ),
        ("LicenseLimitExceeded", "License limit exceeded"),
    ];
    let parts: Vec<&str> = t.split("::").filter(|p| !p.is_empty()).collect();
    let last = parts.last().copied().unwrap_or(t);
    if let Some((_, name)) = known.iter().find(|(k, _)| *k == last) {
        return (*name).to_owned();
    }
    // Drop "Event" and the product segment; keep what describes the event.
    let tail: Vec<&str> = if parts.len() > 2 && parts[0] == "Event" {
        parts[2..].to_vec()
    } else {
        vec![last]
    };
    let mut words: Vec<String> = Vec::new();
    for seg in tail {
        let mut cur = String::new();
        let chars: Vec<char> = seg.chars().collect();
        for (i, &ch) in chars.iter().enumerate() {
            let boundary = ch.is_uppercase()
                && !cur.is_empty()
                && (chars
                    .get(i.wrapping_sub(1))
                    .is_some_and(|p| p.is_lowercase())
                    || chars.get(i + 1).is_some_and(|n| n.is_lowercase()));
            if boundary {
                words.push(std::mem::take(&mut cur));
            }
            cur.push(ch);
        }
        if !cur.is_empty() {
            words.push(cur);
        }
    }
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let acronym =
            w.chars().count() > 1 && w.chars().all(|c| c.is_uppercase() || c.is_ascii_digit());
        if i == 0 || acronym {
            out.push_str(w);
        } else {
            out.push_str(&w.to_lowercase());
        }
    }
    if out.is_empty() { t.to_owned() } else { out }
}

/// The device's name (or id when Sophos gives no name).
pub fn device_name(alert: &AlertFacts) -> Option<String> {
    alert.device.as_ref().map(|d| {
        d.name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| d.id.clone())
    })
}

/// Characters that belong to the character before them (so a cut must not separate them from it).
fn is_joiner(c: char) -> bool {
    unicode_normalization::char::is_combining_mark(c)
        || matches!(c, '\u{200D}' | '\u{FE00}'..='\u{FE0F}' | '\u{1F3FB}'..='\u{1F3FF}' | '\u{E0020}'..='\u{E007F}')
}

/// Length as ConnectWise (a .NET server) counts it: UTF-16 code units. Never less than the char count,
/// so a text that fits this also fits a count of characters.
pub fn cw_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// `text` cut to at most `max` (UTF-16 units, see [`cw_len`]) on a character boundary that does not
/// split a combining sequence or an emoji sequence, with "…" when cut.
pub fn truncate(text: &str, max: usize) -> String {
    let text = text.trim();
    if cw_len(text) <= max {
        return text.to_owned();
    }
    let budget = max.saturating_sub(1); // room for "…"
    let mut cut = 0usize; // byte index
    let mut used = 0usize;
    for (i, c) in text.char_indices() {
        let w = c.len_utf16();
        if used + w > budget {
            break;
        }
        used += w;
        cut = i + c.len_utf8();
    }
    // Back off while the next character would have attached to the last kept one.
    let mut head = &text[..cut];
    while let Some(next) = text[head.len()..].chars().next() {
        if !is_joiner(next) && !head.ends_with('\u{200D}') {
            break;
        }
        match head.char_indices().last() {
            Some((i, _)) => head = &head[..i],
            None => break,
        }
    }
    format!("{}…", head.trim_end())
}

/// Ticket summary: `[High] Real-time protection disabled on PC-001 — Acme Dental`, prefixed with
/// `[Unmapped: <tenant>]` for fallback-company tickets, at most 100 characters.
pub fn summary(alert: &AlertFacts, tenant_name: &str, unmapped: bool) -> String {
    let mut s = String::new();
    if unmapped {
        s.push_str(&format!("[{}: {tenant_name}] ", messages::UNMAPPED_PREFIX));
    }
    s.push_str(&format!(
        "[{}] {}",
        severity_label(alert.severity.as_deref()),
        event_name(alert.alert_type.as_deref())
    ));
    if let Some(d) = device_name(alert) {
        s.push_str(&format!(" on {d}"));
    }
    if !unmapped {
        s.push_str(&format!(" — {tenant_name}"));
    }
    truncate(&s, SUMMARY_MAX)
}

/// Timestamp as shown in tickets (UTC, seconds).
pub fn show_time(t: Option<jiff::Timestamp>) -> String {
    t.map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// A link to the device in Sophos Central, for endpoint and server alerts about a device.
pub fn device_link(alert: &AlertFacts, tenant_id: &str, pattern: &str) -> Option<String> {
    let product = alert.product.as_deref();
    if !matches!(product, Some("endpoint" | "server")) {
        return None;
    }
    let device = alert.device.as_ref()?;
    let kind = device.kind.clone().unwrap_or_else(|| match product {
        Some("server") => "server".into(),
        _ => "computer".into(),
    });
    Some(
        pattern
            .replace("{tenant_id}", tenant_id)
            .replace("{device_id}", &device.id)
            .replace("{device_type}", &kind),
    )
}

/// The ticket's initial description.
pub fn description(
    alert: &AlertFacts,
    tenant_id: &str,
    tenant_name: &str,
    url_pattern: &str,
    previous_ticket: Option<TicketId>,
) -> String {
    let mut lines = vec![
        format!("Sophos Central alert for {tenant_name}"),
        String::new(),
        format!("Customer (tenant): {tenant_name} ({tenant_id})"),
        format!(
            "Device: {}",
            device_name(alert).unwrap_or_else(|| "none".into())
        ),
        format!("Type: {}", alert.alert_type.as_deref().unwrap_or("unknown")),
        format!(
            "Category: {}",
            alert.category.as_deref().unwrap_or("unknown")
        ),
        format!("Product: {}", alert.product.as_deref().unwrap_or("unknown")),
        format!("Severity: {}", severity_label(alert.severity.as_deref())),
        format!("Raised: {}", show_time(alert.raised_at)),
        format!(
            "Description: {}",
            alert.description.as_deref().unwrap_or("")
        ),
    ];
    if let Some(link) = device_link(alert, tenant_id, url_pattern) {
        lines.push(format!("Device in Sophos Central: {link}"));
    }
    if let Some(p) = previous_ticket {
        lines.push(String::new());
        lines.push(messages::previous_ticket_line(p));
    }
    lines.push(String::new());
    lines.push(format!("Sophos alert id: {}", alert.id));
    lines.join("\n")
}

/// The note added for a repeat of the problem.
pub fn repeat_note(alert: &AlertFacts) -> String {
    messages::repeat_note(
        &alert.id,
        &severity_label(alert.severity.as_deref()),
        &event_name(alert.alert_type.as_deref()),
        &device_name(alert).unwrap_or_else(|| "none".into()),
        &show_time(alert.raised_at),
        alert.description.as_deref().unwrap_or(""),
    )
}

/// A new ticket's description with the part of a repeat of its problem from the same cycle.
pub fn with_repeat(description: &str, part: &str) -> String {
    format!("{description}\n\n---\n{part}")
}

/// The one note written for several repeats of a problem: their parts, oldest first (a single
/// repeat's note is its part alone).
pub fn repeats_note(parts: &[&str]) -> String {
    match parts {
        [one] => (*one).to_owned(),
        _ => messages::repeats_note(parts.len(), &parts.join("\n\n---\n")),
    }
}

/// The note added when a recurrence reopens a ticket.
pub fn reopen_note(alert: &AlertFacts) -> String {
    messages::reopen_note(
        &alert.id,
        &event_name(alert.alert_type.as_deref()),
        &device_name(alert).unwrap_or_else(|| "none".into()),
        &show_time(alert.raised_at),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names() {
        assert_eq!(
            event_name(Some("Event::Endpoint::OutOfDate")),
            "Out of date"
        );
        assert_eq!(
            event_name(Some("Event::Endpoint::RealTimeProtectionDisabled")),
            "Real-time protection disabled"
        );
        assert_eq!(
            event_name(Some("Event::Endpoint::Threat::Detected")),
            "Threat detected"
        );
        assert_eq!(
            event_name(Some("Event::Endpoint::UpdateFailure")),
            "Update failure"
        );
        assert_eq!(event_name(None), "Sophos alert");
    }

    #[test]
    fn truncation_counts_utf16_and_keeps_sequences() {
        let s = "a".repeat(150);
        let t = truncate(&s, 100);
        assert_eq!(cw_len(&t), 100);
        assert!(t.ends_with('…'));
        // An emoji is two UTF-16 units: never split, never over the limit.
        let s = format!("{}{}", "a".repeat(98), "😀😀😀");
        let t = truncate(&s, 100);
        assert!(cw_len(&t) <= 100, "{t}");
        assert!(t.ends_with('…'));
        // A combining accent stays with its letter.
        let s = format!("{}e\u{301}xyz", "a".repeat(98));
        let t = truncate(&s, 100);
        assert!(!t.contains('e'), "{t:?}");
        assert!(cw_len(&t) <= 100);
        // A family emoji (ZWJ sequence) is kept whole or dropped whole.
        let fam = "👩\u{200D}👩\u{200D}👧";
        let s = format!("{}{fam}{fam}", "b".repeat(95));
        let t = truncate(&s, 100);
        assert!(
            !t.contains('\u{200D}') || t.matches('\u{200D}').count().is_multiple_of(2),
            "{t:?}"
        );
        assert!(!t.trim_end_matches('…').ends_with('\u{200D}'));
        assert_eq!(truncate("short", 100), "short");
    }
}
