//! `http::StatusCode`.

use http::StatusCode;

use crate::class::{Class, Classify};

impl Classify for StatusCode {
    /// 429 is [`Class::RateLimited`]; 503 and 529 (Anthropic's and others' "overloaded") are
    /// [`Class::Overloaded`]; 408, 504 and 524 (Cloudflare's origin timeout) are
    /// [`Class::Timeout`]; 501 and 505 are [`Class::Permanent`] (the server will never support
    /// the request); every other 5xx is [`Class::ServerError`]; everything else is
    /// [`Class::Permanent`].
    fn class(&self) -> Class {
        match self.as_u16() {
            429 => Class::RateLimited,
            503 | 529 => Class::Overloaded,
            408 | 504 | 524 => Class::Timeout,
            501 | 505 => Class::Permanent,
            500..=599 => Class::ServerError,
            _ => Class::Permanent,
        }
    }
}
