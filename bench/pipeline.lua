-- HTTP/1.1 pipelining for wrk: every write carries DEPTH requests (16
-- unless given after `--`), and the next write goes out once all DEPTH
-- responses are in. wrk counts each response as a request.
--
--   wrk -t1 -c100 -d10s -s bench/pipeline.lua http://127.0.0.1:8080/ -- 16

local batch

function init(args)
   local depth = tonumber(args[1]) or 16
   -- Built once per thread: the same bytes are written every time.
   batch = string.rep(wrk.format(), depth)
end

function request()
   return batch
end
