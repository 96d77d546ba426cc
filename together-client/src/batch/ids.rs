//! The custom ids a run has seen, and the state the output holds for each, kept as 64-bit
//! hashes.
//!
//! Resuming and de-duplicating need to remember every id, so this is the one thing in a batch
//! run that grows with the file: a hash (8 bytes, about 24 with the table's overhead) rather
//! than the id itself keeps that to a few megabytes for a million lines. Two distinct ids
//! sharing a SipHash-1-3 value among a million has a probability near 3e-8.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};

/// Custom ids, by hash.
#[derive(Default)]
pub(crate) struct IdSet {
    hashes: HashSet<u64>,
    /// One hashing key for the set's life, so an id hashes the same way each time.
    state: RandomState,
}

impl IdSet {
    /// Adds `id`; `false` if it was there already.
    pub(crate) fn insert(&mut self, id: &str) -> bool {
        let hash = self.state.hash_one(id);
        self.hashes.insert(hash)
    }
}

/// The state of an id in an output file: what its last line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Last {
    /// A `response` line.
    Answered,
    /// An `error` line not marked retryable (a bad request, an invalid input line).
    Final,
    /// An `error` line marked `"retryable": true`: `--retry-failed` runs it again.
    Retryable,
}

/// Custom ids with the state of each, by hash.
#[derive(Default)]
pub(crate) struct IdStates {
    states: HashMap<u64, Last>,
    state: RandomState,
}

impl IdStates {
    /// Sets the state of `id` (a later line for an id replaces what an earlier one said).
    pub(crate) fn set(&mut self, id: &str, last: Last) {
        self.states.insert(self.state.hash_one(id), last);
    }

    /// The state of `id`, if the output has a line for it.
    pub(crate) fn get(&self, id: &str) -> Option<Last> {
        self.states.get(&self.state.hash_one(id)).copied()
    }
}
