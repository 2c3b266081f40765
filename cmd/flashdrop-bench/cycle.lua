-- cycle.lua: wrk sends pre-built requests, one per shopper token, in turn.
-- Arguments after --: path, method, body, token file, threads. Each wrk
-- thread takes every threads-th token, so no two threads send the same
-- shopper's request; request() only returns a string built in init, so
-- the generator spends its time on the network, not in Lua.
local reqs, n, i = {}, 0, 0
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function init(args)
  local path, method, body, file, threads = args[1], args[2], args[3], args[4], tonumber(args[5])
  local me, k = tonumber(tid) or 0, 0
  for line in io.lines(file) do
    if k % threads == me then
      reqs[#reqs + 1] = wrk.format(method, path,
        {["Authorization"] = "Bearer " .. line, ["Content-Type"] = "application/json"}, body)
    end
    k = k + 1
  end
  n = #reqs
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end
