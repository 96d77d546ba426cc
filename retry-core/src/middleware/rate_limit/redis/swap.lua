-- Sets a key if nobody changed it since it was loaded: the one write a fleet's processes
-- make, so that the state they step (in Rust, the same code for every store) stays atomic.
--
-- KEYS[1] the key. ARGV[1] the value it was loaded with ('' for none), ARGV[2] the new value,
-- ARGV[3] how long to keep it (ms). Returns 1 if set, 0 if the key had changed.
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
