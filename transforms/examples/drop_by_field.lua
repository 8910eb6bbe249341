-- drop_by_field.lua: drop debug-level log events, deliver the rest
-- unchanged. Records that are not JSON objects go to the error output.
local cjson = require "cjson.safe"     -- decode returns nil on bad JSON

function transform(record)
  local event = cjson.decode(record.data)
  if type(event) ~= "table" then
    return "ProcessingFailed", "record is not a JSON object"
  end
  if event.level == "debug" then
    return "Dropped"
  end
  return "Ok"                          -- nil data: the record as it came
end
