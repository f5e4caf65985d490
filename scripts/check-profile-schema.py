#!/usr/bin/env python3
"""Checks that the JSON Schema and the Swift loader agree.

Every shipped profile must validate against DeviceProfiles/schema/device-profile.schema.json, and
every entry of the broken-profile table (Tests/SerialBridgeTests/Fixtures/broken-profiles.json),
which the Swift loader rejects with an exact error, must be rejected by the schema too, except the
entries marked "schema": false: checks JSON Schema cannot express (their "schemaCannotTell" says
why), which the schema must then accept, so the table stays honest. Prints one line per problem
and a closing "N passed, N failed" line; exits 1 on any failure.
"""
import glob
import json
import os
import sys

import jsonschema

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
schema = json.load(open(os.path.join(root, "DeviceProfiles/schema/device-profile.schema.json")))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
passed = failed = 0

for path in sorted(glob.glob(os.path.join(root, "DeviceProfiles/*.json"))):
    errors = list(validator.iter_errors(json.load(open(path))))
    if errors:
        failed += 1
        print(f"FAIL shipped profile {os.path.relpath(path, root)} rejected by the schema: {errors[0].message}")
    else:
        passed += 1

table = json.load(open(os.path.join(root, "Tests/SerialBridgeTests/Fixtures/broken-profiles.json")))
for index, entry in enumerate(table):
    try:
        document = json.loads(entry["text"])
    except json.JSONDecodeError:
        passed += 1  # not JSON: both reject
        continue
    rejected = any(True for _ in validator.iter_errors(document))
    if rejected == entry["schema"]:
        passed += 1
    else:
        failed += 1
        expectation = "reject" if entry["schema"] else "accept (a check beyond JSON Schema)"
        print(f"FAIL broken profile {index} ({entry['error']}): the schema should {expectation}")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
