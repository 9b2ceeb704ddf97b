//! The page's side of a fit shared between the pool's workers: which half-step comes next,
//! and the rows each worker sent gathered into whole sides.
//!
//! Each worker holds a share ([`affinity_engine::als::FitShare`]) and solves its part of
//! every half-step; this gathers the parts and says what to send next. It knows nothing of
//! workers or messages, so it is tested natively.

use affinity_engine::als::{rmse, IterationReport, Side, SideRows};

use crate::protocol::FitJob;

/// What the coordinator does after a worker's rows arrive.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Wait for the other parts.
    Wait,
    /// Send every worker its part of the half-step of `side`, with `other` (the other side's
    /// whole rows, just gathered). `progress` reports an iteration that has just ended.
    Solve {
        /// The side to solve next.
        side: Side,
        /// The whole other side.
        other: SideRows,
        /// The iteration just finished, if one was.
        progress: Option<IterationReport>,
    },
    /// The fit is done: send the users' whole rows to the first worker, which scores the
    /// model and sends it back.
    Finish {
        /// The whole users' side.
        users: SideRows,
        /// The last iteration.
        progress: IterationReport,
    },
}

/// A shared fit in progress.
#[derive(Debug)]
pub struct SharedRun {
    /// The model job being fitted.
    pub job: FitJob,
    /// The pool slot of each part, in part order.
    pub slots: Vec<usize>,
    /// When the coordinator started it (ms, `Date.now()`).
    pub started_ms: f64,
    /// Training RMSE after each finished iteration.
    pub loss: Vec<f64>,
    iteration: usize,
    side: Side,
    runs: Vec<Option<SideRows>>,
    /// Rows of the side being solved, once a part has said.
    n_rows: Option<usize>,
    squared_errors: Vec<(f64, usize)>,
}

impl SharedRun {
    /// A run of `job` over the workers in `slots`, starting with the items' half-step of the
    /// first iteration.
    pub fn new(job: FitJob, slots: Vec<usize>, started_ms: f64) -> Self {
        let parts = slots.len();
        Self {
            job,
            slots,
            started_ms,
            loss: Vec::new(),
            iteration: 1,
            side: Side::Items,
            runs: vec![None; parts],
            n_rows: None,
            squared_errors: vec![(0.0, 0); parts],
        }
    }

    /// Number of parts (workers).
    pub fn parts(&self) -> usize {
        self.slots.len()
    }

    /// The part pool slot `slot` solves, if it takes part.
    pub fn part_of_slot(&self, slot: usize) -> Option<usize> {
        self.slots.iter().position(|&s| s == slot)
    }

    /// Takes part `part`'s rows of the half-step of `side` (a side of `n_rows` rows in all),
    /// with its users' squared training errors after a users' half-step.
    pub fn on_solved(
        &mut self,
        part: usize,
        side: Side,
        n_rows: usize,
        rows: SideRows,
        squared_errors: Option<(f64, usize)>,
    ) -> Result<Step, String> {
        if side != self.side || part >= self.parts() || self.runs[part].is_some() {
            return Err(format!(
                "a worker sent rows of a half-step that is not running (part {part}, {side:?})"
            ));
        }
        if self.n_rows.is_some_and(|n| n != n_rows) {
            return Err("the workers disagree on the size of the model".into());
        }
        self.n_rows = Some(n_rows);
        self.runs[part] = Some(rows);
        if let Some(errors) = squared_errors {
            self.squared_errors[part] = errors;
        }
        if self.runs.iter().any(Option::is_none) {
            return Ok(Step::Wait);
        }
        let whole = self.gather(n_rows)?;
        // The next half-step solves the other side, of another size.
        self.n_rows = None;
        let max_iter = self.job.params.max_iter;
        Ok(match self.side {
            Side::Items => {
                self.side = Side::Users;
                Step::Solve {
                    side: Side::Users,
                    other: whole,
                    progress: None,
                }
            }
            Side::Users => {
                // Summed in part order, so the same parts give the same number every time.
                let (sum, n) = self
                    .squared_errors
                    .iter()
                    .fold((0.0, 0), |(s, n), &(a, b)| (s + a, n + b));
                let progress = IterationReport {
                    iteration: self.iteration,
                    max_iter,
                    train_rmse: rmse(sum, n),
                };
                self.loss.push(progress.train_rmse);
                self.squared_errors.fill((0.0, 0));
                if self.iteration >= max_iter {
                    Step::Finish {
                        users: whole,
                        progress,
                    }
                } else {
                    self.iteration += 1;
                    self.side = Side::Items;
                    Step::Solve {
                        side: Side::Items,
                        other: whole,
                        progress: Some(progress),
                    }
                }
            }
        })
    }

