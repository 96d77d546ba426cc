"""An OpenAI-compatible chat endpoint behind a *dynamic* rate limit (as Together AI describes its
"dynamic rate limits"): a token bucket of requests whose refill rate R moves over time.

  python3 server.py PORT [--seed N] [--headers together|none] [--retry-after secs|none]

Binds 127.0.0.1:PORT, prints "ready" once listening. Serves POST /v1/chat/completions and
GET /v1/stats. Standard library only. Time is the monotonic clock, counted from the first
request received.

Rate limit:
  - R starts at 30 requests/s; capacity is max(1, round(R / 10)); the bucket starts full.
  - Every 1.0 s (t = 1, 2, 3, ...) the server looks at the second just ended: if it admitted at
    least 80 % of what R allowed in that second (the integral of R over it), R rises by 25 %,
    capped at 120.
  - At random instants (exponential gaps of mean 3 s, the first at 2 s + one such gap, from the
    seeded RNG) a load spike halves R, floored at 10.
  - A request takes a token at arrival or is refused with 429 at once.
  - An admitted request then "generates" for min(2 s, 150 ms + lognormal(median 250 ms,
    sigma 0.6)) before its answer.
The schedule of R is advanced lazily (under the lock) whenever a request arrives, and, for
/v1/stats, up to the moment the last admitted answer was sent.
"""
import argparse
import json
import math
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

R0 = 30.0
R_MAX = 120.0
R_MIN = 10.0
TICK = 1.0
RISE = 1.25
BUSY = 0.8
SPIKE_MEAN = 3.0
SPIKE_FIRST = 2.0
MEDIAN_GEN = 0.4


def capacity(r):
    return max(1, int(math.floor(r / 10.0 + 0.5)))


class Limiter:
    def __init__(self, seed):
        self.lock = threading.Lock()
        self.spike_rng = random.Random(seed)
        self.gen_rng = random.Random(seed * 1000003 + 17)
        self.t0 = None            # monotonic time of the first request
        self.tnow = 0.0           # bucket time (seconds since t0) last advanced to
        self.r = R0
        self.cap = capacity(R0)
        self.tokens = float(self.cap)
        self.next_tick = TICK
        self.next_spike = SPIKE_FIRST + self.spike_rng.expovariate(1.0 / SPIKE_MEAN)
        self.win_admitted = 0     # admissions in the current 1 s window
        self.win_allowed = 0.0    # integral of R over the current window
        self.changes = [[0.0, R0]]
        self.admitted = 0
        self.refused = 0
        self.last = None          # monotonic time the last admitted answer was sent

    # --- all below with self.lock held ---
    def _flow(self, t):
        dt = t - self.tnow
        if dt > 0:
            self.tokens = min(float(self.cap), self.tokens + self.r * dt)
            self.win_allowed += self.r * dt
            self.tnow = t

    def _set_r(self, t, r):
        if r != self.r:
            self.r = r
            self.cap = capacity(r)
            self.tokens = min(self.tokens, float(self.cap))
            self.changes.append([round(t, 6), r])

    def _advance(self, t):
        while True:
            nt = min(self.next_tick, self.next_spike)
            if nt > t:
                break
            self._flow(nt)
            if self.next_tick <= self.next_spike:
                if self.win_admitted >= BUSY * self.win_allowed:
                    self._set_r(nt, min(R_MAX, self.r * RISE))
                self.win_admitted = 0
                self.win_allowed = 0.0
                self.next_tick += TICK
            else:
                self._set_r(nt, max(R_MIN, self.r / 2.0))
                self.next_spike += self.spike_rng.expovariate(1.0 / SPIKE_MEAN)
        self._flow(t)

    def _headers(self):
        return {
            "x-ratelimit-limit": str(int(math.floor(self.r + 0.5))),
            "x-ratelimit-remaining": str(int(math.floor(self.tokens))),
            "x-ratelimit-reset": "%.3f" % (max(0.0, self.cap - self.tokens) / self.r),
        }

    # --- public ---
    def arrive(self):
        """Returns (admitted, generation_seconds, limit_headers, retry_after_seconds)."""
        with self.lock:
            now = time.monotonic()
            if self.t0 is None:
                self.t0 = now
            self._advance(now - self.t0)
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                self.admitted += 1
                self.win_admitted += 1
                gen = min(2.0, 0.15 + self.gen_rng.lognormvariate(math.log(0.25), 0.6))
                return True, gen, self._headers(), None
            self.refused += 1
            wait = (1.0 - self.tokens) / self.r
            return False, 0.0, self._headers(), max(1, int(math.ceil(wait)))

    def answered(self):
        with self.lock:
            now = time.monotonic()
            if self.last is None or now > self.last:
                self.last = now

    def stats(self):
        with self.lock:
            if self.t0 is None:
                return {"admitted": 0, "refused": 0, "first": None, "last": None, "ideal": 0.0,
                        "changes": self.changes}
            last = self.last if self.last is not None else self.t0
            self._advance(max(self.tnow, last - self.t0))
            changes = [list(c) for c in self.changes]
            return {"admitted": self.admitted, "refused": self.refused, "first": self.t0,
                    "last": last, "ideal": ideal(self.admitted, changes), "changes": changes}


def ideal(admitted, changes):
    """Least time for `admitted` admissions under the R schedule that happened, starting with
    a full bucket (capacity at t=0), plus the median generation for the last answer."""
    if admitted <= 0:
        return 0.0
    need = admitted - capacity(changes[0][1])
    t = 0.0
    if need > 0:
        for i, (ti, ri) in enumerate(changes):
            end = changes[i + 1][0] if i + 1 < len(changes) else math.inf
            seg = ri * (end - ti)
            if seg >= need:
                t = ti + need / ri
                break
            need -= seg
    return t + MEDIAN_GEN


def make_handler(limiter, headers_on, retry_after_on):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, code, obj, extra=None):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def do_GET(self):
            if self.path.split("?")[0] == "/v1/stats":
                self._send(200, limiter.stats())
            else:
                self._send(404, {"error": {"message": "not found", "type": "not_found"}})

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n > 0 else b""
            if self.path.split("?")[0] != "/v1/chat/completions":
                self._send(404, {"error": {"message": "not found", "type": "not_found"}})
                return
            try:
                req = json.loads(raw or b"{}")
                model = req.get("model", "")
            except (ValueError, AttributeError):
                self._send(400, {"error": {"message": "invalid JSON body",
                                           "type": "invalid_request_error"}})
                return
            ok, gen, hdrs, retry = limiter.arrive()
            extra = dict(hdrs) if headers_on else {}
            if not ok:
                if retry_after_on:
                    extra["retry-after"] = str(retry)
                self._send(429, {"error": {
                    "message": "Rate limit exceeded, please try again later",
                    "type": "rate_limit_exceeded", "code": "rate_limit_exceeded"}}, extra)
                return
            time.sleep(gen)
            self._send(200, {
                "id": "chatcmpl-%016x" % random.getrandbits(64),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
            }, extra)
            limiter.answered()

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--headers", choices=["together", "none"], default="together")
    p.add_argument("--retry-after", choices=["secs", "none"], default="secs")
    a = p.parse_args()
    limiter = Limiter(a.seed)
    srv = Server(("127.0.0.1", a.port),
                 make_handler(limiter, a.headers == "together", a.retry_after == "secs"))
    print("ready", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
