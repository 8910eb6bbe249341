-- redact.lua: mask e-mail addresses and IPv4 addresses anywhere in the
-- record (JSON or plain text), without parsing it.
local EMAIL = "[%w%.%%%+%-_]+@[%w%.%-]+%.%a%a+"
local IPV4 = "%f[%d]%d%d?%d?%.%d%d?%d?%.%d%d?%d?%.%d%d?%d?%f[^%d]"

function transform(record)
  local data = record.data
  -- Cheap pre-checks: most records have neither, and find is fast.
  if data:find("@", 1, true) then
    data = data:gsub(EMAIL, "[email]")
  end
  if data:find("%d+%.%d+%.%d+%.%d+") then
    data = data:gsub(IPV4, "[ip]")
  end
  return "Ok", data
end
