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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_status_has_its_class() {
        let cases = [
            (429, Class::RateLimited),
            (503, Class::Overloaded),
            (529, Class::Overloaded),
            (408, Class::Timeout),
            (504, Class::Timeout),
            (524, Class::Timeout),
            (500, Class::ServerError),
            (502, Class::ServerError),
            (507, Class::ServerError),
            (599, Class::ServerError),
            (501, Class::Permanent),
            (505, Class::Permanent),
            (200, Class::Permanent),
            (301, Class::Permanent),
            (400, Class::Permanent),
            (401, Class::Permanent),
            (402, Class::Permanent),
            (403, Class::Permanent),
            (404, Class::Permanent),
            (409, Class::Permanent),
            (422, Class::Permanent),
        ];
        for (code, class) in cases {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(status.class(), class, "{code}");
        }
    }
}
