-- A Wireshark dissector for the chatroom protocol (docs/protocol.md).
--
-- On the wire: frames of a 4-byte big-endian length, then that many bytes of msgpack,
-- one map {type, id, data}. This shows each frame as "chatroom: login" with its length,
-- type, id and every field of data, and puts the frames' types in the Info column. A
-- frame cut over several TCP segments is put together first; several frames in one
-- segment are each shown.
--
-- Use: wireshark -X lua_script:contrib/wireshark/chatroom.lua capture.pcap
--   (or copy it into ~/.local/lib/wireshark/plugins/). TCP port 8888 is decoded as
--   chatroom; for another port: Decode As..., or tshark -d tcp.port==9000,chatroom.
--   Filters: chatroom.type == "broadcast", chatroom.id == 7.

local chatroom = Proto("chatroom", "chatroom chat protocol")

local f_length = ProtoField.uint32("chatroom.length", "Length", base.DEC)
local f_type = ProtoField.string("chatroom.type", "Type")
local f_id = ProtoField.int64("chatroom.id", "Id")
local f_field = ProtoField.string("chatroom.field", "Field")
chatroom.fields = { f_length, f_type, f_id, f_field }

local HEADER = 4

-- msgpack, as much as the protocol uses. read(tvb, offset) returns the value and the
-- offset after it; maps and arrays are Lua tables {kind = "map", keys, values} and
-- {kind = "array", items}; bin is {kind = "bin", size}; nil is the table NIL.
local NIL = { kind = "nil" }
local read

local function read_items(tvb, offset, count)
    local items = {}
    for i = 1, count do
        items[i], offset = read(tvb, offset)
    end
    return items, offset
end

local function read_map(tvb, offset, count)
    local keys, values = {}, {}
    for i = 1, count do
        keys[i], offset = read(tvb, offset)
        values[i], offset = read(tvb, offset)
    end
    return { kind = "map", keys = keys, values = values }, offset
end

local function read_str(tvb, offset, size)
    return tvb(offset, size):string(ENC_UTF_8), offset + size
end

read = function(tvb, offset)
    local byte = tvb(offset, 1):uint()
    offset = offset + 1
    if byte <= 0x7f then return byte, offset end
    if byte >= 0xe0 then return byte - 0x100, offset end
    if byte >= 0xa0 and byte <= 0xbf then return read_str(tvb, offset, byte - 0xa0) end
    if byte >= 0x80 and byte <= 0x8f then return read_map(tvb, offset, byte - 0x80) end
    if byte >= 0x90 and byte <= 0x9f then
        local items, after = read_items(tvb, offset, byte - 0x90)
        return { kind = "array", items = items }, after
    end
    if byte == 0xc0 then return NIL, offset end
    if byte == 0xc2 then return false, offset end
    if byte == 0xc3 then return true, offset end
    if byte == 0xc4 then local n = tvb(offset, 1):uint(); return { kind = "bin", size = n }, offset + 1 + n end
    if byte == 0xc5 then local n = tvb(offset, 2):uint(); return { kind = "bin", size = n }, offset + 2 + n end
    if byte == 0xc6 then local n = tvb(offset, 4):uint(); return { kind = "bin", size = n }, offset + 4 + n end
    if byte == 0xca then return tvb(offset, 4):float(), offset + 4 end
    if byte == 0xcb then return tvb(offset, 8):float(), offset + 8 end
    if byte == 0xcc then return tvb(offset, 1):uint(), offset + 1 end
    if byte == 0xcd then return tvb(offset, 2):uint(), offset + 2 end
    if byte == 0xce then return tvb(offset, 4):uint(), offset + 4 end
    if byte == 0xcf then return tvb(offset, 8):uint64(), offset + 8 end
    if byte == 0xd0 then return tvb(offset, 1):int(), offset + 1 end
    if byte == 0xd1 then return tvb(offset, 2):int(), offset + 2 end
    if byte == 0xd2 then return tvb(offset, 4):int(), offset + 4 end
    if byte == 0xd3 then return tvb(offset, 8):int64(), offset + 8 end
    if byte == 0xd9 then local n = tvb(offset, 1):uint(); return read_str(tvb, offset + 1, n) end
    if byte == 0xda then local n = tvb(offset, 2):uint(); return read_str(tvb, offset + 2, n) end
    if byte == 0xdb then local n = tvb(offset, 4):uint(); return read_str(tvb, offset + 4, n) end
    if byte == 0xdc then
        local items, after = read_items(tvb, offset + 2, tvb(offset, 2):uint())
        return { kind = "array", items = items }, after
    end
    if byte == 0xde then return read_map(tvb, offset + 2, tvb(offset, 2):uint()) end
    if byte == 0xdf then return read_map(tvb, offset + 4, tvb(offset, 4):uint()) end
    error(string.format("msgpack byte 0x%02x is not one the protocol uses", byte))
