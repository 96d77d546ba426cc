//! A middleware that keeps a paused test clock from leaping while a request is on the wire.
//!
//! On a paused clock, tokio advances time to the next pending timer whenever the runtime has
//! nothing to run. A request to the simulator crosses a real loopback socket, and on a busy
//! machine the kernel may hand its bytes over a moment later (softirq work deferred to
//! `ksoftirqd`): the runtime then finds nothing to run and jumps to whatever timer is next,
//! which may be a call's 120 s deadline. One such jump failed a CI run
//! (`each_call_has_one_idempotency_key_on_every_attempt`); a proxy that delays each chunk by
//! 200 µs of real time made that test fail 11 runs in 20 and take 1,500 virtual seconds
//! instead of 6.
//!
//! While requests are in flight, [`OnTheWire`] keeps a blocking task running (tokio does not
//! auto-advance while one runs), so the kernel gets `SLICE` of real time to deliver, and between
//! slices lets the clock take one step of at most `STEP`: the simulator's own timers (latency,
//! stream gaps) still run, and a late delivery costs at most `STEP` of virtual time per
//! `SLICE`, never a leap to a distant timer. The slice ends at once when the last request
//! does, so a request leaves no wait behind it. Through that proxy, 10 runs per delay:
//! 200 µs, 1 ms, 5 ms per chunk, 0 failures, 8, 15, 38 virtual seconds; at 20 ms, 1 run in
//! 10 still fails. The cost: `the_pair_holds_on_the_server_family` (thousands of requests,
//! each with simulated latency, so one slice each) 69 s -> 78 s in a debug build; a longer
//! slice protects more and costs more (500 µs: 98 s).
//! (Tokio has no switch to turn auto-advance off: tokio-rs/tokio#6113 is still open.)

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};
use tokio::task::JoinHandle;

/// Real time given to the kernel before the paused clock may take a step.
const SLICE: Duration = Duration::from_micros(100);
/// The longest step the paused clock takes while a request is in flight.
const STEP: Duration = Duration::from_millis(250);

/// See the module doc. Clones share one count of the requests in flight.
#[derive(Clone, Default)]
pub struct OnTheWire(Arc<Mutex<InFlight>>);

#[derive(Default)]
struct InFlight {
    requests: usize,
    /// The hold, and what ends its slice at once when the last request ends (dropped, the
    /// blocking task wakes), so no request leaves a slice behind it.
    holder: Option<(JoinHandle<()>, Sender<()>)>,
}

/// One request in flight; the last to end stops the hold.
struct Flight(Arc<Mutex<InFlight>>);

impl Flight {
    fn start(shared: &Arc<Mutex<InFlight>>) -> Flight {
        let mut state = shared.lock().unwrap();
        state.requests += 1;
        if state.holder.is_none() {
            let (stop, stopped) = mpsc::channel();
            state.holder = Some((tokio::spawn(hold(stopped)), stop));
        }
        Flight(Arc::clone(shared))
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        let mut state = self.0.lock().unwrap();
        state.requests -= 1;
        if state.requests == 0
            && let Some((holder, _stop)) = state.holder.take()
        {
            holder.abort();
        }
    }
}

/// Alternates a slice of real time in which the clock cannot advance with one step it may
/// take, until `stopped` says the last request ended.
async fn hold(mut stopped: Receiver<()>) {
    loop {
        let slice = tokio::task::spawn_blocking(move || {
            let timed_out = stopped.recv_timeout(SLICE) == Err(RecvTimeoutError::Timeout);
            (stopped, timed_out)
        });
        match slice.await {
            Ok((receiver, true)) => stopped = receiver,
            // Stopped, or the runtime is shutting down.
            _ => return,
        }
        tokio::time::sleep(STEP).await;
    }
}

#[async_trait::async_trait]
impl Middleware for OnTheWire {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let _flight = Flight::start(&self.0);
        next.run(req, extensions).await
    }
}
