//! `#[retry]` at run time on every shape of function it accepts: sync fns, `&mut` and owned
//! arguments, methods, generics, trait impls, `Send` futures, `Result` aliases, `return` and `?`.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::{Fail, Opaque, bump, ms};
use retry_core::{Class, Classify, Policy, retry};

// ---- Sync functions ----------------------------------------------------------------------

#[retry(attempts = 3, backoff = "constant", initial = "1ms", jitter = "none")]
fn sync_flaky(calls: &Cell<u32>, ok_on: u32, class: Class) -> Result<u32, Fail> {
    calls.set(calls.get() + 1);
    if calls.get() < ok_on {
        Err(Fail::new(class, calls.get()))
    } else {
        Ok(calls.get())
    }
}

#[test]
fn sync_functions_are_retried_with_real_sleeps() {
    let calls = Cell::new(0);
    let start = std::time::Instant::now();
    assert_eq!(sync_flaky(&calls, 3, Class::Connect), Ok(3));
    assert!(start.elapsed() >= ms(2));
    assert!(start.elapsed() < ms(500));

    let calls = Cell::new(0);
    assert_eq!(
        sync_flaky(&calls, 99, Class::Connect),
        Err(Fail::new(Class::Connect, 3))
    );
    assert_eq!(calls.get(), 3);

    let calls = Cell::new(0);
    assert_eq!(
        sync_flaky(&calls, 99, Class::Permanent),
        Err(Fail::new(Class::Permanent, 1))
    );
    assert_eq!(calls.get(), 1);
}

#[retry(on = "any", attempts = 4, initial = "1ms")]
fn sync_body_with_return_and_question_mark(calls: &Cell<u32>) -> std::io::Result<&'static str> {
    calls.set(calls.get() + 1);
    if calls.get() == 4 {
        return Ok("early");
    }
    let _text = std::fs::read_to_string("/nonexistent/retry-core/test")?;
    Ok("unreachable")
}

#[test]
fn sync_return_and_question_mark_end_the_attempt_not_the_call() {
    let calls = Cell::new(0);
    assert_eq!(
        sync_body_with_return_and_question_mark(&calls).unwrap(),
        "early"
    );
    assert_eq!(calls.get(), 4);
}

// ---- Arguments by reference -----------------------------------------------------------------

#[retry(attempts = 3, initial = "10ms")]
async fn fill(buf: &mut Vec<u8>, text: &str, suffix: String) -> Result<usize, Fail> {
    buf.push(buf.len() as u8);
    if buf.len() < 3 {
        return Err(Fail::new(Class::RateLimited, buf.len() as u32));
    }
    Ok(text.len() + suffix.len())
}

#[retry(attempts = 2, initial = "10ms")]
async fn moves_its_reborrow(mut buf: &mut Vec<u8>) -> Result<(), Fail> {
    // The body may move the `&mut` it gets: each attempt gets a fresh reborrow.
    let taken: &mut Vec<u8> = buf;
    taken.push(7);
    buf = taken;
    Err(Fail::new(Class::Connect, buf.len() as u32))
}

#[tokio::test(start_paused = true)]
async fn every_attempt_sees_the_same_mutable_argument() {
    let mut buf = Vec::new();
    assert_eq!(fill(&mut buf, "ab", "cd".to_owned()).await, Ok(4));
    assert_eq!(buf, [0, 1, 2]);

    let mut buf = Vec::new();
    assert_eq!(
        moves_its_reborrow(&mut buf).await,
        Err(Fail::new(Class::Connect, 2))
    );
    assert_eq!(buf, [7, 7]);
}

// ---- Methods, generics, traits ------------------------------------------------------------

struct Client {
    calls: AtomicU32,
    name: String,
    log: Vec<u32>,
}

impl Client {
    fn new() -> Self {
        Client {
            calls: AtomicU32::new(0),
            name: "client".to_owned(),
            log: Vec::new(),
        }
    }

    #[retry(attempts = 3, initial = "10ms")]
    async fn by_ref(&self) -> Result<&str, Fail> {
        let n = bump(&self.calls);
        if n < 3 {
            Err(Fail::new(Class::Overloaded, n))
        } else {
            Ok(self.name.as_str())
        }
    }

    #[retry(attempts = 3, initial = "10ms")]
    async fn by_mut(&mut self, value: u32) -> Result<usize, Fail> {
        self.log.push(value);
        if self.log.len() < 3 {
            Err(Fail::new(Class::Overloaded, self.log.len() as u32))
        } else {
            Ok(self.log.len())
        }
    }

