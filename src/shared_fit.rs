//! A fit shared between the pool's workers, as each worker runs it: which half-step comes
//! next, the other parts' rows applied to its copy of the model, and what to send to the
//! others.
//!
//! Each worker holds a share ([`affinity_engine::als::FitShare`]) and solves its part of
//! every half-step, then sends its rows straight to the other workers (through
//! `MessageChannel`s the page set up) and takes theirs. Once every part of a half-step is in,
//! it applies the other parts' rows and goes on with the next, without waiting for the page: the
//! page only relayed rows before, which cost a round trip through its event loop per
//! half-step. Every worker gathers the same parts in the same order, so every copy of the
//! model is the same, bit for bit, as a one-worker fit. It knows nothing of workers or
//! messages, so it is tested natively.

use std::ops::Range;

use affinity_engine::als::{rmse, AlsModel, FitShare, IterationReport, Side, SideRows};

/// One part's rows of one half-step, as a worker sends them to the others.
#[derive(Clone, Debug, PartialEq)]
pub struct PartRows {
    /// Half-steps since the start: 0 is the items of the first iteration, 1 its users...
    pub half_step: usize,
    /// The part that solved them.
    pub part: usize,
    /// Rows of the side in all.
    pub n_rows: usize,
    /// The rows.
    pub rows: SideRows,
    /// After a users' half-step, the squared training errors of these users' ratings and how
    /// many were predicted (every worker sums them into the iteration's RMSE).
    pub squared_errors: Option<(f64, usize)>,
    /// How long the sender took to solve them, in milliseconds (every worker balances the
    /// next half-step's parts by these; NaN when unknown).
    pub solve_ms: f64,
}

/// What a worker does after a step of its shared fit.
#[derive(Debug)]
pub enum Action {
    /// Send these rows (this worker's part) to every other worker.
    Send(PartRows),
    /// An iteration ended (the first worker tells the page).
    Progress(IterationReport),
    /// The fit is over: the whole model and the training RMSE after each iteration.
    Done {
        /// The fitted model, the same in every worker.
        model: Box<AlsModel>,
        /// Training RMSE after each iteration.
        loss: Vec<f64>,
    },
}

/// The side a half-step solves: items first, as in a one-worker fit.
fn side_of(half_step: usize) -> Side {
    if half_step.is_multiple_of(2) {
        Side::Items
    } else {
        Side::Users
    }
}

/// A clock in milliseconds (`performance.now()` in a worker).
pub type Clock = Box<dyn FnMut() -> f64>;

/// One worker's part in a shared fit.
pub struct PeerFit {
    share: Option<FitShare>,
    clock: Clock,
    /// Each part's relative speed (mean 1): its share of the next half-step's work.
    speeds: Vec<f64>,
    /// Each part's solve time of the half-step being gathered.
    solve_ms: Vec<f64>,
    part: usize,
    parts: usize,
    max_iter: usize,
    /// The half-step being gathered.
    half_step: usize,
    /// The rows each part of it solved, by part, once known.
    ranges: Vec<Option<Range<usize>>>,
    /// The other parts' rows (this worker's own are already in its model), by part.
    received: Vec<Option<SideRows>>,
    n_rows: Option<usize>,
    squared_errors: Vec<(f64, usize)>,
    loss: Vec<f64>,
    /// Rows of the next half-step that came before every part of this one: a worker can be
    /// one half-step ahead of another (never more, as it needs this worker's rows to go on).
    early: Vec<PartRows>,
}

