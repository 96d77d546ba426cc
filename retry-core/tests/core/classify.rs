//! What class each error the crate knows is, from `std::io` to real `reqwest` failures against
//! local sockets, and the sets `RetryOn` builds from classes.
//!
//! Servers bind 127.0.0.1 port 0; nothing leaves the machine.

use std::error::Error as StdError;
use std::fmt;
use std::io::{self, ErrorKind};
use std::time::Duration;

use http::StatusCode;
use retry_core::{Class, Classify, Failure, RetryOn, classify_chain};

// ---- std::io and tokio -------------------------------------------------------------------

#[test]
fn io_error_kinds() {
    let class = |kind: ErrorKind| io::Error::from(kind).class();
    assert_eq!(class(ErrorKind::TimedOut), Class::Timeout);
    for kind in [
        ErrorKind::ConnectionRefused,
        ErrorKind::ConnectionReset,
        ErrorKind::ConnectionAborted,
    ] {
        assert_eq!(class(kind), Class::Connect, "{kind:?}");
    }
    for kind in [
        ErrorKind::NotFound,
        ErrorKind::PermissionDenied,
        ErrorKind::InvalidInput,
        ErrorKind::InvalidData,
        ErrorKind::AlreadyExists,
        ErrorKind::Unsupported,
        ErrorKind::Other,
    ] {
        assert_eq!(class(kind), Class::Permanent, "{kind:?}");
    }
    let refused = io::Error::new(ErrorKind::ConnectionRefused, "custom message");
    assert_eq!(refused.class(), Class::Connect);
    assert_eq!(refused.retry_after(), None);
}

#[tokio::test(start_paused = true)]
async fn tokio_elapsed_is_a_timeout() {
    let elapsed = tokio::time::timeout(Duration::from_millis(5), std::future::pending::<()>())
        .await
        .unwrap_err();
    assert_eq!(elapsed.class(), Class::Timeout);
    assert_eq!(elapsed.retry_after(), None);
    // `io::Error: From<Elapsed>`, which `attempt_timeout` relies on, keeps the class.
    assert_eq!(io::Error::from(elapsed).class(), Class::Timeout);
}

// ---- http::StatusCode --------------------------------------------------------------------

