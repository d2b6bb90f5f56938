-- member.lua: load one member's part from SQL after a lazy rebuild (reservation/members.py), once:
-- only if the load that read it is still the live one and the member is not loaded by it yet.
--
-- KEYS[1] state        hash: lazy (the load's token)
-- KEYS[2] member       hash of the member's part (reservation/keys.py `member`)
-- KEYS[3] deadlines    sorted set: reserved ones by the end of their day
-- KEYS[4 .. 3+n]       the hashes of the member's reservations of the last days (n of them)
--
-- ARGV[1] the load's token (read before SQL was)
-- ARGV[2] JSON {"total": held, "dates": {"<date>": held}, "keep": seconds to keep the member's hash,
--   "rsv": [[ttl_s, due_ms (0: not reserved), code, field, value, field, value...]] (KEYS[4..] in order),
--   "idem": [[idempotency key, record]]}
--
-- Returns "ok" | "loaded" (already) | "stale" (rebuilt since the token was read, or not loaded)

local token = ARGV[1]
if redis.call('HGET', KEYS[1], 'lazy') ~= token then return 'stale' end
if redis.call('HGET', KEYS[2], 'L') == token then return 'loaded' end
local m = cjson.decode(ARGV[2])
local fields = {'L', token, 't', m.total}
for day, held in pairs(m.dates) do
  fields[#fields + 1] = 'd:' .. day; fields[#fields + 1] = held
end
for k, r in ipairs(m.rsv) do
  local key = KEYS[3 + k]
  if redis.call('EXISTS', key) == 0 then  -- one Redis kept (an unload, not a loss) is as new
    redis.call('HSET', key, unpack(r, 4))
    redis.call('EXPIRE', key, r[1])
  end
  fields[#fields + 1] = 'c:' .. r[3]; fields[#fields + 1] = 1
  if r[2] > 0 then redis.call('ZADD', KEYS[3], r[2], r[3]) end
end
for _, record in ipairs(m.idem) do
  fields[#fields + 1] = 'k:' .. record[1]; fields[#fields + 1] = record[2]
end
redis.call('HSET', KEYS[2], unpack(fields))
if redis.call('TTL', KEYS[2]) < m.keep then redis.call('EXPIRE', KEYS[2], m.keep) end
return 'ok'
