-- draw.lua: one or more draws of one activity, each atomically, in order. Mirrors lottery/odds.py
-- (pick, is_available, decide). Several draws in one call (activities/scripts.py groups the
-- pending draws with the same KEYS) do the activity's work once: the call, the state HMGET, the
-- weights, versions and prize terms (a draw never changes them); everything a draw changes is
-- read per draw, so N draws in one call answer exactly what N calls in a row answer.
-- outside_window(status, starts_at_ms, ends_at_ms, now_ms): activities/window.lua, prepended when loaded.
--
-- KEYS[1] state       hash: status, starts_at_ms, ends_at_ms, per_user_daily, per_user_total,
--                     global_daily (0 = no limit), prizes (JSON), draws_total, lazy, pity_after,
--                     config_version, next_versions (read with one HMGET); weights ("w1,w2,..."
--                     of `prizes`), consolation (its 1-based index), prize:<i> (JSON of the i-th)
-- KEYS[2] stock       hash prize_id -> units left (limited prizes)
-- KEYS[3] granted     hash prize_id -> units granted since the start
-- KEYS[4] user_total  hash user_id -> draws since the start
-- KEYS[5] user_prize  hash "user_id|prize_id" -> wins (capped prizes)
-- KEYS[6] user_day    hash user_id -> draws today (expiry set when a member's first draw creates it)
-- KEYS[7] day         hash "draws" -> draws today, prize_id -> units granted today (expiry set
--                     when the day's first draw creates "draws")
-- KEYS[8] done today  hash "<user_id> <idempotency key>" -> "<fingerprint> <draw_id> <prize_id>
--                     <picked_id> <left_today> <left_total> <drawn_at_ms> <kind>": the draws of
--                     today's local day (expiry ARGV[20], set with the day's first draw; a rebuild
--                     creates it with its expiry, lottery/store.py)
-- KEYS[9] events      stream read by the SQL audit writer
-- KEYS[10] chances    hash user_id -> draw chances left
-- KEYS[11] pity       hash user_id -> consecutive consolation draws (kept when the state's
--                     pity_after > 0; see "Pity" below and lottery/odds.py)
-- KEYS[12] pacing     hash "spent" -> fen spent of the budget (with one), "r:<prize>[:<period>]" -> units
--                     counted against a release plan (lottery/pacing.py; state: "budget_fen",
--                     -1 = no budget; prizes JSON: v_fen, rel_per, rel_units, rel_roll)
-- KEYS[13] members    hash user_id -> 1: members loaded since a lazy rebuild (lottery/members.py)
-- KEYS[14..] done on the earlier local days a record of the last ARGV[9] seconds may be in
--                     (lottery/store.py draws_done_days), newest first
--
-- ARGV: groups of 20, one per draw (a single draw: a group of 1); ARGV[i] below is the i-th of
-- the draw's group (the body of `one` takes its group as ARGV).
-- ARGV[1] user_id          ARGV[2] draw_id (fresh, used only if this is a new draw)
-- ARGV[3] rand (0 <= rand < 2^32, from Python's secrets)
-- ARGV[4] now_ms           ARGV[5] local day (YYYY-MM-DD)
-- ARGV[6] day keys time to live (ms; relative, so an injected clock cannot expire them early)
-- ARGV[7] fingerprint of the request   ARGV[8] idempotency key
-- ARGV[9] idempotency window (s): a record older than that is not replayed (a new draw)
-- ARGV[10] how to pay: "chance_or_free" (a chance if the member has one, else a draw within the
--          limits), "chance_or_pay" (a chance, else answer payment_required: the caller charges
--          the points cost and calls again with "paid"), "paid" (a draw within the limits)
-- ARGV[11] the weights of the member's A/B variant, one per prize in table order ("": the table's)
-- ARGV[12] A/B variant   ARGV[13] channel   ARGV[14] source   (optional; streamed when not "")
-- ARGV[15] "settle": never answer bucket_empty (see Returns)
-- ARGV[17] "<hour period> <day period>" of now_ms since the start (release plans, 0 = the first)
-- ARGV[18] the values in fen of the member's A/B variant, one per prize in table order ("": the table's)
-- ARGV[19] the config version the caller derived ARGV[3] for (issue 18; "": no check). The state
--          hash's `prizes` is version `config_version`; `next_versions` (JSON, optional) lists the
--          later versions [{v, at, w: weights in table order, l: [per_user_daily, per_user_total,
--          global_daily] (0: no limit)}]: the draw uses the last one whose time `at` <= now_ms,
--          exactly one version per draw. If it is not ARGV[19], nothing happens.
-- ARGV[20] KEYS[8]'s time to live (ms, relative: the day's end + ARGV[9] - now; "": ARGV[6])
--
-- The state's prizes JSON (and each `prize:<i>`, its i-th prize) carries per prize: id, w (weight),
-- limited, daily, cap, c (consolation),
-- u (unlock tier: drawable from the member's u-th draw on, 0: always), p (1: a pity prize).
--
-- A draw paid with a chance (kind "chance") neither counts against nor is held back by the
-- per-member limits (the chance is the entitlement); the global daily cap still applies.
--
-- Returns a list with one reply per draw, in ARGV's order; a refusal stops only its own draw:
--   {"ok", draw_id, prize_id, picked_id, left_today, left_total, drawn_at_ms, kind, chances_left}
--                                (-1 = no limit; kind: draw | chance)
--   {"replay", <same fields as ok, from the first request; chances_left as of now>}
--   {"mismatch"}                 same idempotency key, different request
--   {"not_loaded"}               no state for this activity: rebuild from SQL, then call again
--   {"member_not_loaded"}        rebuilt lazily, this member not yet: load it from SQL, call again
--   {"payment_required"}         (chance_or_pay) no chance and the limits allow a paid draw
--   {"stale_version", version}   the version in effect is not ARGV[19]: re-read it, call again
--   {"bucket_empty", prize_id}  (bucketed stock, lottery/buckets.py: state `buckets` > 1) the
--                                picked prize is out in this bucket and not marked `out:<prize_id>`
--                                (out everywhere): move units here from other buckets, call again;
--                                ARGV[15] "settle" takes the fallback instead (after retries)
--   {"refused", code[, detail]}  activity_not_live | not_started | already_ended |
--                                user_daily_limit | user_total_limit | global_daily_limit

-- Once per call: the state fields (no draw changes them) and what derives from them.
local s = redis.call('HMGET', KEYS[1], 'status', 'starts_at_ms', 'ends_at_ms', 'per_user_daily',
  'per_user_total', 'global_daily', 'weights', 'lazy', 'pity_after', 'config_version', 'next_versions',
  'consolation', 'budget_fen')
local lazy = s[8]
local next_versions = {}
if s[11] and s[11] ~= '[]' then next_versions = cjson.decode(s[11]) end
-- Decoded prizes are shared by the call's draws and never changed but for `_i`, their 1-based
-- place in the table: a draw reads its variant's weight and value by it (weights, fen below).
local table_prizes  -- the whole table `prizes`, decoded when first needed
local function all_prizes()
  if not table_prizes then
    table_prizes = cjson.decode(redis.call('HGET', KEYS[1], 'prizes'))
    for i, p in ipairs(table_prizes) do p._i = i end
  end
  return table_prizes
end
local base_weights, n = {}, 0  -- the state's `weights`, "w1,w2,..." in table order
if s[7] then
  for w in string.gmatch(s[7], '[^,]+') do n = n + 1; base_weights[n] = tonumber(w) end
elseif s[1] then  -- a state loaded before `weights` existed
  for _, p in ipairs(all_prizes()) do n = n + 1; base_weights[n] = p.w end
end
local consolation_at = tonumber(s[12] or '0')
local terms = {}  -- the i-th prize, decoded from the state's prize:<i> (JSON) when first needed
local function prize_at(i)
  local p = terms[i]
  if p == nil then
    local json = redis.call('HGET', KEYS[1], 'prize:' .. i)
    if json then p = cjson.decode(json); p._i = i else p = all_prizes()[i] end  -- else: an older state
    terms[i] = p
  end
  return p
end
local budget_fen = tonumber(s[13] or '-1')
local pity_after = tonumber(s[9] or '0')

-- One draw: ARGV is its group of 20 arguments; its early returns are its reply (the body is left
-- unindented, as the one draw the script was, down to `end  -- one`).
local function one(ARGV)
local user = ARGV[1]
local now = tonumber(ARGV[4])
if lazy and lazy ~= '0' and redis.call('HEXISTS', KEYS[13], user) == 0 then return {'member_not_loaded'} end
local done = user .. ' ' .. ARGV[8]
local seen = redis.call('HGET', KEYS[8], done)
local earlier = 14
while not seen and KEYS[earlier] do
  seen = redis.call('HGET', KEYS[earlier], done)
  earlier = earlier + 1
end
if seen then
  local fields = {}
  for field in string.gmatch(seen, '%S+') do fields[#fields + 1] = field end
  if now - tonumber(fields[7]) < tonumber(ARGV[9]) * 1000 then  -- within the window (else: a new draw)
    if fields[1] ~= ARGV[7] then return {'mismatch'} end
    local chances_left = redis.call('HGET', KEYS[10], user) or '0'
    return {'replay', fields[2], fields[3], fields[4], fields[5], fields[6], fields[7], fields[8] or 'draw', chances_left}
  end
end

if not s[1] then return {'not_loaded'} end
local outside = outside_window(s[1], s[2], s[3], now)
if outside then return outside end

-- The config version in effect at now_ms (issue 18): one version per draw, chosen atomically here
-- (its limits apply from here on, its weights to the pick below).
local version, current = s[10] or '0', nil
for _, nv in ipairs(next_versions) do
  if now >= nv.at then current, version = nv, tostring(nv.v) end
end
if ARGV[19] and ARGV[19] ~= '' and ARGV[19] ~= version then return {'stale_version', version} end

local per_user_daily, per_user_total, global_daily = tonumber(s[4]), tonumber(s[5]), tonumber(s[6])
if current and current.l then per_user_daily, per_user_total, global_daily = current.l[1], current.l[2], current.l[3] end
local user_today = 0  -- read only when a daily limit needs it
if per_user_daily > 0 then user_today = tonumber(redis.call('HGET', KEYS[6], user) or '0') end
local user_all_read  -- the member's draws since the start, read when a limit or a tier needs it
local function user_all()
  if not user_all_read then user_all_read = tonumber(redis.call('HGET', KEYS[4], user) or '0') end
  return user_all_read
end
local chances = tonumber(redis.call('HGET', KEYS[10], user) or '0')
local kind = 'draw'
if chances > 0 and ARGV[10] ~= 'paid' then
  kind = 'chance'
else
  if per_user_daily > 0 and user_today >= per_user_daily then return {'refused', 'user_daily_limit'} end
  if per_user_total > 0 and user_all() >= per_user_total then return {'refused', 'user_total_limit'} end
end
if global_daily > 0 and tonumber(redis.call('HGET', KEYS[7], 'draws') or '0') >= global_daily then
  return {'refused', 'global_daily_limit'}
end
if kind == 'draw' and ARGV[10] == 'chance_or_pay' then return {'payment_required'} end

-- The weighted pick over the disclosed table (odds.pick), on the weights alone (the state's
-- `weights`); then only the prizes the draw needs are decoded (the state's `prize:<i>`, JSON,
-- once per call; the whole table `prizes` only for the pity rule, issue 17).
local weights = base_weights
if current or (ARGV[11] and ARGV[11] ~= '') then
  weights = {}
  for i = 1, n do weights[i] = base_weights[i] end
end
if current then  -- the weights of the version in effect (issue 18)
  for i, w in ipairs(current.w) do if i <= n then weights[i] = w end end
end
if ARGV[11] and ARGV[11] ~= '' then
  local i = 0
  for w in string.gmatch(ARGV[11], '[^,]+') do i = i + 1; if i <= n then weights[i] = tonumber(w) end end
end
local total = 0
for i = 1, n do total = total + weights[i] end
local point = math.floor(tonumber(ARGV[3]) * total / 4294967296)
local at, reached = nil, 0
for i = 1, n do
  reached = reached + weights[i]
  if point < reached then at = i; break end
end
local values = {}  -- the A/B variant's prize values in fen (ARGV[18]), by table position
if ARGV[18] and ARGV[18] ~= '' then
  local i = 0
  for v in string.gmatch(ARGV[18], '[^,]+') do i = i + 1; values[i] = tonumber(v) end
end
local function fen(p) return values[p._i] or p.v_fen or 0 end  -- a prize's value for this draw
local picked = prize_at(at)
local consolation_prize
local function consolation()  -- decoded only when the draw falls back to it
  if not consolation_prize then
    if at == consolation_at then
      consolation_prize = picked
    elseif consolation_at > 0 then
      consolation_prize = prize_at(consolation_at)
    else
      for _, p in ipairs(all_prizes()) do if p.c == 1 then consolation_prize = p end end
    end
  end
  return consolation_prize
end

-- Paced release and budget (lottery/pacing.py, odds.paced_available): a prize beyond its
-- release plan, or worth more than the budget left, is unavailable like one out of stock.
local spent_fen = 0  -- read only with a budget
if budget_fen >= 0 then spent_fen = tonumber(redis.call('HGET', KEYS[12], 'spent') or '0') end
local hour_period, day_period = string.match(ARGV[17] or '', '^(%-?%d+) (%-?%d+)$')
hour_period, day_period = tonumber(hour_period) or 0, tonumber(day_period) or 0
local function release_period(p)
  if p.rel_per == 'day' then return day_period end
  return hour_period
end
local function release_field(p)
  if p.rel_roll == 1 then return 'r:' .. tostring(p.id) end
  return 'r:' .. tostring(p.id) .. ':' .. tostring(release_period(p))
end
local function paced_available(p)
  if p.rel_units then
    local released = p.rel_units
    if p.rel_roll == 1 then released = (release_period(p) + 1) * p.rel_units end
    if tonumber(redis.call('HGET', KEYS[12], release_field(p)) or '0') >= released then return false end
  end
  local value = fen(p)
  return budget_fen < 0 or value == 0 or spent_fen + value <= budget_fen
end
local function paced_record(p)
  if p.rel_units then redis.call('HINCRBY', KEYS[12], release_field(p), 1) end
  if budget_fen >= 0 and fen(p) > 0 then redis.call('HINCRBY', KEYS[12], 'spent', fen(p)) end
end

-- An unavailable pick falls back to the consolation prize (odds.is_available).
local won = picked
local pid = tostring(picked.id)
if picked.limited == 1 and tonumber(redis.call('HGET', KEYS[2], pid) or '0') <= 0 then
  -- Bucketed stock (lottery/buckets.py): the other buckets may still hold units; nothing changed yet.
  local b = redis.call('HMGET', KEYS[1], 'buckets', 'out:' .. pid)
  if tonumber(b[1] or '1') > 1 and not b[2] and ARGV[15] ~= 'settle' then return {'bucket_empty', pid} end
  won = consolation()
elseif picked.daily > 0 and tonumber(redis.call('HGET', KEYS[7], pid) or '0') >= picked.daily then
  won = consolation()
elseif picked.cap > 0 and tonumber(redis.call('HGET', KEYS[5], user .. '|' .. pid) or '0') >= picked.cap then
  won = consolation()
elseif not paced_available(picked) then
  won = consolation()
end

-- Unlock tiers (odds.is_unlocked): a pick still locked for this member falls back too.
if won.c ~= 1 and (picked.u or 0) > 0 and picked.u > user_all() + 1 then won = consolation() end

-- Pity (odds.pity_pick): after pity_after consecutive consolation draws, the member's draw picks
-- among the pity prizes still available and unlocked, by their weights, with the same rand.
local function available(p)
  local id = tostring(p.id)
  if p.limited == 1 and tonumber(redis.call('HGET', KEYS[2], id) or '0') <= 0 then return false end
  if p.daily > 0 and tonumber(redis.call('HGET', KEYS[7], id) or '0') >= p.daily then return false end
  if p.cap > 0 and tonumber(redis.call('HGET', KEYS[5], user .. '|' .. id) or '0') >= p.cap then return false end
  return ((p.u or 0) == 0 or p.u <= user_all() + 1) and paced_available(p)
end
local guaranteed = false
if pity_after > 0 and tonumber(redis.call('HGET', KEYS[11], user) or '0') >= pity_after then
  local pool, subtotal = {}, 0
  for i, p in ipairs(all_prizes()) do
    if p.p == 1 and weights[i] > 0 and available(p) then pool[#pool + 1] = p; subtotal = subtotal + weights[i] end
  end
  if subtotal > 0 then
    local at, upto = math.floor(tonumber(ARGV[3]) * subtotal / 4294967296), 0
    for _, p in ipairs(pool) do
      upto = upto + weights[p._i]
      if at < upto then picked, won, pid, guaranteed = p, p, tostring(p.id), true; break end
    end
  end
end
if pity_after > 0 then
  if won.c == 1 then redis.call('HINCRBY', KEYS[11], user, 1) else redis.call('HDEL', KEYS[11], user) end
end

local wid = tostring(won.id)
paced_record(won)
if won.limited == 1 then redis.call('HINCRBY', KEYS[2], wid, -1) end
if won.cap > 0 then redis.call('HINCRBY', KEYS[5], user .. '|' .. wid, 1) end
redis.call('HINCRBY', KEYS[3], wid, 1)
redis.call('HINCRBY', KEYS[1], 'draws_total', 1)
if kind == 'chance' then
  chances = redis.call('HINCRBY', KEYS[10], user, -1)
else
  user_all_read = redis.call('HINCRBY', KEYS[4], user, 1)
  user_today = redis.call('HINCRBY', KEYS[6], user, 1)
  if user_today == 1 then redis.call('PEXPIRE', KEYS[6], ARGV[6]) end
end
-- The day's keys expire once: when the day's first draw creates them (not a PEXPIRE per draw).
local first_today = redis.call('HINCRBY', KEYS[7], 'draws', 1) == 1
redis.call('HINCRBY', KEYS[7], wid, 1)
if first_today then redis.call('PEXPIRE', KEYS[7], ARGV[6]) end

local left_today, left_total = -1, -1
if per_user_daily > 0 then left_today = per_user_daily - user_today end
if per_user_total > 0 then left_total = per_user_total - user_all() end

local result = {ARGV[2], wid, pid, tostring(left_today), tostring(left_total), ARGV[4], kind}
redis.call('HSET', KEYS[8], done, ARGV[7] .. ' ' .. table.concat(result, ' '))
if first_today then
  local ttl = ARGV[20]
  if not ttl or ttl == '' then ttl = ARGV[6] end
  redis.call('PEXPIRE', KEYS[8], ttl)
end
-- The event carries what the config cannot tell; the defaults are left out (lottery/audit.py):
-- kind "draw", picked_prize_id = prize_id, left_today and left_total -1 (no limit).
local event = {'type', 'draw', 'draw_id', ARGV[2], 'user_id', user, 'prize_id', wid, 'rand', ARGV[3],
  'day', ARGV[5], 'drawn_at_ms', ARGV[4], 'idempotency_key', ARGV[8], 'fingerprint', ARGV[7]}
if kind ~= 'draw' then event[#event + 1] = 'kind'; event[#event + 1] = kind end
if pid ~= wid then event[#event + 1] = 'picked_prize_id'; event[#event + 1] = pid end
if left_today >= 0 then event[#event + 1] = 'left_today'; event[#event + 1] = left_today end
if left_total >= 0 then event[#event + 1] = 'left_total'; event[#event + 1] = left_total end
for i, name in ipairs({'variant', 'channel', 'source'}) do
  local value = ARGV[11 + i]
  if value and value ~= '' then event[#event + 1] = name; event[#event + 1] = value end
end
if guaranteed then event[#event + 1] = 'pity'; event[#event + 1] = '1' end
event[#event + 1] = 'config_version'; event[#event + 1] = version
if fen(won) > 0 then event[#event + 1] = 'cost_fen'; event[#event + 1] = fen(won) end
redis.call('XADD', KEYS[9], '*', unpack(event))
result[#result + 1] = tostring(chances)
return {'ok', unpack(result)}
end  -- one

if #ARGV == 20 then return {one(ARGV)} end
local replies = {}
for at = 0, #ARGV - 1, 20 do replies[#replies + 1] = one({unpack(ARGV, at + 1, at + 20)}) end
return replies
