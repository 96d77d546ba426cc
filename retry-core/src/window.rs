//! Counts over a sliding window of time, in ten slots: what a retry budget and a circuit
//! breaker both need to know of "recently".

use std::time::Duration;

use tokio::time::Instant;

/// How many slots the window is cut into: it slides by a tenth of its length.
const SLOTS: usize = 10;

/// `K` counters per slot (calls and retries, calls and failures, ...).
#[derive(Debug)]
pub(crate) struct Window<const K: usize> {
    /// Set at the first count: a `static` cannot read a clock when it is built.
    origin: Option<Instant>,
    slots: [Slot<K>; SLOTS],
}

impl<const K: usize> Default for Window<K> {
    fn default() -> Self {
        Window::new()
    }
}

#[derive(Clone, Copy, Debug)]
struct Slot<const K: usize> {
    /// Which slot of time since `origin` this one counts; epochs start at 1, so that an
    /// untouched slot (epoch 0) is never current.
    epoch: u64,
    counts: [u64; K],
}

impl<const K: usize> Window<K> {
    /// An empty window, usable in a `static`.
    pub(crate) const fn new() -> Self {
        Window {
            origin: None,
            slots: [Slot {
                epoch: 0,
                counts: [0; K],
            }; SLOTS],
        }
    }

    /// Adds one to counter `which` now, in a window of `length`.
    pub(crate) fn add(&mut self, length: Duration, which: usize) {
        let epoch = self.epoch(length);
        let slot = &mut self.slots[(epoch % SLOTS as u64) as usize];
        if slot.epoch != epoch {
            *slot = Slot {
                epoch,
                counts: [0; K],
            };
        }
        slot.counts[which] += 1;
    }

    /// Every counter, summed over the slots still inside a window of `length` that ends now.
    pub(crate) fn totals(&mut self, length: Duration) -> [u64; K] {
        let epoch = self.epoch(length);
        let mut totals = [0; K];
        let live = self
            .slots
            .iter()
            .filter(|s| s.epoch != 0 && s.epoch + SLOTS as u64 > epoch);
        for slot in live {
            for (total, count) in totals.iter_mut().zip(slot.counts) {
                *total += count;
            }
        }
        totals
    }

    /// Forgets every count.
    pub(crate) fn clear(&mut self) {
        *self = Window::new();
    }

    fn epoch(&mut self, length: Duration) -> u64 {
        let now = Instant::now();
        let origin = *self.origin.get_or_insert(now);
        let slot_nanos = (length.as_nanos() / SLOTS as u128).max(1);
        (now.duration_since(origin).as_nanos() / slot_nanos) as u64 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn counts_slide_out_slot_by_slot() {
        let length = Duration::from_secs(10);
        let mut window = Window::<2>::new();
        window.add(length, 0);
        tokio::time::advance(Duration::from_secs(5)).await;
        window.add(length, 0);
        window.add(length, 1);
        assert_eq!(window.totals(length), [2, 1]);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(window.totals(length), [1, 1], "the first count is 10 s old");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(window.totals(length), [0, 0]);
        window.add(length, 1);
        window.clear();
        assert_eq!(window.totals(length), [0, 0]);
    }
}