end

local function shown(value)
    if type(value) == "string" then return string.format("%q", value) end
    if type(value) ~= "table" then return tostring(value) end
    if value == NIL then return "nil" end
    if value.kind == "bin" then return string.format("<%d bytes>", value.size) end
    if value.kind == "array" then
        local parts = {}
        for i, item in ipairs(value.items) do parts[i] = shown(item) end
        return "[" .. table.concat(parts, ", ") .. "]"
    end
    if value.kind == "map" then return string.format("{%d fields}", #value.keys) end
    return tostring(value)
end

-- A map's fields as a subtree: "username: "alice"", and maps inside as subtrees too.
local function add_map(tree, range, map)
    for i, key in ipairs(map.keys) do
        local value = map.values[i]
        local name = tostring(key)
        if type(value) == "table" and value.kind == "map" then
            add_map(tree:add(f_field, range, name):set_text(name), range, value)
        else
            tree:add(f_field, range, name):set_text(name .. ": " .. shown(value))
        end
    end
end

-- One frame: its tree, and its type (for the Info column).
local function dissect_frame(tvb, tree)
    local length = tvb(0, HEADER):uint()
    local subtree = tree:add(chatroom, tvb(), "chatroom")
    subtree:add(f_length, tvb(0, HEADER))
    local ok, envelope = pcall(read, tvb, HEADER)
    if not ok or type(envelope) ~= "table" or envelope.kind ~= "map" then
        subtree:append_text(": not one msgpack map (" .. tostring(envelope) .. ")")
        return "?"
    end
    local body = tvb(HEADER, length)
    local kind = "?"
    for i, key in ipairs(envelope.keys) do
        local value = envelope.values[i]
        if key == "type" and type(value) == "string" then
            kind = value
            subtree:add(f_type, body, value)
        elseif key == "id" and type(value) == "number" then
            subtree:add(f_id, body, Int64(value))
        elseif key == "data" and type(value) == "table" and value.kind == "map" then
            add_map(subtree:add(f_field, body, "data"):set_text("data"), body, value)
        else
            subtree:add(f_field, body, tostring(key)):set_text(tostring(key) .. ": " .. shown(value))
        end
    end
    subtree:append_text(": " .. kind)
    return kind
end

function chatroom.dissector(tvb, pinfo, tree)
    pinfo.cols.protocol = "CHATROOM"
    local kinds = {}
    local offset, total = 0, tvb:len()
    while offset < total do
        local left = total - offset
        if left < HEADER then
            pinfo.desegment_offset = offset
            pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
            return total
        end
        local size = HEADER + tvb(offset, HEADER):uint()
        if left < size then
            pinfo.desegment_offset = offset
            pinfo.desegment_len = size - left
            return total
        end
        kinds[#kinds + 1] = dissect_frame(tvb(offset, size):tvb(), tree)
        pinfo.cols.info = table.concat(kinds, " ")
        offset = offset + size
    end
    return total
end

DissectorTable.get("tcp.port"):add(8888, chatroom)
