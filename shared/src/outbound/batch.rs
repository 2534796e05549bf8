//! One Odoo read per batch: leased jobs of the same webhook, model and field spec are read together (the union
//! of their ids, as the webhook's Odoo user) and each job gets back its own records, in the order it asked.

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use crate::config::{ModelName, WebhookConfig};
use crate::execution_log::Outcome;
use crate::gateway::Gateway;

/// Most distinct ids one grouped read asks for; a larger group is read in several calls (a job alone may ask
/// for more: it is read as it would be on its own).
pub const MAX_IDS_PER_READ: usize = 1000;

/// Why a job's records could not be read.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ReadFailure {
    /// The configuration or the webhook's rights refuse the read: no retry can fix it.
    pub rejected: bool,
    pub message: String,
}

impl ReadFailure {
    fn of(error: &crate::error::GatewayError) -> Self {
        Self {
            rejected: error.outcome() == Outcome::Rejected,
            message: format!("reading the records: {error}"),
        }
    }
}

/// Groups items by key in order of first appearance, each group closed once its items' id counts would pass
/// `max_ids`. Returns indexes into `items`.
pub(super) fn groups<K: Eq + Hash>(
    items: impl IntoIterator<Item = (K, usize)>,
    max_ids: usize,
) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut open: HashMap<K, (usize, usize)> = HashMap::new();
    for (index, (key, ids)) in items.into_iter().enumerate() {
        match open.get_mut(&key) {
            Some((group, count)) if *count + ids <= max_ids => {
                out[*group].push(index);
                *count += ids;
            }
            _ => {
                open.insert(key, (out.len(), ids));
                out.push(vec![index]);
            }
        }
    }
    out
}

/// Every id of `jobs` once, in order of first appearance.
pub(super) fn union(jobs: &[&[i64]]) -> Vec<i64> {
    let mut seen = HashSet::new();
    jobs.iter()
        .flat_map(|ids| ids.iter().copied())
        .filter(|id| seen.insert(*id))
        .collect()
}

/// The records of `ids` among `by_id`, in the order of `ids` (a record that no longer exists is left out).
pub(super) fn split(by_id: &HashMap<i64, Value>, ids: &[i64]) -> Vec<Value> {
    ids.iter().filter_map(|id| by_id.get(id).cloned()).collect()
}

/// Reads the records of every job in `jobs` (their id lists) with one call when there are several. A grouped
/// read that fails for a reason other than Odoo or the store being unreachable (an Odoo error one job's records
/// may cause) is read again job by job, so each job ends as it would have alone.
pub(super) async fn read(
    gateway: &Gateway,
    config: &WebhookConfig,
    model: &ModelName,
    spec: &[Value],
    jobs: &[&[i64]],
) -> Vec<Result<Vec<Value>, ReadFailure>> {
    if let [only] = jobs {
        return vec![read_alone(gateway, config, model, spec, only).await];
    }
    match gateway.outbound_records(config, model, &union(jobs), spec).await {
        Ok(records) => {
            let by_id: HashMap<i64, Value> = records
                .into_iter()
                .filter_map(|r| r.get("id").and_then(Value::as_i64).map(|id| (id, r)))
                .collect();
            jobs.iter().map(|ids| Ok(split(&by_id, ids))).collect()
        }
        Err(error) if error.outcome() == Outcome::Failed => {
            let failure = ReadFailure::of(&error);
            jobs.iter().map(|_| Err(failure.clone())).collect()
        }
        Err(_) => {
            let each = jobs
                .iter()
                .map(|ids| read_alone(gateway, config, model, spec, ids));
            futures_util::future::join_all(each).await
        }
    }
}

async fn read_alone(
    gateway: &Gateway,
    config: &WebhookConfig,
    model: &ModelName,
    spec: &[Value],
    ids: &[i64],
) -> Result<Vec<Value>, ReadFailure> {
    gateway
        .outbound_records(config, model, ids, spec)
        .await
        .map_err(|e| ReadFailure::of(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_keep_first_appearance_order_and_close_at_the_id_cap() {
        let items = [("a", 2), ("b", 1), ("a", 2), ("a", 2), ("b", 9), ("c", 5)];
        assert_eq!(
            groups(items, 4),
            vec![vec![0, 2], vec![1], vec![3], vec![4], vec![5]]
        );
        assert_eq!(groups(items, 100), vec![vec![0, 2, 3], vec![1, 4], vec![5]]);
    }

    #[test]
    fn each_job_gets_its_own_records_in_the_order_it_asked() {
        assert_eq!(union(&[&[3, 1], &[1, 7], &[3]]), [3, 1, 7]);
        let by_id: HashMap<i64, Value> = [1, 3].map(|id| (id, json!({"id": id}))).into_iter().collect();
        assert_eq!(split(&by_id, &[3, 7, 1]), [json!({"id": 3}), json!({"id": 1})]);
        assert!(
            split(&by_id, &[7]).is_empty(),
            "a record gone leaves its job empty"
        );
    }
}
