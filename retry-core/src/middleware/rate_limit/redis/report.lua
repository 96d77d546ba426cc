-- What one client learned from a response, for every client of this Redis.
--
-- KEYS[1] cooldown end (us, server clock), KEYS[2] learned rate (requests/s)
-- ARGV[1] cooldown to start (us from now, 0: none), ARGV[2] learned rate (0: none),
-- ARGV[3] how long the learned rate is kept (ms)
if redis.replicate_commands then
  pcall(redis.replicate_commands)
end
local pause = tonumber(ARGV[1])
if pause > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local until_ = now + pause
  -- A cooldown only ever grows: a shorter hint seen later does not cut a longer one short.
  local current = tonumber(redis.call('GET', KEYS[1]) or '') or 0
  if until_ > current then
    redis.call('SET', KEYS[1], string.format('%.0f', until_), 'PX', math.ceil(pause / 1000) + 1000)
  end
end
local rate = tonumber(ARGV[2])
if rate > 0 then
  redis.call('SET', KEYS[2], string.format('%.6f', rate), 'PX', tonumber(ARGV[3]))
end
return 1