impl PeerFit {
    /// Takes part `part` of `parts` in a fit of `max_iter` iterations from `share`, and solves
    /// this part of the first half-step, timing its solves by `clock`. The returned actions
    /// are to be carried out in order.
    pub fn start(
        share: FitShare,
        part: usize,
        parts: usize,
        max_iter: usize,
        clock: Clock,
    ) -> Result<(Self, Vec<Action>), String> {
        if part >= parts {
            return Err(format!("part {part} of a fit in {parts} parts"));
        }
        let mut fit = Self {
            share: Some(share),
            clock,
            speeds: vec![1.0; parts],
            solve_ms: vec![f64::NAN; parts],
            part,
            parts,
            max_iter,
            half_step: 0,
            ranges: vec![None; parts],
            received: vec![None; parts],
            n_rows: None,
            squared_errors: vec![(0.0, 0); parts],
            loss: Vec::new(),
            early: Vec::new(),
        };
        let mut actions = Vec::new();
        fit.solve_and_send(&mut actions)?;
        fit.advance(Vec::new(), &mut actions)?;
        Ok((fit, actions))
    }

    /// This worker's part.
    pub fn part(&self) -> usize {
        self.part
    }

    /// Takes rows another worker sent.
    pub fn receive(&mut self, rows: PartRows) -> Result<Vec<Action>, String> {
        if rows.part >= self.parts || rows.part == self.part {
            return Err(format!(
                "rows of part {} reached part {} of {}",
                rows.part, self.part, self.parts
            ));
        }
        let mut actions = Vec::new();
        self.advance(vec![rows], &mut actions)?;
        Ok(actions)
    }

    /// Solves this worker's part of the current half-step.
    fn solve_own(&mut self) -> Result<PartRows, String> {
        let (half_step, part) = (self.half_step, self.part);
        let side = side_of(half_step);
        let share = self
            .share
            .as_mut()
            .ok_or("the shared fit ended before its last half-step")?;
        let range = share
            .part_of_shares(side, part, &self.speeds)
            .map_err(|e| e.to_string())?;
        let started = (self.clock)();
        let rows = share
            .solve(side, range.clone())
            .map_err(|e| e.to_string())?;
        let solve_ms = (self.clock)() - started;
        let squared_errors = (side == Side::Users).then(|| share.squared_errors(range));
        Ok(PartRows {
            half_step,
            part,
            n_rows: share.n_rows(side),
            rows,
            squared_errors,
            solve_ms,
        })
    }

    /// Solves this worker's part of the current half-step, files it and sends it (its rows
    /// are already in this worker's model: only the others need them).
    fn solve_and_send(&mut self, actions: &mut Vec<Action>) -> Result<(), String> {
        let own = self.solve_own()?;
        self.file(&own)?;
        actions.push(Action::Send(own));
        Ok(())
    }

    /// Files another part's rows, or keeps them for the next half-step.
    fn take(&mut self, rows: PartRows) -> Result<(), String> {
        if rows.half_step == self.half_step + 1 {
            self.early.push(rows);
            return Ok(());
        }
        self.file(&rows)?;
        let part = rows.part;
        self.received[part] = Some(rows.rows);
        Ok(())
    }

    /// Notes what part `rows.part` solved of the current half-step.
    fn file(&mut self, rows: &PartRows) -> Result<(), String> {
        if rows.half_step != self.half_step || self.ranges[rows.part].is_some() {
            return Err(format!(
                "part {} sent rows of half-step {} during half-step {}",
                rows.part, rows.half_step, self.half_step
            ));
        }
        if self.n_rows.is_some_and(|n| n != rows.n_rows) {
            return Err("the workers disagree on the size of the model".into());
        }
        self.n_rows = Some(rows.n_rows);
        if let Some(errors) = rows.squared_errors {
            self.squared_errors[rows.part] = errors;
        }
        self.solve_ms[rows.part] = rows.solve_ms;
        let start = rows.rows.start;
        self.ranges[rows.part] = Some(start..start.saturating_add(rows.rows.fitted.len()));
        Ok(())
    }

