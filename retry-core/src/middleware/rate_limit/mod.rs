//! [`RateLimitMiddleware`]: a client-side limiter that paces requests per host, shares one
//! cooldown among them when the server says "too many", and learns the server's rate.

mod builder;
mod fleet;
mod gcra;
mod host;
mod learner;
mod model;
mod queue;
mod quota;
#[cfg(feature = "redis")]
mod redis;
mod schedule;
mod signals;
mod tokens;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::Extensions;
use reqwest::{Request, Response, Url};
use reqwest_middleware::{Middleware, Next, Result};

use super::{exhausted, headers};
pub(crate) use builder::Config;
pub use builder::RateLimitBuilder;
pub use fleet::{MemoryLimit, SharedLimit};
use host::{Host, Hosts, InFlight};
#[cfg(feature = "redis")]
pub use redis::{RedisLimit, RedisUrlError};
pub use signals::{CallDeadline, HeldByLimiter, WaitPastDeadline};

/// A client-side rate limiter for a reqwest-middleware stack.
///
/// - **Per host and model, shared by clones.** Every clone of one limiter shares its state
///   (an `Arc`), keyed by `scheme://host:port` and by the top-level `"model"` a request's JSON
///   body names, if any: every task that talks to one API (one model of it) shares one
///   budget, and "each host" below means each host and model. LLM APIs limit each model
///   apart (Together per organisation and model), so one model's 429s and headers say
///   nothing of another's; [`RateLimitBuilder::per_model`] turns this off for a server with
///   one limit for all. A state lives as long as the limiter (a limiter is meant for the few
///   APIs and models a client talks to, not for crawling a million hosts).
/// - **Shared cooldown.** When a response is a 429, every request to that host waits, not
///   only the one that got it: until the hinted reset (`retry-after-ms`, `Retry-After`), then
///   they leave one at a time, in the order they arrived, at the learned pace. A whole-second
///   hint (`Retry-After: 1`, an HTTP date) only says the wait ends within that second, so the
///   shared cooldown ends at the start of it and the pace does the rest. A 429 with no usable
///   hint pauses the host for 1.5 intervals of the (cut) pace; each further 429 with nothing
///   taken in between doubles that pause (up to 1 s) rather than cutting the pace again, as a
///   server that refuses everything for a while (a fixed window spent until it ends) would
///   otherwise drive the pace to nothing; and from the second, requests go one at a time,
///   each answered before the next goes, until one is taken (else each pause's end let a
///   round trip's worth go into the refusal).
/// - **Not for 429s no wait cures.** A 429 whose body says the quota or credit is gone
///   ([`QuotaExhausted`](super::QuotaExhausted)), or whose hint is longer than
///   [`MAX_COOLDOWN`](super::MAX_COOLDOWN), holds no one and teaches nothing about the pace:
///   the call that met it ends (the hint is in its response), the others go on.
/// - **No call lost to a 429 it let through.** Every 429 is held: the retry queues at once,
///   ahead of later requests, and under [`RetryMiddleware`](super::RetryMiddleware) (or any
///   retry loop whose error reports [`Classify::held_by_limiter`](crate::Classify::held_by_limiter))
///   it costs no attempt. Only the policy's deadline and retry budget end such retries.
/// - **503s and 529s slow it too, faults do not.** A server out of capacity answers 503, and
///   so does nginx's `limit_req` over its rate: after slow start each 503 is a refusal of the
///   pace (a lone one cuts it by 5 % only), until 503s that the cuts do not stop show
///   themselves faults of the server; the cuts they made are then given back, and from then
///   on only a crowd of them (4 of the last 10 answers) slows the pace. Their retries stay
///   the retry layer's, bounded by its attempts. (Read as successes before, a server refusing
///   with 503s drew the pace past a thousand a second; on our simulator, 163 calls lost over
///   20 runs and 1.2 refusals per request, now none lost and 0.05.) Out of capacity is not
///   the rate limit the headers report: a crowd of 503s at a pace well over what the server
///   has served makes a trusted bucket reading a ceiling over the pace, no longer the pace,
///   and halves the burst licence (Together's headers reporting plenty left on a server
///   serving 8 at once: 1 227 calls lost over 20 runs before, none now).
/// - **A limit on requests in flight, told from a rate.** Inference servers often serve so
///   many requests at once and refuse one more at once, however slowly they come. Once its
///   429s (or 503s) are seen to come only when more than `k` of this host's requests were in flight
///   (a thin tail of the answers, most of it refused; not in slow start, whose overshoot puts
///   more in flight just as it draws 429s), no more than `k` go at once: each answer lets the
///   next go, the pace stops growing, and every 2 s without a 429 one more may go, to find a
///   limit that rose (after probes refused at `k`, the first waits 4 s, then 8 s). A refusal
///   of the same kind with fewer than `k` in flight refutes it (a 503 there, when 429s read
///   it, is a fault). On our simulator's 8 at once (150-600 ms each, no headers, 20 seeds):
///   0.70 -> 0.84 of the ideal, 0.047 -> 0.020 429s per request (refused with 503s: 0.74 ->
///   0.86, 0.030); on its 57 servers limited by rate, no row
///   changed beyond noise. Each process counts its own requests, so a fleet sharing Redis
///   does not use it, and processes sharing such a limit without Redis are not helped.
/// - **Adaptive** (the default), from two sources:
///   - *without headers*, from 429s and successes: a slow start, a multiplicative decrease
///     measured from how far over the rate the pace went, an additive increase of 2 % a
///     second near the limit, and after 1.5 s with no 429 (while requests wait) a probe that
///     grows faster and faster, so a limit that rose is found within a couple of seconds. Both
///     slow down when 429s come back late (news of an overshoot comes a round trip late), by
///     the 429s' round trip, not the successes' (an LLM's success takes its generation too).
///     It starts at 20 requests per second;
///   - *with headers* (`x-ratelimit-limit`, `-remaining`, `-reset`, and their `-dynamic`
///     variants; OpenAI's, Anthropic's and the IETF draft's names read into the same figures:
///     see [`LimitFamily`](crate::middleware::LimitFamily)), each reading is a hypothesis kept only while what happens agrees with it:
///     Together's documented bucket reading sets the pace once its predictions of `remaining`
///     have come true (and is refuted for good when they fail), reached by doubling what the
///     server has served until it has served half of it, not in one jump (and no further
///     than the blind pace after a 429 at its pace, until then); `limit` read as a
///     rate per second (as dynamic limits report it) is checked by the same predictions and
///     by 429s, which come over that rate and not well under it, and by `reset`, which names
///     the time a bucket takes to refill at that rate (or the next slot's, within one
///     interval); once two resets tell (a time until full the next slot cannot explain) and
///     none disagrees, slow start stops at that rate instead of doubling past it, and once
///     trusted the reading holds the
///     blind pace up to it (a floor, never the pace) and brings it down when it falls; a burst licence, grown one
///     request per early request taken and halved for good by a 429, lets requests go back
///     to back (on per-minute figures, which say nothing of the bucket behind them, it grows
///     half as fast and ends at the first 429); `remaining` at least half full says the pace
///     is below the limit; the server's refill, measured from how `remaining` moves against
///     what was sent (whatever `limit` and `reset` mean), settles the pace under it when the
///     bucket runs out, before 429s do, and ends slow start when the bucket drains fast; and
///     a 429 whose own headers say `remaining >= 1` ends every use of `remaining`. In slow
///     start, a 429 to a request sent on the burst licence that reads the count spent ends
///     slow start where it is; a count read full grows the pace only from answers to
///     requests sent at about the pace (not from a full bucket after a pause); and while the
///     tokens left are a smaller share of their limit than the requests left (a token limit
///     binding first), the request figures set no pace and license no burst. Two 429s
///     on an empty bucket whose resets name one instant (a fixed window's end, not a refill)
///     refute the bucket reading and hold the host until that instant; if the count is then
///     back near whole, the server is a fixed window and is paced as one: its whole count at
///     once when a window opens, nothing once an answer reads it spent, for as long as every
///     reset within a window names its end, windows end a whole number of lengths apart, the
///     count never rises within one, and no 429 comes with room left (a log of the last
///     second's requests, whose reset names when its oldest leaves, fails these). A count that
///     reads, request after request, `limit` less this client's requests within the longest
///     reset is a sliding log (a bucket draining slower than its refill reads above it; a
///     count read whole says only that nothing sent before counts any more, as when a fixed
///     window opens): once confirmed over more than its length, no more than `limit` go in
///     any length, the requests sent before the confirmation and after the latest whole
///     reading counted, the ones refused not; a count read spent holds the host until its
///     oldest request leaves it; and a count of another `limit` (a longer limit stacked
///     behind, named when it has fewer left) sets the log aside until its own is named
///     again, after which its whole count no longer goes at once. Resets in whole seconds
///     (an integer, a Unix timestamp) show no window and, under 10 s, measure no pace:
///     rounded, they name instants to the second only. Once the longest pause (1 s) has
///     proved too short, a 429 that reads the count spent holds the host until the reset it
///     names (a second less in whole seconds; not per-minute figures), rather than cutting
///     the pace again: a longer limit stacked behind a short one, spent for seconds. Without
///     any headers, runs of 429s that outlast their pauses, each after the same count taken
///     (at least 4), twice in a row, read a fixed window of that count; its length is the
///     fewest whole seconds the runs allow. It is paced as a sliding log of that count (which
///     keeps every fixed window within it, whatever its phase, and is a log's own bound), the
///     first request after a quarter of its length without a take going alone; a 429 under
///     it refutes it, the next reading needs three runs that agree, and a second refutation
///     ends them. The worst case is the header-blind learner. An
///     empty token bucket (`x-tokenlimit-remaining: 0`) holds the host only for a reset the
///     server states (`x-tokenlimit-reset`).
///
///   Measured on `together_client::sim::Scenario::all()` (20 seeds a scenario, 300 requests
///   from 64 tasks; `examples/BENCHMARKS.md`, "The server family"): no call lost on any of 72
///   servers; median goodput 0.97-1.00 on steady token-bucket limits of 50 and 200 a second
///   (buckets of 5 to 50) with round trips up to 30 ms (counted halfway through them or at
///   their end), whatever the headers mean, per-minute
///   figures under Together's names and resets in whole seconds among them (0.86-0.93
///   with round trips up to 300 ms, 0.79-0.84 up to 800 ms, 0.87-0.89 on an LLM API whose
///   successes take 0.2-1 s of generation), 0.94-0.98 at 2 a second, 0.80 (no headers) and
///   0.99 (Together's) at one request every 2 s, 0.98 on a 50/20/80 step with headers, 0.86
///   without and 0.78 on the LLM API, 0.96 on a 25/60 sawtooth whose `remaining` counts (0.81
///   without headers), 0.99 on a limit that falls from 50 to 2 a second and stays there (0.98
///   without headers, but at 0.18 429s per request), 0.99 on a counter per one-second
///   window whose resets count down to its end and 1.00 on one of 25 s (0.90 and 0.95
///   without headers, the first read from its 429s; 0.96 where the resets are whole
///   seconds), 0.99 on two models limited apart (0.57 in the worst run when paced as one
///   host), 0.93-0.96 on a sliding log of the last
///   second's requests whatever its reset names (0.89 without headers), with 0.04-0.07 429s
///   per request, most before the log is confirmed, and 0.91 on that log with one of 200 per
///   10 s behind it (0.75 without headers), 0.96 on a limit that wanders every second
///   between 36 and 63 (0.92 without headers, with 0.057 429s per request against 0.043)
///   (our simulator's servers only).
///   On a server written apart from the simulator (`examples/independent`, real clock, the
///   batch example, 3 runs a row): 0.97-1.00 on steady limits in five header families,
///   0.96-0.98 on the 50/20/80 step with headers (0.79-0.85 without), 0.99-1.00 where a token
///   limit binds first.
/// - **Fixed quotas** ([`per_second`](Self::per_second), [`per_minute`](Self::per_minute),
///   [`tokens_per_minute`](Self::tokens_per_minute)), on top of the learning, for limits you
///   know in advance.
/// - **Cancellation-safe.** A request waits in a FIFO queue and takes no slot until it goes: a
///   dropped request leaves the queue, and the next one moves up.
/// - **One limiter for many processes**: [`RateLimitBuilder::build_shared`] with a
///   `RedisLimit` (feature `redis`), and every process on one Redis shares one schedule, one
///   cooldown and one learner fed by all their responses, so the fleet behaves as one client
///   (a [`MemoryLimit`] does the same for limiters in one process, for simulations): 4 and 16
///   real processes on one Redis reach 0.98-1.00 of the ideal on `examples/independent`'s
///   server, at most 0.013 429s per request where its headers count. Without
///   one, processes on one limit learn it each on their own: a pace crowded far under its
///   first share climbs back by a fixed amount a second, so none is starved; none probes
///   above its pace while the server's `remaining` shows its count spent as fast as it
///   refills, and each climbs at once while it reads full; one left alone probes for the
///   others' share within seconds. On a per-minute budget (OpenAI's, Anthropic's names),
///   each tells the others' spending from its own by what the budget loses (from its first
///   answers on: none bursts until they show no one else), and takes the budget's rate as
///   the fleet's, not its own pace; one left alone climbs back to that rate once the
///   budget reads full. 4 or 16 processes reach 0.84-0.99 of the ideal on our simulator, at
///   0.003-0.14 429s per request (medians over 20 seeds).
///
/// ```
/// use retry_core::middleware::{RateLimitMiddleware, RetryMiddleware};
///
/// // Adaptive, for a server whose limit is unknown or changes:
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(RetryMiddleware::default())
///     .with(RateLimitMiddleware::default())
///     .build();
///
/// // A known limit: 600 requests and 180,000 tokens a minute, paced evenly.
/// let limiter = RateLimitMiddleware::builder()
///     .per_minute(600)
///     .tokens_per_minute(180_000)
///     .build();
/// # let _ = (client, limiter);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RateLimitMiddleware {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    config: Config,
    hosts: Hosts,
    /// The fleet's shared state (in Redis, or in memory), if the limit is shared.
    fleet: Option<fleet::Fleet>,
}

