-- An LDoc filter (ldoc --filter ldoc_items.list, with ci/docs on LUA_PATH):
-- prints one line per documented item, "KIND NAME USAGE", for
-- lua_doc_coverage.lua. KIND is "class" for a @type section, else the
-- item's type (function, field, table); USAGE is "usage" when the item has
-- a @usage example, else "-".
return {
  list = function(modules)
    for m in modules:iter() do
      for s in m.sections:iter() do
        if s.type == "type" and s.summary and s.summary ~= "" then
          print("class", s.name, s.usage and "usage" or "-")
        end
      end
      for item in m.items:iter() do
        print(item.type, item.name, item.usage and "usage" or "-")
      end
    end
  end,
}
