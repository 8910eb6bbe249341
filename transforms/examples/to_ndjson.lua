-- to_ndjson.lua: reshape each JSON event into the flat document the
-- analytics side wants, one per line (NDJSON), with the arrival time.
local cjson = require "cjson.safe"
local firehose = require "firehose"

function transform(record)
  local e = cjson.decode(record.data)
  if type(e) ~= "table" then
    return "ProcessingFailed", "record is not a JSON object"
  end
  local user = type(e.user) == "table" and e.user or {}
  local out = {
    id = e.id,
    user_id = user.id,
    country = user.country,
    action = e.action or e.type,
    received = firehose.iso8601(record.arrival),
  }
  return "Ok", cjson.encode(out) .. "\n"
end
