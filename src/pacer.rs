//! Pacing the training status on screen.
//!
//! Workers report every iteration of every fit; a cross-validation grid on u.data sends
//! about two hundred reports in three seconds. Redrawing the status line and progress bar for
//! each one kept the page's main thread busy (style, layout and paint of the page) for 40% of
//! the run, and on a two-core machine that time is taken from the workers. The pacer shows
//! the latest report at most once per interval; nothing shown is ever older than that.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// Shortest time between two reports shown, in ms: four redraws a second keep the bar
/// moving without costing the workers a measurable share of the machine.
pub const PACE_MS: f64 = 250.0;

/// What [`Pace::offer`] asks the caller to do.
#[derive(Debug, PartialEq)]
pub enum Offer<T> {
    /// Show this value now.
    Show(T),
    /// Call [`Pace::due`] after this many ms (no call is pending yet).
    CallBackIn(f64),
    /// Nothing: a call to [`Pace::due`] is already pending and will show the latest value.
    Wait,
}

/// The pacing rule, without the clock or the timer, so it can be tested natively.
#[derive(Debug)]
pub struct Pace<T> {
    interval_ms: f64,
    last_shown_ms: Option<f64>,
    pending: Option<T>,
    armed: bool,
}

impl<T> Pace<T> {
    /// A pace of at most one value per `interval_ms`.
    pub fn new(interval_ms: f64) -> Self {
        Self {
            interval_ms,
            last_shown_ms: None,
            pending: None,
            armed: false,
        }
    }

    /// A new value at time `now_ms`: shown at once if the last one shown is at least an
    /// interval old, else kept (replacing any older kept value) until [`Pace::due`].
    pub fn offer(&mut self, value: T, now_ms: f64) -> Offer<T> {
        let wait = self
            .last_shown_ms
            .map_or(0.0, |last| last + self.interval_ms - now_ms);
        if wait <= 0.0 && !self.armed {
            self.last_shown_ms = Some(now_ms);
            self.pending = None;
            return Offer::Show(value);
        }
        self.pending = Some(value);
        if self.armed {
            Offer::Wait
        } else {
            self.armed = true;
            Offer::CallBackIn(wait.max(0.0))
        }
    }

    /// The pending call back: the kept value, if any is left, to show now.
    pub fn due(&mut self, now_ms: f64) -> Option<T> {
        self.armed = false;
        let value = self.pending.take()?;
        self.last_shown_ms = Some(now_ms);
        Some(value)
    }

    /// Forgets the kept value (the run ended or was replaced; its last report must not
    /// overwrite what comes next). A pending call back then shows nothing.
    pub fn clear(&mut self) {
        self.pending = None;
    }

    /// Forgets the kept value and counts `now_ms` as the time of the last value shown: the
    /// caller has just drawn a new run's first status itself, so the run's first report
    /// waits an interval like any other.
    pub fn restart(&mut self, now_ms: f64) {
        self.pending = None;
        self.last_shown_ms = Some(now_ms);
    }
}

/// A [`Pace`] on the page's clock and timers, calling `show` with each value it lets
/// through.
pub struct Pacer<T: 'static> {
    pace: Rc<RefCell<Pace<T>>>,
    show: Rc<dyn Fn(T)>,
}

impl<T: 'static> Clone for Pacer<T> {
    fn clone(&self) -> Self {
        Self {
            pace: self.pace.clone(),
            show: self.show.clone(),
        }
    }
}