impl RateLimitMiddleware {
    /// The adaptive limiter with no fixed quota (the same as `default()`).
    pub fn new() -> Self {
        RateLimitMiddleware::default()
    }

    /// A builder, for fixed quotas and other settings.
    pub fn builder() -> RateLimitBuilder {
        RateLimitBuilder::default()
    }

    /// At most `n` requests a second to each host, evenly spaced, still adaptive below that.
    pub fn per_second(n: u32) -> Self {
        RateLimitMiddleware::builder().per_second(n).build()
    }

    /// At most `n` requests a minute to each host, evenly spaced, still adaptive below that.
    pub fn per_minute(n: u32) -> Self {
        RateLimitMiddleware::builder().per_minute(n).build()
    }

    /// At most `n` tokens a minute to each host (see [`RateLimitBuilder::tokens_per_minute`]
    /// for the estimate), still adaptive.
    pub fn tokens_per_minute(n: u32) -> Self {
        RateLimitMiddleware::builder().tokens_per_minute(n).build()
    }

    /// The pace learned for `url`'s host, in requests per second, summed over its models
    /// when each is paced apart: `None` if no request has gone there or the limiter is not
    /// adaptive.
    pub fn pace(&self, url: &Url) -> Option<f64> {
        let paces = self.shared.hosts.all(url).into_iter();
        paces.filter_map(|host| host.pace()).reduce(|a, b| a + b)
    }

