-- route_by_field.lua: partition keys for dynamic partitioning. With
--   "Prefix": "customer=!{partitionKeyFromLambda:customer}/year=!{partitionKeyFromLambda:year}/"
-- (or partitionKeyFromLua) each customer and year gets its own objects.
local cjson = require "cjson.safe"
local firehose = require "firehose"

function transform(record)
  local e = cjson.decode(record.data)
  if type(e) ~= "table" or type(e.customer_id) ~= "string" then
    return "ProcessingFailed", "no customer_id in record"
  end
  -- The event's own time when it has one (ms), else the arrival time.
  local ts = math.tointeger(e.ts) or record.arrival
  return "Ok", nil, {
    customer = e.customer_id,
    year = firehose.date("%Y", ts),
  }
end