impl<T: 'static> Pacer<T> {
    /// A pacer of at most one value per `interval_ms`.
    pub fn new(interval_ms: f64, show: impl Fn(T) + 'static) -> Self {
        Self {
            pace: Rc::new(RefCell::new(Pace::new(interval_ms))),
            show: Rc::new(show),
        }
    }

    /// Shows `value` now or, if one was shown less than an interval ago, at the end of it
    /// (unless a newer value comes first, which is then shown instead).
    pub fn push(&self, value: T) {
        let offer = self.pace.borrow_mut().offer(value, js_sys::Date::now());
        match offer {
            Offer::Show(value) => (self.show)(value),
            Offer::CallBackIn(ms) => self.call_back_in(ms),
            Offer::Wait => {}
        }
    }

    /// Drops the value waiting to be shown, if any.
    pub fn clear(&self) {
        self.pace.borrow_mut().clear();
    }

    /// Drops the value waiting to be shown, if any, and holds the next one for an interval
    /// from now (see [`Pace::restart`]).
    pub fn restart(&self) {
        self.pace.borrow_mut().restart(js_sys::Date::now());
    }

    fn call_back_in(&self, ms: f64) {
        let this = self.clone();
        let due = Closure::once_into_js(move || {
            let value = this.pace.borrow_mut().due(js_sys::Date::now());
            if let Some(value) = value {
                (this.show)(value);
            }
        });
        let armed = web_sys::window().and_then(|w| {
            w.set_timeout_with_callback_and_timeout_and_arguments_0(
                due.unchecked_ref(),
                ms.ceil() as i32,
            )
            .ok()
        });
        if armed.is_none() {
            // No timer (no window): show the value now rather than never.
            if let Some(value) = self.pace.borrow_mut().due(js_sys::Date::now()) {
                (self.show)(value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Offer, Pace};

    #[test]
    fn the_first_value_is_shown_at_once() {
        let mut pace = Pace::new(250.0);
        assert_eq!(pace.offer(1, 1000.0), Offer::Show(1));
    }

    #[test]
    fn values_within_an_interval_wait_and_only_the_latest_is_shown() {
        let mut pace = Pace::new(250.0);
        assert_eq!(pace.offer(1, 1000.0), Offer::Show(1));
        assert_eq!(pace.offer(2, 1100.0), Offer::CallBackIn(150.0));
        assert_eq!(pace.offer(3, 1200.0), Offer::Wait);
        assert_eq!(pace.due(1250.0), Some(3));
        // The interval now runs from the call back.
        assert_eq!(pace.offer(4, 1300.0), Offer::CallBackIn(200.0));
        assert_eq!(pace.due(1500.0), Some(4));
    }

    #[test]
    fn a_value_after_a_quiet_interval_is_shown_at_once() {
        let mut pace = Pace::new(250.0);
        assert_eq!(pace.offer(1, 0.0), Offer::Show(1));
        assert_eq!(pace.offer(2, 250.0), Offer::Show(2));
        assert_eq!(pace.offer(3, 900.0), Offer::Show(3));
    }

    #[test]
    fn no_value_jumps_the_queue_while_a_call_back_is_pending() {
        let mut pace = Pace::new(250.0);
        assert_eq!(pace.offer(1, 0.0), Offer::Show(1));
        assert_eq!(pace.offer(2, 10.0), Offer::CallBackIn(240.0));
        // The timer is late; a newer value must not be shown before the pending one's turn.
        assert_eq!(pace.offer(3, 400.0), Offer::Wait);
        assert_eq!(pace.due(410.0), Some(3));
    }

    #[test]
    fn a_cleared_value_is_never_shown() {
        let mut pace = Pace::new(250.0);
        assert_eq!(pace.offer(1, 0.0), Offer::Show(1));
        assert_eq!(pace.offer(2, 10.0), Offer::CallBackIn(240.0));
        pace.clear();
        assert_eq!(pace.due(250.0), None);
        // The next call back is armed afresh.
        assert_eq!(pace.offer(5, 260.0), Offer::Show(5));
    }

    #[test]
    fn after_a_restart_the_first_value_waits_an_interval() {
        let mut pace = Pace::new(250.0);
        assert_eq!(pace.offer(1, 0.0), Offer::Show(1));
        assert_eq!(pace.offer(2, 10.0), Offer::CallBackIn(240.0));
        // A new run drawn at 2000, long after the last value shown: its first report, 20 ms
        // in, waits until 2250; the old run's kept value is gone.
        pace.restart(2000.0);
        assert_eq!(pace.due(2001.0), None);
        assert_eq!(pace.offer(3, 2020.0), Offer::CallBackIn(230.0));
        assert_eq!(pace.due(2250.0), Some(3));
    }
}
