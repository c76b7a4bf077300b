//! The action the `up` plan takes for one desired resource, and why: from what was
//! observed, what state records, drift, health and renewal.

use std::time::Duration;

use chrono::Utc;

use super::{Decisions, PlanInputs};
use crate::observation::Drift;
use crate::plan::Action;
use crate::provider::{Observation, Observed, Owner};
use crate::resource::Resource;
use crate::state::ResourceRecord;

/// The action for one desired resource (`None` for a foreign one, which is recorded).
pub(super) fn decide(
    inputs: &PlanInputs<'_>,
    r: &Resource,
    obs: &Observation,
    recorded: Option<&ResourceRecord>,
    d: &mut Decisions,
) -> Option<(Action, String)> {
    if r.read_only {
        return read_only(r, obs, recorded, d);
    }
    // An internal step not yet recorded (or whose work is due again) is planned as what it
    // is, never as the adoption of something that is not there.
    if let Some(what) = inputs.backends.def(r.kind).and_then(|d| d.step)
        && (recorded.is_none() || *obs == Observation::Absent)
    {
        return Some((Action::Create, format!("internal step: {what}")));
    }
    let o = match (obs, recorded) {
        (Observation::Absent, None) => return Some((Action::Create, "does not exist".into())),
        (Observation::Absent, Some(_)) => {
            return Some((
                Action::Create,
                "recorded in state but gone from the cloud; recreating".into(),
            ));
        }
        (Observation::Present(o), _) if o.owner != Owner::Us => {
            d.foreign.push((r.id.clone(), r.name.clone()));
            return None;
        }
        (Observation::Present(o), _) => o,
    };
    if let Some(why) = &o.unhealthy {
        return Some(repair(inputs, r, o, recorded, why, d));
    }
    let renew = renewal(o, inputs.renew_before);
    let Some(rec) = recorded else {
        return Some(adopt(inputs, r, o, renew, d));
    };
    let mut outputs = rec.outputs.clone();
    outputs.merge(o.outputs.clone());
    d.known_outputs.insert(
        r.id.clone(),
        (rec.provider_id.clone().or(o.provider_id.clone()), outputs),
    );
    let changed = rec.config_hash != r.config_hash();
    let replace = changed
        && inputs
            .backends
            .ops_for(r.kind)
            .is_some_and(|ops| ops.requires_replacement(&rec.config.value(), &r.config));
    Some(match (changed, &o.drift, renew) {
        (false, None, None) => (Action::NoOp, "up to date".into()),
        _ if replace => (
            Action::Replace,
            "config changed; cannot be updated in place".into(),
        ),
        (true, None, _) => (Action::Update, "config changed".into()),
        (true, Some(drift), _) => {
            let (action, why) = repair_drift(inputs, r, drift);
            (action, format!("config changed, and {why}"))
        }
        (false, Some(drift), _) => repair_drift(inputs, r, drift),
        (false, None, Some(why)) => (Action::Update, why),
    })
}

/// The action for `r`, found ours (`o`) but not recorded in state: adopted, or updated
/// when it drifted or is due for renewal (`renew`).
fn adopt(
    inputs: &PlanInputs<'_>,
    r: &Resource,
    o: &Observed,
    renew: Option<String>,
    d: &mut Decisions,
) -> (Action, String) {
    d.known_outputs
        .insert(r.id.clone(), (o.provider_id.clone(), o.outputs.clone()));
    match (&o.drift, renew) {
        (Some(drift), _) => {
            let (action, why) = repair_drift(inputs, r, drift);
            (
                action,
                format!("exists with our tags, not in state, and {why}"),
            )
        }
        (None, Some(why)) => (
            Action::Update,
            format!("exists with our tags, not in state; {why}"),
        ),
        (None, None) => (
            Action::Adopt,
            "exists with our tags but not in state".into(),
        ),
    }
}

/// The action that repairs `drift` of `r`, with its reason (`drifted outside the stack:
/// spec.replicas: 2 -> 5`): an update, or a replacement when a drifted field cannot change
/// in place or the kind cannot update at all.
fn repair_drift(inputs: &PlanInputs<'_>, r: &Resource, drift: &Drift) -> (Action, String) {
    let updatable = inputs
        .backends
        .ops_for(r.kind)
        .is_some_and(|ops| ops.supports_update());
    if updatable && !drift.requires_replacement() {
        (
            Action::Update,
            format!("drifted outside the stack: {drift}"),
        )
    } else {
        (
            Action::Replace,
            format!("drifted outside the stack: {drift}; replacing"),
        )
    }
}

/// The action for a read-only resource (an existing cluster): adopted as found whoever owns
/// it — never created, updated, replaced or deleted; absent, it stops the plan.
fn read_only(
    r: &Resource,
    obs: &Observation,
    recorded: Option<&ResourceRecord>,
    d: &mut Decisions,
) -> Option<(Action, String)> {
    let Observation::Present(o) = obs else {
        d.missing.push((r.id.clone(), r.name.clone()));
        return None;
    };
    d.known_outputs
        .insert(r.id.clone(), (o.provider_id.clone(), o.outputs.clone()));
    Some(match recorded {
        Some(rec) if rec.config_hash == r.config_hash() => (
            Action::NoOp,
            "exists outside the stack; used read-only".into(),
        ),
        _ => (
            Action::Adopt,
            "exists outside the stack: used read-only, never modified or deleted".into(),
        ),
    })
}

/// The action for a resource of ours found unusable as it is (`why`): an update where the
/// kind can re-apply in place, else a replacement; never an adoption or a no-op.
fn repair(
    inputs: &PlanInputs<'_>,
    r: &Resource,
    o: &Observed,
    recorded: Option<&ResourceRecord>,
    why: &str,
    d: &mut Decisions,
) -> (Action, String) {
    let mut outputs = recorded.map(|rec| rec.outputs.clone()).unwrap_or_default();
    outputs.merge(o.outputs.clone());
    let id = recorded
        .and_then(|rec| rec.provider_id.clone())
        .or(o.provider_id.clone());
    d.known_outputs.insert(r.id.clone(), (id, outputs));
    let updatable = inputs
        .backends
        .ops_for(r.kind)
        .is_some_and(|ops| ops.supports_update());
    if updatable {
        (Action::Update, format!("found {why}; re-applying"))
    } else {
        (Action::Replace, format!("found {why}; replacing"))
    }
}

/// Why a resource must be renewed now, if it must: what it holds expires within
/// `renew_before`.
fn renewal(o: &Observed, renew_before: Duration) -> Option<String> {
    let exp = o.expires_at?;
    let margin = chrono::Duration::from_std(renew_before).unwrap_or(chrono::Duration::MAX);
    let due = Utc::now()
        .checked_add_signed(margin)
        .is_none_or(|t| t >= exp);
    due.then(|| format!("expires at {}; renewing", exp.to_rfc3339()))
}
