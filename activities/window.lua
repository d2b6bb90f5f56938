-- window.lua: the one status and window check of every gameplay's state-changing script.
-- Not a script of its own: activities/scripts.py prepends it, folded onto the first line of the
-- scripts that ask for it (`script_beside(..., prelude=WINDOW)`), so their KEYS/ARGV headers and
-- line numbers stay as written. No KEYS, no ARGV: the script passes what it read.
--
-- outside_window(status, starts_at_ms, ends_at_ms, now_ms) -> nil while the activity takes changes
-- (live, starts_at_ms <= now_ms < ends_at_ms), else the refusal every script answers the same way:
--   {"refused", "activity_not_live", status} | {"refused", "not_started"} | {"refused", "already_ended"}
-- (activities/errors.py ACTIVITY_REFUSALS maps them to 409s.)

local function outside_window(status, starts_at_ms, ends_at_ms, now_ms)
  if status ~= 'live' then return {'refused', 'activity_not_live', status} end
  if now_ms < tonumber(starts_at_ms) then return {'refused', 'not_started'} end
  if now_ms >= tonumber(ends_at_ms) then return {'refused', 'already_ended'} end
  return nil
end