    /// Takes `incoming` rows and, each time a half-step is complete, applies it and solves
    /// this part of the next, taking any early rows of that one.
    fn advance(
        &mut self,
        incoming: Vec<PartRows>,
        actions: &mut Vec<Action>,
    ) -> Result<(), String> {
        let mut queue = incoming;
        loop {
            while let Some(rows) = queue.pop() {
                self.take(rows)?;
            }
            if self.ranges.iter().any(Option::is_none) || self.complete(actions)? {
                return Ok(());
            }
            self.solve_and_send(actions)?;
            let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.early)
                .into_iter()
                .partition(|r| r.half_step == self.half_step);
            self.early = later;
            queue = now;
        }
    }

    /// Applies the gathered half-step and moves on to the next; true when the fit is done.
    fn complete(&mut self, actions: &mut Vec<Action>) -> Result<bool, String> {
        let n_rows = self.n_rows.take().unwrap_or(0);
        let side = side_of(self.half_step);
        let share = self
            .share
            .as_mut()
            .ok_or("rows came after the shared fit ended")?;
        let ranges: Vec<Range<usize>> = self.ranges.iter_mut().flat_map(Option::take).collect();
        check_runs(&ranges, n_rows)?;
        // Every part's estimated work, from the rows it solved.
        let work: Vec<f64> = ranges.iter().map(|r| share.work(side, r.clone())).collect();
        for rows in self.received.iter_mut().flat_map(Option::take) {
            share.apply(side, &rows).map_err(|e| e.to_string())?;
        }
        rebalance(&mut self.speeds, &work, &self.solve_ms);
        self.solve_ms.fill(f64::NAN);
        if side == Side::Users {
            // Summed in part order, so every worker gets the same number.
            let (sum, n) = self
                .squared_errors
                .iter()
                .fold((0.0, 0), |(s, n), &(a, b)| (s + a, n + b));
            self.squared_errors.fill((0.0, 0));
            let report = IterationReport {
                iteration: self.half_step / 2 + 1,
                max_iter: self.max_iter,
                train_rmse: rmse(sum, n),
            };
            self.loss.push(report.train_rmse);
            let last = report.iteration >= self.max_iter;
            actions.push(Action::Progress(report));
            if last {
                let share = self.share.take().ok_or("the shared fit ended twice")?;
                actions.push(Action::Done {
                    model: Box::new(share.into_model()),
                    loss: std::mem::take(&mut self.loss),
                });
                return Ok(true);
            }
        }
        self.half_step += 1;
        Ok(false)
    }
}

/// The least and most a part's speed may be, against the mean of all: a part that was slow
/// once (its worker descheduled for a moment) still gets a quarter of an equal share.
const SPEED_RANGE: (f64, f64) = (0.25, 4.0);

/// Moves each part's relative speed halfway towards the speed it showed in the half-step
/// just gathered (`work[p]` done in `ms[p]` milliseconds, relative to the mean of all parts),
/// so that parts on busier cores get less of the next half-step's work. Halfway: a speed
/// measured once is partly noise. Left as they are when some part's time or work is unknown
/// or nil. Every worker gathers the same numbers, so every worker gets the same speeds.
// Workers of one page share the machine's cores with the page, the browser and whatever else
// runs: in two-worker fits of MovieLens 100K in headless Chromium on two cores, one worker
// often took 1.5 to 2 times as long as the other over a whole fit for equal work.
fn rebalance(speeds: &mut [f64], work: &[f64], ms: &[f64]) {
    let n = speeds.len();
    if n < 2 || work.len() != n || ms.len() != n {
        return;
    }
    let rates: Vec<f64> = work.iter().zip(ms).map(|(&w, &t)| w / t).collect();
    if !rates.iter().all(|r| r.is_finite() && *r > 0.0) {
        return;
    }
    let mean_rate = rates.iter().sum::<f64>() / n as f64;
    for (s, r) in speeds.iter_mut().zip(&rates) {
        *s = 0.5 * *s + 0.5 * (r / mean_rate);
    }
    let mean = speeds.iter().sum::<f64>() / n as f64;
    for s in speeds.iter_mut() {
        *s = (*s / mean).clamp(SPEED_RANGE.0, SPEED_RANGE.1);
    }
}

