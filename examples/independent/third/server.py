#!/usr/bin/env python3
"""A third independent Together/OpenAI-compatible chat server with LLM-like rate limiting behaviours.
Written without reading the limiter's code. Python 3 standard library only. See README.md.
Prints `PORT n` once listening on 127.0.0.1 (port 0)."""
import argparse, json, math, random, sys, threading, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

T0 = time.monotonic()


def now():
    return time.monotonic() - T0


# ---------------------------------------------------------------- limiters
# Every limiter: avail(t, cost) -> bool (no side effect but refill), take(t, cost), refuse(t) (side
# effects of a refusal, e.g. a penalty box), info(t) -> dict(limit, remaining, full, wait, ...).
# `full` = seconds until back to its initial state, `wait` = seconds until one more request fits.
EPS = 1e-9


class Bucket:
    """Token bucket, capacity `cap` (starts full at first use), refill `rate` per s."""

    def __init__(s, rate, cap, origin=None):
        s.rate, s.cap, s.tok, s.t = float(rate), float(cap), float(cap), origin

    def _adv(s, t):
        if s.t is None:
            s.t = t
        if t > s.t:
            s.tok = min(s.cap, s.tok + (t - s.t) * s.rate)
            s.t = t

    def avail(s, t, cost=1):
        s._adv(t)
        return s.tok + EPS >= cost

    def take(s, t, cost=1):
        s._adv(t)
        s.tok -= cost

    def refuse(s, t):
        pass

    def info(s, t):
        s._adv(t)
        return dict(limit=s.rate, remaining=max(0, math.floor(s.tok + EPS)), full=max(0.0, (s.cap - s.tok) / s.rate),
                    wait=max(0.0, (1 - s.tok) / s.rate), window=1.0)


class DiscreteFill:
    """Envoy local_ratelimit: bucket of max_tokens, +per_fill tokens every `interval` s counted from
    `origin` (the server's start, not the client's first request)."""

    def __init__(s, max_tokens, per_fill, interval, origin=0.0):
        s.max, s.per, s.iv, s.origin = max_tokens, per_fill, interval, origin
        s.tok = max_tokens
        s.n = None

    def _adv(s, t):
        n = math.floor((t - s.origin) / s.iv)
        if s.n is None:
            s.n = n
        if n > s.n:
            s.tok = min(s.max, s.tok + (n - s.n) * s.per)
            s.n = n

    def avail(s, t, cost=1):
        s._adv(t)
        return s.tok >= cost

    def take(s, t, cost=1):
        s._adv(t)
        s.tok -= cost

    def refuse(s, t):
        pass

    def info(s, t):
        s._adv(t)
        nxt = s.origin + (s.n + 1) * s.iv - t
        need = math.ceil(max(0, s.max - s.tok) / s.per)
        return dict(limit=s.max, remaining=s.tok, full=(nxt + (need - 1) * s.iv) if need else 0.0,
                    wait=0.0 if s.tok >= 1 else nxt, window=s.iv, next_fill=nxt)


class SlidingLog:
    """Admit iff fewer than n admissions in (t-w, t]; with `penalty` > 0 a refusal caused by the count
    blocks every request for `penalty` s (Cloudflare-style mitigation timeout; not extended by
    requests made while blocked)."""

    def __init__(s, n, w, penalty=0.0):
        s.n, s.w, s.pen = n, w, penalty
        s.log = []
        s.blocked_until = -1.0
        s.blocks = 0

    def _adv(s, t):
        i = 0
        while i < len(s.log) and s.log[i] <= t - s.w:
            i += 1
        if i:
            del s.log[:i]

    def avail(s, t, cost=1):
        s._adv(t)
        return t >= s.blocked_until and len(s.log) + cost <= s.n

    def take(s, t, cost=1):
        s._adv(t)
        s.log.extend([t] * cost)

    def refuse(s, t):
        if s.pen > 0 and t >= s.blocked_until:
            s.blocked_until = t + s.pen
            s.blocks += 1

    def info(s, t):
        s._adv(t)
        block = max(0.0, s.blocked_until - t)
        full = max(block, (s.log[-1] + s.w - t) if s.log else 0.0)
        wait = block if block > 0 else (0.0 if len(s.log) < s.n else s.log[0] + s.w - t)
        return dict(limit=s.n, remaining=0 if block > 0 else s.n - len(s.log), full=full, wait=wait, window=s.w)


