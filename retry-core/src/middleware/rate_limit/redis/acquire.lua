-- One admission decision for one host, atomic across every client of this Redis: when may
-- this request go? The slot is reserved at once (the caller sleeps until it), so the clients
-- of a fleet take their turns in the order they asked, and no lateness in waking up costs the
-- schedule anything.
--
-- GCRA (as in redis-cell): each key holds a theoretical arrival time (TAT) in microseconds of
-- the server's clock. Time comes from TIME, never from a client, so clock skew between the
-- clients does not matter.
--
-- KEYS[1] request TAT, KEYS[2] token TAT, KEYS[3] cooldown end, KEYS[4] learned rate
-- ARGV[1] the caller's pace (requests/s, 0: unpaced), ARGV[2] a fixed quota (requests/s, 0:
-- none), ARGV[3] burst, ARGV[4] token rate (tokens/s, 0: none), ARGV[5] token capacity,
-- ARGV[6] this request's tokens, ARGV[7] grace (us): how late after its TAT a request may be
-- and still keep the schedule (rather than start it again from now), ARGV[8] 1 when the
-- caller's previous slot fell in a cooldown and went unused: it is given back first, so slots
-- lost to a cooldown do not push the schedule out.
-- Returns the wait in microseconds before the reserved slot (0: go now).
if redis.replicate_commands then
  -- Redis < 5 must be told that TIME is replicated as its effects; later versions always do.
  pcall(redis.replicate_commands)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local function num(key)
  return tonumber(redis.call('GET', key) or '')
end
local function store(key, value)
  -- Kept until a second after it stops mattering: no key outlives its use.
  local ttl = math.max(0, math.ceil((value - now) / 1000)) + 1000
  redis.call('SET', key, string.format('%.0f', value), 'PX', ttl)
end

local at = math.max(now, num(KEYS[3]) or 0)

-- What other clients learned from the server's headers wins over the caller's own guess.
local rate = num(KEYS[4]) or tonumber(ARGV[1])
local fixed = tonumber(ARGV[2])
if fixed > 0 and (rate <= 0 or fixed < rate) then
  rate = fixed
end
local interval, tat
if rate > 0 then
  interval = 1000000 / rate
  tat = num(KEYS[1]) or now
  if ARGV[8] == '1' then
    tat = math.max(now, tat - interval)
  end
  local burst = math.max(1, tonumber(ARGV[3]))
  at = math.max(at, tat - (burst - 1) * interval)
end

local token_rate = tonumber(ARGV[4])
local per_token, cost, token_tat
if token_rate > 0 then
  per_token = 1000000 / token_rate
  local capacity = math.max(1, tonumber(ARGV[5]))
  cost = math.max(1, tonumber(ARGV[6]))
  token_tat = num(KEYS[2]) or now
  if ARGV[8] == '1' then
    token_tat = math.max(now, token_tat - cost * per_token)
  end
  -- A request larger than the bucket waits for a full bucket, then leaves a debt.
  at = math.max(at, token_tat - math.max(0, capacity - cost) * per_token)
end

if interval then
  -- Close behind the schedule (a caller a little late): keep it. After a quiet spell or a
  -- cooldown: start it again from the slot taken now.
  local grace = math.min(tonumber(ARGV[7]), interval / 4)
  local from = math.max(tat, at)
  if at - tat <= grace then
    from = tat
  end
  store(KEYS[1], math.max(from + interval, at))
end
if per_token then
  store(KEYS[2], math.max(token_tat, at) + cost * per_token)
end
return math.ceil(at - now)