    #[retry(attempts = 2, initial = "1ms")]
    fn sync_by_mut(&mut self, buf: &mut Vec<u32>) -> Result<usize, Fail> {
        buf.push(bump(&self.calls));
        self.log.push(0);
        if buf.len() < 2 {
            Err(Fail::new(Class::Connect, 1))
        } else {
            Ok(buf.len())
        }
    }
}

impl Client {
    #[retry(on = "any", policy = Policy::constant().attempts(3).initial(ms(1)))]
    fn sync_policy(&self) -> std::io::Result<u32> {
        let n = bump(&self.calls);
        let _ = std::fs::read("/nonexistent/retry-core/test")?;
        Ok(n)
    }
}

#[test]
fn a_sync_method_with_a_runtime_policy() {
    let client = Client::new();
    let err = client.sync_policy().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(client.calls.load(Ordering::Relaxed), 3);
}

#[tokio::test(start_paused = true)]
async fn methods_with_shared_and_exclusive_self() {
    let client = Client::new();
    assert_eq!(client.by_ref().await, Ok("client"));
    assert_eq!(client.calls.load(Ordering::Relaxed), 3);

    let mut client = Client::new();
    assert_eq!(client.by_mut(7).await, Ok(3));
    assert_eq!(client.log, [7, 7, 7]);

    let mut client = Client::new();
    let mut buf = Vec::new();
    assert_eq!(client.sync_by_mut(&mut buf), Ok(2));
    assert_eq!(buf, [1, 2]);
    assert_eq!(client.log.len(), 2);
}

#[retry(attempts = 3, initial = "10ms")]
async fn generic<T: Clone + PartialEq, E: Classify + Clone>(
    value: T,
    errors: &Mutex<Vec<E>>,
) -> Result<T, E> {
    match errors.lock().unwrap().pop() {
        Some(e) => Err(e),
        None => Ok(value),
    }
}

#[retry(on = "any", attempts = 3, initial = "10ms")]
async fn generic_unclassified<E: std::fmt::Debug>(errors: &Mutex<Vec<E>>) -> Result<u8, E> {
    match errors.lock().unwrap().pop() {
        Some(e) => Err(e),
        None => Ok(1),
    }
}

#[retry(attempts = 2, initial = "1ms")]
fn generic_sync<'a, S: AsRef<str> + ?Sized>(
    text: &'a S,
    fail: &Cell<bool>,
) -> Result<&'a str, Fail> {
    if fail.replace(false) {
        Err(Fail::new(Class::Timeout, 1))
    } else {
        Ok(text.as_ref())
    }
}

#[tokio::test(start_paused = true)]
async fn generic_functions() {
    let errors = Mutex::new(vec![
        Fail::new(Class::Connect, 2),
        Fail::new(Class::Timeout, 1),
    ]);
    assert_eq!(generic(vec![1, 2], &errors).await, Ok(vec![1, 2]));
    assert!(errors.lock().unwrap().is_empty());

    let errors = Mutex::new(vec![Fail::new(Class::Permanent, 1)]);
    assert_eq!(
        generic("x".to_owned(), &errors).await,
        Err(Fail::new(Class::Permanent, 1))
    );

    let errors = Mutex::new(vec![Opaque(1), Opaque(2)]);
    assert_eq!(generic_unclassified(&errors).await, Ok(1));
    let errors = Mutex::new(vec![Opaque(1), Opaque(2), Opaque(3)]);
    assert_eq!(generic_unclassified(&errors).await, Err(Opaque(1)));

    assert_eq!(generic_sync("abc", &Cell::new(true)), Ok("abc"));
    assert_eq!(
        generic_sync(&"def".to_owned(), &Cell::new(false)),
        Ok("def")
    );
}

trait Store {
    async fn get(&self, key: &str) -> Result<String, Fail>;
    fn put(&self, key: &str) -> Result<(), Fail>;
}

struct Flaky {
    calls: AtomicU32,
}

impl Store for Flaky {
    #[retry(attempts = 3, initial = "10ms")]
    async fn get(&self, key: &str) -> Result<String, Fail> {
        let n = bump(&self.calls);
        if n < 3 {
            return Err(Fail::new(Class::ServerError, n));
        }
        Ok(format!("{key}={n}"))
    }

    #[retry(attempts = 2, initial = "1ms")]
    fn put(&self, _key: &str) -> Result<(), Fail> {
        Err(Fail::new(Class::ServerError, bump(&self.calls)))
    }
}

#[tokio::test(start_paused = true)]
async fn async_and_sync_fns_in_trait_impls() {
    let store = Flaky {
        calls: AtomicU32::new(0),
    };
    assert_eq!(store.get("k").await, Ok("k=3".to_owned()));
    assert_eq!(store.put("k"), Err(Fail::new(Class::ServerError, 5)));
}

// ---- Send futures ------------------------------------------------------------------------

