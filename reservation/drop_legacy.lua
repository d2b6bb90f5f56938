-- drop_legacy.lua: deletes a reservation activity's live state written by the layout before
-- member hashes (a state without `lazy`: see reserve.lua), so that the next request rebuilds it
-- from SQL; a state a load wrote since (it has `lazy`) is kept.
--
-- KEYS[1] state
--
-- Returns 1 if it deleted the state, else 0.

if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HEXISTS', KEYS[1], 'lazy') == 0 then
  return redis.call('DEL', KEYS[1])
end
return 0
