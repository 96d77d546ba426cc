#!/usr/bin/env python3
"""Rate-limited OpenAI/Together-compatible chat server (stdlib only).

See README.md for the exact semantics of every flag.  Prints "PORT <n>" on
stdout once listening.  GET /v1/stats returns the server-side counts.
"""
import argparse, email.utils, json, math, random, sys, threading, time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

P = argparse.ArgumentParser()
P.add_argument("--mode", required=True,
               choices=["sliding", "conc", "nginx", "openai", "walk", "tb", "tpm", "permodel"])
P.add_argument("--hdr", default="none", choices=["none", "github", "openai", "simple"],
               help="rate-limit header style sent on every chat response (success and refusal)")
P.add_argument("--limits", default="50/1", help="sliding: N/W[,N/W...] e.g. 50/1,200/10")
P.add_argument("--rate", type=float, default=50.0, help="tb/nginx/openai(per-second sub-limit)/walk start: r/s")
P.add_argument("--burst", type=float, default=5.0, help="tb bucket capacity / nginx burst")
P.add_argument("--nodelay", action="store_true", help="nginx: serve burst immediately instead of delaying")
P.add_argument("--k", type=int, default=8, help="conc: max in flight")
P.add_argument("--service", default="0.15,0.6", help="conc: success service time uniform lo,hi seconds")
P.add_argument("--latency", default="0.05,0.15", help="other modes: success latency uniform lo,hi seconds")
P.add_argument("--status", type=int, default=429, help="refusal status (429 or 503)")
P.add_argument("--body", default="json", choices=["json", "html"], help="refusal body: JSON error or nginx HTML page")
P.add_argument("--retry-after", default="none", choices=["none", "secs", "date", "one"],
               help="Retry-After on refusals: none, ceil(seconds), HTTP-date (rounded up), or constant 1")
P.add_argument("--hint-body", action="store_true", help="put 'Please try again in Xms.' (honest) in the 429 message")
P.add_argument("--rpm", type=float, default=3000, help="openai: per-minute request budget (bucket, refill rpm/60 per s)")
P.add_argument("--walk-lo", type=float, default=20); P.add_argument("--walk-hi", type=float, default=80)
P.add_argument("--walk-step", type=float, default=10, help="walk: max change of the limit per second")
P.add_argument("--tpm", type=float, default=60000, help="tpm: tokens per minute, enforced per second (tpm/60 per s, capacity 1 s)")
P.add_argument("--models", default="m-fast=60,m-slow=20", help="permodel: model=r/s, each its own bucket (burst --burst)")
P.add_argument("--advertise", type=float, default=1.0,
               help="headers describe a shadow limiter at rate*advertise (1.0 = honest)")
P.add_argument("--models-endpoint", default="list", choices=["list", "404"])
P.add_argument("--seed", type=int, default=1)
A = P.parse_args()

LOCK = threading.Lock()
RNG = random.Random(A.seed)
T0 = time.monotonic()
EPOCH0 = time.time()


def mono():
    return time.monotonic() - T0


def epoch(m):  # monotonic offset -> Unix epoch
    return EPOCH0 + m


