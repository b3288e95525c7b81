#!/usr/bin/env python3
"""Validates messages against schemas/events/*.schema.json.

Input on stdin: {"items": [{"schema": "ticket-event.schema.json", "message": {...}, "valid": true}, ...]}
Prints one line per item whose verdict differs from "valid" and exits 1 if there is any.
"""
import json
import pathlib
import sys

import jsonschema
from referencing import Registry, Resource

schemas = pathlib.Path(__file__).resolve().parent.parent / "schemas" / "events"
resources = []
for path in schemas.glob("*.schema.json"):
    contents = json.loads(path.read_text())
    resources.append((contents["$id"], Resource.from_contents(contents)))
registry = Registry().with_resources(resources)
by_name = {path.name: json.loads(path.read_text()) for path in schemas.glob("*.schema.json")}

items = json.load(sys.stdin)["items"]
problems = 0
for index, item in enumerate(items):
    validator = jsonschema.Draft202012Validator(by_name[item["schema"]], registry=registry,
                                                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = [error.message for error in validator.iter_errors(item["message"])]
    if bool(errors) == item["valid"]:
        problems += 1
        verdict = "; ".join(errors) if errors else "accepted but should be refused"
        print(f"item {index} ({item['schema']}): {verdict}")
print(f"{len(items) - problems} passed, {problems} failed")
sys.exit(1 if problems else 0)
