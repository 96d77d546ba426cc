//! For the tests of the Redis-shared limiter (where Redis is: `test_kit::redis_url`): a
//! private `redis-server` to kill and restart, and an in-process server at the bottom of the
//! stack that records when each request reached it.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::Request;
use reqwest_middleware::ClientWithMiddleware;
use retry_core::middleware::{RateLimitMiddleware, RedisLimit};

/// A key prefix no other test run uses.
pub fn unique_prefix(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("test-{test}-{}-{nanos}", std::process::id())
}

/// A limiter shared through `url` under `prefix`.
pub fn shared(
    builder: retry_core::middleware::RateLimitBuilder,
    url: &str,
    prefix: &str,
) -> RateLimitMiddleware {
    builder.build_shared(RedisLimit::new(url).unwrap().prefix(prefix))
}

/// What the in-process server answers: a status and headers.
#[derive(Clone, Default)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
}

/// The bottom of a stack: records the instant each request reached it, answers `answer`.
#[derive(Clone)]
pub struct Recorder {
    pub times: Arc<Mutex<Vec<Instant>>>,
    pub answer: Arc<Mutex<Answer>>,
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            times: Arc::default(),
            answer: Arc::new(Mutex::new(Answer {
                status: 200,
                headers: Vec::new(),
            })),
        }
    }

    pub fn answer(&self, status: u16, headers: Vec<(&'static str, String)>) {
        *self.answer.lock().unwrap() = Answer { status, headers };
    }

    pub fn times(&self) -> Vec<Instant> {
        let mut times = self.times.lock().unwrap().clone();
        times.sort();
        times
    }

    /// Records when a request arrived; answers what [`answer`](Self::answer) set.
    async fn serve(&self, _req: Request) -> http::Response<String> {
        self.times.lock().unwrap().push(Instant::now());
        let answer = self.answer.lock().unwrap().clone();
        let mut response = http::Response::builder().status(answer.status);
        for (name, value) in answer.headers {
            response = response.header(name, value);
        }
        response.body("{}".to_owned()).unwrap()
    }
}

test_kit::innermost!(Recorder => serve);

/// A client: `limiter`, then `recorder` as the server.
pub fn client(limiter: &RateLimitMiddleware, recorder: &Recorder) -> ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(limiter.clone())
        .with(recorder.clone())
        .build()
}

/// A free loopback port.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// A `redis-server` of the test's own, on a loopback port; killed when dropped.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one, or `None` (after saying why the test is skipped) when `redis-server` is not
    /// on the PATH and REDIS_URL is not set. With REDIS_URL set (as in CI) a missing binary is
    /// a failure: the test must not be skipped there.
    pub fn start(test: &str) -> Option<PrivateRedis> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            assert!(
                std::env::var_os("REDIS_URL").is_none(),
                "REDIS_URL is set but redis-server is not on the PATH: {test} needs it"
            );
            test_kit::skipped(&format!(
                "SKIPPED {test}: redis-server is not on the PATH (apt-get install redis-server)"
            ));
            return None;
        }
        let mut redis = PrivateRedis {
            port: free_port(),
            child: None,
        };
        redis.restart();
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port and waits until it answers.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server at once (SIGKILL: no goodbye to the clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
