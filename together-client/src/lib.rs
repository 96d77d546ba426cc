//! A thin typed Together AI client built on `retry-core` (work in progress: see the issues).
