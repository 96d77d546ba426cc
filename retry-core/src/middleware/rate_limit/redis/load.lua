-- A key's value with the server's clock, read together: the clock every process of a fleet
-- dates its decisions by (the clients' own clocks never matter).
--
-- KEYS[1] the key. Returns {seconds, microseconds, value or nil}.
local t = redis.call('TIME')
return {tonumber(t[1]), tonumber(t[2]), redis.call('GET', KEYS[1])}
