//! Backoff delays (exponential with jitter, from `backon`).

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::config::RetryPolicy;

/// Successive retry delays for one call.
pub(crate) struct Backoff {
    inner: backon::ExponentialBackoff,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(policy: &RetryPolicy) -> Self {
        let mut b = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_factor(2.0)
            .without_max_times();
        if policy.jitter {
            b = b.with_jitter();
        }
        Backoff {
            inner: b.build(),
            max: policy.max_delay,
        }
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        self.inner.next().unwrap_or(self.max).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let p = RetryPolicy {
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(700),
            jitter: false,
            ..RetryPolicy::default()
        };
        let mut b = Backoff::new(&p);
        let d: Vec<u128> = (0..6).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(d, vec![100, 200, 400, 700, 700, 700]);
    }

    #[test]
    fn jitter_stays_within_double() {
        let p = RetryPolicy {
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            jitter: true,
            ..RetryPolicy::default()
        };
        let mut b = Backoff::new(&p);
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(200));
    }
}
