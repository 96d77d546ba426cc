//! The set of custom ids a run has seen, kept as 64-bit hashes.
//!
//! Resuming and de-duplicating need to remember every id, so this is the one thing in a batch
//! run that grows with the file: a hash (8 bytes, about 24 with the table's overhead) rather
//! than the id itself keeps that to a few megabytes for a million lines. Two distinct ids
//! sharing a SipHash-1-3 value among a million has a probability near 3e-8.

use std::collections::HashSet;
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

    /// Whether `id` is in the set.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.hashes.contains(&self.state.hash_one(id))
    }
}
