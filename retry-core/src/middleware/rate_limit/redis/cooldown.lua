-- How long the fleet's cooldown for a host still holds, in microseconds of the server's clock
-- (0: none). Asked by a request that slept until its slot, in case a 429 came meanwhile.
--
-- KEYS[1] cooldown end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = tonumber(redis.call('GET', KEYS[1]) or '') or 0
return math.max(0, math.ceil(until_ - now))
