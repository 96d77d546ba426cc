//! One counting store of the simulator's limiter, on tokio's clock: a bucket refilling
//! steadily, a fixed window, or a sliding log, and its state as the headers report it.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// A bucket of `capacity` units refilling `rate` units per second.
#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    /// Units back per second (a window's or a log's count per second).
    pub(crate) rate: f64,
    /// Units it holds when full.
    pub(crate) capacity: f64,
    /// Units it holds now.
    pub(crate) level: f64,
    last: Instant,
    /// A fixed window instead of a steady refill: its length, and when the current one
    /// started.
    window: Option<(f64, Instant)>,
    /// A sliding log instead: its length, and when each request it counts was taken.
    log: Option<(f64, VecDeque<Instant>)>,
}

impl Bucket {
    pub(crate) fn full(rate: f64, capacity: f64, now: Instant) -> Bucket {
        Bucket {
            rate,
            capacity,
            level: capacity,
            last: now,
            window: None,
            log: None,
        }
    }

    /// Counts per fixed window of `window` seconds from `now`: `rate x window` a window.
    pub(crate) fn windowed(rate: f64, window: f64, now: Instant) -> Bucket {
        Bucket {
            window: Some((window, now)),
            ..Bucket::full(rate, window_count(rate, window), now)
        }
    }

    /// Counts the requests of the last `length` seconds: `rate x length` of them.
    pub(crate) fn sliding(rate: f64, length: f64, now: Instant) -> Bucket {
        Bucket {
            log: Some((length, VecDeque::new())),
            ..Bucket::full(rate, window_count(rate, length), now)
        }
    }

    pub(crate) fn refill(&mut self, now: Instant) {
        if let Some((length, log)) = &mut self.log {
            let length = Duration::from_secs_f64(*length);
            while log
                .front()
                .is_some_and(|at| now.saturating_duration_since(*at) >= length)
            {
                log.pop_front();
            }
            self.level = self.capacity - log.len() as f64;
            self.last = now;
            return;
        }
        if let Some((length, start)) = &mut self.window {
            let elapsed = now.saturating_duration_since(*start).as_secs_f64();
            if elapsed >= *length {
                *start += Duration::from_secs_f64((elapsed / *length).floor() * *length);
                self.level = self.capacity;
            }
            self.last = now;
            return;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.level = (self.level + elapsed * self.rate).min(self.capacity);
        self.last = now;
    }

    /// Refills at the old rate until `now`, then refills at `rate` up to `capacity`, keeping
    /// what it holds (up to the new capacity).
    pub(crate) fn retarget(&mut self, now: Instant, rate: f64, capacity: f64) {
        self.refill(now);
        let length = (self.window.as_ref().map(|(length, _)| *length))
            .or(self.log.as_ref().map(|(length, _)| *length));
        let capacity = length.map_or(capacity, |length| window_count(rate, length));
        (self.rate, self.capacity) = (rate, capacity);
        self.level = match &self.log {
            Some((_, log)) => capacity - log.len() as f64,
            None => self.level.min(capacity),
        };
    }

    /// Takes `amount` (a sliding log takes one request at a time).
    pub(crate) fn take(&mut self, amount: f64) {
        self.level -= amount;
        if let Some((_, log)) = &mut self.log {
            log.push_back(self.last);
        }
    }

    /// A sliding log's count: seconds until its `nth` oldest request (from 0) is `length`
    /// old and leaves it, if there is one.
    fn leaves(&self, nth: usize) -> Option<f64> {
        let (length, log) = self.log.as_ref()?;
        let at = log.get(nth)?;
        let age = self.last.saturating_duration_since(*at).as_secs_f64();
        Some((length - age).max(0.0))
    }

    /// Seconds until the current window ends, if the bucket counts per window.
    fn window_left(&self) -> Option<f64> {
        let (length, start) = self.window?;
        let elapsed = self.last.saturating_duration_since(start).as_secs_f64();
        Some((length - elapsed).max(0.0))
    }

    /// Seconds until the bucket holds `amount`.
    pub(crate) fn wait_for(&self, amount: f64) -> f64 {
        if let Some((_, log)) = &self.log {
            // Room for one when all but `capacity - 1` of the requests counted have left.
            let over = (log.len() as f64 - self.capacity + amount).max(0.0) as usize;
            return over
                .checked_sub(1)
                .and_then(|nth| self.leaves(nth))
                .unwrap_or(0.0);
        }
        match self.window_left() {
            Some(left) if self.level < amount => left,
            Some(_) => 0.0,
            None => ((amount - self.level) / self.rate).max(0.0),
        }
    }

    pub(crate) fn level(&self) -> Level {
        // A window is full again when the next one starts, a log when its newest leaves.
        let reset = (self.window_left())
            .or_else(|| {
                self.log
                    .as_ref()
                    .map(|(_, log)| log.len())
                    .and_then(|n| n.checked_sub(1).and_then(|newest| self.leaves(newest)))
            })
            .unwrap_or(((self.capacity - self.level) / self.rate).max(0.0));
        let next_slot = match self.log {
            Some(_) => self.wait_for(1.0),
            // (A window's next slot is read as a bucket's: how this simulator always sent it.)
            None => ((1.0 - self.level) / self.rate).max(0.0),
        };
        Level {
            limit: self.capacity,
            rate: self.rate,
            remaining: self.level,
            reset,
            next_slot,
            oldest_leaves: self.leaves(0).unwrap_or(0.0),
        }
    }
}

/// What a fixed window of `length` seconds admits at `rate` a second: at least one.
fn window_count(rate: f64, length: f64) -> f64 {
    (rate * length).floor().max(1.0)
}

/// A bucket's state as the `x-*limit-*` headers report it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Level {
    /// What the bucket holds when full.
    pub(crate) limit: f64,
    /// What it refills per second.
    pub(crate) rate: f64,
    /// What it holds now (after this request's take, if it was taken).
    pub(crate) remaining: f64,
    /// Seconds until it is full again.
    pub(crate) reset: f64,
    /// Seconds until it holds one request (zero while it does).
    pub(crate) next_slot: f64,
    /// A sliding log's: seconds until the oldest request it counts leaves it (zero when it
    /// counts none, and for a bucket or a window).
    pub(crate) oldest_leaves: f64,
}
