-- give.lua: add units taken from other buckets (take.lua) to a bucket of a bucketed lottery
-- (lottery/buckets.py), or mark the prize out everywhere when no other bucket had any.
--
-- KEYS[1] state   hash of the bucket: load (its load's token), out:<prize_id> (1: out everywhere)
-- KEYS[2] stock   hash prize_id -> units left, of the bucket
--
-- ARGV[1] prize_id   ARGV[2] units (>= 0)   ARGV[3] the load token the units were taken under
-- ARGV[4] "1": no other bucket had any (with ARGV[2] = 0): mark the prize out in this bucket
--
-- Units taken under another load are not added (a rebuild from SQL counted them already):
-- returns -1 then; else the units added. Units given clear the bucket's out mark.

if redis.call('HGET', KEYS[1], 'load') ~= ARGV[3] then return -1 end
local n = tonumber(ARGV[2])
if n > 0 then
  redis.call('HINCRBY', KEYS[2], ARGV[1], n)
  redis.call('HDEL', KEYS[1], 'out:' .. ARGV[1])
elseif ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'out:' .. ARGV[1], 1)
end
return n
