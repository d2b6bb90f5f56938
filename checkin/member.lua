-- member.lua: load one member's marks of the current cycle from SQL after a rebuild
-- (checkin/members.py), once: only if the load that read them is still the live one and the
-- member is not loaded yet.
--
-- KEYS[1] state    hash: lazy (the load's token)
-- KEYS[2] members  hash user_id -> 1: members loaded since the rebuild
-- KEYS[3] cycle    hash of the current cycle (see mark.lua)
--
-- ARGV[1] user_id   ARGV[2] the load's token (read before SQL was)   ARGV[3] cycle hash time to live (ms)
-- ARGV[4] the member's marks of the cycle ("": none)
-- ARGV[5 + 2i], ARGV[6 + 2i] the offset of a marked day and the outcome of its mark
--
-- Returns "ok" | "loaded" (already) | "stale" (rebuilt since the token was read, or not loaded)

if redis.call('HGET', KEYS[1], 'lazy') ~= ARGV[2] then return 'stale' end
local user = ARGV[1]
if redis.call('HEXISTS', KEYS[2], user) == 1 then return 'loaded' end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[3], user, ARGV[4])
  for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[3], user .. '|' .. ARGV[i], ARGV[i + 1]) end
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end
redis.call('HSET', KEYS[2], user, 1)
return 'ok'
