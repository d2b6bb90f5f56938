"""Members' events from the brand's systems (`POST /events`): registration, paid orders, shares,
birthdays... and the custom types operators declare. Each accepted event is recorded once per
`event_id` by one Lua script on its shard and streamed to SQL by the audit writer, like every
other action; gameplays (event gifts, tasks) react to them. The kernel never imports this package.
"""
