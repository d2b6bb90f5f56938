-- release.lua: give back units a fail-closed rebuild held back, once an operator confirmed.
-- KEYS[1] epoch string (the id of the load that held the units back)
-- KEYS[2] hash holding the counter (stock left, a day's grants, a pool's units left)
-- ARGV[1] epoch the hold-back belongs to   ARGV[2] hash field   ARGV[3] delta (signed)
-- Returns 'ok', 'superseded' (Redis was rebuilt again since: the new load holds its own
-- figures) or 'gone' (the counter expired, e.g. a day that is over: nothing to give back).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'superseded' end
if redis.call('EXISTS', KEYS[2]) == 0 then return 'gone' end
redis.call('HINCRBY', KEYS[2], ARGV[2], ARGV[3])
return 'ok'
