//! `std::io::Error` and tokio's timeout.

use std::io::{Error, ErrorKind};

use crate::class::{Class, Classify};

impl Classify for Error {
    /// `TimedOut` is a [`Class::Timeout`]; a refused, reset or aborted connection is
    /// [`Class::Connect`]; anything else is [`Class::Permanent`].
    fn class(&self) -> Class {
        match self.kind() {
            ErrorKind::TimedOut => Class::Timeout,
            ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted => Class::Connect,
            _ => Class::Permanent,
        }
    }
}

impl Classify for tokio::time::error::Elapsed {
    /// Always [`Class::Timeout`].
    fn class(&self) -> Class {
        Class::Timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_classes() {
        let class = |kind: ErrorKind| Error::from(kind).class();
        assert_eq!(class(ErrorKind::TimedOut), Class::Timeout);
        assert_eq!(class(ErrorKind::ConnectionRefused), Class::Connect);
        assert_eq!(class(ErrorKind::ConnectionReset), Class::Connect);
        assert_eq!(class(ErrorKind::ConnectionAborted), Class::Connect);
        assert_eq!(class(ErrorKind::NotFound), Class::Permanent);
        assert_eq!(class(ErrorKind::PermissionDenied), Class::Permanent);
        assert_eq!(Error::from(ErrorKind::TimedOut).retry_after(), None);
    }
}
