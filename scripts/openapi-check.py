#!/usr/bin/env python3
"""Checks /openapi.json (saved by tests/it/deploy/openapi.rs) and every response the
integration tests recorded (target/openapi/responses-*.jsonl) against it: the document is
valid OpenAPI 3.1 (openapi-spec-validator); each response's status is documented for its
route (or covered by `default`), its content type is one the document lists, and a JSON
body matches the schema (JSON Schema 2020-12, as OpenAPI 3.1 has it). Exits 1 on any
mismatch, with one line per mismatch. Usage: scripts/openapi-check.py [DIR]"""

import collections
import copy
import json
import pathlib
import re
import sys

import jsonschema
import referencing
from openapi_spec_validator import validate

folder = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/openapi")
doc = json.loads((folder / "openapi.json").read_text())
validate(doc)
print("openapi.json: valid OpenAPI", doc["openapi"], f"({len(doc['paths'])} paths)")


def pattern(template: str) -> re.Pattern:
    # `{key}` holds `/` (an object key); other parameters are one segment.
    out = ""
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece == "{key}":
            out += ".+"
        elif piece.startswith("{"):
            out += "[^/]+"
        else:
            out += re.escape(piece)
    return re.compile(f"^{out}$")


routes = [(pattern(p), p, item) for p, item in doc["paths"].items()]
resource = referencing.Resource.from_contents(doc, referencing.jsonschema.DRAFT202012)
registry = referencing.Registry().with_resource("urn:thumbkit:openapi", resource)


def check_body(schema: dict, body, where: str) -> list:
    # The schema is checked from inside the document, so its `#/components/...` refs resolve.
    probe = copy.deepcopy(doc)
    probe["x-probe"] = schema
    local = referencing.Resource.from_contents(probe, referencing.jsonschema.DRAFT202012)
    reg = registry.with_resource("urn:thumbkit:probe", local)
    validator = jsonschema.Draft202012Validator({"$ref": "urn:thumbkit:probe#/x-probe"}, registry=reg)
    return [f"{where}: {e.json_path}: {e.message}" for e in validator.iter_errors(body)]


errors, checked, outside = [], collections.Counter(), 0
for file in sorted(folder.glob("responses-*.jsonl")):
    for line in file.read_text().splitlines():
        r = json.loads(line)
        path = r["target"].split("?")[0]
        where = f"{r['method']} {r['target'][:120]} -> {r['status']}"
        match = next(((t, item) for rx, t, item in routes if rx.match(path)), None)
        op = match and match[1].get(r["method"].lower())
        if not op:
            outside += 1  # the fallback 404, hostile spellings, methods the API lacks
            continue
        responses = op["responses"]
        spec = responses.get(str(r["status"])) or responses.get("default")
        if spec is None:
            errors.append(f"{where}: status not documented for {match[0]}")
            continue
        checked[(r["method"], match[0])] += 1
        content = spec.get("content")
        ctype = r["content_type"].split(";")[0].strip()
        if not content:
            continue
        if ctype not in content:
            if r["raw_len"] == 0 and r["status"] in (204, 304):
                continue
            errors.append(f"{where}: content type {ctype!r} not in {sorted(content)}")
            continue
        schema = content[ctype].get("schema")
        if schema and "json" in ctype:
            errors.extend(check_body(schema, r["body"], where))

for (method, template), n in sorted(checked.items()):
    print(f"  {n:5} responses  {method} {template}")
undocumented = [
    f"{m.upper()} {p}" for p, item in doc["paths"].items() for m in item
    if (m.upper(), p) not in checked
]
total = sum(checked.values())
print(f"{total} responses matched the document, {outside} outside it (not API routes)")
if undocumented:
    print("no test response for:", ", ".join(undocumented))
for e in errors[:50]:
    print("MISMATCH", e)
if errors:
    print(f"{len(errors)} responses do not match /openapi.json")
    sys.exit(1)