    /// The pace learned for one model on `url`'s host (see [`RateLimitBuilder::per_model`]),
    /// in requests per second: `None` if no request naming it has gone there, or the limiter
    /// is not adaptive or not per model.
    ///
    /// ```
    /// use retry_core::middleware::RateLimitMiddleware;
    ///
    /// let limiter = RateLimitMiddleware::default();
    /// let url = "https://api.together.ai/v1/chat/completions".parse().unwrap();
    /// assert_eq!(limiter.model_pace(&url, "m-fast"), None); // nothing sent yet
    /// ```
    pub fn model_pace(&self, url: &Url, model: &str) -> Option<f64> {
        let host = self.shared.hosts.find(url, Some(model))?;
        host.pace()
    }

    /// How many requests to `url`'s host (all its models) are waiting for their turn.
    pub fn waiting(&self, url: &Url) -> usize {
        let hosts = self.shared.hosts.all(url).into_iter();
        hosts.map(|host| host.waiting()).sum()
    }

    /// A new limiter with this one's settings, its limits shared through `store` (see
    /// [`RateLimitBuilder::build_shared`]). It starts afresh: it shares no state with `self`.
    ///
    /// ```
    /// use retry_core::middleware::{RateLimitMiddleware, RedisLimit};
    ///
    /// let local = RateLimitMiddleware::per_second(50);
    /// let fleet = local.to_shared(RedisLimit::new("redis://127.0.0.1:6379").unwrap());
    /// assert_eq!(fleet.redis_online(), Some(true)); // nothing tried yet
    /// assert_eq!(local.redis_online(), None);
    /// ```
    #[cfg(feature = "redis")]
    pub fn to_shared(&self, store: impl Into<SharedLimit>) -> RateLimitMiddleware {
        RateLimitBuilder {
            config: self.shared.config,
        }
        .build_shared(store)
    }

