//! The one bounded-concurrency primitive for per-customer work.

use std::collections::{HashMap, VecDeque};
use std::future::Future;

use tokio::task::JoinSet;
use tracing::Instrument as _;

/// A customer's task panicked (or was cancelled): its message, for that customer's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panicked {
    /// The panic's message, or a note that the task was cancelled.
    pub message: String,
}

/// Runs `work` for every item, at most `limit` at once, and returns the results in input order. A
/// task that panics becomes `Err(Panicked)` for its item only; the others go on. At most `limit`
/// tasks exist at once (the next is spawned when one ends), so pending work stays small however many
/// customers there are. Dropping the returned future aborts the tasks still running.
pub async fn fan_out<T, R, F, Fut>(
    items: Vec<T>,
    limit: usize,
    progress: impl FnMut(usize, usize),
    work: F,
) -> Vec<Result<R, Panicked>>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    fan_out_keyed(items, |_| (), limit, progress, work).await
}

/// [`fan_out`] with `limit` per key instead of overall: items of different keys (e.g. the vendor
/// host they call) run side by side, each key within its own bound.
pub async fn fan_out_keyed<T, K, R, F, Fut>(
    items: Vec<T>,
    key: impl Fn(&T) -> K,
    limit: usize,
    mut progress: impl FnMut(usize, usize),
    work: F,
) -> Vec<Result<R, Panicked>>
where
    K: Eq + std::hash::Hash,
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let total = items.len();
    let limit = limit.max(1);
    let mut results: Vec<Option<Result<R, Panicked>>> = (0..total).map(|_| None).collect();
    // One queue per key, in the order keys first appear; each with its running count.
    let mut slot_of: HashMap<K, usize> = HashMap::new();
    let mut queues: Vec<(VecDeque<(usize, T)>, usize)> = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let q = *slot_of.entry(key(&item)).or_insert_with(|| {
            queues.push((VecDeque::new(), 0));
            queues.len() - 1
        });
        queues[q].0.push_back((index, item));
    }
    let mut set = JoinSet::new();
    let mut ids = HashMap::new();
    let mut done = 0usize;
    loop {
        for (q, (pending, running)) in queues.iter_mut().enumerate() {
            while *running < limit {
                let Some((index, item)) = pending.pop_front() else {
                    break;
                };
                // The task keeps the caller's span (the run), so its log lines name the run too.
                let handle = set.spawn(work(item).instrument(tracing::Span::current()));
                ids.insert(handle.id(), (index, q));
                *running += 1;
            }
        }
        let Some(joined) = set.join_next_with_id().await else {
            break;
        };
        let (id, result) = match joined {
            Ok((id, r)) => (id, Ok(r)),
            Err(e) => {
                let id = e.id();
                let message = if e.is_panic() {
                    panic_message(e.into_panic())
                } else {
                    "the task was cancelled".to_owned()
                };
                (id, Err(Panicked { message }))
            }
        };
        if let Some((index, q)) = ids.remove(&id) {
            results[index] = Some(result);
            queues[q].1 -= 1;
        }
        done += 1;
        progress(done, total);
    }
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(Panicked {
                    message: "the task did not report".to_owned(),
                })
            })
        })
        .collect()
}

/// The message a panic carried.
pub fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn order_kept_panic_isolated_and_bounded() {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut seen = Vec::new();
        let out = fan_out(
            (0..20).collect::<Vec<u32>>(),
            3,
            |d, t| seen.push((d, t)),
            |i| {
                let running = running.clone();
                let peak = peak.clone();
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(u64::from(20 - i))).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    if i == 7 {
                        panic!("boom at {i}");
                    }
                    i * 10
                }
            },
        )
        .await;
        assert_eq!(out.len(), 20);
        for (i, r) in out.iter().enumerate() {
            if i == 7 {
                assert_eq!(r.as_ref().unwrap_err().message, "boom at 7");
            } else {
                assert_eq!(r.as_ref().ok(), Some(&(i as u32 * 10)));
            }
        }
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert_eq!(seen.last(), Some(&(20, 20)));
    }

    #[tokio::test]
    async fn keys_run_side_by_side_each_within_its_bound() {
        // (key, running per key); the peak per key and overall.
        let running: Arc<[AtomicUsize; 3]> = Arc::new(Default::default());
        let peaks: Arc<[AtomicUsize; 3]> = Arc::new(Default::default());
        let overall = Arc::new(AtomicUsize::new(0));
        let overall_peak = Arc::new(AtomicUsize::new(0));
        let items: Vec<(usize, u32)> = (0..30).map(|i| ((i % 3) as usize, i)).collect();
        let out = fan_out_keyed(
            items,
            |(k, _)| *k,
            2,
            |_, _| {},
            |(k, i)| {
                let (running, peaks) = (running.clone(), peaks.clone());
                let (overall, overall_peak) = (overall.clone(), overall_peak.clone());
                async move {
                    let now = running[k].fetch_add(1, Ordering::SeqCst) + 1;
                    peaks[k].fetch_max(now, Ordering::SeqCst);
                    let all = overall.fetch_add(1, Ordering::SeqCst) + 1;
                    overall_peak.fetch_max(all, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    running[k].fetch_sub(1, Ordering::SeqCst);
                    overall.fetch_sub(1, Ordering::SeqCst);
                    i
                }
            },
        )
        .await;
        let values: Vec<u32> = out.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(values, (0..30).collect::<Vec<u32>>(), "input order kept");
        for p in peaks.iter() {
            assert_eq!(
                p.load(Ordering::SeqCst),
                2,
                "each key reaches its bound, never more"
            );
        }
        assert!(overall_peak.load(Ordering::SeqCst) > 2, "keys overlap");
    }
}
