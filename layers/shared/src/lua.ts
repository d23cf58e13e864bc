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
 * The room's epoch, created with its counter (HASH `state`: epoch, seq, bytes of the log) whenever the
 * counter does not exist, or the log it counts was lost (seq > 0 and no log: evicted). A new epoch
 * starts an empty log. The HSET comes first: Redis checks for a full memory at a script's first write
 * only, and a refused HSET leaves the room as it was.
 */
const EPOCH = `
local function room_epoch(sk, lk, ttl)
  local st = redis.call('HMGET', sk, 'epoch', 'seq')
  if st[1] and (tonumber(st[2]) == 0 or redis.call('EXISTS', lk) == 1) then return st[1] end
  local t = redis.call('TIME')
  local e = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('HSET', sk, 'epoch', e, 'seq', 0, 'bytes', 0)
  redis.call('EXPIRE', sk, ttl)
  redis.call('DEL', lk)
  return e
end
`;

/**
 * sendMessage in one round trip (pipelined with WAIT when acks need replicas).
 * KEYS: state, log, members, info, rate, dedupe, joining
 * ARGV: head, tail, transient, historyLimit, roomTtl, ratePerSecond, burst, dedupeTtl, id, useDedupe,
 *       senderConnectionId (empty for the server publish path), historyBytes
 * The stored frame is `head .. epoch .. ',"seq":' .. seq .. tail`. The dedupe entry is
 * `epoch|seq|id|flag`; flag `u` marks a write whose replicas never confirmed it (MARK_UNCONFIRMED).
 * Returns {status, seq, id, recipients, epoch, storedFrame}: status is ok, duplicate (already stored and
 * completed), unconfirmed (stored, never confirmed: this call claims it and gets its frame to deliver),
 * rate_limited or not_member. The recipients leave out connections still in their $connect.
 */
export const SEND_MESSAGE = `${NOW}${PRUNE}${EPOCH}
local sender = ARGV[11]
local ttl = tonumber(ARGV[5])
if sender ~= '' then
  local expiry = redis.call('ZSCORE', KEYS[3], sender)
  if not expiry or tonumber(expiry) <= now then return {'not_member', 0, '', {}, '0', ''} end
end
local epoch = room_epoch(KEYS[1], KEYS[2], ttl)
local dedupe = ARGV[10] == '1'
if dedupe then
  local seen = redis.call('GET', KEYS[6])
  local e, s, i, flag
  if seen then e, s, i, flag = string.match(seen, '^(%d+)|(%d+)|([^|]*)|(%a*)$') end
  if e == epoch then
    if flag == 'u' then
      redis.call('SET', KEYS[6], e .. '|' .. s .. '|' .. i .. '|', 'KEEPTTL')
      local stored = redis.call('ZRANGEBYSCORE', KEYS[2], s, s)
      prune(KEYS[3], KEYS[4], now)
      return {'unconfirmed', tonumber(s), i, open_ids(KEYS[3], KEYS[7], now), e, stored[1] or ''}
    end
    -- Rewriting the entry's expiry replicates after the original write: a WAIT in the same pipeline
    -- then confirms the original too, whichever connection wrote it.
    local left = redis.call('PTTL', KEYS[6])
    if left > 0 then redis.call('PEXPIRE', KEYS[6], left) end
    return {'duplicate', tonumber(s), i, {}, e, ''}
  end
end
local rate = tonumber(ARGV[6])
local burst = tonumber(ARGV[7])
if rate > 0 then
  local b = redis.call('HMGET', KEYS[5], 't', 'ts')
  local tokens = tonumber(b[1]) or burst
  local ts = tonumber(b[2]) or now
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
  local rttl = math.ceil(burst / rate * 1000) + 1000
  if tokens < 1 then
    redis.call('HSET', KEYS[5], 't', tokens, 'ts', now)
    redis.call('PEXPIRE', KEYS[5], rttl)
    return {'rate_limited', 0, '', {}, epoch, ''}
  end
  redis.call('HSET', KEYS[5], 't', tokens - 1, 'ts', now)
  redis.call('PEXPIRE', KEYS[5], rttl)
end
local seq = 0
if ARGV[3] ~= '1' then
  seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  local stored = ARGV[1] .. epoch .. ',"seq":' .. seq .. ARGV[2]
  redis.call('ZADD', KEYS[2], seq, stored)
  local bytes = redis.call('HINCRBY', KEYS[1], 'bytes', #stored)
  local count = redis.call('ZCARD', KEYS[2])
  local limit = tonumber(ARGV[4])
  local max_bytes = tonumber(ARGV[12])
  while count > 1 and (count > limit or bytes > max_bytes) do
    local oldest = redis.call('ZPOPMIN', KEYS[2])
    bytes = redis.call('HINCRBY', KEYS[1], 'bytes', -#oldest[1])
    count = count - 1
  end
  if count <= 1 then redis.call('HSET', KEYS[1], 'bytes', #stored) end
  redis.call('EXPIRE', KEYS[2], ttl)
  if dedupe then
    redis.call('SET', KEYS[6], epoch .. '|' .. seq .. '|' .. ARGV[9] .. '|', 'EX', tonumber(ARGV[8]))
  end
end
redis.call('EXPIRE', KEYS[1], ttl)
prune(KEYS[3], KEYS[4], now)
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('EXPIRE', KEYS[4], ttl)
return {'ok', seq, ARGV[9], open_ids(KEYS[3], KEYS[7], now), epoch, ''}
`;

