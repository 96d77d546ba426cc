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
        self.get_or_insert_within(url, scope, usize::MAX, |_| make())
    }

    /// The state of `url`'s host in `scope`, made by `make` (given the scope it is made for) on
    /// first use; past `most` states of the host, a new scope gets the host's own (scope
    /// `None`) instead. One look under the lock, as this runs on every request.
    pub(crate) fn get_or_insert_within(
        &self,
        url: &Url,
        scope: Option<&str>,
        most: usize,
        make: impl FnOnce(Option<&str>) -> T,
    ) -> T {
        let mut list = self.lock();
        let (mut found, mut own, mut count) = (None, None, 0);
        for (origin, at, value) in list.iter() {
            if !origin.is(url) {
                continue;
            }
            count += 1;
            if at.as_deref() == scope {
                found = Some(value);
                break;
            }
            if at.is_none() {
                own = Some(value);
            }
        }
        let scope = match found {
            Some(value) => return value.clone(),
            None if scope.is_some() && count >= most => match own {
                Some(value) => return value.clone(),
                None => None,
            },
            None => scope,
        };
        let value = make(scope);
        list.push((Origin::of(url), scope.map(Into::into), value.clone()));
        value
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
        let within = |scope, value| hosts.get_or_insert_within(&url, Some(scope), 3, |_| value);
        assert_eq!(within("c", 5), 5, "a third scope of three");
        assert_eq!(within("d", 6), 6, "past three: the host's own, made");
        assert_eq!(within("e", 7), 6, "past three: the host's own, kept");
        assert_eq!(within("b", 8), 2, "one it has");
        assert_eq!(hosts.find(&url, Some("d")), None);
    }
}