    /// Whether the limit is shared right now: `None` for a limiter of its own (not built with
    /// [`build_shared`](RateLimitBuilder::build_shared)), `Some(false)` while its store (Redis)
    /// is unreachable (each process then paces on its own), `Some(true)` otherwise.
    #[cfg(feature = "redis")]
    pub fn redis_online(&self) -> Option<bool> {
        self.shared.fleet.as_ref().map(fleet::Fleet::online)
    }
}

/// A request's place in line, kept in its extensions so that its retries keep it.
#[derive(Clone, Copy, Debug)]
struct Ticket(u64);

/// Whether a 429 is one no cooldown cures: its body says the quota is spent, or its hint is
/// longer than [`MAX_COOLDOWN`](super::MAX_COOLDOWN).
fn passes_through(response: &Response) -> bool {
    response.status() == http::StatusCode::TOO_MANY_REQUESTS
        && (exhausted::quota(response) || headers::beyond_cooldown(response.headers()))
}

fn next_ticket() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[async_trait::async_trait]
impl Middleware for RateLimitMiddleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let config = &self.shared.config;
        let model = config.per_model.then(|| model::of(&req)).flatten();
        // Past the most models a host keeps states for, the others share the host's own.
        let host = (self.shared.hosts).get_or_insert_within(
            req.url(),
            model.as_deref(),
            model::MOST_PER_HOST,
            |scope| Arc::new(Host::new(config, req.url(), scope)),
        );
        let ticket = match extensions.get::<Ticket>() {
            Some(ticket) => ticket.0,
            None => {
                let ticket = next_ticket();
                extensions.insert(Ticket(ticket));
                ticket
            }
        };
        let cost = if host.counts_tokens() {
            tokens::estimate(&req)
        } else {
            1
        };
        let fleet = (self.shared.fleet.as_ref()).map(|fleet| (fleet, &*host.key));
        let admit = async {
            let mut sent = host.admit(ticket, cost).await;
            let flight = InFlight(&host, sent.seq);
            let mut in_fleet = None;
            if let Some((fleet, key)) = &fleet {
                in_fleet = fleet.admit(key, &host, config, cost).await;
                if let Some(in_fleet) = &in_fleet {
                    // It goes now, at the fleet's pace, not when and at the pace this
                    // process's own queue let it through.
                    sent = in_fleet.admission(&sent);
                    sent.at = host.origin.elapsed();
                }
            }
            (sent, in_fleet, flight)
        };
        let deadline = extensions.get::<CallDeadline>().map(|d| d.0);
        let admit = super::metrics::timed(&host.metrics, extensions, admit);
        let (sent, in_fleet, flight) = match deadline {
            // A retry's wait for its turn that would outlast its call ends when the call must.
            Some(at) => match tokio::time::timeout_at(at, admit).await {
                Ok(admitted) => admitted,
                Err(_) => return Err(reqwest_middleware::Error::middleware(WaitPastDeadline)),
            },
            None => admit.await,
        };
        let result = match next.run(req, extensions).await {
            Ok(response) => Ok(exhausted::inspect(response).await),
            Err(error) => Err(error),
        };
        // A 429 that no wait cures (the quota is gone, or the server names a wait longer than
        // any call's) says nothing of the pace, holds no one, and the call ends; it is still
        // counted as the 429 it is.
        let (status, headers, final_429) = match &result {
            Ok(response) => (
                Some(response.status()),
                Some(response.headers()),
                passes_through(response),
            ),
            Err(_) => (None, None, false),
        };
        drop(flight);
        let verdict = host.observe(&sent, status, headers, final_429, in_fleet.is_none());
        if let (Some((fleet, key)), Some(in_fleet)) = (&fleet, in_fleet) {
            fleet
                .report(key, &host, &sent, in_fleet, headers, &verdict)
                .await;
        }
        if verdict.holding {
            extensions.insert(HeldByLimiter);
        }
        result
    }
}
