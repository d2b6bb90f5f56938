-- grant.lua: hand one unit of a named prize of the pool to a member without a draw (a sign-in
-- reward, say), once per reference, with the availability rules of a draw (odds.is_available):
-- a prize out of stock, out of today's stock, or at the member's cap falls back to the
-- consolation prize. It spends stock like a draw but is not a draw: the draw counters and
-- per-member draw limits are untouched.
--
-- KEYS[1] state       hash: prizes (JSON), ... (absent = not loaded)
-- KEYS[2] stock       hash prize_id -> units left (limited prizes)
-- KEYS[3] granted     hash prize_id -> units granted since the start
-- KEYS[4] user_prize  hash "user_id|prize_id" -> wins (capped prizes)
-- KEYS[5] day         hash prize_id -> units granted today (expiry set when a count starts)
-- KEYS[6] reference   string "<grant_id> <prize_id> <picked_prize_id>" of the grant of this reference
-- KEYS[7] events      stream read by the SQL audit writer
-- KEYS[8] members     hash user_id -> 1: members loaded since a lazy rebuild (lottery/members.py)
-- KEYS[9] pacing      hash "spent", "r:<prize>[:<period>]" (see draw.lua KEYS[12], lottery/pacing.py)
--
-- ARGV[1] user_id     ARGV[2] prize_id wanted     ARGV[3] grant_id (fresh)     ARGV[4] now_ms
-- ARGV[5] local day (YYYY-MM-DD)   ARGV[6] day key time to live (ms)
-- ARGV[7] reference   ARGV[8] reference time to live (s)
-- ARGV[9] the config version in effect (issue 18; streamed when given)
-- ARGV[10] hour period, ARGV[11] day period of now_ms since the start (release plans)
-- ARGV[12] "settle": take the fallback rather than answer bucket_empty (lottery/buckets.py)
--
-- Returns one of
--   {"ok", grant_id, prize_id, picked_prize_id}        prize_id is the consolation when unavailable
--   {"replay", <same fields, of the first grant>}
--   {"not_loaded"}                                     rebuild the lottery from SQL, then call again
--   {"member_not_loaded"}                              load the member from SQL, then call again
--   {"unknown_prize"}                                  no such prize in this pool
--   {"bucket_empty", prize_id}                         see draw.lua (ARGV[12] "settle": never)

local lazy = redis.call('HGET', KEYS[1], 'lazy')
if lazy and lazy ~= '0' and redis.call('HEXISTS', KEYS[8], ARGV[1]) == 0 then return {'member_not_loaded'} end
local seen = redis.call('GET', KEYS[6])
if seen then
  local f = {}
  for field in string.gmatch(seen, '%S+') do f[#f + 1] = field end
  return {'replay', f[1], f[2], f[3]}
end
local prizes_json = redis.call('HGET', KEYS[1], 'prizes')
if not prizes_json then return {'not_loaded'} end

local user, wanted = ARGV[1], tonumber(ARGV[2])
local picked, consolation
for _, p in ipairs(cjson.decode(prizes_json)) do
  if p.id == wanted then picked = p end
  if p.c == 1 then consolation = p end
end
if not picked then return {'unknown_prize'} end

local won = picked
local pid = tostring(picked.id)
if picked.limited == 1 and tonumber(redis.call('HGET', KEYS[2], pid) or '0') <= 0 then
  -- Bucketed stock (lottery/buckets.py), as in draw.lua: ask for units of the other buckets first.
  local b = redis.call('HMGET', KEYS[1], 'buckets', 'out:' .. pid)
  if tonumber(b[1] or '1') > 1 and not b[2] and ARGV[12] ~= 'settle' then return {'bucket_empty', pid} end
  won = consolation
elseif picked.daily > 0 and tonumber(redis.call('HGET', KEYS[5], pid) or '0') >= picked.daily then
  won = consolation
elseif picked.cap > 0 and tonumber(redis.call('HGET', KEYS[4], user .. '|' .. pid) or '0') >= picked.cap then
  won = consolation
else
  -- Paced release and budget, as in draw.lua (odds.paced_available).
  local period = tonumber(ARGV[10] or '0')
  if picked.rel_per == 'day' then period = tonumber(ARGV[11] or '0') end
  if picked.rel_units then
    local field, released = 'r:' .. pid .. ':' .. tostring(period), picked.rel_units
    if picked.rel_roll == 1 then field, released = 'r:' .. pid, (period + 1) * picked.rel_units end
    if tonumber(redis.call('HGET', KEYS[9], field) or '0') >= released then won = consolation end
  end
  local budget_fen = tonumber(redis.call('HGET', KEYS[1], 'budget_fen') or '-1')
  local value = picked.v_fen or 0
  if budget_fen >= 0 and value > 0 and tonumber(redis.call('HGET', KEYS[9], 'spent') or '0') + value > budget_fen then
    won = consolation
  end
  if won == picked and picked.rel_units then
    if picked.rel_roll == 1 then redis.call('HINCRBY', KEYS[9], 'r:' .. pid, 1)
    else redis.call('HINCRBY', KEYS[9], 'r:' .. pid .. ':' .. tostring(period), 1) end
  end
end

local wid = tostring(won.id)
if (won.v_fen or 0) > 0 and tonumber(redis.call('HGET', KEYS[1], 'budget_fen') or '-1') >= 0 then
  redis.call('HINCRBY', KEYS[9], 'spent', won.v_fen)
end
if won.limited == 1 then redis.call('HINCRBY', KEYS[2], wid, -1) end
if won.cap > 0 then redis.call('HINCRBY', KEYS[4], user .. '|' .. wid, 1) end
redis.call('HINCRBY', KEYS[3], wid, 1)
if redis.call('HINCRBY', KEYS[5], wid, 1) == 1 then redis.call('PEXPIRE', KEYS[5], ARGV[6]) end
redis.call('SET', KEYS[6], ARGV[3] .. ' ' .. wid .. ' ' .. pid, 'EX', ARGV[8])
redis.call('XADD', KEYS[7], '*', 'type', 'draw', 'kind', 'grant', 'draw_id', ARGV[3], 'user_id', user,
  'prize_id', wid, 'picked_prize_id', pid, 'rand', 0, 'day', ARGV[5], 'drawn_at_ms', ARGV[4],
  'idempotency_key', ARGV[7], 'fingerprint', '-', 'left_today', -1, 'left_total', -1,
  'config_version', ARGV[9] or '0', 'cost_fen', won.v_fen or 0)
return {'ok', ARGV[3], wid, pid}