class FixedWindow:
    """n admissions per fixed window of w s, windows counted from `origin` (the first chat request).
    Also keeps a per-minute view for headers (never enforced), limit M = n*60/w per minute:
    `bucket` (OpenAI's reading): a shadow bucket of capacity M refilling M/60 per s, remaining = its
    tokens, reset = time until it is full again; `fixed`: windows of 60 s from origin, remaining =
    M - admitted in this minute, reset = time until this minute window ends (Kong's reading)."""

    def __init__(s, n, w, origin, view="bucket"):
        s.n, s.w, s.origin, s.view = n, w, origin, view
        s.k, s.cnt = 0, 0
        s.mk, s.mcnt = 0, 0
        s.shadow = Bucket(n / w, n * 60.0 / w, origin)

    def _adv(s, t):
        k = math.floor((t - s.origin) / s.w)
        if k != s.k:
            s.k, s.cnt = k, 0
        mk = math.floor((t - s.origin) / 60.0)
        if mk != s.mk:
            s.mk, s.mcnt = mk, 0

    def avail(s, t, cost=1):
        s._adv(t)
        return s.cnt + cost <= s.n

    def take(s, t, cost=1):
        s._adv(t)
        s.cnt += cost
        s.mcnt += cost
        s.shadow.take(t, cost)

    def refuse(s, t):
        pass

    def info(s, t):
        s._adv(t)
        end = s.origin + (s.k + 1) * s.w - t
        mlim = s.n * 60.0 / s.w
        d = dict(limit=s.n, remaining=s.n - s.cnt, full=end if s.cnt else 0.0, wait=0.0 if s.cnt < s.n else end,
                 window=s.w, min_limit=mlim)
        if s.view == "fixed":
            d.update(min_remaining=max(0, mlim - s.mcnt), min_full=(s.origin + (s.mk + 1) * 60.0 - t) if s.mcnt else 0.0)
        else:
            si = s.shadow.info(t)
            d.update(min_remaining=si["remaining"], min_full=si["full"])
        return d


class Dynamic(Bucket):
    """Together-like dynamic request limit. Seconds k = 0,1,2,... from `origin` (first chat request).
    D(0) = base. At the end of second k: if admissions in k >= 0.8*E(k): D = min(dmax, D*grow);
    elif admissions < 0.3*E(k): D = max(base, D*shrink). E(k) = D(k) * (loadf if k is in a platform-
    load episode else 1). Enforced as a token bucket of rate E(k), capacity max(2, E(k)/10): a
    `Bucket` whose rate and capacity move at each second's end."""

    def __init__(s, base, dmax, grow, shrink, loadf, episodes, origin):
        s.base, s.dmax, s.grow, s.shrink, s.loadf, s.ep, s.origin = base, dmax, grow, shrink, loadf, episodes, origin
        s.k = 0
        s.D = float(base)
        s._setE()
        s.tok = s.cap
        s.t = origin
        s.adm = 0
        s.traj = [round(s.E, 2)]

    def _load(s, k):
        return any(a <= k < b for a, b in s.ep)

    def _setE(s):
        s.E = s.D * (s.loadf if s._load(s.k) else 1.0)
        s.rate = s.E
        s.cap = max(2.0, s.E / 10.0)

    def _adv(s, t):
        while t >= s.origin + s.k + 1:
            tb = s.origin + s.k + 1
            super()._adv(tb)
            if s.adm >= 0.8 * s.E:
                s.D = min(s.dmax, s.D * s.grow)
            elif s.adm < 0.3 * s.E:
                s.D = max(s.base, s.D * s.shrink)
            s.k += 1
            s.adm = 0
            s._setE()
            s.tok = min(s.tok, s.cap)
            s.traj.append(round(s.E, 2))
        super()._adv(t)

    def take(s, t, cost=1):
        super().take(t, cost)
        s.adm += cost

    def info(s, t):
        d = super().info(t)
        d["base"] = s.base
        return d


