-- tweet_count.lua: events per key per minute, as in Firehose's tweet-count
-- example. Counts live in the script's Lua state between calls; when a
-- record from a later minute arrives, the finished minute is emitted as
-- NDJSON lines ({"minute":..., "key":..., "count":...}) in place of that
-- record, and the other records are dropped.
--
-- The state is per worker thread and is lost when the script is reloaded
-- or its state rebuilt (memory limit): counts are best effort, like any
-- in-memory aggregation. The last minute is emitted when the next one
-- starts.
local cjson = require "cjson.safe"
local firehose = require "firehose"

local minute = nil      -- the minute being counted, ms since the epoch
local counts = {}       -- key -> events in that minute

local function flush(done)
  local keys = {}
  for k in pairs(counts) do keys[#keys + 1] = k end
  table.sort(keys)
  local lines = {}
  for _, k in ipairs(keys) do
    lines[#lines + 1] = cjson.encode({
      minute = firehose.date("%Y-%m-%dT%H:%MZ", done), key = k,
      count = counts[k] })
  end
  counts = {}
  return table.concat(lines, "\n") .. "\n"
end

function transform(record)
  local e = cjson.decode(record.data)
  local key = type(e) == "table" and e.hashtag
  if type(key) ~= "string" then
    return "Dropped"
  end
  local m = record.arrival - record.arrival % 60000
  local out = nil
  if minute ~= nil and m > minute and next(counts) ~= nil then
    out = flush(minute)
  end
  if minute == nil or m > minute then
    minute = m
  end
  counts[key] = (counts[key] or 0) + 1
  if out then
    return "Ok", out
  end
  return "Dropped"
end
