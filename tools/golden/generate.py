#!/usr/bin/env python3
"""Writes MessagePack golden vectors for CortMessagePack's tests.

Run once (python3 tools/golden/generate.py) and commit the output together
with this script. The bytes come from the reference Python implementation
(`pip install msgpack`); a few non-canonical encodings (wider formats than
needed) are written by hand, to check that the decoder accepts every format.

Output: Tests/CortMessagePackTests/Golden/vectors.json, a list of
  {"name": ..., "hex": ..., "canonical": true|false}
where canonical means cort's encoder must produce exactly these bytes for
the Swift value the test expects (false for hand-made wide formats and for
multi-entry maps, whose order a Swift Dictionary does not keep).
"""
import json
import os
import struct

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "Tests", "CortMessagePackTests", "Golden", "vectors.json")

cases = []


def add(name, value=None, raw=None, canonical=True, **options):
    data = raw if raw is not None else msgpack.packb(value, use_bin_type=True, **options)
    cases.append({"name": name, "hex": data.hex(), "canonical": canonical})


# Integers: every format at its boundaries.
for v in [0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 18446744073709551615]:
    add(f"uint {v}", v)
for v in [-1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -9223372036854775808]:
    add(f"int {v}", v)
# Wider formats than needed: valid, not canonical.
add("wide uint64 1", raw=b"\xcf" + struct.pack(">Q", 1), canonical=False)
add("wide int8 5", raw=b"\xd0\x05", canonical=False)
add("wide int64 -1", raw=b"\xd3" + struct.pack(">q", -1), canonical=False)
add("wide uint16 7", raw=b"\xcd\x00\x07", canonical=False)

# Floats.
add("float32 1.5", 1.5, use_single_float=True)
add("float32 -0.25", -0.25, use_single_float=True)
add("float64 0.1", 0.1)
add("float64 -1e300", -1e300)
add("float64 inf", float("inf"))
add("float64 1.0", 1.0)

# Strings: fixstr, str8, str16, str32 at their edges; and non-ASCII.
add("str empty", "")
add("str 31", "a" * 31)
add("str 32", "b" * 32)
add("str 255", "c" * 255)
add("str 256", "d" * 256)
add("str 65536", "f" * 65536)
add("str unicode", "h\u00e9llo \U0001F30D \u65e5\u672c")
add("wide str32 hi", raw=b"\xdb\x00\x00\x00\x02hi", canonical=False)

# Binary.
add("bin empty", b"")
add("bin 3", b"\x00\x01\xff")
add("bin 255", bytes(range(255)))
add("bin 256", bytes(i % 256 for i in range(256)))
add("bin 65536", bytes(i % 251 for i in range(65536)))
add("wide bin16 2", raw=b"\xc5\x00\x02\xab\xcd", canonical=False)

# Arrays.
add("array empty", [])
add("array 3", [1, 2, 3])
add("array 15", list(range(15)))
add("array 16", list(range(16)))
add("array 65536", [1] * 65536)
add("array mixed strings", ["a", "bc", ""])
add("wide array32 2", raw=b"\xdd\x00\x00\x00\x02\x01\x02", canonical=False)

# Maps: struct-like (keys in declaration order), sizes, nesting.
add("map empty", {})
add("struct point", {"x": 1, "y": -2})
add("struct 15 fields", {f"f{i:02d}": i for i in range(15)})
add("struct 16 fields", {f"f{i:02d}": i for i in range(16)})
add("struct nested", {
    "id": 7,
    "name": "node",
    "tags": ["a", "b"],
    "inner": {"x": 1.5, "y": None},
    "ok": True,
})
add("wide map32 1", raw=b"\xdf\x00\x00\x00\x01\xa1x\x01", canonical=False)
add("wide map16 1", raw=b"\xde\x00\x01\xa1x\x01", canonical=False)
add("string map 1", {"1": "one"})
add("string map 2", {"a": "x", "b": "y"}, canonical=False)
add("int map 1", {1: "one"})
add("int map negative", {-5: "minus five"})
add("int map 3", {1: "a", 300: "b", -70000: "c"}, canonical=False)
add("string to int map 3", {f"k{i}": i for i in range(3)}, canonical=False)

# Timestamps (extension -1): 32, 64 and 96 bit, as the spec picks them.
add("timestamp32 1700000000", msgpack.Timestamp(1700000000, 0), datetime=False)
add("timestamp64 1700000000.5", msgpack.Timestamp(1700000000, 500000000), datetime=False)
add("timestamp64 max32 + 1", msgpack.Timestamp(2**32, 0), datetime=False)
add("timestamp96 -0.5", msgpack.Timestamp(-1, 500000000), datetime=False)
add("timestamp96 2^34", msgpack.Timestamp(2**34, 250000000), datetime=False)
add("timestamp32 epoch", msgpack.Timestamp(0, 0), datetime=False)

# Nil and booleans.
add("nil", None)
add("true", True)
add("false", False)
add("optional array", [1, None, 3])

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"generator": "tools/golden/generate.py", "msgpack": ".".join(map(str, msgpack.version)),
               "cases": cases}, f, indent=1)
    f.write("\n")
print(f"wrote {len(cases)} cases to {os.path.relpath(OUT)}")