    /// The parts' rows, which must follow each other from row 0 to `n_rows`, as one run.
    fn gather(&mut self, n_rows: usize) -> Result<SideRows, String> {
        let mut whole = SideRows::default();
        for run in self.runs.iter_mut().map(Option::take) {
            let run = run.ok_or("a part is missing")?;
            if run.start != whole.fitted.len() {
                return Err(format!(
                    "the workers' rows do not follow each other: a part starts at row {} after {}",
                    run.start,
                    whole.fitted.len()
                ));
            }
            whole.factors.extend_from_slice(&run.factors);
            whole.biases.extend_from_slice(&run.biases);
            whole.fitted.extend_from_slice(&run.fitted);
        }
        if whole.fitted.len() != n_rows {
            return Err(format!(
                "the workers sent {} rows of {n_rows}",
                whole.fitted.len()
            ));
        }
        Ok(whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{SplitSpec, Want};
    use affinity_engine::als::{AlsParams, FitShare};
    use affinity_engine::Ratings;

    fn job(max_iter: usize) -> FitJob {
        FitJob {
            job_id: 7,
            data_id: 1,
            params: AlsParams {
                rank: 3,
                max_iter,
                ..AlsParams::default()
            },
            split: SplitSpec::Holdout {
                train_fraction: 0.8,
                seed: 1,
            },
            want: Want::Model,
        }
    }

    fn ratings() -> Ratings {
        let mut r = Ratings::default();
        for u in 0..12 {
            for i in 0..9 {
                if (u * 5 + i * 3) % 4 != 0 {
                    r.push(
                        &format!("u{u}"),
                        &format!("i{i}"),
                        ((u + 2 * i) % 5 + 1) as f32,
                    );
                }
            }
        }
        r
    }

    /// Drives shares as the pool's workers would, through the coordinator, delivering the
    /// parts' replies in reverse order; returns the model and the reported losses.
    fn run(parts: usize, max_iter: usize) -> (affinity_engine::als::AlsModel, Vec<f64>) {
        let ratings = ratings();
        let job = job(max_iter);
        let params = job.params.check().unwrap();
        let mut shares: Vec<FitShare> = (0..parts)
            .map(|_| FitShare::new(&ratings, &params))
            .collect();
        let mut run = SharedRun::new(job, (10..10 + parts).collect(), 0.0);
        let mut side = Side::Items;
        let mut sent: Option<SideRows> = None;
        let mut reported = vec![];
        loop {
            let mut replies = vec![];
            for (k, share) in shares.iter_mut().enumerate() {
                if let Some(rows) = &sent {
                    let other = if side == Side::Users {
                        Side::Items
                    } else {
                        Side::Users
                    };
                    share.apply(other, rows).unwrap();
                }
                let range = share.part(side, k, parts).unwrap();
                let rows = share.solve(side, range.clone()).unwrap();
                let errors = (side == Side::Users).then(|| share.squared_errors(range));
                replies.push((k, share.n_rows(side), rows, errors));
            }
            let mut last = Step::Wait;
            for (k, n, rows, errors) in replies.into_iter().rev() {
                assert_eq!(last, Step::Wait, "a step before every part answered");
                last = run.on_solved(k, side, n, rows, errors).unwrap();
            }
            match last {
                Step::Wait => panic!("every part answered but the run waits"),
                Step::Solve {
                    side: next,
                    other,
                    progress,
                } => {
                    reported.extend(progress.map(|p| p.train_rmse));
                    side = next;
                    sent = Some(other);
                }
                Step::Finish { users, progress } => {
                    reported.push(progress.train_rmse);
                    assert_eq!(progress.iteration, max_iter);
                    let mut first = shares.swap_remove(0);
                    first.apply(Side::Users, &users).unwrap();
                    assert_eq!(run.loss, reported);
                    return (first.into_model(), reported);
                }
            }
        }
    }

    #[test]
    fn gathered_parts_give_the_single_worker_model() {
        let ratings = ratings();
        for max_iter in [1, 3] {
            let params = job(max_iter).params.check().unwrap();
            let want = affinity_engine::als::fit_on_threads(&ratings, &params, 1);
            for parts in [1, 2, 3] {
                let (got, loss) = run(parts, max_iter);
                assert_eq!(loss.len(), max_iter);
                for u in 0..want.n_users() as u32 {
                    assert_eq!(got.user_factors(u), want.user_factors(u), "{parts} parts");
                }
                for i in 0..want.n_items() as u32 {
                    assert_eq!(got.item_factors(i), want.item_factors(i), "{parts} parts");
                }
            }
        }
    }

    #[test]
    fn stray_or_inconsistent_rows_are_errors() {
        let mut run = SharedRun::new(job(2), vec![4, 5], 0.0);
        let rows = |start: usize, n: usize| SideRows {
            start,
            factors: vec![0.0; n * 3],
            biases: vec![],
            fitted: vec![true; n],
        };
        // The users' half-step is not running yet.
        assert!(run.on_solved(0, Side::Users, 4, rows(0, 2), None).is_err());
        assert!(run.on_solved(2, Side::Items, 4, rows(0, 2), None).is_err());
        assert_eq!(
            run.on_solved(0, Side::Items, 4, rows(0, 2), None),
            Ok(Step::Wait)
        );
        // The same part twice.
        assert!(run.on_solved(0, Side::Items, 4, rows(0, 2), None).is_err());
        // A gap between the parts.
        assert!(run.on_solved(1, Side::Items, 4, rows(3, 1), None).is_err());
        let mut run = SharedRun::new(job(2), vec![4, 5], 0.0);
        run.on_solved(0, Side::Items, 4, rows(0, 2), None).unwrap();
        assert!(
            run.on_solved(1, Side::Items, 5, rows(2, 2), None).is_err(),
            "sizes disagree"
        );
        assert_eq!(run.part_of_slot(5), Some(1));
        assert_eq!(run.part_of_slot(6), None);
    }
}
