#!/usr/bin/env python3
"""Capacity-limited OpenAI-compatible chat-completions emulator (stdlib only).

Usage:
  python3 capacity_server.py PORT [--k 8] [--min-ms 150] [--max-ms 600]
                                  [--seed N] [--headers together|none] [--status 503]

At most K requests are generated at once.  A request arriving while K are in
service is refused at once with HTTP --status (default 503) and an OpenAI-style
"server is overloaded" error body.  Taken requests sleep a uniform random
service time in [min-ms, max-ms] (seeded RNG) and answer 200 with a minimal
chat.completion.

Rate-limit headers (--headers together, the default): an honest token bucket
(capacity 1000, refill 1000/s) is consumed by every *taken* request (never by
refused ones).  200 answers carry x-ratelimit-limit / -remaining / -reset.

CHOICE for refusals: like a real gateway that stamps rate-limit headers on every
response it passes through, the 503 refusals ALSO carry x-ratelimit-limit,
x-ratelimit-remaining and x-ratelimit-reset, showing the current (untouched,
nearly full) bucket state -- the refusal did not consume a token.  So a client
sees "plenty of rate budget left" on a 503: the refusal is about capacity, not
rate.  With --headers none, no x-ratelimit-* headers are sent at all.

GET /v1/stats returns counters: ok, refused, service_sum, first_ok_start,
last_ok_end, k, ideal (= service_sum / k), span, goodput (= ideal / span),
max_in_service, in_service.
"""
import json
import random
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OVERLOAD_BODY = json.dumps({"error": {
    "message": "The server is overloaded or not ready yet.",
    "type": "server_error", "param": None, "code": None}}).encode()


def parse_args(argv):
    if not argv:
        sys.exit(__doc__)
    opts = {"port": int(argv[0]), "k": 8, "min_ms": 150.0, "max_ms": 600.0,
            "seed": None, "headers": "together", "status": 503}
    i = 1
    while i < len(argv):
        a = argv[i]
        if "=" in a and a.startswith("--"):
            a, v = a.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(argv):
                sys.exit("missing value for %s" % a)
            v = argv[i + 1]
            i += 2
        if a == "--k":
            opts["k"] = int(v)
        elif a == "--min-ms":
            opts["min_ms"] = float(v)
        elif a == "--max-ms":
            opts["max_ms"] = float(v)
        elif a == "--seed":
            opts["seed"] = int(v)
        elif a == "--headers":
            if v not in ("together", "none"):
                sys.exit("--headers must be together or none")
            opts["headers"] = v
        elif a == "--status":
            opts["status"] = int(v)
        else:
            sys.exit("unknown option %s" % a)
    if opts["k"] < 1 or opts["max_ms"] < opts["min_ms"]:
        sys.exit("need k >= 1 and max-ms >= min-ms")
    return opts


class TokenBucket:
    def __init__(self, capacity=1000.0, rate=1000.0):
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.t = time.monotonic()

    def _refill(self):
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.t) * self.rate)
        self.t = now

    def take(self):
        """Consume one token (caller holds the lock); returns header values."""
        self._refill()
        self.tokens = max(0.0, self.tokens - 1.0)
        return self._state()

    def peek(self):
        self._refill()
        return self._state()

    def _state(self):
        remaining = int(self.tokens)
        reset = (self.capacity - self.tokens) / self.rate
        return remaining, "%.3f" % reset


class State:
    def __init__(self, opts):
        self.k = opts["k"]
        self.min_s = opts["min_ms"] / 1000.0
        self.max_s = opts["max_ms"] / 1000.0
        self.rng = random.Random(opts["seed"])
        self.headers = opts["headers"]
        self.status = opts["status"]
        self.lock = threading.Lock()
        self.bucket = TokenBucket()
        self.in_service = 0
        self.max_in_service = 0
        self.ok = 0
        self.refused = 0
        self.service_sum = 0.0
        self.first_ok_start = None
        self.last_ok_end = None

    def stats(self):
        with self.lock:
            ideal = self.service_sum / self.k
            span = 0.0
            if self.first_ok_start is not None and self.last_ok_end is not None:
                span = self.last_ok_end - self.first_ok_start
            goodput = ideal / span if span > 0 else 0.0
            return {"ok": self.ok, "refused": self.refused,
                    "service_sum": self.service_sum,
                    "first_ok_start": self.first_ok_start,
                    "last_ok_end": self.last_ok_end,
                    "k": self.k, "ideal": ideal, "span": span,
                    "goodput": goodput,
                    "max_in_service": self.max_in_service,
                    "in_service": self.in_service}


STATE = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "capacity-server/1.0"
    sys_version = ""

    def log_message(self, fmt, *args):  # silent
        pass

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline()
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until blank line
                    while True:
                        tl = self.rfile.readline()
                        if not tl or tl in (b"\r\n", b"\n"):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, code, body, extra=None):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(body)

    def _rl_headers(self, remaining, reset):
        if STATE.headers != "together":
            return {}
        return {"x-ratelimit-limit": "1000",
                "x-ratelimit-remaining": str(remaining),
                "x-ratelimit-reset": reset}

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path in ("/v1/stats", "/stats"):
            self._send(200, json.dumps(STATE.stats()).encode())
        else:
            self._send(404, json.dumps({"error": {"message": "not found",
                       "type": "invalid_request_error", "param": None,
                       "code": None}}).encode())

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        raw = self._read_body()
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._send(404, json.dumps({"error": {"message": "not found",
                       "type": "invalid_request_error", "param": None,
                       "code": None}}).encode())
            return
        model = "m"
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
            if isinstance(body, dict) and isinstance(body.get("model"), str):
                model = body["model"]
        except Exception:
            pass
        arrival = time.monotonic()
        st = STATE
        with st.lock:
            if st.in_service >= st.k:
                st.refused += 1
                remaining, reset = st.bucket.peek()
                taken = False
            else:
                st.in_service += 1
                if st.in_service > st.max_in_service:
                    st.max_in_service = st.in_service
                taken = True
                service = st.rng.uniform(st.min_s, st.max_s)
                remaining, reset = st.bucket.take()
                if st.first_ok_start is None or arrival < st.first_ok_start:
                    st.first_ok_start = arrival
        if not taken:
            self._send(st.status, OVERLOAD_BODY,
                       self._rl_headers(remaining, reset))
            return
        try:
            time.sleep(service)
        finally:
            end = time.monotonic()
            with st.lock:
                st.in_service -= 1
                st.ok += 1
                st.service_sum += service
                if st.last_ok_end is None or end > st.last_ok_end:
                    st.last_ok_end = end
        resp = {"id": "chatcmpl-" + uuid.uuid4().hex[:24],
                "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0,
                             "message": {"role": "assistant", "content": "ok"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 1,
                          "total_tokens": 6}}
        self._send(200, json.dumps(resp).encode(),
                   self._rl_headers(remaining, reset))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def main():
    global STATE
    opts = parse_args(sys.argv[1:])
    STATE = State(opts)
    srv = Server(("127.0.0.1", opts["port"]), Handler)
    print("listening on %d" % opts["port"], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
