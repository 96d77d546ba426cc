"""A rate-limited chat server written apart from `together_client::sim`: another language,
another HTTP stack, real threads and a real clock, from the words of issues 11 and 12 alone.
A client tuned to the simulator's quirks would show it here. Python's standard library only.

Usage: server.py PORT DIALECT [--steps] [--tokens N] [--window]
  DIALECT  rate:      x-ratelimit-limit is the rate per second (50), remaining the whole
                      requests left, reset the wait until the next request would be taken
           bucket:    x-ratelimit-limit is the bucket (5), reset the time until it is full
           none:      no rate-limit header at all
           openai:    x-ratelimit-*-requests, per-minute figures, Go-duration resets
           anthropic: anthropic-ratelimit-requests-*, RFC 3339 resets, retry-after on a 429
           ietf:      the IETF draft's older names, RateLimit-Limit (the bucket), -Remaining,
                      -Reset (whole seconds until it is full, rounded up)
  --steps       the limit moves: 50 a second, 20 from 2 s, 80 from 5 s (from the first request)
  --tokens N    a token limit of N a second (bucket of N) that binds first: a request costs
                5 prompt tokens plus its max_tokens
  --window      a fixed window instead of the bucket: 50 requests a second, counted per second
                from the first request, all of them back when the second ends; `bucket` then
                reports the window (limit 50, remaining left in it, reset the time until it ends)
A bucket of 5 refilling at 50 a second throughout. GET /v1/stats: successes, 429s, and the
span from the first success to the last; GET /v1/events: every request's arrival (seconds
since the first) and whether it was taken.
"""
import json, math, random, sys, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from datetime import datetime, timezone, timedelta

PORT = int(sys.argv[1]); DIALECT = sys.argv[2]
STEPS = '--steps' in sys.argv
TOKENS = int(sys.argv[sys.argv.index('--tokens') + 1]) if '--tokens' in sys.argv else None
WINDOW = '--window' in sys.argv
RATE, BURST = 50.0, 5.0
lock = threading.Lock()
events = []  # (seconds since the first request, taken) per request
state = {'t0': None, 'tokens': BURST, 'last': None, 'ok': 0, 'r429': 0, 'first': None, 'lastok': None,
         'tok': float(TOKENS or 0), 'minute': RATE * 60, 'win': -1, 'left': 0}

def rate_now(now):
    if not STEPS or state['t0'] is None: return RATE
    el = now - state['t0']
    return 50.0 if el < 2 else (20.0 if el < 5 else 80.0)

def take(cost):
    now = time.monotonic()
    with lock:
        if state['t0'] is None: state['t0'] = now; state['last'] = now
        r = rate_now(now)
        dt = now - state['last']; state['last'] = now
        state['tokens'] = min(BURST, state['tokens'] + dt * r)
        state['minute'] = min(RATE * 60, state['minute'] + dt * r)
        if TOKENS: state['tok'] = min(float(TOKENS), state['tok'] + dt * TOKENS)
        if WINDOW:
            win = int(now - state['t0'])
            if win != state['win']: state['win'] = win; state['left'] = int(RATE)
            ok = state['left'] >= 1
            if ok: state['left'] -= 1
            ends = state['t0'] + win + 1 - now
            events.append((now - state['t0'], ok))
            if ok:
                state['ok'] += 1; state['lastok'] = now
                if state['first'] is None: state['first'] = now
            else:
                state['r429'] += 1
            return ok, state['left'], RATE, ends, state['minute']
        ok = state['tokens'] >= 1 and (not TOKENS or state['tok'] >= cost)
        if ok:
            state['tokens'] -= 1; state['minute'] = max(0, state['minute'] - 1)
            if TOKENS: state['tok'] -= cost
            state['ok'] += 1; state['lastok'] = now
            if state['first'] is None: state['first'] = now
        else:
            state['r429'] += 1
        events.append((now - state['t0'], ok))
        wait = max((1 - state['tokens']) / r, ((cost - state['tok']) / TOKENS) if TOKENS else 0, 0)
        return ok, state['tokens'], r, wait, state['minute']

