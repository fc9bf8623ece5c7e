/**
 * The Lua scripts of the Redis cache (./cache.ts): each write call is one round trip that checks
 * and writes atomically, so "older never replaces newer" and window trimming hold with several
 * instances writing at once. Scripts name keys they compute (window buckets), which a single Redis
 * allows; a Redis Cluster would need the keys of a call in one slot, which this layout does not give.
 *
 * Stored values:
 * - quote field: `timestamp|writtenAt|price|open24h|high24h|low24h|volume24h|quoteVolume24h`;
 * - window marker field: `newestTimestamp|appendedAt`;
 * - window bucket field: the second's offset in its bucket; value: the millisecond part of the
 *   timestamp as 3 digits, then the price text.
 * `writtenAt` and `appendedAt` come from the adapter's `now`, so that clock decides expiry.
 */

/** Lua's `unpack` stays far below its stack limit (about 8,000 values) with this many symbols per call. */
export const MAX_SYMBOLS_PER_SCRIPT = 1000;
/**
 * Samples (or quotes) per script call at most: a script holds Redis while it runs, and this many
 * take it a few milliseconds.
 */
export const MAX_SAMPLES_PER_SCRIPT = 2000;
/** Keys per DEL inside a script. */
const DELETE_BATCH_KEYS = 500;

const PARSE_STAMPS = `
local function stamps(value)
  if not value then return nil end
  local first, second = string.match(value, '^(%d+)|(%d+)')
  return tonumber(first), tonumber(second)
end`;

/**
 * KEYS[1] the quotes hash. ARGV: now, QUOTE_TTL_MS, sweep ('1' to delete expired fields first),
 * then symbol and encoded quote pairs, one pair per symbol. Returns how many quotes were written.
 */
export const SET_QUOTES_LUA = `${PARSE_STAMPS}
local key = KEYS[1]
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
if ARGV[3] == '1' then
  local all = redis.call('HGETALL', key)
  local dead = {}
  for i = 1, #all, 2 do
    local _, writtenAt = stamps(all[i + 1])
    if not writtenAt or now - writtenAt >= ttl then dead[#dead + 1] = all[i] end
  end
  for i = 1, #dead, ${DELETE_BATCH_KEYS} do
    redis.call('HDEL', key, unpack(dead, i, math.min(i + ${DELETE_BATCH_KEYS - 1}, #dead)))
  end
end
local symbols = {}
for i = 4, #ARGV, 2 do symbols[#symbols + 1] = ARGV[i] end
if #symbols == 0 then return 0 end
local current = redis.call('HMGET', key, unpack(symbols))
local writes = {}
for i, symbol in ipairs(symbols) do
  local value = ARGV[3 + 2 * i]
  local keptTimestamp, keptAt = stamps(current[i])
  local older = keptAt and now - keptAt < ttl and stamps(value) < keptTimestamp
  if not older then
    writes[#writes + 1] = symbol
    writes[#writes + 1] = value
  end
end
if #writes == 0 then return 0 end
redis.call('HSET', key, unpack(writes))
redis.call('PEXPIRE', key, ttl)
return #writes / 2`;

const WINDOW_HELPERS = `${PARSE_STAMPS}
local markers = KEYS[1]
local prefix = ARGV[1]
local now = tonumber(ARGV[2])
local windowMs = tonumber(ARGV[3])
local windowSeconds = tonumber(ARGV[4])
local bucketSeconds = tonumber(ARGV[5])
local function secondOf(timestamp) return math.floor(timestamp / 1000) end
local function bucketOf(second) return math.floor(second / bucketSeconds) end
local function bucketKey(symbol, bucket) return prefix .. symbol .. ':' .. string.format('%d', bucket) end
-- The first bucket of a window whose newest sample is in \`second\`.
local function firstBucket(second) return bucketOf(second - windowSeconds + 1) end`;

/**
 * KEYS[1] the window markers hash. ARGV: bucket key prefix, now, WINDOW_MS, window seconds, bucket
 * seconds, key TTL (ms), sweep ('1' to drop idle windows first), then per symbol: symbol, sample
 * count, then that many timestamp and encoded value pairs, ascending, one per second.
 */
