"""Completes tests/vectors.json as make-vectors.js wrote it: for each 007
case, the npm builder's signed content (`expected_payload_hex`), the token
Agora's Python builder makes of that content (`zlib.compress` at the default
level: `expected_token`), and the npm token itself, whose deflate stream
differs because Node bundles another zlib (`other_encodings`).

    node make-vectors.js | python3 recompress.py > ../tests/vectors.json
"""
import base64
import json
import sys
import zlib

cases = json.load(sys.stdin)
for case in cases:
    if case["version"] != "007":
        continue
    node_token = case["expected_token"]
    payload = zlib.decompress(base64.b64decode(node_token[3:]))
    case["expected_payload_hex"] = payload.hex()
    case["expected_token"] = "007" + base64.b64encode(zlib.compress(payload)).decode()
    if case["expected_token"] != node_token:
        case["other_encodings"] = [{"token": node_token, "compressor": "Node.js zlib (npm agora-token)"}]
json.dump(cases, sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write("\n")
