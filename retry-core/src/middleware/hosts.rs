//! [`PerHost`]: state kept per `scheme://host:port` (and, for the limiter, per model), shared
//! by the limiter and the breaker.

use std::sync::{Mutex, MutexGuard, PoisonError};

use reqwest::Url;

/// One `T` per host, by scheme, host and port (two ports of one machine are two hosts), and
/// per scope within a host (the limiter's: the model a request names; the breaker has none).
///
/// A short list, found by comparing a URL's parts in place: these layers are meant for the
/// few APIs a client talks to, and that costs less per request than formatting a
/// `scheme://host:port` key and hashing it.
#[derive(Debug)]
pub(crate) struct PerHost<T> {
    list: Mutex<Vec<Entry<T>>>,
}

/// A host, a scope within it (if any), and its state.
type Entry<T> = (Origin, Option<Box<str>>, T);

impl<T> Default for PerHost<T> {
    fn default() -> Self {
        PerHost {
            list: Mutex::default(),
        }
    }
}

/// The parts of `scheme://host:port` that tell two hosts apart.
#[derive(Debug)]
struct Origin {
    scheme: Box<str>,
    host: Box<str>,
    port: u16,
}

impl Origin {
    fn of(url: &Url) -> Self {
        Origin {
            scheme: url.scheme().into(),
            host: url.host_str().unwrap_or_default().into(),
            port: url.port_or_known_default().unwrap_or_default(),
        }
    }

    fn is(&self, url: &Url) -> bool {
        self.port == url.port_or_known_default().unwrap_or_default()
            && *self.host == *url.host_str().unwrap_or_default()
            && *self.scheme == *url.scheme()
    }
}

impl<T: Clone> PerHost<T> {
    fn lock(&self) -> MutexGuard<'_, Vec<Entry<T>>> {
        // Every update is a single push: a panic elsewhere cannot leave the list half made.
        self.list.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state of `url`'s host in `scope`, made by `make` on first use.
    pub(crate) fn get_or_insert_with(
        &self,
        url: &Url,
        scope: Option<&str>,
        make: impl FnOnce() -> T,
    ) -> T {
        let mut list = self.lock();
        let found = list
            .iter()
            .find(|(origin, at, _)| at.as_deref() == scope && origin.is(url));
        if let Some((_, _, value)) = found {
            return value.clone();
        }
        let value = make();
        list.push((Origin::of(url), scope.map(Into::into), value.clone()));
        value
    }

    /// Whether `url`'s host has a state in `scope`, or fewer than `most` scopes in all (so one
    /// for `scope` may be made).
    pub(crate) fn has_room(&self, url: &Url, scope: Option<&str>, most: usize) -> bool {
        let list = self.lock();
        let mut count = 0;
        for (_, at, _) in list.iter().filter(|(origin, _, _)| origin.is(url)) {
            if at.as_deref() == scope {
                return true;
            }
            count += 1;
        }
        count < most
    }

    /// The states of `url`'s host, in every scope made so far.
    pub(crate) fn all(&self, url: &Url) -> Vec<T> {
        let list = self.lock();
        list.iter()
            .filter(|(origin, _, _)| origin.is(url))
            .map(|(_, _, value)| value.clone())
            .collect()
    }

    /// The state of `url`'s host in `scope`, if it has been made.
    pub(crate) fn find(&self, url: &Url, scope: Option<&str>) -> Option<T> {
        let list = self.lock();
        list.iter()
            .find(|(origin, at, _)| at.as_deref() == scope && origin.is(url))
            .map(|(_, _, value)| value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_of_one_host_are_apart_and_bounded() {
        let hosts = PerHost::<u32>::default();
        let url = Url::parse("https://api.together.ai/v1/chat/completions").unwrap();
        let other = Url::parse("https://api.together.ai:8443/v1/chat/completions").unwrap();
        assert_eq!(hosts.get_or_insert_with(&url, Some("a"), || 1), 1);
        assert_eq!(hosts.get_or_insert_with(&url, Some("b"), || 2), 2);
        assert_eq!(hosts.get_or_insert_with(&url, Some("a"), || 3), 1, "kept");
        assert_eq!(hosts.get_or_insert_with(&other, Some("a"), || 4), 4);
        assert_eq!(hosts.find(&url, None), None);
        assert_eq!(hosts.all(&url), [1, 2]);
        assert!(hosts.has_room(&url, Some("c"), 3));
        assert!(!hosts.has_room(&url, Some("c"), 2), "two scopes of two");
        assert!(hosts.has_room(&url, Some("b"), 2), "one it has");
    }
}
