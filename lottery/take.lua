-- take.lua: take units of a prize's stock out of one bucket of a bucketed lottery (lottery/buckets.py),
-- to move them to a bucket that ran out (give.lua, next).
--
-- KEYS[1] state   hash of the donor bucket: load (the token of the load that wrote it)
-- KEYS[2] stock   hash prize_id -> units left, of the donor bucket
--
-- ARGV[1] prize_id   ARGV[2] at most this many units (0: half of what the bucket holds, rounded up)
--
-- Returns {units taken, the donor's load token} ({0, ""} when the bucket is not loaded or holds none).

local token = redis.call('HGET', KEYS[1], 'load')
if not token then return {0, ''} end
local held = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local want = tonumber(ARGV[2])
if want <= 0 then want = math.ceil(held / 2) end
local n = math.min(held, want)
if n <= 0 then return {0, token} end
redis.call('HINCRBY', KEYS[2], ARGV[1], -n)
return {n, token}