class Tokens:
    """Token limit: bucket of `rate` tokens/s, capacity `cap` (starts full). At admission the request
    needs tokens >= its prompt tokens and pays them; its completion tokens (known only when generation
    ends) are paid when it completes: the bucket may go negative. A loose request bucket also applies."""

    def __init__(s, rate, cap, req):
        s.b = Bucket(rate, cap)
        s.req = req

    def avail(s, t, cost=1):
        return s.req.avail(t) and s.b.avail(t, max(cost, EPS))

    def take(s, t, cost=1):
        s.req.take(t)
        s.b.take(t, cost)

    def debit(s, t, cost):
        s.b.take(t, cost)

    def refuse(s, t):
        pass

    def info(s, t):
        i = s.req.info(t)
        s.b._adv(t)
        i.update(tok_limit=s.b.rate, tok_remaining=max(0, math.floor(s.b.tok)),
                 tok_full=max(0.0, (s.b.cap - s.b.tok) / s.b.rate))
        i["full"] = max(i["full"], i["tok_full"])
        return i


# ---------------------------------------------------------------- args
ap = argparse.ArgumentParser()
ap.add_argument("--limit", default="tb", choices=["tb", "envoy", "sliding", "fixed", "dyn", "tokens"])
ap.add_argument("--rate", type=float, default=40.0, help="tb: req/s; dyn: base (static) req/s")
ap.add_argument("--burst", type=float, default=5.0, help="tb: bucket capacity")
ap.add_argument("--n", type=int, default=40, help="sliding/fixed: requests per window; envoy: max_tokens")
ap.add_argument("--window", type=float, default=1.0, help="sliding/fixed: window s; envoy: fill interval s")
ap.add_argument("--per-fill", type=int, default=0, help="envoy: tokens per fill (default n)")
ap.add_argument("--minute-view", default="bucket", choices=["bucket", "fixed"], help="fixed: per-minute header view")
ap.add_argument("--penalty", type=float, default=0.0, help="sliding: block all requests this long after a refusal")
ap.add_argument("--dyn-max", type=float, default=80.0)
ap.add_argument("--dyn-grow", type=float, default=1.15)
ap.add_argument("--dyn-shrink", type=float, default=0.9)
ap.add_argument("--dyn-load", type=float, default=0.5, help="factor on the limit during platform-load episodes")
ap.add_argument("--tpm", type=float, default=720000.0, help="tokens: tokens per minute (enforced per second)")
ap.add_argument("--tok-req", type=float, default=100.0, help="tokens: the loose request limit, req/s (burst 20)")
ap.add_argument("--gen", default="0.8,0.6,0.3,3", help="success time: 'median,sigma,lo,hi' lognormal clipped, "
                "'tokens' (ttft 0.2 s + completion_tokens/80 s), or 'fixed:S'")
ap.add_argument("--refuse-delay", default="0,0", help="refusals held uniform(lo,hi) s before answering")
ap.add_argument("--overload", type=float, default=0.0, help="share of admitted requests failed during episodes")
ap.add_argument("--ovl-kinds", default="503", help="e.g. 503 or 503:2,502:1,504:1 (weights)")
ap.add_argument("--ovl-504", default="2,4", help="504s are held uniform(lo,hi) s")
ap.add_argument("--hdr", default="together", choices=["none", "together", "openai-min", "envoy"])
ap.add_argument("--hdr-on", default="all", choices=["all", "ok", "refusal"])
ap.add_argument("--reset-fmt", default="frac", choices=["frac", "ms", "s-ceil", "s-floor"])
ap.add_argument("--retry-after", default="none", help="none | secs (ceil honest wait, min 1) | const:N")
ap.add_argument("--body", default="together", choices=["together", "cloudflare", "envoy"])
ap.add_argument("--client-conc", type=int, default=64, help="total client concurrency, for the ideal's Little bound")
ap.add_argument("--seed", type=int, default=1)
A = ap.parse_args()