/**
 * After a WAIT that did not confirm a stored message: flag its dedupe entry so that a resend with the
 * same clientMsgId completes it (broadcast once, ack with its seq) instead of answering `duplicate`.
 * KEYS: dedupe; ARGV: the entry as written (`epoch|seq|id|`). Returns 1 when flagged.
 */
export const MARK_UNCONFIRMED = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1] .. 'u', 'KEEPTTL')
return 1
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
 * resume, one page: stored messages after a seq, at most `maxCount` of them and `maxBytes` of their JSON
 * (each counted with one separator byte), read in small batches so that neither this reply nor the
 * script's memory grows with the room. A page holds at least one message when any is left.
 * KEYS: state, log; ARGV: afterSeq, epoch the client's afterSeq belongs to ('' when unknown), maxCount,
 * maxBytes, roomTtl. Another epoch than the room's means: from the start of the room's epoch.
 * Returns {epoch, lastSeq, oldestStoredSeq (0 when none), messages, lastReturnedSeq, more, afterSeq used}.
 */
export const READ_HISTORY = `${EPOCH}
local epoch = room_epoch(KEYS[1], KEYS[2], tonumber(ARGV[5]))
local after = ARGV[1]
if ARGV[2] ~= '' and ARGV[2] ~= epoch then after = '0' end
local last = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local oldestSeq = 0
if #oldest > 0 then oldestSeq = tonumber(oldest[2]) end
local max_count = tonumber(ARGV[3])
local max_bytes = tonumber(ARGV[4])
local out = {}
local bytes = 0
local cursor = after
local more = 0
local batch_size = 8
while more == 0 do
  local batch = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. cursor, '+inf', 'WITHSCORES', 'LIMIT', 0, batch_size)
  for i = 1, #batch, 2 do
    local size = #batch[i] + 1
    if #out >= max_count or (#out > 0 and bytes + size > max_bytes) then
      more = 1
      break
    end
    out[#out + 1] = batch[i]
    bytes = bytes + size
    cursor = batch[i + 1]
  end
  if #batch < batch_size * 2 then break end
end
-- A write after the read: a WAIT pipelined after this script then confirms everything read (the
-- replication stream is ordered), so a page never shows a message a failover could still take back.
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return {epoch, last, oldestSeq, out, tonumber(cursor), more, tonumber(after)}
`;

/** endClass: the member connections, then every key of the room deleted. KEYS: state, log, members, info, joining */
export const END_ROOM = `
local ids = redis.call('ZRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return ids
`;
