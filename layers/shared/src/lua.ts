/**
 * The room store's Lua scripts. Every script touches only the keys of one room (one hash tag), passed
 * in KEYS, so the store runs unchanged on ElastiCache cluster mode. Times come from Redis (`TIME`), so
 * clocks of Lambda containers never disagree about expiry or rate limits.
 *
 * Members: `members` is a ZSET of connection ids scored by their expiry (epoch ms), `info` a HASH of
 * connection id -> member JSON. Expired members are pruned by every script that reads them.
 */

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** Removes expired members; needs KEYS[members] and KEYS[info] passed as `mk` and `ik`. */
const PRUNE = `
local function prune(mk, ik, now)
  local expired = redis.call('ZRANGEBYSCORE', mk, '-inf', now)
  if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', mk, '-inf', now)
    for i = 1, #expired, 500 do
      redis.call('HDEL', ik, unpack(expired, i, math.min(i + 499, #expired)))
    end
  end
end
local function has_user(ik, user_id, except)
  local all = redis.call('HGETALL', ik)
  for i = 1, #all, 2 do
    if all[i] ~= except then
      local ok, m = pcall(cjson.decode, all[i + 1])
      if ok and m.userId == user_id then return true end
    end
  end
  return false
end
-- Member connections minus those still in their $connect (KEYS joining, scored by a deadline): API
-- Gateway answers 410 to posts to those, which would prune them. They resume once their socket opens.
local function open_ids(mk, jk, now)
  local ids = redis.call('ZRANGE', mk, 0, -1)
  local joining = redis.call('ZRANGEBYSCORE', jk, '(' .. now, '+inf')
  if #joining == 0 then return ids end
  local skip = {}
  for _, id in ipairs(joining) do skip[id] = true end
  local out = {}
  for _, id in ipairs(ids) do
    if not skip[id] then out[#out + 1] = id end
  end
  return out
end
`;

/**
 * sendMessage in one round trip.
 * KEYS: seq, log, members, info, rate, dedupe, joining
 * ARGV: head, tail, transient, historyLimit, roomTtl, ratePerSecond, burst, dedupeTtl, id, useDedupe,
 *       senderConnectionId (empty for the server publish path)
 * Returns {status, seq, id, recipients}: status is ok, duplicate, rate_limited or not_member; the
 * recipients leave out connections still in their $connect.
 */
export const SEND_MESSAGE = `${NOW}${PRUNE}
local sender = ARGV[11]
prune(KEYS[3], KEYS[4], now)
if sender ~= '' and not redis.call('ZSCORE', KEYS[3], sender) then
  return {'not_member', 0, '', {}}
end
if ARGV[10] == '1' then
  local seen = redis.call('GET', KEYS[6])
  if seen then
    local bar = string.find(seen, '|', 1, true)
    return {'duplicate', tonumber(string.sub(seen, 1, bar - 1)), string.sub(seen, bar + 1), {}}
  end
end
local rate = tonumber(ARGV[6])
local burst = tonumber(ARGV[7])
if rate > 0 then
  local b = redis.call('HMGET', KEYS[5], 't', 'ts')
  local tokens = tonumber(b[1]) or burst
  local ts = tonumber(b[2]) or now
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
  local ttl = math.ceil(burst / rate * 1000) + 1000
  if tokens < 1 then
    redis.call('HSET', KEYS[5], 't', tokens, 'ts', now)
    redis.call('PEXPIRE', KEYS[5], ttl)
    return {'rate_limited', 0, '', {}}
  end
  redis.call('HSET', KEYS[5], 't', tokens - 1, 'ts', now)
  redis.call('PEXPIRE', KEYS[5], ttl)
end
local seq = 0
local ttl = tonumber(ARGV[5])
if ARGV[3] ~= '1' then
  seq = redis.call('INCR', KEYS[1])
  redis.call('ZADD', KEYS[2], seq, ARGV[1] .. seq .. ARGV[2])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[4]) + 1))
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  if ARGV[10] == '1' then
    redis.call('SET', KEYS[6], seq .. '|' .. ARGV[9], 'EX', tonumber(ARGV[8]))
  end
end
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('EXPIRE', KEYS[4], ttl)
return {'ok', seq, ARGV[9], open_ids(KEYS[3], KEYS[7], now)}
`;

/**
 * $connect: store the member, and mark the connection as still connecting (see JOINED).
 * KEYS: members, info, joining; ARGV: connectionId, memberJson, userId, connectionTtlMs, roomTtl, joinWindowMs
 * Returns {others (not counting those still connecting), firstForUser}.
 */
export const ADD_MEMBER = `${NOW}${PRUNE}
prune(KEYS[1], KEYS[2], now)
local first = has_user(KEYS[2], ARGV[3], ARGV[1]) and 0 or 1
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[6]), ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[5]))
local others = {}
for _, id in ipairs(open_ids(KEYS[1], KEYS[3], now)) do
  if id ~= ARGV[1] then others[#others + 1] = id end
end
return {others, first}
`;

/**
 * End of $connect: the connection is no longer connecting. Until then API Gateway answers 410 to posts to
 * it, so it is left out of recipients and a 410 does not prune it (REMOVE_MEMBERS with `stale`).
 * KEYS: joining; ARGV: connectionId
 */
export const JOINED = `
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`;

/**
 * $disconnect and pruning: remove connections; report the users that have no connection left.
 * KEYS: members, info, joining; ARGV: stale ('1' when the connections answered 410: those still in their
 * $connect are kept), connectionIds...
 * Returns {remaining (not counting those still connecting), goneUsers (member JSON of users with no
 * connection left), removedCount}.
 */
export const REMOVE_MEMBERS = `${NOW}${PRUNE}
local gone = {}
local removed = {}
local count = 0
local stale = ARGV[1] == '1'
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
for i = 2, #ARGV do
  local id = ARGV[i]
  if not (stale and redis.call('ZSCORE', KEYS[3], id)) then
    local info = redis.call('HGET', KEYS[2], id)
    if redis.call('ZREM', KEYS[1], id) == 1 then
      count = count + 1
      if info then removed[#removed + 1] = info end
    end
    redis.call('HDEL', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
  end
end
prune(KEYS[1], KEYS[2], now)
local seen = {}
for _, info in ipairs(removed) do
  local ok, m = pcall(cjson.decode, info)
  if ok and not seen[m.userId] and not has_user(KEYS[2], m.userId, '') then
    seen[m.userId] = true
    gone[#gone + 1] = info
  end
end
return {open_ids(KEYS[1], KEYS[3], now), gone, count}
`;

/**
 * Members now connected. KEYS: members, info. Returns a flat {connectionId, memberJson, ...} list.
 */
export const LIST_MEMBERS = `${NOW}${PRUNE}
prune(KEYS[1], KEYS[2], now)
return redis.call('HGETALL', KEYS[2])
`;

/**
 * resume: messages after a seq. KEYS: seq, log; ARGV: afterSeq, max
 * Returns {lastSeq, oldestStoredSeq (0 when none), messages}.
 */
export const READ_HISTORY = `
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local oldestSeq = 0
if #oldest > 0 then oldestSeq = tonumber(oldest[2]) end
local messages = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
return {last, oldestSeq, messages}
`;

/** endClass: the member connections, then every key of the room deleted. KEYS: seq, log, members, info, joining */
export const END_ROOM = `
local ids = redis.call('ZRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return ids
`;
