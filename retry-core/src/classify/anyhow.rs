//! `anyhow::Error` (feature `anyhow`).

use std::time::Duration;

use crate::class::{Class, Classify};
use crate::classify::classify_chain;

impl Classify for anyhow::Error {
    /// The class of the first cause in the chain this crate can classify (see
    /// [`classify_chain`]); [`Class::Permanent`] when there is none.
    fn class(&self) -> Class {
        classify_chain(self.as_ref()).map_or(Class::Permanent, |(class, _)| class)
    }

    fn retry_after(&self) -> Option<Duration> {
        classify_chain(self.as_ref()).and_then(|(_, hint)| hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_classifiable_cause() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err = anyhow::Error::new(io)
            .context("calling the API")
            .context("summarising");
        assert_eq!(err.class(), Class::Connect);
        assert_eq!(anyhow::anyhow!("no cause").class(), Class::Permanent);
    }
}
