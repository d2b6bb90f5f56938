-- set_status.lua: change the live status of a loaded activity.
-- KEYS[1] state hash of the activity
-- ARGV[1] new status (live | paused | ended)
-- Returns 1 if changed, 0 if the activity is not loaded (the next load reads the status from SQL).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
return 1