#[test]
fn every_listed_status_has_its_class() {
    let listed = [
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
    for (code, class) in listed {
        assert_eq!(StatusCode::from_u16(code).unwrap().class(), class, "{code}");
    }
    for code in 100..=999 {
        let status = StatusCode::from_u16(code).unwrap();
        let expected = match listed.iter().find(|(c, _)| *c == code) {
            Some((_, class)) => *class,
            None if (500..600).contains(&code) => Class::ServerError,
            None => Class::Permanent,
        };
        assert_eq!(status.class(), expected, "{code}");
        assert_eq!(status.retry_after(), None);
    }
}

// ---- Blanket impls, Failure, RetryOn, Class ----------------------------------------------

#[derive(Debug)]
struct Hinted;

impl Classify for Hinted {
    fn class(&self) -> Class {
        Class::RateLimited
    }
    fn retry_after(&self) -> Option<Duration> {
        Some(Duration::from_secs(3))
    }
}

#[test]
fn references_and_boxes_classify_as_what_they_hold() {
    let boxed: Box<dyn Classify> = Box::new(Hinted);
    assert_eq!(boxed.class(), Class::RateLimited);
    assert_eq!(boxed.retry_after(), Some(Duration::from_secs(3)));
    let by_ref = &&Hinted;
    assert_eq!(by_ref.class(), Class::RateLimited);
    assert_eq!(by_ref.retry_after(), Some(Duration::from_secs(3)));
}

#[test]
fn failure_keeps_class_and_hint_and_asks_the_set() {
    let f = Failure::classify(&Hinted, RetryOn::RATE_LIMIT);
    assert!(f.is_retryable());
    assert_eq!(f.class(), Some(Class::RateLimited));
    assert_eq!(f.hint(), Some(Duration::from_secs(3)));
    let f = Failure::classify(&Hinted, RetryOn::TIMEOUT);
    assert!(!f.is_retryable());
    assert_eq!(f.hint(), Some(Duration::from_secs(3)));

    let t = Failure::timed_out(RetryOn::TRANSIENT);
    assert!(t.is_retryable());
    assert_eq!(t.class(), Some(Class::Timeout));
    assert_eq!(t.hint(), None);
    assert!(!Failure::timed_out(RetryOn::CONNECT).is_retryable());

    let bare = Failure::new(true);
    assert_eq!((bare.class(), bare.hint()), (None, None));
}

#[test]
fn retry_on_sets() {
    let single = [
        (RetryOn::RATE_LIMIT, Class::RateLimited),
        (RetryOn::OVERLOADED, Class::Overloaded),
        (RetryOn::SERVER_ERROR, Class::ServerError),
        (RetryOn::TIMEOUT, Class::Timeout),
        (RetryOn::CONNECT, Class::Connect),
    ];
    for (set, class) in single {
        assert_eq!(set, RetryOn::only(class));
        assert_eq!(set, RetryOn::from(class));
        for other in Class::ALL {
            assert_eq!(set.contains(other), other == class, "{set:?} {other:?}");
        }
    }
    for class in Class::ALL {
        assert_eq!(RetryOn::TRANSIENT.contains(class), class.is_transient());
        assert!(RetryOn::ALL.contains(class));
        assert!(!RetryOn::NONE.contains(class));
    }
    assert_eq!(RetryOn::default(), RetryOn::TRANSIENT);
    let both = RetryOn::RATE_LIMIT.with(RetryOn::TIMEOUT);
    assert_eq!(format!("{both:?}"), "{RateLimited, Timeout}");
    assert_eq!(
        single
            .iter()
            .fold(RetryOn::NONE, |acc, (s, _)| acc.with(*s)),
        RetryOn::TRANSIENT
    );
    assert_eq!(
        RetryOn::TRANSIENT.with(RetryOn::only(Class::Permanent)),
        RetryOn::ALL
    );
}

#[test]
fn class_names() {
    let names = Class::ALL.map(Class::as_str);
    assert_eq!(
        names,
        [
            "rate_limit",
            "overloaded",
            "server_error",
            "timeout",
            "connect",
            "permanent"
        ]
    );
    assert_eq!(Class::Overloaded.to_string(), "overloaded");
    assert_eq!(Class::ALL.iter().filter(|c| !c.is_transient()).count(), 1);
}

// ---- Cause chains ------------------------------------------------------------------------

#[derive(Debug)]
struct Wrapper(&'static str, Option<Box<dyn StdError + Send + Sync>>);

impl fmt::Display for Wrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl StdError for Wrapper {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

fn wrap(msg: &'static str, inner: impl StdError + Send + Sync + 'static) -> Wrapper {
    Wrapper(msg, Some(Box::new(inner)))
}

#[test]
fn classify_chain_finds_the_first_known_cause() {
    let reset = io::Error::from(ErrorKind::ConnectionReset);
    let deep = wrap("outer", wrap("middle", reset));
    assert_eq!(classify_chain(&deep), Some((Class::Connect, None)));

    // An io::Error that wraps a classifiable error defers to it, whatever its own kind.
    let timeout_over_reset = wrap(
        "outer",
        io::Error::new(
            ErrorKind::TimedOut,
            wrap("inner", io::Error::from(ErrorKind::ConnectionReset)),
        ),
    );
    assert_eq!(
        classify_chain(&timeout_over_reset),
        Some((Class::Connect, None))
    );
    let plain_timeout = wrap("outer", io::Error::from(ErrorKind::TimedOut));
    assert_eq!(classify_chain(&plain_timeout), Some((Class::Timeout, None)));
    let other = io::Error::other(wrap("x", io::Error::from(ErrorKind::ConnectionAborted)));
    assert_eq!(classify_chain(&other), Some((Class::Connect, None)));
    // An io::Error wrapping nothing classifiable is classified by its own kind.
    let own_kind = io::Error::new(ErrorKind::TimedOut, Wrapper("opaque", None));
    assert_eq!(classify_chain(&own_kind), Some((Class::Timeout, None)));

    assert_eq!(classify_chain(&Wrapper("nothing known", None)), None);
    assert_eq!(classify_chain(&wrap("a", Wrapper("b", None))), None);
}

#[tokio::test(start_paused = true)]
async fn classify_chain_knows_tokio_elapsed() {
    let elapsed = tokio::time::timeout(Duration::from_millis(1), std::future::pending::<()>())
        .await
        .unwrap_err();
    assert_eq!(
        classify_chain(&wrap("slow", elapsed)),
        Some((Class::Timeout, None))
    );
}

#[cfg(feature = "anyhow")]
mod anyhow_chain {
    use super::*;

    #[test]
    fn anyhow_walks_its_chain() {
        let err = anyhow::Error::new(io::Error::from(ErrorKind::ConnectionRefused))
            .context("calling the API")
            .context("summarising");
        assert_eq!(err.class(), Class::Connect);
        assert_eq!(err.retry_after(), None);

        let err = anyhow::Error::new(wrap("outer", io::Error::from(ErrorKind::TimedOut)))
            .context("context");
        assert_eq!(err.class(), Class::Timeout);

        assert_eq!(anyhow::anyhow!("no cause").class(), Class::Permanent);
        assert_eq!(
            anyhow::Error::new(Wrapper("opaque", None)).class(),
            Class::Permanent
        );
    }

    #[cfg(feature = "reqwest")]
    #[tokio::test]
    async fn anyhow_finds_a_reqwest_error_in_its_chain() {
        let err = super::web::refused().await;
        let err = anyhow::Error::new(err).context("fetching");
        assert_eq!(err.class(), Class::Connect);
    }
}

// ---- reqwest ----------------------------------------------------------------------------

#[cfg(feature = "reqwest")]
mod web {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::thread;

    use super::*;

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a client")
    }

    /// A port nothing listens on: bound, then released.
    fn closed_port() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        addr
    }

    /// A GET of `addr`'s root.
    async fn get(addr: SocketAddr) -> reqwest::Result<reqwest::Response> {
        client().get(format!("http://{addr}/")).send().await
    }

    pub async fn refused() -> reqwest::Error {
        get(closed_port()).await.expect_err("nothing listens there")
    }

    /// The error of reading the body of the one answer `reply`, whose head arrives whole.
    async fn body_error(reply: &'static [u8], why: &str) -> reqwest::Error {
        let response = get(serve(reply, 1)).await.expect("the head arrives");
        response.bytes().await.expect_err(why)
    }

    /// Reads one request head.
    fn read_head(stream: &mut TcpStream) {
        let mut head = Vec::new();
        let mut byte = [0; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
    }

    /// Serves each connection with `reply` (raw bytes), one request per connection.
    fn serve(reply: &'static [u8], connections: usize) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming().take(connections) {
                let mut stream = stream.unwrap();
                read_head(&mut stream);
                let _ = stream.write_all(reply);
                let _ = stream.flush();
                // Dropping the stream closes the connection.
            }
        });
        addr
    }

    fn status_reply(code: u16) -> &'static [u8] {
        let text =
            format!("HTTP/1.1 {code} Whatever\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        Box::leak(text.into_boxed_str()).as_bytes()
    }

    #[tokio::test]
    async fn a_refused_connection_is_connect() {
        let err = refused().await;
        assert!(err.is_connect(), "{err:?}");
        assert_eq!(err.class(), Class::Connect);
        assert_eq!(err.retry_after(), None);
    }

    #[tokio::test]
    async fn a_request_timeout_is_timeout() {
        // Accepts, reads, never answers.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (done, wait) = std::sync::mpsc::channel::<()>();
        thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            read_head(&mut stream);
            let _ = wait.recv();
        });
        let err = client()
            .get(format!("http://{addr}/"))
            .timeout(Duration::from_millis(100))
            .send()
            .await
            .expect_err("the server never answers");
        drop(done);
        assert!(err.is_timeout(), "{err:?}");
        assert_eq!(err.class(), Class::Timeout);
    }

    #[tokio::test]
    async fn error_for_status_has_the_status_class() {
        let cases = [
            (429, Class::RateLimited),
            (503, Class::Overloaded),
            (529, Class::Overloaded),
            (504, Class::Timeout),
            (500, Class::ServerError),
            (502, Class::ServerError),
            (501, Class::Permanent),
            (404, Class::Permanent),
            (401, Class::Permanent),
        ];
        for (code, class) in cases {
            let response = get(serve(status_reply(code), 1)).await.expect("a response");
            assert_eq!(response.status().as_u16(), code);
            let err = response.error_for_status().expect_err("an error status");
            assert_eq!(err.status().map(|s| s.as_u16()), Some(code));
            assert_eq!(err.class(), class, "{code}");

            let wrapped = reqwest_middleware::Error::Reqwest(err);
            assert_eq!(
                wrapped.class(),
                class,
                "{code} through the middleware error"
            );
        }
    }

    #[tokio::test]
    async fn a_connection_closed_before_the_response_is_connect() {
        let err = get(serve(b"", 1)).await.expect_err("the server hung up");
        assert_eq!(err.class(), Class::Connect, "{err:?}");
    }

    #[tokio::test]
    async fn a_body_cut_short_is_connect() {
        let err = body_error(
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\nconnection: close\r\n\r\nonly this",
            "the body is cut short",
        )
        .await;
        assert_eq!(err.class(), Class::Connect, "{err:?}");
    }

    #[tokio::test]
    async fn a_malformed_body_is_permanent() {
        // Not a transport failure: the server sent a broken chunked encoding.
        let err = body_error(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\nzz\r\nbad\r\n0\r\n\r\n",
            "the body is malformed",
        )
        .await;
        assert_eq!(err.class(), Class::Permanent, "{err:?}");
    }

    #[tokio::test]
    async fn a_bad_url_is_permanent() {
        let err = client()
            .get("http://exa mple.invalid:notaport/")
            .send()
            .await
            .expect_err("not a URL");
        assert!(err.is_builder(), "{err:?}");
        assert_eq!(err.class(), Class::Permanent);
    }

    #[tokio::test]
    async fn middleware_errors_classify_by_their_chain() {
        let io = reqwest_middleware::Error::middleware(io::Error::from(ErrorKind::ConnectionReset));
        assert_eq!(io.class(), Class::Connect);
        let opaque = reqwest_middleware::Error::middleware(Wrapper("opaque", None));
        assert_eq!(opaque.class(), Class::Permanent);
        assert_eq!(opaque.retry_after(), None);
        let refused = reqwest_middleware::Error::Reqwest(refused().await);
        assert_eq!(refused.class(), Class::Connect);
        let nested = reqwest_middleware::Error::middleware(wrap("rate limiter", refused_io()));
        assert_eq!(nested.class(), Class::Connect);
    }

    fn refused_io() -> io::Error {
        TcpStream::connect(closed_port()).expect_err("nothing listens there")
    }

    #[test]
    fn a_refused_std_connection_is_connect() {
        assert_eq!(refused_io().class(), Class::Connect);
    }
}
