-- add_stock.lua: add units to a prize's stock while the activity is live.
-- KEYS[1] state hash   KEYS[2] stock hash (prize_id -> units left)
-- ARGV[1] prize_id     ARGV[2] units to add (> 0)
-- Returns the units left after the change, or -1 if the activity is not loaded (the next load
-- computes stock from SQL, where the addition is already committed).
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
