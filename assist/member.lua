-- member.lua: load one helper or initiator from SQL after a lazy rebuild (assist/members.py), and
-- the helps of its device and address on the rebuild's day: each only if the load that read it is
-- still the live one and it is not loaded yet (concurrent loads: the first wins).
--
-- KEYS[1] state        hash: lazy (the load's token), lazy_day
-- KEYS[2] members      hash user_id -> 1
-- KEYS[3] initiators   hash user_id -> initiatives started
-- KEYS[4] open         hash user_id -> the member's open initiative
-- KEYS[5] helped       hash helper -> helps in the activity
-- KEYS[6] invitees     hash invitee -> the initiative the invitee counted for
-- KEYS[7] user_day     KEYS[8] device_day   KEYS[9] ip_day   KEYS[10] day_loaded   (the rebuild's day)
-- KEYS[11] the hash of the member's open initiative (SQL's), if any
--
-- ARGV[1] user_id   ARGV[2] the load's token (read before SQL was)   ARGV[3] initiatives started
-- ARGV[4] its open initiative ("" if none)   ARGV[5] helps   ARGV[6] the initiative it counted
-- for as an invitee ("")   ARGV[7] its helps on the rebuild's day   ARGV[8] device ("")
-- ARGV[9] the device's helps that day   ARGV[10] ip ("")   ARGV[11] the address's helps that day
-- ARGV[12] day keys time to live (ms)
--
-- Returns "ok" | "loaded" (the member was already) | "stale" (rebuilt since the token was read)

if redis.call('HGET', KEYS[1], 'lazy') ~= ARGV[2] then return 'stale' end
local user, result = ARGV[1], 'loaded'
if redis.call('HEXISTS', KEYS[2], user) == 0 then
  if ARGV[3] ~= '0' then redis.call('HSET', KEYS[3], user, ARGV[3]) end
  if ARGV[4] ~= '' then
    local status = redis.call('HGET', KEYS[11], 'status')  -- changed since the rebuild: Redis knows better
    if not status or status == 'open' then redis.call('HSET', KEYS[4], user, ARGV[4]) end
  end
  if ARGV[5] ~= '0' then redis.call('HSET', KEYS[5], user, ARGV[5]) end
  if ARGV[6] ~= '' then redis.call('HSET', KEYS[6], user, ARGV[6]) end
  if ARGV[7] ~= '0' then
    redis.call('HSET', KEYS[7], user, ARGV[7])
    redis.call('PEXPIRE', KEYS[7], ARGV[12])
  end
  redis.call('HSET', KEYS[2], user, 1)
  result = 'ok'
end
for k, prefix in ipairs({'d:', 'i:'}) do
  local who, helps = ARGV[6 + 2 * k], ARGV[7 + 2 * k]
  if who ~= '' and redis.call('HSETNX', KEYS[10], prefix .. who, 1) == 1 then
    redis.call('PEXPIRE', KEYS[10], ARGV[12])
    if helps ~= '0' then
      redis.call('HSET', KEYS[7 + k], who, helps)
      redis.call('PEXPIRE', KEYS[7 + k], ARGV[12])
    end
  end
end
return result
