#!/usr/bin/python3
"""spdxcheck.py DOC.spdx.json [SCHEMA.json] — validate an SPDX 2.3 JSON document.

1. JSON Schema validation (python3-jsonschema, Draft 7) against the official
   SPDX 2.3 schema (default: tests/data/sbom/spdx-schema-2.3.json).
2. Rules of the SPDX 2.3 specification the schema does not express:
   spdxVersion "SPDX-2.3", dataLicense "CC0-1.0", SPDXID "SPDXRef-DOCUMENT",
   documentNamespace an absolute URI without '#', created in
   YYYY-MM-DDThh:mm:ssZ, creators "Tool: | Organization: | Person: ",
   every SPDXID "SPDXRef-[A-Za-z0-9.-]+" and unique, every relationship
   naming elements of the document, the document DESCRIBES something,
   purl locators "pkg:TYPE/...".
Prints "ok" and exits 0, or one line per problem and exits 1. A missing
jsonschema module is an error (exit 2), never a pass.
"""
import json
import os
import re
import sys

try:
    import jsonschema
except ImportError:
    print("spdxcheck: python3 jsonschema is not importable: cannot validate")
    sys.exit(2)

doc_path = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
schema_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
    here, "..", "..", "data", "sbom", "spdx-schema-2.3.json")
doc = json.load(open(doc_path, encoding="utf-8"))
schema = json.load(open(schema_path, encoding="utf-8"))
problems = []
v = jsonschema.Draft7Validator(schema)
for e in sorted(v.iter_errors(doc), key=lambda e: list(e.path)):
    problems.append("schema: %s: %s" % ("/".join(map(str, e.path)), e.message))

if doc.get("spdxVersion") != "SPDX-2.3":
    problems.append("spdxVersion is not SPDX-2.3")
if doc.get("dataLicense") != "CC0-1.0":
    problems.append("dataLicense is not CC0-1.0")
if doc.get("SPDXID") != "SPDXRef-DOCUMENT":
    problems.append("SPDXID is not SPDXRef-DOCUMENT")
ns = doc.get("documentNamespace", "")
if not re.match(r"^[a-z][a-z0-9+.-]*://[^#\s]+$", ns):
    problems.append("documentNamespace %r is not an absolute URI without '#'" % ns)
ci = doc.get("creationInfo", {})
if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", ci.get("created", "")):
    problems.append("created %r is not YYYY-MM-DDThh:mm:ssZ" % ci.get("created"))
for c in ci.get("creators", []):
    if not re.match(r"^(Tool|Organization|Person): \S", c):
        problems.append("creator %r" % c)
ids = {"SPDXRef-DOCUMENT"}
for p in doc.get("packages", []):
    i = p.get("SPDXID", "")
    if not re.match(r"^SPDXRef-[A-Za-z0-9.-]+$", i):
        problems.append("bad SPDXID %r" % i)
    if i in ids:
        problems.append("duplicate SPDXID %r" % i)
    ids.add(i)
    for r in p.get("externalRefs", []):
        if r.get("referenceType") == "purl" and not re.match(r"^pkg:[a-z]+/\S+$",
                                                             r.get("referenceLocator", "")):
            problems.append("bad purl %r" % r.get("referenceLocator"))
describes = 0
for r in doc.get("relationships", []):
    for k in ("spdxElementId", "relatedSpdxElement"):
        if r.get(k) not in ids:
            problems.append("relationship %s %r is not an element of the document" % (k, r.get(k)))
    if r.get("spdxElementId") == "SPDXRef-DOCUMENT" and r.get("relationshipType") == "DESCRIBES":
        describes += 1
if describes == 0:
    problems.append("the document DESCRIBES nothing")
for p in problems:
    print(p)
if problems:
    sys.exit(1)
print("ok")