#[retry(attempts = 3, initial = "10ms")]
async fn shared(counter: Arc<AtomicU32>, label: String) -> Result<String, Fail> {
    let n = bump(&counter);
    // Hold a `Send` value across an await, as real bodies do.
    let text = format!("{label}-{n}");
    tokio::task::yield_now().await;
    if n < 2 {
        Err(Fail::new(Class::Connect, n))
    } else {
        Ok(text)
    }
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_annotated_fn_can_be_spawned() {
    let counter = Arc::new(AtomicU32::new(0));
    let task = tokio::spawn(assert_send(shared(counter.clone(), "job".to_owned())));
    assert_eq!(task.await.unwrap(), Ok("job-2".to_owned()));
    assert_eq!(counter.load(Ordering::Relaxed), 2);

    let client = Arc::new(Client::new());
    let task = tokio::spawn(async move { client.by_ref().await.map(str::to_owned) });
    assert_eq!(task.await.unwrap(), Ok("client".to_owned()));
}

// ---- Result aliases, `return` and `?` -----------------------------------------------------

#[retry(on = "connect", attempts = 3, initial = "10ms")]
async fn io_alias(calls: &AtomicU32) -> std::io::Result<u32> {
    let n = bump(calls);
    if n < 3 {
        return Err(std::io::ErrorKind::ConnectionRefused.into());
    }
    Ok(n)
}

#[retry(on = "any", attempts = 3, initial = "10ms")]
async fn anyhow_any(calls: &AtomicU32) -> anyhow::Result<u32> {
    let n = bump(calls);
    anyhow::ensure!(n >= 2, "not yet ({n})");
    Ok(n)
}

#[cfg(feature = "anyhow")]
#[retry(attempts = 3, initial = "10ms")]
async fn anyhow_classified(calls: &AtomicU32) -> anyhow::Result<u32> {
    let n = bump(calls);
    let io = std::io::Error::from(if n == 1 {
        std::io::ErrorKind::ConnectionReset
    } else {
        std::io::ErrorKind::NotFound
    });
    Err(anyhow::Error::new(io).context("calling the service"))
}

#[tokio::test(start_paused = true)]
async fn result_aliases() {
    let calls = AtomicU32::new(0);
    assert_eq!(io_alias(&calls).await.unwrap(), 3);
    let calls = AtomicU32::new(0);
    assert_eq!(anyhow_any(&calls).await.unwrap(), 2);
    #[cfg(feature = "anyhow")]
    {
        // Connect (retried), then NotFound (permanent) through the context chain.
        let calls = AtomicU32::new(0);
        let err = anyhow_classified(&calls).await.unwrap_err();
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        assert_eq!(
            err.downcast_ref::<std::io::Error>().map(|e| e.kind()),
            Some(std::io::ErrorKind::NotFound)
        );
    }
}

#[derive(Debug)]
enum AppError {
    Io(std::io::Error),
    Parse(#[allow(dead_code)] std::num::ParseIntError),
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::Io(e)
    }
}
impl From<std::num::ParseIntError> for AppError {
    fn from(e: std::num::ParseIntError) -> Self {
        AppError::Parse(e)
    }
}
impl Classify for AppError {
    fn class(&self) -> Class {
        match self {
            AppError::Io(e) => e.class(),
            AppError::Parse(_) => Class::Permanent,
        }
    }
}

#[retry(attempts = 5, initial = "10ms")]
async fn question_mark(
    inputs: &Mutex<Vec<Result<&'static str, std::io::ErrorKind>>>,
) -> Result<u32, AppError> {
    let next = inputs.lock().unwrap().pop().expect("an input per attempt");
    let text = next.map_err(std::io::Error::from)?;
    if text == "early" {
        return Ok(0);
    }
    let value: u32 = text.parse()?;
    Ok(value)
}

#[tokio::test(start_paused = true)]
async fn return_and_question_mark_end_the_attempt_not_the_call() {
    use std::io::ErrorKind::{ConnectionReset, TimedOut};
    // Popped from the end: two retried I/O errors, then a value.
    let inputs = Mutex::new(vec![Ok("42"), Err(TimedOut), Err(ConnectionReset)]);
    assert_eq!(question_mark(&inputs).await.unwrap(), 42);
    assert!(inputs.lock().unwrap().is_empty());

    let inputs = Mutex::new(vec![Ok("unused"), Ok("early"), Err(ConnectionReset)]);
    assert_eq!(question_mark(&inputs).await.unwrap(), 0);
    assert_eq!(inputs.lock().unwrap().len(), 1);

    // A parse error is permanent: not retried.
    let inputs = Mutex::new(vec![Ok("unused"), Ok("x"), Err(TimedOut)]);
    assert!(matches!(
        question_mark(&inputs).await,
        Err(AppError::Parse(_))
    ));
    assert_eq!(inputs.lock().unwrap().len(), 1);
}

// ---- Owned arguments ---------------------------------------------------------------------

/// Counts its clones, and knows whether it is the original.
#[derive(Debug)]
struct Counted {
    clones: Arc<AtomicU32>,
    original: bool,
}

impl Counted {
    fn new() -> (Self, Arc<AtomicU32>) {
        let clones = Arc::new(AtomicU32::new(0));
        let value = Counted {
            clones: clones.clone(),
            original: true,
        };
        (value, clones)
    }
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, Ordering::Relaxed);
        Counted {
            clones: self.clones.clone(),
            original: false,
        }
    }
}