def go_dur(d):
    """OpenAI-style reset duration: 20ms, 1.2s, 6m0s."""
    if d < 1:
        return "%dms" % max(0, math.ceil(d * 1000))
    if d < 60:
        return ("%.3f" % d).rstrip("0").rstrip(".") + "s"
    m = int(d // 60); s = d - 60 * m
    return "%dm%ss" % (m, ("%.3f" % s).rstrip("0").rstrip(".") or "0")


class Bucket:
    """Token bucket / GCRA: rate r per s, capacity cap, starts full."""

    def __init__(self, r, cap):
        self.r, self.cap, self.tok, self.t = r, cap, cap, 0.0

    def refill(self, now):
        self.tok = min(self.cap, self.tok + (now - self.t) * self.r); self.t = now

    def take(self, now, n=1.0):
        self.refill(now)
        if self.tok >= n:
            self.tok -= n; return True, 0.0
        return False, (n - self.tok) / self.r

    def info(self, now, limit=None):
        self.refill(now)
        return dict(limit=limit if limit is not None else self.r, remaining=int(self.tok),
                    used=int(self.cap - self.tok), reset=(self.cap - self.tok) / self.r)


# ---------------------------------------------------------------- limiters
# each admit(now, req) -> (ok, wait_seconds, info, delay_before_serving)
class Sliding:
    def __init__(self):
        self.lims = [(int(x.split("/")[0]), float(x.split("/")[1])) for x in A.limits.split(",")]
        self.logs = [deque() for _ in self.lims]
        self.sustained = min(n / w for n, w in self.lims)

    def admit(self, now, req):
        for (n, w), dq in zip(self.lims, self.logs):
            while dq and dq[0] <= now - w:
                dq.popleft()
        blocked = [(dq[len(dq) - n] + w - now) for (n, w), dq in zip(self.lims, self.logs) if len(dq) >= n]
        ok = not blocked
        if ok:
            for dq in self.logs:
                dq.append(now)
        # header = the most constrained window
        best = None
        for (n, w), dq in zip(self.lims, self.logs):
            rem = max(0, n - len(dq))
            reset = (dq[0] + w - now) if dq else 0.0
            if best is None or rem < best["remaining"]:
                best = dict(limit=n, remaining=rem, used=len(dq), reset=reset)
        return ok, (max(blocked) if blocked else 0.0), best, 0.0


class Conc:
    def __init__(self):
        self.inflight = 0
        self.lo, self.hi = map(float, A.service.split(","))

    def admit(self, now, req):
        if self.inflight >= A.k:
            return False, 0.05, dict(limit=A.k, remaining=0, used=self.inflight, reset=0.05), 0.0
        self.inflight += 1
        return True, 0.0, dict(limit=A.k, remaining=A.k - self.inflight, used=self.inflight, reset=0.0), 0.0

    def release(self):
        with LOCK:
            self.inflight -= 1


class Nginx:
    """ngx_http_limit_req: excess = max(0, excess - rate*dt + 1); > burst -> refuse; delay excess/rate."""

    def __init__(self):
        self.excess, self.last = 0.0, None

    def admit(self, now, req):
        if self.last is None:
            self.last = now; return True, 0.0, None, 0.0
        e = max(0.0, self.excess - A.rate * (now - self.last) + 1.0)
        if e > A.burst:
            return False, (e - A.burst) / A.rate, None, 0.0
        self.excess, self.last = e, now
        return True, 0.0, None, (0.0 if A.nodelay else e / A.rate)


class OpenAI:
    """RPM bucket (capacity rpm, refill rpm/60 per s) + per-second sub-limit: fixed 1 s windows of `rate`."""

    def __init__(self):
        self.min = Bucket(A.rpm / 60.0, A.rpm)
        self.win, self.cnt = -1, 0

    def admit(self, now, req):
        w = int(epoch(now))
        if w != self.win:
            self.win, self.cnt = w, 0
        self.min.refill(now)
        ok = self.cnt < A.rate and self.min.tok >= 1
        if ok:
            self.cnt += 1; self.min.tok -= 1
        wait = 0.0 if ok else (w + 1 - epoch(now))
        i = self.min.info(now, limit=int(A.rpm))
        return ok, wait, i, 0.0


class Walk:
    """Token bucket whose rate L(k) changes each second k (k counted from the first chat request)."""

    def __init__(self):
        r = random.Random(A.seed * 7919); L = A.rate; self.L = []
        for _ in range(600):
            self.L.append(L)
            L += r.uniform(-A.walk_step, A.walk_step)
            if L < A.walk_lo: L = 2 * A.walk_lo - L
            if L > A.walk_hi: L = 2 * A.walk_hi - L
        self.start = None; self.b = None

    def rate_at(self, t):  # t = seconds since first request
        return self.L[min(len(self.L) - 1, max(0, int(t)))]

    def admit(self, now, req):
        if self.start is None:
            self.start = now; self.b = Bucket(self.L[0], max(2.0, self.L[0] * 0.1)); self.b.t = now
        L = self.rate_at(now - self.start)
        self.b.refill(now)  # refill at the previous rate up to now (approximation within a step)
        self.b.r, self.b.cap = L, max(2.0, L * 0.1)
        self.b.tok = min(self.b.tok, self.b.cap)
        ok, wait = self.b.take(now)
        return ok, wait, self.b.info(now, limit=int(round(L))), 0.0

    def ideal(self, first, n):  # fluid time from `first` to admit n more requests
        t = first - self.start; need = float(n); span = 0.0
        while need > 1e-9 and span < 600:
            L = self.rate_at(t); step = min(1.0 - (t - math.floor(t)), need / L)
            need -= step * L; t += step; span += step
        return span


class TB:
    def __init__(self):
        self.b = Bucket(A.rate, A.burst)

    def admit(self, now, req):
        ok, wait = self.b.take(now)
        return ok, wait, self.b.info(now), 0.0


def req_tokens(req):
    body = req or {}
    chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []) if isinstance(m, dict))
    return math.ceil(chars / 4) + int(body.get("max_tokens") or 16)


class TPM:
    def __init__(self):
        self.b = Bucket(A.tpm / 60.0, A.tpm / 60.0)
        self.tokens_ok = []

    def admit(self, now, req):
        n = req_tokens(req)
        ok, wait = self.b.take(now, n)
        if ok:
            self.tokens_ok.append(n)
        i = self.b.info(now, limit=int(A.tpm))
        i["tok_req"] = n
        return ok, wait, i, 0.0


