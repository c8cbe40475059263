//! Guard against the "false 200": a PATCH that answers OK without changing the record.

use serde_json::Value;

use crate::models::{PatchKind, PatchOp};

fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = root;
    for seg in path.trim_start_matches('/').split('/') {
        let obj = cur.as_object()?;
        cur = match obj.get(seg) {
            Some(v) => v,
            None => obj
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(seg))
                .map(|(_, v)| v)?,
        };
    }
    Some(cur)
}

/// `want` is shown by `got`: objects by their keys (extra keys such as `name`/`_info` allowed),
/// numbers numerically, timestamps as instants.
fn shown(want: &Value, got: Option<&Value>) -> bool {
    match (want, got) {
        (Value::Null, None) | (Value::Null, Some(Value::Null)) => true,
        (Value::Object(w), Some(Value::Object(g))) => w
            .iter()
            .filter(|(k, _)| k.as_str() != "_info")
            .all(|(k, v)| shown(v, g.get(k))),
        (Value::Array(w), Some(Value::Array(g))) => {
            w.len() == g.len() && w.iter().zip(g).all(|(a, b)| shown(a, Some(b)))
        }
        (Value::Number(a), Some(Value::Number(b))) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
            _ => false,
        },
        (Value::String(a), Some(Value::String(b))) => {
            a == b
                || match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
                    (Ok(x), Ok(y)) => x == y,
                    _ => false,
                }
        }
        (w, Some(g)) => w == g,
        (_, None) => false,
    }
}

/// The paths of ops that the returned record does not reflect.
pub(crate) fn unapplied_ops(ops: &[PatchOp], returned: &Value) -> Vec<String> {
    ops.iter()
        .filter(|op| {
            let got = lookup(returned, &op.path);
            match op.op {
                PatchKind::Remove => !matches!(got, None | Some(Value::Null)),
                PatchKind::Add | PatchKind::Replace => {
                    !shown(op.value.as_ref().unwrap_or(&Value::Null), got)
                }
            }
        })
        .map(|op| op.path.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn applied_and_false_200() {
        let rec = json!({"id": 1, "quantity": 25.0, "status": {"id": 42, "name": "Open", "_info": {}},
                         "company": {"id": 250, "identifier": "Acme"}, "effectiveDate": "2024-03-01T00:00:00Z"});
        let ok = [
            PatchOp::replace("quantity", 25),
            PatchOp::replace("/status", json!({"id": 42})),
            PatchOp::replace("effectiveDate", "2024-03-01T00:00:00.000Z"),
            PatchOp::remove("parentPhase"),
        ];
        assert!(unapplied_ops(&ok, &rec).is_empty());
        let bad = [
            PatchOp::replace("quantity", 26),
            PatchOp::replace("company/identifier", "Other"),
            PatchOp::remove("status"),
        ];
        assert_eq!(
            unapplied_ops(&bad, &rec),
            vec!["quantity", "company/identifier", "status"]
        );
    }
}