#[retry(attempts = 3, initial = "10ms")]
async fn owned(arg: Counted, seen: &Mutex<Vec<bool>>, ok_on: u32) -> Result<(), Fail> {
    let mut seen = seen.lock().unwrap();
    seen.push(arg.original);
    let n = seen.len() as u32;
    if n < ok_on {
        Err(Fail::new(Class::Connect, n))
    } else {
        Ok(())
    }
}

#[retry(attempts = 5, initial = "10ms")]
async fn owned_five(arg: Counted, seen: &Mutex<Vec<bool>>) -> Result<(), Fail> {
    seen.lock().unwrap().push(arg.original);
    Ok(())
}

#[retry(attempts = 1)]
async fn owned_once(arg: Counted) -> Result<bool, Fail> {
    Ok(arg.original)
}

#[retry(attempts = 3, initial = "1ms")]
fn owned_sync(mut arg: Counted, seen: &Mutex<Vec<bool>>) -> Result<(), Fail> {
    seen.lock().unwrap().push(arg.original);
    arg.original = false; // a `mut` binding is the attempt's own
    Err(Fail::new(Class::Connect, 0))
}

#[retry(attempts = 3, initial = "10ms")]
async fn owned_pattern((a, b): (Counted, u32), seen: &Mutex<Vec<bool>>) -> Result<u32, Fail> {
    seen.lock().unwrap().push(a.original);
    Err(Fail::new(Class::Connect, b))
}

#[tokio::test(start_paused = true)]
async fn owned_arguments_are_cloned_for_every_attempt_but_the_last() {
    // Three failed attempts: two clones, and the original for the last.
    let (arg, clones) = Counted::new();
    let seen = Mutex::new(Vec::new());
    owned(arg, &seen, 99).await.unwrap_err();
    assert_eq!(clones.load(Ordering::Relaxed), 2);
    assert_eq!(*seen.lock().unwrap(), [false, false, true]);

    // Success on the third of three: the same.
    let (arg, clones) = Counted::new();
    let seen = Mutex::new(Vec::new());
    owned(arg, &seen, 3).await.unwrap();
    assert_eq!(clones.load(Ordering::Relaxed), 2);
    assert_eq!(*seen.lock().unwrap(), [false, false, true]);

    // Success at once out of five: one clone (the first attempt cannot know it is the last).
    let (arg, clones) = Counted::new();
    let seen = Mutex::new(Vec::new());
    owned_five(arg, &seen).await.unwrap();
    assert_eq!(clones.load(Ordering::Relaxed), 1);
    assert_eq!(*seen.lock().unwrap(), [false]);

    // A single attempt gets the original: no clone at all.
    let (arg, clones) = Counted::new();
    assert_eq!(owned_once(arg).await, Ok(true));
    assert_eq!(clones.load(Ordering::Relaxed), 0);

    let (arg, clones) = Counted::new();
    let seen = Mutex::new(Vec::new());
    owned_sync(arg, &seen).unwrap_err();
    assert_eq!(clones.load(Ordering::Relaxed), 2);
    assert_eq!(*seen.lock().unwrap(), [false, false, true]);

    let (arg, clones) = Counted::new();
    let seen = Mutex::new(Vec::new());
    assert_eq!(
        owned_pattern((arg, 9), &seen).await,
        Err(Fail::new(Class::Connect, 9))
    );
    assert_eq!(clones.load(Ordering::Relaxed), 2);
    assert_eq!(*seen.lock().unwrap(), [false, false, true]);
}

#[retry(attempts = 3, initial = "10ms")]
async fn owned_not_retried(arg: Counted) -> Result<(), Fail> {
    drop(arg);
    Err(Fail::new(Class::Permanent, 1))
}

#[tokio::test(start_paused = true)]
async fn a_permanent_failure_costs_one_clone() {
    let (arg, clones) = Counted::new();
    owned_not_retried(arg).await.unwrap_err();
    assert_eq!(clones.load(Ordering::Relaxed), 1);
}
