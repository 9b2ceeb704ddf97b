//! How often a fit running in a worker tells the page how far it is.
//!
//! Small fits finish an iteration every few ms; a report for each one cost the page about a
//! millisecond apiece (a cross-validation grid sent two hundred), time a two-core machine
//! takes from the workers, and posting it cost the first worker of a shared fit up to 3 ms a
//! fit on u.data, which the other worker then waited for. The page shows progress four times
//! a second at most anyway, and not in a run's first quarter second.

/// Shortest time between two progress reports of one fit, and from its start to the first,
/// in ms.
pub const PROGRESS_EVERY_MS: f64 = 100.0;

/// When a fit last sent a progress report, or started: one report per
/// [`PROGRESS_EVERY_MS`] at most.
#[derive(Clone, Copy, Debug)]
pub struct ReportGate {
    last_ms: f64,
}

impl ReportGate {
    /// The gate of a fit that started at `started_ms`.
    pub fn starting_at(started_ms: f64) -> Self {
        Self {
            last_ms: started_ms,
        }
    }

    /// Whether a report may go at `now_ms`; if so, it counts as sent.
    pub fn pass(&mut self, now_ms: f64) -> bool {
        let open = now_ms - self.last_ms >= PROGRESS_EVERY_MS;
        if open {
            self.last_ms = now_ms;
        }
        open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_go_at_most_every_interval_and_not_before_the_first_has_passed() {
        let mut gate = ReportGate::starting_at(1000.0);
        let passed: Vec<f64> = [
            1010.0, 1099.9, 1100.0, 1150.0, 1199.0, 1260.0, 1700.0, 1710.0,
        ]
        .into_iter()
        .filter(|&t| gate.pass(t))
        .collect();
        // From the last report sent, not from the last one asked for.
        assert_eq!(passed, vec![1100.0, 1260.0, 1700.0]);
    }
}
