-- member.lua: load one member's state from SQL after a rebuild (lottery/members.py), once: only
-- if the load that read it is still the live one and the member is not loaded yet.
--
-- KEYS[1] state       hash: lazy (the load's token)
-- KEYS[2] members     hash user_id -> 1: members loaded since the rebuild
-- KEYS[3] user_total  hash user_id -> draws since the start
-- KEYS[4] user_day    hash user_id -> draws today
-- KEYS[5] user_prize  hash "user_id|prize_id" -> wins (capped prizes)
-- KEYS[6] chances     hash user_id -> draw chances left
-- KEYS[7] pity        hash user_id -> consecutive consolation draws (the pity rule)
-- KEYS[8..] the hashes of the days of the member's draws (their idempotency records), then its
--           grant references and chance references (strings)
--
-- ARGV[1] user_id   ARGV[2] the load's token (read before SQL was)   ARGV[3] draws since the start
-- ARGV[4] draws today   ARGV[5] day key time to live (ms)   ARGV[6] chances left
-- ARGV[7] JSON {"prize_id": wins} of the capped prizes   ARGV[8] consecutive consolation draws
-- ARGV[9 + 3i], ARGV[10 + 3i], ARGV[11 + 3i] of KEYS[8 + i]: a hash's field ("<user_id> <key>"),
--           the record, the hash's time to live (ms); or "", a string's value, its time to live (s)
--
-- Returns "ok" | "loaded" (already) | "stale" (rebuilt since the token was read, or not loaded)

if redis.call('HGET', KEYS[1], 'lazy') ~= ARGV[2] then return 'stale' end
local user = ARGV[1]
if redis.call('HEXISTS', KEYS[2], user) == 1 then return 'loaded' end
if tonumber(ARGV[3]) ~= 0 then redis.call('HSET', KEYS[3], user, ARGV[3]) end
if tonumber(ARGV[4]) ~= 0 then
  redis.call('HSET', KEYS[4], user, ARGV[4])
  redis.call('PEXPIRE', KEYS[4], ARGV[5])
end
if tonumber(ARGV[6]) ~= 0 then redis.call('HSET', KEYS[6], user, ARGV[6]) end
for prize, wins in pairs(cjson.decode(ARGV[7])) do redis.call('HSET', KEYS[5], user .. '|' .. prize, wins) end
if tonumber(ARGV[8]) ~= 0 then redis.call('HSET', KEYS[7], user, ARGV[8]) end
for i = 8, #KEYS do
  local at = 9 + (i - 8) * 3
  if ARGV[at] == '' then
    redis.call('SET', KEYS[i], ARGV[at + 1], 'EX', ARGV[at + 2], 'NX')
  else
    redis.call('HSETNX', KEYS[i], ARGV[at], ARGV[at + 1])
    redis.call('PEXPIRE', KEYS[i], ARGV[at + 2])
  end
end
redis.call('HSET', KEYS[2], user, 1)
return 'ok'
