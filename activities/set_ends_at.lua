-- set_ends_at.lua: a later end time for a loaded activity (an operator extends it, live).
-- KEYS[1] state hash of the activity
-- ARGV[1] the new ends_at_ms
-- Returns 1 if changed, 0 if the activity is not loaded (the next load reads it from SQL).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'ends_at_ms', ARGV[1])
return 1
