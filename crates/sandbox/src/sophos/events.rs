//! The SIEM event feed (`/siem/v1/events`), derived from the alert history so it moves with emulated
//! time: every raised alert is an event of the matching Sophos event type (an update alert is
//! `Event::Endpoint::OutOfDate`, a threat `Event::Endpoint::Threat::Detected`, ...), and the alert's
//! end (cleared by itself, or acknowledged) is a second event of the resolving type
//! (`Event::Endpoint::UpdateSuccess`, `Event::Endpoint::Threat::CleanedUp`, ...). Type names follow
//! Sophos's published event list (KB-000038309).

use super::alerts::{AlertKind, Closed, Stored};
use super::util::{format_zulu_ms, hash_parts, hash_str, uuid_from_hash};
use super::wire::{SiemEvent, SourceInfo};

/// One event of a tenant's feed, not yet rendered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventRef<'a> {
    /// Feed order: (created_at ms, place in the store's history).
    pub key: (i64, u64),
    stored: &'a Stored,
    /// `None`: the raise; `Some`: the alert's end.
    end: Option<Closed>,
}

impl EventRef<'_> {
    /// The event's `type`.
    pub(crate) fn kind(&self) -> &'static str {
        let kind = kind_of(self.stored);
        match self.end {
            None => raise_type(kind),
            Some(_) => resolve(kind).map_or("", |(t, _)| t),
        }
    }
}

fn kind_of(s: &Stored) -> Option<AlertKind> {
    AlertKind::all().find(|k| k.type_name() == s.alert.kind)
}

fn raise_type(kind: Option<AlertKind>) -> &'static str {
    match kind {
        Some(AlertKind::EndpointOutOfDate | AlertKind::ServerOutOfDate) => {
            "Event::Endpoint::OutOfDate"
        }
        Some(AlertKind::UpdateFailure) => "Event::Endpoint::UpdateFailure",
        Some(AlertKind::RebootRequired) => "Event::Endpoint::UpdateRebootRequired",
        Some(AlertKind::RealTimeProtectionDisabled) => "Event::Endpoint::SavDisabled",
        Some(AlertKind::ThreatDetected) => "Event::Endpoint::Threat::Detected",
        Some(AlertKind::PuaDetected) => "Event::Endpoint::Threat::PuaDetected",
        Some(AlertKind::HealthStatus) => "Event::Endpoint::ServiceNotRunning",
        Some(AlertKind::Isolation) => "Event::Endpoint::Isolation::Isolated::SELF",
        Some(AlertKind::PolicyNonCompliance) => "Event::Endpoint::NonCompliant",
        Some(AlertKind::RuntimeDetection) => "Event::Endpoint::HmpaCryptoGuard",
        Some(AlertKind::FirewallDisconnected) => "Event::Firewall::LostConnectionToSophosCentral",
        Some(AlertKind::LicenceLimit) => "Event::Other::LicenseLimitExceeded",
        None => "Event::Other::Unknown",
    }
}

/// The resolving event's type and text; `None` for kinds whose end Sophos reports no event for.
fn resolve(kind: Option<AlertKind>) -> Option<(&'static str, &'static str)> {
    Some(match kind? {
        AlertKind::EndpointOutOfDate
        | AlertKind::ServerOutOfDate
        | AlertKind::UpdateFailure
        | AlertKind::RebootRequired => ("Event::Endpoint::UpdateSuccess", "Update succeeded"),
        AlertKind::RealTimeProtectionDisabled => (
            "Event::Endpoint::SavEnabled",
            "Real time protection re-enabled",
        ),
        // The threat's own text follows, so the SIEM script's threat pattern still applies.
        AlertKind::ThreatDetected => ("Event::Endpoint::Threat::CleanedUp", "Malware cleaned up:"),
        AlertKind::PuaDetected => ("Event::Endpoint::Threat::PuaCleanedUp", "PUA cleaned up:"),
        AlertKind::HealthStatus => (
            "Event::Endpoint::ServiceRestored",
            "All Sophos services are running.",
        ),
        AlertKind::Isolation => (
            "Event::Endpoint::Isolation::UnIsolated::SELF",
            "Computer removed from auto isolation",
        ),
        AlertKind::PolicyNonCompliance => ("Event::Endpoint::Compliant", "Policy in compliance"),
        AlertKind::RuntimeDetection => (
            "Event::Endpoint::HmpaCryptoGuardResolved",
            "CryptoGuard unblocked process",
        ),
        AlertKind::FirewallDisconnected => (
            "Event::Firewall::Reconnected",
            "The firewall connection to Sophos Central has been restored",
        ),
        AlertKind::LicenceLimit => return None,
    })
}

