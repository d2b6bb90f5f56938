-- member.lua: load one member's reservations from SQL after a lazy rebuild (reservation/members.py),
-- once: only if the load that read them is still the live one and the member is not loaded yet.
--
-- KEYS[1] state        hash: lazy (the load's token)
-- KEYS[2] members      hash user_id -> 1: members loaded since the rebuild
-- KEYS[3] user_dates   hash "user_id|date" -> reservations held for the date
-- KEYS[4] user_total   hash user_id -> reservations held in the activity
-- KEYS[5] mine         set of the member's reservation codes
-- KEYS[6] deadlines    sorted set: reserved ones by the end of their day
-- KEYS[7 .. 6+n]       the hashes of the member's reservations of the last days (n of them)
-- KEYS[7+n ..]         the idempotency records of its reservations of the last day (strings)
--
-- ARGV[1] user_id   ARGV[2] the load's token (read before SQL was)
-- ARGV[3] JSON {"total": held, "dates": {"<date>": held}, "keep": seconds to keep `mine`,
--   "rsv": [[ttl_s, due_ms (0: not reserved), code, field, value, field, value...]] (KEYS[7..] in order),
--   "idem": [[value, ttl_s]] (the following KEYS in order)}
--
-- Returns "ok" | "loaded" (already) | "stale" (rebuilt since the token was read, or not loaded)

if redis.call('HGET', KEYS[1], 'lazy') ~= ARGV[2] then return 'stale' end
local user = ARGV[1]
if redis.call('HEXISTS', KEYS[2], user) == 1 then return 'loaded' end
local m = cjson.decode(ARGV[3])
if m.total > 0 then redis.call('HSET', KEYS[4], user, m.total) end
for day, held in pairs(m.dates) do redis.call('HSET', KEYS[3], user .. '|' .. day, held) end
local k = 7
for _, r in ipairs(m.rsv) do
  if redis.call('EXISTS', KEYS[k]) == 0 then  -- one Redis kept (an unload, not a loss) is as new
    redis.call('HSET', KEYS[k], unpack(r, 4))
    redis.call('EXPIRE', KEYS[k], r[1])
  end
  redis.call('SADD', KEYS[5], r[3])
  if r[2] > 0 then redis.call('ZADD', KEYS[6], r[2], r[3]) end
  k = k + 1
end
if #m.rsv > 0 and redis.call('TTL', KEYS[5]) < m.keep then redis.call('EXPIRE', KEYS[5], m.keep) end
for _, record in ipairs(m.idem) do
  redis.call('SET', KEYS[k], record[1], 'EX', record[2], 'NX')
  k = k + 1
end
redis.call('HSET', KEYS[2], user, 1)
return 'ok'
