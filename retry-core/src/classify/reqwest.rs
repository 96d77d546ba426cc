//! `reqwest::Error` and `reqwest_middleware::Error` (feature `reqwest`).

use std::error::Error as StdError;
use std::time::Duration;

use crate::class::{Class, Classify};
use crate::classify::classify_chain;

impl Classify for reqwest::Error {
    /// A timeout is [`Class::Timeout`]; a failed connect, or a connection closed or reset
    /// before the response was complete (its body included), is [`Class::Connect`]; an error
    /// from `error_for_status` has its status's class; the rest (a bad URL, a redirect loop, a
    /// body that does not decode) is [`Class::Permanent`].
    fn class(&self) -> Class {
        if self.is_timeout() {
            return Class::Timeout;
        }
        if self.is_connect() {
            return Class::Connect;
        }
        if let Some(status) = self.status() {
            return status.class();
        }
        if self.is_builder() || self.is_redirect() {
            return Class::Permanent;
        }
        // Not `is_decode` here: reqwest reports a body cut short by the connection
        // (`bytes()`, `text()`, `json()`) as a decode error, whose cause is the transport's.
        // A body that really does not decode has no transport cause, so stays permanent.
        transport_class(self).unwrap_or(Class::Permanent)
    }
}

/// The class of a transport failure below reqwest, found in its cause chain: the same signals
/// reqwest-retry reads (hyper's incomplete-message and cancelled errors, an `io::Error` for a
/// reset or aborted connection), so both crates agree on what a dropped connection is.
fn transport_class(err: &reqwest::Error) -> Option<Class> {
    let mut cause: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(match io.kind() {
                // A connection that closed mid-body or mid-write was cut, not refused by policy.
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::BrokenPipe => {
                    Class::Connect
                }
                _ => io.class(),
            });
        }
        if let Some(hyper) = e.downcast_ref::<hyper::Error>() {
            if hyper.is_incomplete_message() || hyper.is_canceled() || hyper.is_closed() {
                return Some(Class::Connect);
            }
            if hyper.is_timeout() {
                return Some(Class::Timeout);
            }
        }
        cause = e.source();
    }
    None
}

impl Classify for reqwest_middleware::Error {
    /// A reqwest error is classified as such; a middleware's error by the first classifiable
    /// cause in its chain, [`Class::Permanent`] when none is.
    fn class(&self) -> Class {
        match self {
            reqwest_middleware::Error::Reqwest(e) => e.class(),
            reqwest_middleware::Error::Middleware(e) => {
                classify_chain(e.as_ref()).map_or(Class::Permanent, |(class, _)| class)
            }
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            reqwest_middleware::Error::Reqwest(e) => e.retry_after(),
            reqwest_middleware::Error::Middleware(e) => {
                classify_chain(e.as_ref()).and_then(|(_, hint)| hint)
            }
        }
    }
}