class PerModel:
    def __init__(self):
        self.rates = {k: float(v) for k, v in (x.split("=") for x in A.models.split(","))}
        self.b = {k: Bucket(v, A.burst) for k, v in self.rates.items()}
        self.ok = {k: 0 for k in self.rates}

    def admit(self, now, req):
        m = (req or {}).get("model")
        if m not in self.b:
            m = next(iter(self.b))
        ok, wait = self.b[m].take(now)
        if ok:
            self.ok[m] += 1
        return ok, wait, self.b[m].info(now), 0.0


LIM = {"sliding": Sliding, "conc": Conc, "nginx": Nginx, "openai": OpenAI, "walk": Walk,
       "tb": TB, "tpm": TPM, "permodel": PerModel}[A.mode]()
# shadow limiter for dishonest headers (--advertise != 1): a TB at rate*advertise
SHADOW = Bucket(A.rate * A.advertise, A.burst) if A.advertise != 1.0 else None

ST = dict(requests=0, ok=0, r429=0, r503=0, other=0, first_ok=None, last_ok=None,
          first_done=None, last_done=None, tl={}, service_sum=0.0, max_inflight=0, models_calls=0, bad_auth=0)
INFL = [0]


def rl_headers(info, now):
    if info is None or A.hdr == "none":
        return []
    if SHADOW is not None:
        info = SHADOW.info(now)
    lim, rem, reset = info["limit"], info["remaining"], max(0.0, info["reset"])
    if A.mode == "tpm":
        h = [("x-ratelimit-limit-requests", "10000"), ("x-ratelimit-remaining-requests", "9999"),
             ("x-ratelimit-reset-requests", "6ms")]
        if A.hdr == "openai":
            h += [("x-ratelimit-limit-tokens", str(lim)), ("x-ratelimit-remaining-tokens", str(rem)),
                  ("x-ratelimit-reset-tokens", go_dur(reset))]
        return h
    if A.hdr == "github":
        return [("x-ratelimit-limit", str(lim)), ("x-ratelimit-remaining", str(rem)),
                ("x-ratelimit-used", str(info.get("used", 0))),
                ("x-ratelimit-reset", str(int(math.ceil(epoch(now) + reset))))]
    if A.hdr == "openai":
        return [("x-ratelimit-limit-requests", str(lim)), ("x-ratelimit-remaining-requests", str(rem)),
                ("x-ratelimit-reset-requests", go_dur(reset))]
    if A.hdr == "simple":
        return [("x-ratelimit-limit", str(lim)), ("x-ratelimit-remaining", str(rem)),
                ("x-ratelimit-reset", "%.3f" % reset)]
    return []