RNG = random.Random(A.seed)          # service times, overload coin flips (under LOCK)
SCHED = random.Random(1000 + A.seed)  # exogenous schedules (load / overload episodes)


def make_episodes_int():
    ep, k = [], SCHED.randint(3, 5)
    while k < 600:
        ln = SCHED.randint(1, 2)
        ep.append((k, k + ln))
        k += ln + SCHED.randint(3, 5)
    return ep


def make_episodes_float():
    ep, t = [], SCHED.uniform(1.5, 3.0)
    while t < 600:
        ln = SCHED.uniform(1.0, 2.0)
        ep.append((t, t + ln))
        t += ln + SCHED.uniform(2.5, 4.0)
    return ep


DYN_EP = make_episodes_int() if A.limit == "dyn" else []
OVL_EP = make_episodes_float() if A.overload > 0 else []
KINDS = []
for part in A.ovl_kinds.split(","):
    c, _, w = part.partition(":")
    KINDS.append((int(c), float(w or 1)))
R_LO, R_HI = (float(x) for x in A.refuse_delay.split(","))
O_LO, O_HI = (float(x) for x in A.ovl_504.split(","))


def make_limiter(origin):
    if A.limit == "tb":
        return Bucket(A.rate, A.burst)
    if A.limit == "envoy":
        return DiscreteFill(A.n, A.per_fill or A.n, A.window, 0.0)
    if A.limit == "sliding":
        return SlidingLog(A.n, A.window, A.penalty)
    if A.limit == "fixed":
        return FixedWindow(A.n, A.window, origin, A.minute_view)
    if A.limit == "dyn":
        return Dynamic(A.rate, A.dyn_max, A.dyn_grow, A.dyn_shrink, A.dyn_load, DYN_EP, origin)
    if A.limit == "tokens":
        return Tokens(A.tpm / 60.0, A.tpm / 60.0, Bucket(A.tok_req, 20))


def p_fail(t, origin):
    if not OVL_EP or origin is None:
        return 0.0
    x = t - origin
    return A.overload if any(a <= x < b for a, b in OVL_EP) else 0.0


# ---------------------------------------------------------------- state
LOCK = threading.Lock()
S = dict(requests=0, ok=0, r429=0, r503=0, r502=0, r504=0, other=0, bad=0, models_calls=0, inflight=0, max_inflight=0)
ORIGIN = None          # arrival of the first chat request
LIM = None
OK_ADM = []            # admission times of successes written out
OK_SERV = []           # service times of those successes
OK_TOK = []            # prompt+completion tokens of those successes
DEBITS = []            # (time, completion tokens) paid after generation (tokens mode)
ARR = {}               # per second since origin: arrivals
OKS = {}               # per second: successes (by admission)
REF = {}               # per second: 429s
FIVE = {}              # per second: 5xx


def draw_service(ct):
    if A.gen == "tokens":
        return 0.2 + ct / 80.0
    if A.gen.startswith("fixed:"):
        return float(A.gen[6:])
    med, sig, lo, hi = (float(x) for x in A.gen.split(","))
    return min(hi, max(lo, RNG.lognormvariate(math.log(med), sig)))


def draw_completion(mt):
    return max(1, min(mt, int(round(RNG.lognormvariate(math.log(60), 0.8)))))


def count_prompt(body):
    chars, n = 0, 0
    for m in body.get("messages") or []:
        c = m.get("content")
        if isinstance(c, str):
            chars += len(c)
        elif isinstance(c, list):
            chars += sum(len(p.get("text", "")) for p in c if isinstance(p, dict))
        n += 1
    return int(math.ceil(chars / 3.5)) + 4 * n


def fmt_reset(x):
    x = max(0.0, x)
    if A.reset_fmt == "ms":
        return str(int(math.ceil(x * 1000)))
    if A.reset_fmt == "s-ceil":
        return str(int(math.ceil(x - 1e-9)))
    if A.reset_fmt == "s-floor":
        return str(int(math.floor(x)))
    return ("%.3f" % x).rstrip("0").rstrip(".") if x > 0 else "0"


