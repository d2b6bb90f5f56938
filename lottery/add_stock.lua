-- add_stock.lua: bring a prize's stock in Redis up to its total in SQL, once (idempotent).
-- KEYS[1] state hash (holds "total:<prize_id>", the total stock the live state counts from)
-- KEYS[2] stock hash (prize_id -> units left)
-- ARGV[1] prize_id   ARGV[2] the prize's total stock in SQL now   ARGV[3] units just added
-- The units left rise by how much the SQL total exceeds the total Redis counted from; a total
-- at or below it changes nothing (totals only grow, so a late or repeated call is harmless and
-- the reconciler can call it any time). A state loaded before totals were kept adds ARGV[3].
-- Returns the units added to the units left (0: nothing to do), or -1 if the activity is not
-- loaded (the next load computes stock from SQL, where the addition is already committed).
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local field = 'total:' .. ARGV[1]
local total = tonumber(ARGV[2])
local counted = tonumber(redis.call('HGET', KEYS[1], field))
local delta = tonumber(ARGV[3])
if counted then delta = total - counted end
if delta > 0 then
  redis.call('HSET', KEYS[1], field, total)
  redis.call('HINCRBY', KEYS[2], ARGV[1], delta)
  return delta
end
if not counted then redis.call('HSET', KEYS[1], field, total) end
return 0