NGINX_HTML = ("<html>\r\n<head><title>{c} {t}</title></head>\r\n<body>\r\n<center><h1>{c} {t}</h1></center>\r\n"
              "<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n")


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx/1.25.3" if A.mode == "nginx" else "uvicorn"
    sys_version = ""

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="application/json", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/v1/stats"):
            return self.send(200, json.dumps(stats()))
        if self.path.rstrip("/") == "/v1/models":
            with LOCK:
                ST["models_calls"] += 1
            if A.models_endpoint == "404":
                return self.send(404, json.dumps({"error": {"message": "not found", "type": "not_found", "param": None, "code": None}}))
            now = int(time.time())
            return self.send(200, json.dumps([{"id": m, "object": "model", "created": now - 86400, "type": "chat",
                                               "display_name": m, "organization": "test", "context_length": 8192}
                                              for m in ("m", "m-fast", "m-slow")]))
        self.send(404, json.dumps({"error": {"message": "not found", "type": "not_found", "param": None, "code": None}}))

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self.send(404, json.dumps({"error": {"message": "not found", "type": "not_found", "param": None, "code": None}}))
        if not (self.headers.get("Authorization") or "").startswith("Bearer "):
            with LOCK:
                ST["bad_auth"] += 1
            return self.send(401, json.dumps({"error": {"message": "Invalid API key", "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}))
        try:
            req = json.loads(raw or b"{}")
        except Exception:
            req = {}
        with LOCK:
            now = mono()
            ST["requests"] += 1
            ok, wait, info, delay = LIM.admit(now, req)
            if SHADOW is not None:
                SHADOW.take(now)
            hdrs = rl_headers(info, now)
            if ok:
                INFL[0] += 1
                ST["max_inflight"] = max(ST["max_inflight"], INFL[0])
                if A.mode == "conc":
                    lo, hi = map(float, A.service.split(","))
                else:
                    lo, hi = map(float, A.latency.split(","))
                svc = RNG.uniform(lo, hi)
                adm = now + delay
                if ST["first_ok"] is None or adm < ST["first_ok"]:
                    ST["first_ok"] = adm
                ST["last_ok"] = adm if ST["last_ok"] is None else max(ST["last_ok"], adm)
            else:
                ST["r429" if A.status == 429 else "r503"] += 1
            b = ST["tl"].setdefault(int(now * 10), [0, 0])  # 100 ms buckets: [admitted, refused]
            b[0 if ok else 1] += 1
        if not ok:
            return self.refuse(wait, hdrs, now)
        time.sleep(delay + svc)
        if A.mode == "conc":
            LIM.release()
        done = mono()
        with LOCK:
            INFL[0] -= 1
            ST["ok"] += 1
            ST["service_sum"] += svc
            if ST["first_done"] is None:
                ST["first_done"] = done
            ST["last_done"] = done
        model = req.get("model", "m")
        mt = int(req.get("max_tokens") or 16)
        body = {"id": "cmpl-%d" % ST["requests"], "object": "chat.completion", "created": int(time.time()),
                "model": model, "prompt": [],
                "choices": [{"index": 0, "finish_reason": "length" if mt <= 5 else "stop", "seed": 1,
                             "logprobs": None, "message": {"role": "assistant", "content": "Hello there!"}}],
                "usage": {"prompt_tokens": 8, "completion_tokens": min(mt, 5), "total_tokens": 8 + min(mt, 5)}}
        self.send(200, json.dumps(body), headers=hdrs)

    def refuse(self, wait, hdrs, now):
        h = list(hdrs)
        if A.retry_after == "secs":
            h.append(("Retry-After", str(max(1, math.ceil(wait)))))
        elif A.retry_after == "one":
            h.append(("Retry-After", "1"))
        elif A.retry_after == "date":
            h.append(("Retry-After", email.utils.formatdate(math.ceil(epoch(now) + wait) + 0.0, usegmt=True)))
        if A.body == "html":
            title = "Service Temporarily Unavailable" if A.status == 503 else "Too Many Requests"
            return self.send(A.status, NGINX_HTML.format(c=A.status, t=title), "text/html", h)
        if A.status == 503:
            msg, typ = "The server is overloaded or not ready yet.", "server_error"
        elif A.mode == "tpm":
            msg, typ = "Rate limit reached for tokens per min (TPM): Limit %d." % A.tpm, "rate_limit_exceeded"
        else:
            msg, typ = ("Rate limit reached for m in organization org-test on requests per min (RPM): "
                        "Limit 3000, Used 3000, Requested 1."), "rate_limit_exceeded"
        if A.hint_body:
            ms = max(1, math.ceil(wait * 1000))
            msg += " Please try again in %s." % (("%dms" % ms) if ms < 1000 else ("%.3fs" % (ms / 1000)))
        if A.status == 429:
            msg += " Visit https://platform.openai.com/account/rate-limits to learn more."
        self.send(A.status, json.dumps({"error": {"message": msg, "type": typ, "param": None, "code": typ}}),
                  headers=h)


def stats():
    with LOCK:
        s = dict(ST)
        s["tl"] = {k: list(v) for k, v in sorted(ST["tl"].items())}
        n = s["ok"]
        span = (s["last_ok"] - s["first_ok"]) if n > 1 else None
        span_done = (s["last_done"] - s["first_done"]) if n > 1 else None
        ideal = None
        if n > 1:
            if A.mode == "sliding":
                ideal = (n - 1) / LIM.sustained
            elif A.mode == "conc":
                ideal = s["service_sum"] / A.k
                span = span_done  # concurrency: measure completions
            elif A.mode in ("nginx", "tb", "openai"):
                ideal = (n - 1) / A.rate
            elif A.mode == "walk":
                ideal = LIM.ideal(s["first_ok"], n - 1)
            elif A.mode == "tpm":
                ideal = (sum(LIM.tokens_ok) - LIM.tokens_ok[0]) / (A.tpm / 60.0)
            elif A.mode == "permodel":
                ideal = max((c - 1) / LIM.rates[m] for m, c in LIM.ok.items() if c > 0)
        s["span"], s["span_done"], s["ideal"] = span, span_done, ideal
        s["goodput"] = (ideal / span) if (ideal and span) else None
        if A.mode == "permodel":
            s["per_model_ok"] = dict(LIM.ok)
        return s


class Srv(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # client hung up (e.g. it stopped): not our error
        with LOCK:
            ST["other"] += 1
    request_queue_size = 256


if __name__ == "__main__":
    srv = Srv(("127.0.0.1", 0), H)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