def go_dur(x):
    x = max(0.0, x)
    if A.reset_fmt in ("s-ceil", "s-floor"):
        s = int(math.ceil(x - 1e-9)) if A.reset_fmt == "s-ceil" else int(math.floor(x))
        return ("%dm%ds" % (s // 60, s % 60)) if s >= 60 else "%ds" % s
    if x < 1:
        return "%dms" % int(math.ceil(x * 1000))
    if x >= 60:
        return "%dm%.3gs" % (int(x // 60), x % 60)
    return "%.3gs" % x


def rate_headers(info, ok):
    if A.hdr == "none" or (A.hdr_on == "ok" and not ok) or (A.hdr_on == "refusal" and ok):
        return {}
    h = {}
    if A.hdr == "together":
        h["x-ratelimit-limit"] = "%g" % round(info.get("base", info["limit"]))
        h["x-ratelimit-remaining"] = str(int(info["remaining"]))
        h["x-ratelimit-reset"] = fmt_reset(info["full"])
        if A.limit == "dyn":
            h["x-ratelimit-limit-dynamic"] = "%d" % round(info["limit"])
            h["x-ratelimit-remaining-dynamic"] = str(int(info["remaining"]))
        if A.limit == "tokens":
            h["x-tokenlimit-limit"] = "%d" % round(info["tok_limit"])
            h["x-tokenlimit-remaining"] = str(int(info["tok_remaining"]))
    elif A.hdr == "openai-min":
        ml = info.get("min_limit", info["limit"] * 60.0 / info["window"])
        h["x-ratelimit-limit-requests"] = "%d" % round(ml)
        h["x-ratelimit-remaining-requests"] = "%d" % int(info.get("min_remaining", info["remaining"]))
        h["x-ratelimit-reset-requests"] = go_dur(info.get("min_full", info["full"]))
    elif A.hdr == "envoy":
        w = int(round(info["window"]))
        h["x-ratelimit-limit"] = "%d, %d;w=%d" % (info["limit"], info["limit"], w)
        h["x-ratelimit-remaining"] = str(int(info["remaining"]))
        h["x-ratelimit-reset"] = str(int(math.ceil(info.get("next_fill", info["full"]) - 1e-9)))
    return h


def refusal(info, token_limited):
    h = {}
    ra = A.retry_after
    if ra == "secs":
        h["retry-after"] = str(max(1, int(math.ceil(info["wait"] - 1e-9))))
    elif ra.startswith("const:"):
        h["retry-after"] = ra[6:]
    if A.body == "cloudflare":
        body = ("<!DOCTYPE html><html><head><title>Access denied | api.example.ai used Cloudflare to restrict "
                "access</title></head><body><h1>Error 1015</h1><h2>You are being rate limited</h2><p>The owner "
                "of this website has banned you temporarily from accessing this website.</p></body></html>")
        h.update({"content-type": "text/html; charset=UTF-8", "server": "cloudflare",
                  "cf-ray": "%016x-SJC" % RNG.getrandbits(64)})
    elif A.body == "envoy":
        body = "local_rate_limited"
        h.update({"content-type": "text/plain", "x-envoy-ratelimited": "true", "server": "envoy"})
    else:
        typ = "dynamic_token_limited" if token_limited else ("dynamic_request_limited" if A.limit == "dyn" else "rate_limit_exceeded")
        msg = ("You have exceeded your token rate limit. Please slow down." if token_limited else
               "You have exceeded your request rate limit. Please slow down.")
        body = json.dumps({"id": uuid.uuid4().hex, "error": {"message": msg, "type": typ, "param": None, "code": None}})
        h["content-type"] = "application/json"
    return 429, h, body


def five(code):
    if code == 503:
        return 503, {"content-type": "application/json"}, json.dumps({"id": uuid.uuid4().hex, "error": {
            "message": "The server is overloaded or not ready yet.", "type": "server_error", "param": None, "code": None}})
    if code == 502:
        return 502, {"content-type": "text/html", "server": "cloudflare"}, (
            "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
            "<hr><center>cloudflare</center></body></html>")
    return 504, {"content-type": "text/plain", "server": "envoy"}, "upstream request timeout"


def pick_kind():
    tot = sum(w for _, w in KINDS)
    x = RNG.random() * tot
    for c, w in KINDS:
        x -= w
        if x < 0:
            return c
    return KINDS[-1][0]


def bump(d, t):
    k = int(math.floor(t - ORIGIN))
    d[k] = d.get(k, 0) + 1


# ---------------------------------------------------------------- ideal
def simulate(start, R):
    """A perfect greedy client against a fresh limiter with the same exogenous schedules: from the first
    success on, send whenever a request would be admitted (never a refusal). Overloaded requests count as
    (1 - share) of a success (a perfect client cannot dodge a coin flip). Returns the time the R-th
    success is admitted, minus start."""
    lim = make_limiter(ORIGIN)
    t, cnt, dt = start, 0.0, 0.001
    for _ in range(3_000_000):
        while lim.avail(t):
            lim.take(t)
            cnt += 1.0 - p_fail(t, ORIGIN)
            if cnt >= R - 1e-9:
                return t - start
        t += dt
    return None


def ideal():
    R = len(OK_ADM)
    if R < 2:
        return dict(ideal=None)
    first, last = min(OK_ADM), max(OK_ADM)
    little = sum(OK_SERV) / A.client_conc
    out = dict(ideal_little=round(little, 3))
    if A.limit == "tokens":
        rate = A.tpm / 60.0
        tail = sum(c for (t, c) in DEBITS if t > last)
        need = sum(OK_TOK) - rate - tail  # capacity = 1 s of tokens, starts full
        rb = max(0.0, need / rate)
        out.update(ideal_rate=round(rb, 3), tokens_ok=sum(OK_TOK), tokens_after_last_admission=tail)
    else:
        rb = simulate(first, R)
        out.update(ideal_rate=None if rb is None else round(rb, 3))
    out["ideal"] = None if rb is None else round(max(rb, little), 3)
    return out


# ---------------------------------------------------------------- HTTP
MODELS = [{"id": m, "object": "model", "created": 1700000000, "type": "chat", "display_name": m,
           "organization": "third", "context_length": 8192,
           "pricing": {"hourly": 0, "input": 0.1, "output": 0.1, "base": 0, "finetune": 0}}
          for m in ("m", "meta-llama/Llama-3.3-70B-Instruct-Turbo")]


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, headers, body):
        b = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        if "content-type" not in {k.lower() for k in headers}:
            self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
        self.wfile.flush()

    def do_GET(self):
        p = self.path.split("?")[0].rstrip("/")
        if p == "/v1/models":
            with LOCK:
                S["models_calls"] += 1
            return self.send(200, {}, json.dumps(MODELS))
        if p == "/v1/stats":
            with LOCK:
                st = dict(S)
                ok_adm = list(OK_ADM)
                st["first_ok"] = round(min(ok_adm), 4) if ok_adm else None
                st["last_ok"] = round(max(ok_adm), 4) if ok_adm else None
                st["span"] = round(max(ok_adm) - min(ok_adm), 4) if len(ok_adm) > 1 else None
                st.update(ideal())
                st["goodput"] = round(st["ideal"] / st["span"], 4) if st.get("ideal") is not None and st["span"] else None
                st["origin"] = ORIGIN
                n = max([0] + list(ARR) + list(OKS)) + 1 if ORIGIN is not None else 0
                st["per_s"] = dict(arrivals=[ARR.get(k, 0) for k in range(n)], ok=[OKS.get(k, 0) for k in range(n)],
                                   r429=[REF.get(k, 0) for k in range(n)], r5xx=[FIVE.get(k, 0) for k in range(n)])
                if A.limit == "dyn" and LIM is not None:
                    LIM._adv(now())
                    st["dyn_limit_per_s"] = LIM.traj[:n + 1]
                    st["dyn_load_episodes"] = [e for e in DYN_EP if e[0] < n + 1]
                if OVL_EP:
                    st["overload_episodes"] = [(round(a, 2), round(b, 2)) for a, b in OVL_EP if a < n + 1]
                if A.limit == "sliding":
                    st["penalty_blocks"] = LIM.blocks if LIM else 0
                st["args"] = vars(A)
            return self.send(200, {}, json.dumps(st))
        self.send(404, {}, json.dumps({"error": {"message": "not found", "type": "invalid_request_error",
                                                 "param": None, "code": None}}))

    def do_POST(self):
        global ORIGIN, LIM
        p = self.path.split("?")[0].rstrip("/")
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        if p != "/v1/chat/completions":
            return self.send(404, {}, json.dumps({"error": {"message": "not found", "type": "invalid_request_error",
                                                            "param": None, "code": None}}))
        if not (self.headers.get("authorization") or "").startswith("Bearer "):
            with LOCK:
                S["bad"] += 1
            return self.send(401, {}, json.dumps({"error": {"message": "Invalid API key provided", "type":
                                                            "invalid_request_error", "param": None, "code": "invalid_api_key"}}))
        try:
            body = json.loads(raw)
            assert isinstance(body, dict) and isinstance(body.get("messages"), list)
        except Exception:
            with LOCK:
                S["bad"] += 1
            return self.send(400, {}, json.dumps({"error": {"message": "invalid request body", "type":
                                                            "invalid_request_error", "param": None, "code": None}}))
        pt = count_prompt(body)
        mt = int(body.get("max_tokens") or 512)
        with LOCK:
            t = now()
            if ORIGIN is None:
                ORIGIN = t
                LIM = make_limiter(ORIGIN)
            S["requests"] += 1
            S["inflight"] += 1
            S["max_inflight"] = max(S["max_inflight"], S["inflight"])
            bump(ARR, t)
            cost = pt if A.limit == "tokens" else 1
            okd = LIM.avail(t, cost)
            fate = None
            if okd:
                LIM.take(t, cost)
                if RNG.random() < p_fail(t, ORIGIN):
                    fate = pick_kind()
                ct = draw_completion(mt)
                serv = draw_service(ct)
                info = LIM.info(t)
            else:
                token_limited = A.limit == "tokens" and LIM.req.avail(t)
                LIM.refuse(t)
                info = LIM.info(t)
                S["r429"] += 1
                bump(REF, t)
                code, h, b = refusal(info, token_limited)
                h.update(rate_headers(info, False))
                delay = RNG.uniform(R_LO, R_HI)
        try:
            if not okd:
                if delay > 0:
                    time.sleep(delay)
                return self.send(code, h, b)
            if fate is not None:
                if fate == 504:
                    time.sleep(RNG.uniform(O_LO, O_HI))
                with LOCK:
                    S["r%d" % fate] = S.get("r%d" % fate, 0) + 1
                    bump(FIVE, t)
                c, h, b = five(fate)
                return self.send(c, h, b)
            time.sleep(serv)
            with LOCK:
                t2 = now()
                if A.limit == "tokens":
                    LIM.debit(t2, ct)
                    DEBITS.append((t2, ct))
                info = LIM.info(t2)
            h = rate_headers(info, True)
            resp = {"id": uuid.uuid4().hex, "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", "m"), "prompt": [],
                    "choices": [{"index": 0, "seed": RNG.getrandbits(31), "logprobs": None,
                                 "finish_reason": "length" if ct >= mt else "stop",
                                 "message": {"role": "assistant", "content": ("lorem ipsum " * ct)[:ct * 4].strip()}}],
                    "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}}
            self.send(200, h, json.dumps(resp))
            with LOCK:
                S["ok"] += 1
                OK_ADM.append(t)
                OK_SERV.append(serv)
                OK_TOK.append(pt + ct)
                bump(OKS, t)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            with LOCK:
                S["other"] += 1
            self.close_connection = True
        finally:
            with LOCK:
                S["inflight"] -= 1


class Srv(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True


if __name__ == "__main__":
    srv = Srv(("127.0.0.1", 0), H)
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()
