-- ingest.lua: record members' events of one shard, each once per event id, atomically.
--
-- KEYS[1]       events stream of the shard (read by the SQL audit writer)
-- KEYS[1 + i]   seen marker of the i-th event's id (EventKeys.seen)
--
-- ARGV[1] now_ms   ARGV[2] seen TTL (s)   ARGV[3] source (the system that sent them)
-- then 5 per event: event_id, member_id, type, occurred_at_ms, attributes (JSON text)
--
-- Returns a list with one integer per event: 1 = new (recorded and streamed), 0 = its id was
-- seen before (a replay, or the same id twice in the batch): nothing changed for it.

local out = {}
for i = 1, #KEYS - 1 do
  local base = 3 + (i - 1) * 5
  if redis.call('SET', KEYS[1 + i], ARGV[1], 'NX', 'EX', ARGV[2]) then
    redis.call('XADD', KEYS[1], '*', 'type', 'event', 'event_id', ARGV[base + 1], 'member_id', ARGV[base + 2],
      'event_type', ARGV[base + 3], 'occurred_ms', ARGV[base + 4], 'attributes', ARGV[base + 5],
      'received_ms', ARGV[1], 'source', ARGV[3])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
