-- Ends an admission whose booking completed: its place goes to the next in the queue.
-- KEYS: admitted, ended. ARGV: member.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], 'completed')
  return 1
end
return 0
