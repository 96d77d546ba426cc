//! The burst licence: how many requests may go back to back, ahead of the pace, on what the
//! headers have shown of the server's bucket (see the parent module's overview).

use super::Evidence;

/// The first burst licence, before any evidence.
pub(crate) const FIRST_LICENCE: u32 = 4;

impl Evidence {
    /// How many requests may go back to back: 1 until the headers report a bucket.
    pub(crate) fn burst(&self) -> u32 {
        let (Some(limit), Some(max)) = (self.limit, self.max_remaining) else {
            return 1;
        };
        if self.remaining_lies || self.tokens_bind {
            return 1;
        }
        if self.per_minute {
            // A budget per minute says nothing of the shorter window it is enforced over: the
            // licence alone finds that window's room, up to one second's worth of the budget.
            let second = u32::try_from(limit / 60).unwrap_or(u32::MAX);
            return self.licence.min(second).max(1);
        }
        let seen = u32::try_from(max.saturating_add(1).min(limit)).unwrap_or(u32::MAX);
        self.licence.min(seen).max(1)
    }

    /// No request goes ahead of the pace for now (see `super::super::crowd::FirstAnswers`):
    /// the licence is back to one, free to grow again.
    pub(crate) fn hold_licence(&mut self) {
        self.licence = 1;
    }

    /// The licence a start without evidence gets, unless it has grown or been cut since.
    pub(crate) fn give_licence(&mut self) {
        if !self.licence_capped {
            self.licence = self.licence.max(FIRST_LICENCE);
        }
    }

    /// The answer to a request the burst licence let go ahead of the pace.
    pub(crate) fn burst_outcome(&mut self, taken: bool) {
        if taken {
            if !self.licence_capped {
                // One more per request taken early: the licence doubles per burst that went
                // through whole, as TCP's window does per round trip in slow start.
                // On a per-minute budget nothing caps the licence at the bucket behind it: one
                // more per two taken early (x1.5 per burst) overshoots that bucket by less.
                self.taken_early = self.taken_early.wrapping_add(1);
                if !self.per_minute || self.taken_early.is_multiple_of(2) {
                    self.licence = self.licence.saturating_add(1).min(1 << 20);
                }
            }
        } else {
            self.licence = (self.burst() / 2).max(1);
            self.licence_capped = true;
        }
    }

    /// How many requests the schedule may send back to back, if the headers give a reason to
    /// send any: a bucket they report, or a per-minute budget (whose licence finds the room
    /// of the window it is enforced over).
    pub(crate) fn licensed(&self) -> Option<u32> {
        let per_minute = self.per_minute && self.limit.is_some();
        (self.reports_bucket() || per_minute).then(|| self.burst())
    }

    /// Whether the headers report a bucket to count `remaining` against.
    pub(crate) fn reports_bucket(&self) -> bool {
        self.limit.is_some()
            && self.max_remaining.is_some()
            && !self.remaining_lies
            && !self.per_minute
    }
}