/// Checks that the parts' runs of rows follow each other from row 0 to `n_rows`.
fn check_runs(runs: &[Range<usize>], n_rows: usize) -> Result<(), String> {
    let mut end = 0;
    for run in runs {
        if run.start != end {
            return Err(format!(
                "the workers' rows do not follow each other: a part starts at row {} after {end}",
                run.start
            ));
        }
        end = run.end;
    }
    if end != n_rows {
        return Err(format!("the workers sent {end} rows of {n_rows}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use affinity_engine::als::{fit_on_threads, AlsParams};
    use affinity_engine::Ratings;
    use std::collections::VecDeque;

    fn params(max_iter: usize, biases: bool) -> AlsParams {
        AlsParams {
            rank: 3,
            max_iter,
            biases,
            ..AlsParams::default()
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

    /// A clock that moves on by a pseudo-random 1 to 8 ms each time it is read, differently
    /// for each `seed`: the peers' solve times, and so their splits, then change from one
    /// half-step to the next.
    fn jumpy_clock(seed: u64) -> Clock {
        let (mut state, mut now) = (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, 0.0);
        Box::new(move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            now += 1.0 + (state % 8) as f64;
            now
        })
    }

    /// Runs a fit shared by `parts` peers. Messages travel on one first-in first-out link per
    /// (sender, receiver) pair, as through a `MessageChannel`; `pick` chooses which link
    /// delivers next, so links overtake each other in every way a test asks for. Peer `k`
    /// times its solves by `clock(k)`. Returns each peer's model and losses, and the
    /// progress reports of part 0.
    fn run(
        parts: usize,
        p: &AlsParams,
        mut pick: impl FnMut(usize) -> usize,
        clock: impl Fn(usize) -> Clock,
    ) -> Outcome {
        let ratings = ratings();
        let params = p.check().unwrap();
        let mut links: Vec<VecDeque<PartRows>> = vec![VecDeque::new(); parts * parts];
        let mut peers = Vec::new();
        let mut done: Vec<Option<(AlsModel, Vec<f64>)>> = vec![None; parts];
        let mut progress = Vec::new();
        let mut sent = Vec::new();
        let mut carry_out =
            |from: usize,
             actions: Vec<Action>,
             links: &mut Vec<VecDeque<PartRows>>,
             done: &mut Vec<Option<(AlsModel, Vec<f64>)>>| {
                for action in actions {
                    match action {
                        Action::Send(rows) => {
                            sent.push((from, rows.half_step, rows.rows.fitted.len()));
                            for to in (0..parts).filter(|&to| to != from) {
                                links[from * parts + to].push_back(rows.clone());
                            }
                        }
                        Action::Progress(r) if from == 0 => progress.push(r),
                        Action::Progress(_) => {}
                        Action::Done { model, loss } => {
                            assert!(done[from].is_none(), "part {from} finished twice");
                            done[from] = Some((*model, loss));
                        }
                    }
                }
            };
        for part in 0..parts {
            let share = FitShare::new(&ratings, &params);
            let (peer, actions) =
                PeerFit::start(share, part, parts, p.max_iter, clock(part)).unwrap();
            assert_eq!(peer.part(), part);
            peers.push(peer);
            carry_out(part, actions, &mut links, &mut done);
        }
        loop {
            let busy: Vec<usize> = (0..links.len()).filter(|&l| !links[l].is_empty()).collect();
            if busy.is_empty() {
                break;
            }
            let l = busy[pick(busy.len()) % busy.len()];
            let rows = links[l].pop_front().unwrap();
            let to = l % parts;
            let actions = peers[to].receive(rows).unwrap();
            carry_out(to, actions, &mut links, &mut done);
        }
        let done = done
            .into_iter()
            .enumerate()
            .map(|(k, d)| d.unwrap_or_else(|| panic!("part {k} never finished")))
            .collect();
        let speeds = peers.iter().map(|p| p.speeds.clone()).collect();
        Outcome {
            done,
            progress,
            speeds,
            sent,
        }
    }

    /// What [`run`] saw.
    struct Outcome {
        /// Each peer's model and losses.
        done: Vec<(AlsModel, Vec<f64>)>,
        /// Part 0's progress reports.
        progress: Vec<IterationReport>,
        /// Each peer's speeds at the end.
        speeds: Vec<Vec<f64>>,
        /// (part, half-step, rows) of every part's rows sent.
        sent: Vec<(usize, usize, usize)>,
    }

    fn assert_same_model(got: &AlsModel, want: &AlsModel, what: &str) {
        for u in 0..want.n_users() as u32 {
            assert_eq!(got.user_factors(u), want.user_factors(u), "{what}");
            assert_eq!(got.user_bias(u), want.user_bias(u), "{what}");
        }
        for i in 0..want.n_items() as u32 {
            assert_eq!(got.item_factors(i), want.item_factors(i), "{what}");
            assert_eq!(got.item_bias(i), want.item_bias(i), "{what}");
        }
    }

    #[test]
    fn every_peer_ends_with_the_single_worker_model_whatever_the_delivery_order() {
        let ratings = ratings();
        for (max_iter, biases) in [(1, false), (3, false), (2, true)] {
            let p = params(max_iter, biases);
            let want = fit_on_threads(&ratings, &p.check().unwrap(), 1);
            for parts in [1, 2, 3, 4] {
                // Always the first busy link, always the last, and a seeded shuffle.
                let mut state = 12345u64;
                let orders: [Box<dyn FnMut(usize) -> usize>; 3] = [
                    Box::new(|_| 0),
                    Box::new(|n| n - 1),
                    Box::new(move |_| {
                        state = state
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        (state >> 33) as usize
                    }),
                ];
                for (o, order) in orders.into_iter().enumerate() {
                    let what =
                        format!("{parts} parts, order {o}, {max_iter} iterations, biases {biases}");
                    let Outcome {
                        done,
                        progress,
                        speeds,
                        ..
                    } = run(parts, &p, order, |k| jumpy_clock(k as u64));
                    if parts > 1 {
                        assert!(
                            speeds[0].iter().any(|&s| s != 1.0),
                            "{what}: the splits moved from equal shares"
                        );
                    }
                    assert!(speeds.iter().all(|s| s == &speeds[0]), "{what}: {speeds:?}");
                    assert_eq!(progress.len(), max_iter, "{what}");
                    for (k, r) in progress.iter().enumerate() {
                        assert_eq!((r.iteration, r.max_iter), (k + 1, max_iter), "{what}");
                    }
                    for (model, loss) in &done {
                        assert_same_model(model, &want, &what);
                        assert_eq!(loss, &done[0].1, "{what}: the peers disagree on the loss");
                        assert_eq!(
                            loss,
                            &progress.iter().map(|r| r.train_rmse).collect::<Vec<_>>(),
                            "{what}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_loss_is_the_single_worker_training_rmse() {
        let ratings = ratings();
        let p = params(3, false);
        let mut want = Vec::new();
        affinity_engine::als::fit_with_progress(&ratings, &p.check().unwrap(), |r| {
            want.push(r.train_rmse);
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        let done = run(3, &p, |n| n / 2, |k| jumpy_clock(k as u64)).done;
        for (a, b) in done[0].1.iter().zip(&want) {
            assert!((a - b).abs() < 1e-9, "{a} against {b}");
        }
    }

    #[test]
    fn a_part_that_solves_slower_gets_less_work() {
        // Part 1's solves take three times as long as part 0's for the same work: its clock
        // runs three times as fast.
        let steady = |rate: f64| -> Clock {
            let mut now = 0.0;
            Box::new(move || {
                now += rate;
                now
            })
        };
        let p = params(4, false);
        let out = run(2, &p, |_| 0, |k| steady(if k == 0 { 1.0 } else { 3.0 }));
        let want = fit_on_threads(&ratings(), &p.check().unwrap(), 1);
        assert_same_model(&out.done[1].0, &want, "uneven parts");
        let speeds = &out.speeds;
        assert_eq!(speeds[0], speeds[1]);
        assert!(speeds[0][0] > 1.2 && speeds[0][1] < 0.8, "{speeds:?}");
        // Part 0 solved more users in the last users' half-step than in the first.
        let users_of_part_0 = |half_step: usize| {
            out.sent
                .iter()
                .find(|&&(part, h, _)| part == 0 && h == half_step)
                .map(|&(_, _, n)| n)
                .unwrap()
        };
        assert!(users_of_part_0(7) > users_of_part_0(1), "{:?}", out.sent);
    }

    #[test]
    fn speeds_move_halfway_to_the_last_half_step() {
        let mut speeds = vec![1.0, 1.0];
        // Part 0 did twice the work in the same time: it is now 4/3 against 2/3 of the mean.
        rebalance(&mut speeds, &[2.0, 1.0], &[5.0, 5.0]);
        assert!((speeds[0] - 7.0 / 6.0).abs() < 1e-12 && (speeds[1] - 5.0 / 6.0).abs() < 1e-12);
        // Unknown or nil times and works change nothing.
        for (work, ms) in [
            ([2.0, 1.0], [f64::NAN, 5.0]),
            ([2.0, 0.0], [5.0, 5.0]),
            ([2.0, 1.0], [5.0, 0.0]),
        ] {
            let before = speeds.clone();
            rebalance(&mut speeds, &work, &ms);
            assert_eq!(speeds, before);
        }
        // A part that seems to stall keeps a quarter of the mean.
        let mut speeds = vec![1.0, 1.0, 1.0];
        for _ in 0..20 {
            rebalance(&mut speeds, &[1.0, 1.0, 1.0], &[1.0, 1.0, 1e9]);
        }
        assert_eq!(speeds[2], SPEED_RANGE.0, "{speeds:?}");
    }

    #[test]
    fn stray_rows_are_errors() {
        let ratings = ratings();
        let params = params(2, false).check().unwrap();
        let rows = |half_step: usize, part: usize, start: usize, n: usize| PartRows {
            half_step,
            part,
            n_rows: 9,
            rows: SideRows {
                start,
                factors: vec![0.0; n * 3],
                biases: vec![],
                fitted: vec![true; n],
            },
            squared_errors: None,
            solve_ms: 1.0,
        };
        let start = |part: usize| {
            PeerFit::start(FitShare::new(&ratings, &params), part, 2, 2, jumpy_clock(1))
                .unwrap()
                .0
        };
        assert!(PeerFit::start(FitShare::new(&ratings, &params), 2, 2, 2, jumpy_clock(1)).is_err());
        // Its own part, a part that does not exist, a half-step two ahead.
        assert!(start(0).receive(rows(0, 0, 0, 4)).is_err());
        assert!(start(0).receive(rows(0, 2, 4, 5)).is_err());
        assert!(start(0).receive(rows(2, 1, 4, 5)).is_err());
        // Part 1 solved the items from `split` on: part 0's rows must end there.
        let split = start(1).ranges[1].as_ref().unwrap().start;
        assert!(
            split >= 2,
            "the test needs part 0 to hold two items or more"
        );
        assert!(start(1).receive(rows(0, 0, 0, split - 1)).is_err(), "a gap");
        let mut peer = start(1);
        assert!(peer.receive(rows(0, 0, 0, split)).is_ok());
        assert_eq!(peer.half_step, 1, "the items' half-step is complete");
        assert!(
            peer.receive(rows(0, 0, 0, split)).is_err(),
            "a past half-step"
        );
    }
}
