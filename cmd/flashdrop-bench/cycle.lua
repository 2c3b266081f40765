-- cycle.lua: wrk sends pre-built requests, one per shopper token, in turn.
-- Arguments after --: path, method, body, token file, threads, and
-- optionally keys. Each wrk thread takes every threads-th token, so no two
-- threads send the same shopper's request; request() only returns a
-- string built in init, so the generator spends its time on the network,
-- not in Lua. With keys = K > 0 every press carries an Idempotency-Key, as
-- the shopper page sends, a new one per press: K rounds over the tokens,
-- round r with key "press-r" (a run of more than K rounds repeats keys).
local reqs, n, i = {}, 0, 0
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function init(args)
  local path, method, body, file, threads = args[1], args[2], args[3], args[4], tonumber(args[5])
  local keys = tonumber(args[6]) or 0
  local me, k = tonumber(tid) or 0, 0
  local tokens = {}
  for line in io.lines(file) do
    if k % threads == me then
      tokens[#tokens + 1] = line
    end
    k = k + 1
  end
  for r = 1, math.max(keys, 1) do
    for _, token in ipairs(tokens) do
      local h = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
      if keys > 0 then h["Idempotency-Key"] = "press-" .. r end
      reqs[#reqs + 1] = wrk.format(method, path, h, body)
    end
  end
  n = #reqs
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end
