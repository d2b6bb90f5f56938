-- points.lua: change a member's points balance once per reference, atomically.
--
-- KEYS[1] balances  hash user_id -> balance (of one wallet shard)
-- KEYS[2] loaded    marker: the shard was loaded from SQL
-- KEYS[3] entry     string: outcome of the change with this reference ("<balance> <fingerprint>")
-- KEYS[4] events    stream read by the SQL audit writer
-- KEYS[5] original  for a refund: the entry key of the debit being refunded; else same as KEYS[3]
--
-- ARGV[1] user_id   ARGV[2] delta (signed integer; negative = debit)
-- ARGV[3] ref       ARGV[4] reason   ARGV[5] now_ms   ARGV[6] activity_id (0 = none)
-- ARGV[7] entry TTL (s)   ARGV[8] "refund" when this change refunds KEYS[5], else ""
-- ARGV[9] fingerprint of the change (its delta and reason): the same reference with another
--         fingerprint is another request reusing it
--
-- Returns
--   {"ok", balance}            applied now
--   {"replay", balance}        this reference was applied before (balance after it then)
--   {"mismatch", balance}      this reference was applied before to another change; nothing changed
--   {"insufficient", balance}  a debit larger than the balance; nothing changed
--   {"no_original"}            a refund of a debit that never happened; nothing changed
--   {"not_loaded"}             load the shard from SQL, then call again

if redis.call('EXISTS', KEYS[2]) == 0 then return {'not_loaded'} end
local seen = redis.call('GET', KEYS[3])
if seen then
  local before, print = string.match(seen, '^(%-?%d+) ?(%S*)$')
  if print ~= '' and print ~= ARGV[9] then return {'mismatch', tonumber(before)} end
  return {'replay', tonumber(before)}
end
if ARGV[8] == 'refund' and redis.call('EXISTS', KEYS[5]) == 0 then return {'no_original'} end

local user = ARGV[1]
local delta = tonumber(ARGV[2])
local balance = tonumber(redis.call('HGET', KEYS[1], user) or '0')
if balance + delta < 0 then return {'insufficient', balance} end
balance = redis.call('HINCRBY', KEYS[1], user, delta)
redis.call('SET', KEYS[3], string.format('%d %s', balance, ARGV[9]), 'EX', ARGV[7])
redis.call('XADD', KEYS[4], '*', 'type', 'points', 'ref', ARGV[3], 'user_id', user, 'delta', delta,
  'balance', balance, 'reason', ARGV[4], 'activity_id', ARGV[6], 'at_ms', ARGV[5])
return {'ok', balance}