export const APPEND_WINDOW_LUA = `${WINDOW_HELPERS}
local keyTtl = ARGV[6]
local function deleteBuckets(symbol, first, last)
  local keys = {}
  for bucket = first, last do
    keys[#keys + 1] = bucketKey(symbol, bucket)
    if #keys == ${DELETE_BATCH_KEYS} then
      redis.call('DEL', unpack(keys))
      keys = {}
    end
  end
  if #keys > 0 then redis.call('DEL', unpack(keys)) end
end
local function deleteWindow(symbol, newest)
  local second = secondOf(newest)
  deleteBuckets(symbol, firstBucket(second), bucketOf(second))
end
if ARGV[7] == '1' then
  local all = redis.call('HGETALL', markers)
  for i = 1, #all, 2 do
    local newest, appendedAt = stamps(all[i + 1])
    if not appendedAt or now - appendedAt >= windowMs then
      if newest then deleteWindow(all[i], newest) end
      redis.call('HDEL', markers, all[i])
    end
  end
end
local symbols, starts, counts = {}, {}, {}
local i = 8
while i <= #ARGV do
  symbols[#symbols + 1] = ARGV[i]
  counts[#counts + 1] = tonumber(ARGV[i + 1])
  starts[#starts + 1] = i + 2
  i = i + 2 + 2 * counts[#counts]
end
if #symbols == 0 then return 0 end
local current = redis.call('HMGET', markers, unpack(symbols))
local updates = {}
for g, symbol in ipairs(symbols) do
  local newest, appendedAt = stamps(current[g])
  if newest and now - appendedAt >= windowMs then
    deleteWindow(symbol, newest)
    newest = nil
  end
  local kept = false
  for j = starts[g], starts[g] + 2 * (counts[g] - 1), 2 do
    local timestamp = tonumber(ARGV[j])
    local second = secondOf(timestamp)
    local newestSecond = newest and secondOf(newest)
    if not newest or second > newestSecond - windowSeconds then
      local bucket = bucketOf(second)
      local key = bucketKey(symbol, bucket)
      redis.call('HSET', key, second - bucket * bucketSeconds, ARGV[j + 1])
      -- A bucket gets its expiry when the window first reaches it (or goes back to it).
      if not newest or bucket ~= bucketOf(newestSecond) then redis.call('PEXPIRE', key, keyTtl) end
      if newest and second > newestSecond then
        local last = math.min(firstBucket(second) - 1, bucketOf(newestSecond))
        if last >= firstBucket(newestSecond) then deleteBuckets(symbol, firstBucket(newestSecond), last) end
      end
      if not newest or second >= newestSecond then newest = timestamp end
      kept = true
    end
  end
  if kept then
    updates[#updates + 1] = symbol
    updates[#updates + 1] = string.format('%d|%d', newest, now)
  end
end
if #updates == 0 then return 0 end
redis.call('HSET', markers, unpack(updates))
redis.call('PEXPIRE', markers, keyTtl)
return #updates / 2`;

/**
 * KEYS[1] the window markers hash. ARGV: bucket key prefix, now, WINDOW_MS, window seconds, bucket
 * seconds, symbol, from and to (epoch ms). Returns nothing for no window, else the newest second
 * followed by bucket number and HGETALL reply pairs for the buckets that overlap [from, to].
 */
export const READ_WINDOW_LUA = `${WINDOW_HELPERS}
local symbol = ARGV[6]
local newest, appendedAt = stamps(redis.call('HGET', markers, symbol))
if not newest or now - appendedAt >= windowMs then return {} end
local newestSecond = secondOf(newest)
local first = math.max(newestSecond - windowSeconds + 1, secondOf(tonumber(ARGV[7])))
local last = math.min(newestSecond, secondOf(tonumber(ARGV[8])))
local result = { newestSecond }
if first > last then return result end
for bucket = bucketOf(first), bucketOf(last) do
  result[#result + 1] = bucket
  result[#result + 1] = redis.call('HGETALL', bucketKey(symbol, bucket))
end
return result`;

/** KEYS[1] the window gap key. ARGV: upTo, its TTL in ms. Keeps the greater mark. */
export const MARK_WINDOW_GAP_LUA = `
local kept = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > kept then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1`;