def headers(ok, tokens, r, wait, minute):
    h = {}
    rem = int(max(tokens, 0))
    if DIALECT == 'rate':
        h['x-ratelimit-limit'] = str(int(r)); h['x-ratelimit-remaining'] = str(rem)
        h['x-ratelimit-reset'] = f"{wait:.3f}" if not ok else f"{max(0,(1-tokens)/r):.3f}"
    elif DIALECT == 'bucket' and WINDOW:
        h['x-ratelimit-limit'] = str(int(RATE)); h['x-ratelimit-remaining'] = str(rem)
        h['x-ratelimit-reset'] = f"{wait:.3f}"
    elif DIALECT == 'bucket':
        h['x-ratelimit-limit'] = str(int(BURST)); h['x-ratelimit-remaining'] = str(rem)
        h['x-ratelimit-reset'] = f"{(BURST - tokens) / r:.3f}"
    elif DIALECT == 'ietf':
        h['RateLimit-Limit'] = str(int(BURST)); h['RateLimit-Remaining'] = str(rem)
        h['RateLimit-Reset'] = str(math.ceil((BURST - tokens) / r))
    elif DIALECT == 'openai':
        h['x-ratelimit-limit-requests'] = str(int(RATE * 60))
        h['x-ratelimit-remaining-requests'] = str(int(minute))
        full = (RATE * 60 - minute) / r
        h['x-ratelimit-reset-requests'] = f"{full:.3f}s" if full < 60 else f"{int(full//60)}m{full%60:.3f}s"
    elif DIALECT == 'anthropic':
        h['anthropic-ratelimit-requests-limit'] = str(int(RATE * 60))
        h['anthropic-ratelimit-requests-remaining'] = str(int(minute))
        at = datetime.now(timezone.utc) + timedelta(seconds=(RATE * 60 - minute) / r)
        h['anthropic-ratelimit-requests-reset'] = at.replace(microsecond=0).isoformat().replace('+00:00', 'Z')
        if not ok: h['retry-after'] = str(max(1, int(wait + 0.999)))
    return h

class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *a): pass
    def send(self, code, body, hdrs):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header('content-type', 'application/json'); self.send_header('content-length', str(len(data)))
        for k, v in hdrs.items(): self.send_header(k, v)
        self.end_headers(); self.wfile.write(data)
    def do_GET(self):
        if self.path.endswith('/events'):
            with lock:
                ev = list(events)
            self.send(200, ev, {})
        elif self.path.endswith('/stats'):
            with lock:
                s = dict(state)
            self.send(200, {'ok': s['ok'], 'r429': s['r429'], 'span': (s['lastok'] or 0) - (s['first'] or 0)}, {})
        else:
            self.send(404, {'error': {'message': 'no', 'type': 'not_found'}}, {})
    def do_POST(self):
        n = int(self.headers.get('content-length', 0)); body = json.loads(self.rfile.read(n) or b'{}')
        cost = 5 + int(body.get('max_tokens') or 5)
        time.sleep(random.uniform(0.002, 0.030))
        ok, tokens, r, wait, minute = take(cost)
        h = headers(ok, tokens, r, wait, minute)
        if ok:
            self.send(200, {'id': 'x', 'object': 'chat.completion', 'created': int(time.time()), 'model': body.get('model', 'm'),
                            'choices': [{'index': 0, 'message': {'role': 'assistant', 'content': 'ok'}, 'finish_reason': 'stop'}],
                            'usage': {'prompt_tokens': 5, 'completion_tokens': 5, 'total_tokens': 10}}, h)
        else:
            err = {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': 'rate limited'}} if DIALECT == 'anthropic' \
                else {'error': {'message': 'rate limited', 'type': 'rate_limit', 'param': None, 'code': None}}
            self.send(429, err, h)

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 256
ThreadingHTTPServer(('127.0.0.1', PORT), H).serve_forever()