/// Every event of one tenant's alert list that happened by `now_ms`, in feed order.
pub(crate) fn feed(list: &[Stored], now_ms: i64) -> Vec<EventRef<'_>> {
    let mut out = Vec::with_capacity(list.len() * 2);
    for s in list {
        if s.raised_ms <= now_ms {
            out.push(EventRef {
                key: (s.raised_ms, s.raise_event),
                stored: s,
                end: None,
            });
        }
        if let Some((why, at)) = s.closed
            && at <= now_ms
            && resolve(kind_of(s)).is_some()
        {
            out.push(EventRef {
                key: (at, s.close_event),
                stored: s,
                end: Some(why),
            });
        }
    }
    out.sort_by_key(|e| e.key);
    out
}

/// `updating` → `UPDATING`, `runtimeDetections` → `RUNTIME_DETECTIONS`.
fn group(category: &str) -> String {
    let mut g = String::with_capacity(category.len() + 4);
    for c in category.chars() {
        if c.is_ascii_uppercase() && !g.is_empty() {
            g.push('_');
        }
        g.push(c.to_ascii_uppercase());
    }
    g
}

/// A private IPv4 address per device, stable across runs (the text only; nothing is sent there).
fn device_ip(agent_id: &str) -> String {
    let h = hash_str(agent_id);
    format!(
        "10.{}.{}.{}",
        (h >> 16) & 0xFF,
        (h >> 8) & 0xFF,
        1 + (h & 0x7F)
    )
}

/// The event as the feed serves it.
pub(crate) fn render(e: &EventRef<'_>) -> SiemEvent {
    let a = &e.stored.alert;
    let kind = kind_of(e.stored);
    let (id, severity, text) = match (e.end, resolve(kind)) {
        (Some(why), Some((_, said))) => {
            let mut text = if matches!(
                kind,
                Some(AlertKind::ThreatDetected | AlertKind::PuaDetected)
            ) {
                // "Malware detected: 'X' at 'path'" → "Malware cleaned up: 'X' at 'path'".
                let detail = a.description.split_once(": ").map_or("", |(_, d)| d);
                format!("{said} {detail}")
            } else if kind == Some(AlertKind::RuntimeDetection) {
                format!(
                    "{said} on {}",
                    a.managed_agent
                        .as_ref()
                        .map_or("the device", |m| m.name.as_str())
                )
            } else {
                said.to_owned()
            };
            if why == Closed::Acknowledged {
                text.push_str(" (marked as resolved in Sophos Central)");
            }
            let id = uuid_from_hash(hash_parts(&[hash_str(&a.id), 0xC105E]));
            (id, "low".to_owned(), text)
        }
        _ => (
            uuid_from_hash(hash_str(&a.id)),
            a.severity.clone(),
            a.description.clone(),
        ),
    };
    // Devices report a moment before Central records the event.
    let lag_ms = 200 + i64::try_from(hash_str(&id) % 800).unwrap_or(0);
    let device = a.managed_agent.as_ref();
    SiemEvent {
        when: format_zulu_ms(e.key.0 - lag_ms),
        id,
        customer_id: a.tenant.id.clone(),
        severity,
        created_at: format_zulu_ms(e.key.0),
        source_info: device.map(|m| SourceInfo {
            ip: device_ip(&m.id),
        }),
        endpoint_type: device.map(|m| m.kind.clone()),
        endpoint_id: device.map(|m| m.id.clone()),
        origin: None,
        kind: e.kind(),
        location: device.map(|m| m.name.clone()),
        source: a.person.as_ref().map_or_else(
            || "n/a".to_owned(),
            |p| format!("CORP\\{}", p.name.replace(' ', ".").to_lowercase()),
        ),
        group: group(&a.category),
        name: text.clone(),
        description: text,
        threat: (a.category == "malware" || a.category == "pua").then(|| {
            a.description
                .split('\'')
                .nth(1)
                .unwrap_or_default()
                .to_owned()
        }),
        user_id: a.person.as_ref().map(|p| p.id.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_upper_snake_categories() {
        assert_eq!(group("updating"), "UPDATING");
        assert_eq!(group("runtimeDetections"), "RUNTIME_DETECTIONS");
        assert_eq!(group("systemHealth"), "SYSTEM_HEALTH");
    }

    #[test]
    fn every_kind_has_a_sophos_event_type() {
        for k in AlertKind::all() {
            let t = raise_type(Some(k));
            assert!(
                t.starts_with("Event::") && t != "Event::Other::Unknown",
                "{k:?}"
            );
            if let Some((r, _)) = resolve(Some(k)) {
                assert!(r.starts_with("Event::") && r != t, "{k:?}");
            }
        }
    }
}
