//! The plans area: saved usage plans waiting for a person, and what became of them.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row as _;

use super::{NewAudit, Result, StoreError, from_ms, json_text, parse_json, store_area, to_ms};

/// Where a saved plan is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanState {
    /// Waiting for a person to approve or discard it.
    Pending,
    /// Approved and applied (its outcome says how it went).
    Approved,
    /// Discarded by a person.
    Discarded,
    /// Replaced by a newer plan of the same customers.
    Superseded,
}

impl PlanState {
    /// The state as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanState::Pending => "pending",
            PlanState::Approved => "approved",
            PlanState::Discarded => "discarded",
            PlanState::Superseded => "superseded",
        }
    }

    /// A state from its text; `None` for anything else.
    pub fn parse(text: &str) -> Option<PlanState> {
        [
            PlanState::Pending,
            PlanState::Approved,
            PlanState::Discarded,
            PlanState::Superseded,
        ]
        .into_iter()
        .find(|s| s.as_str() == text.trim())
    }
}

/// A plan to save (state `pending`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewPlan {
    /// The billing month, `YYYY-MM`.
    pub month: String,
    /// The tenant ids the plan covers; empty: every mapped customer.
    pub scope: Vec<String>,
    /// When it was computed.
    pub created_at: Timestamp,
    /// Who computed it (the OS user, the dashboard account, or "service").
    pub created_by: String,
    /// The digest of the plan's inputs, compared again on approval.
    pub fingerprint: String,
    /// How many writes it makes.
    pub writes: i64,
    /// The plan itself.
    pub body: Value,
}

/// A saved plan as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanRecord {
    /// The plan's number, as people type it (`plans approve 7`).
    pub id: i64,
    /// The billing month, `YYYY-MM`.
    pub month: String,
    /// The tenant ids the plan covers; empty: every mapped customer.
    pub scope: Vec<String>,
    /// When it was computed.
    pub created_at: Timestamp,
    /// Who computed it.
    pub created_by: String,
    /// Where it is in its life.
    pub state: PlanState,
    /// The digest of the plan's inputs.
    pub fingerprint: String,
    /// How many writes it makes.
    pub writes: i64,
    /// The plan itself.
    pub body: Value,
    /// When it was approved, discarded or superseded.
    pub decided_at: Option<Timestamp>,
    /// Who decided (for a superseded plan: who made the newer one).
    pub decided_by: Option<String>,
    /// What approving did, or why it was set aside.
    pub outcome: Option<String>,
    /// The usage run that applied it.
    pub run_id: Option<i64>,
}

/// How a pending plan was decided.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanDecision {
    /// The new state (not `pending`).
    pub state: PlanState,
    /// Who decided.
    pub by: String,
    /// When.
    pub at: Timestamp,
    /// What it did, in a sentence.
    pub outcome: String,
    /// The run that applied it, if any.
    pub run_id: Option<i64>,
}

macro_rules! plan_columns {
    () => {
        "id, month, scope, created_at, created_by, state, fingerprint, writes, body, decided_at, \
         decided_by, outcome, run_id"
    };
}

macro_rules! plan_from_row {
    ($r:expr) => {{
        let r = $r;
        let state: String = r.try_get("state")?;
        let scope: String = r.try_get("scope")?;
        let body: String = r.try_get("body")?;
        Ok::<PlanRecord, StoreError>(PlanRecord {
            id: r.try_get("id")?,
            month: r.try_get("month")?,
            scope: parse_json("usage_plans.scope", &scope)?,
            created_at: from_ms(r.try_get("created_at")?)?,
            created_by: r.try_get("created_by")?,
            state: PlanState::parse(&state).ok_or_else(|| StoreError::Corrupt {
                what: "usage_plans.state".into(),
                reason: format!("unknown state `{state}`"),
            })?,
            fingerprint: r.try_get("fingerprint")?,
            writes: r.try_get("writes")?,
            body: parse_json("usage_plans.body", &body)?,
            decided_at: r
                .try_get::<Option<i64>, _>("decided_at")?
                .map(from_ms)
                .transpose()?,
            decided_by: r.try_get("decided_by")?,
            outcome: r.try_get("outcome")?,
            run_id: r.try_get("run_id")?,
        })
    }};
}

store_area! {
    /// Saved usage plans.
    pub trait PlanStore {
        /// Saves a pending plan and supersedes the older pending plans of the same scope, with its
        /// audit entry, in one transaction; returns the new plan's number.
        async fn save_plan(&self, plan: &NewPlan, audit: &NewAudit) -> Result<i64> {
            let scope = json_text(&plan.scope)?;
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "UPDATE usage_plans SET state = 'superseded', decided_at = $2, decided_by = $3, \
                 outcome = 'a newer plan of the same customers replaced it' \
                 WHERE state = 'pending' AND scope = $1",
            )
            .bind(&scope)
            .bind(to_ms(plan.created_at))
            .bind(&plan.created_by)
            .execute(&mut *tx)
            .await?;
            let id: i64 = sqlx::query(
                "INSERT INTO usage_plans (month, scope, created_at, created_by, state, fingerprint, \
                 writes, body) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7) RETURNING id",
            )
            .bind(&plan.month)
            .bind(&scope)
            .bind(to_ms(plan.created_at))
            .bind(&plan.created_by)
            .bind(&plan.fingerprint)
            .bind(plan.writes)
            .bind(json_text(&plan.body)?)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
            let mut audit = audit.clone();
            audit.subject = format!("plan:{id}");
            super::usage::insert_audit_entry!(tx, &audit);
            tx.commit().await?;
            Ok(id)
        }

        /// One plan by its number.
        async fn plan(&self, id: i64) -> Result<Option<PlanRecord>> {
            let row = sqlx::query(concat!("SELECT ", plan_columns!(), " FROM usage_plans WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(|r| plan_from_row!(r)).transpose()
        }

        /// Plans, newest first; only those in `state` when given.
        async fn list_plans(&self, state: Option<PlanState>, limit: u32) -> Result<Vec<PlanRecord>> {
            let rows = sqlx::query(concat!(
                "SELECT ",
                plan_columns!(),
                " FROM usage_plans WHERE ($1 IS NULL OR state = $1) ORDER BY id DESC LIMIT $2"
            ))
            .bind(state.map(PlanState::as_str))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(|r| plan_from_row!(r)).collect()
        }

        /// Decides a pending plan, with its audit entry, in one transaction; false (nothing
        /// written) when the plan is not pending any more.
        async fn decide_plan(&self, id: i64, decision: &PlanDecision, audit: &NewAudit) -> Result<bool> {
            let mut tx = self.pool.begin().await?;
            let done = sqlx::query(
                "UPDATE usage_plans SET state = $2, decided_at = $3, decided_by = $4, outcome = $5, \
                 run_id = $6 WHERE id = $1 AND state = 'pending'",
            )
            .bind(id)
            .bind(decision.state.as_str())
            .bind(to_ms(decision.at))
            .bind(&decision.by)
            .bind(&decision.outcome)
            .bind(decision.run_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            super::usage::insert_audit_entry!(tx, audit);
            tx.commit().await?;
            Ok(true)
        }
    }
}
