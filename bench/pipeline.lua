-- bench/pipeline.lua - wrk sends DEPTH requests in one write on every
-- connection (wrk -s pipeline.lua URL -- DEPTH) and counts each response.
-- One wrk thread then spends a DEPTH-th of the system calls per request,
-- and the server, not the client, sets the rate.
init = function(args)
   local depth = tonumber(args[1]) or 8
   local batch = {}
   for i = 1, depth do
      batch[i] = wrk.format(nil, wrk.path)
   end
   requests = table.concat(batch)
end

request = function()
   return requests
end
