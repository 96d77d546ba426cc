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
