//! Classifying an error by the first cause of a known type in its `source()` chain.

use std::error::Error as StdError;
use std::time::Duration;

use crate::class::{Class, Classify};

/// The class and hint of the first error in `error`'s chain (itself included) whose type this
/// crate can classify: `std::io::Error`, tokio's `Elapsed`, and with the `reqwest` feature
/// `reqwest::Error` and `reqwest_middleware::Error`. `None` if no cause is of such a type.
///
/// Used by `Classify for anyhow::Error`; call it for your own boxed errors too:
///
/// ```
/// use retry_core::{classify_chain, Class};
///
/// #[derive(Debug)]
/// struct Wrapper(std::io::Error);
/// impl std::fmt::Display for Wrapper {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("fetching the page")
///     }
/// }
/// impl std::error::Error for Wrapper {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         Some(&self.0)
///     }
/// }
///
/// let err = Wrapper(std::io::ErrorKind::ConnectionReset.into());
/// assert_eq!(classify_chain(&err).map(|(class, _)| class), Some(Class::Connect));
/// ```
pub fn classify_chain(error: &(dyn StdError + 'static)) -> Option<(Class, Option<Duration>)> {
    let mut cause = Some(error);
    while let Some(err) = cause {
        if let Some(found) = classify_one(err) {
            return Some(found);
        }
        cause = err.source();
    }
    None
}

fn of<E: Classify>(e: &E) -> (Class, Option<Duration>) {
    (e.class(), e.retry_after())
}

fn classify_one(err: &(dyn StdError + 'static)) -> Option<(Class, Option<Duration>)> {
    if let Some(e) = err.downcast_ref::<std::io::Error>() {
        // An io::Error may merely wrap a richer error (`io::Error::other(..)`); prefer that.
        if let Some(inner) = e.get_ref()
            && let Some(found) = classify_chain(inner)
        {
            return Some(found);
        }
        return Some(of(e));
    }
    if let Some(e) = err.downcast_ref::<tokio::time::error::Elapsed>() {
        return Some(of(e));
    }
    #[cfg(feature = "reqwest")]
    {
        if let Some(e) = err.downcast_ref::<reqwest::Error>() {
            return Some(of(e));
        }
        if let Some(e) = err.downcast_ref::<reqwest_middleware::Error>() {
            return Some(of(e));
        }
    }
    None
}
