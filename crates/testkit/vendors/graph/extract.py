#!/usr/bin/env python3
"""Extracts from Microsoft Graph's published OpenAPI description only what Reclaim's Entra
connector calls: the operations below, unchanged, and every component they reference,
directly or through other components (the transitive closure of `$ref`). Nothing is
edited: each kept operation, parameter, schema and response is copied as published.

Usage (PyYAML needed, `pip install pyyaml`):

    python3 extract.py SOURCE.yml [SOURCE.yml ...] > openapi-subset.yaml
    python3 extract.py --stub-navigation SOURCE.yml [...] > openapi-subset.prism.yaml

`--stub-navigation` makes the copy Prism loads. Prism 5 takes many minutes (more than
ten on a two-core machine, without finishing) to load the faithful subset: the user
resource's navigation properties (its drive, mailbox, calendar, ...) reach 460 schemas
that refer to each other in cycles. In OData a property whose type is an entity type is a
navigation property, never a structural one, and Graph returns it only when asked to
(`$expand`); with the flag, each such property's schema (the `$ref`, or an array's
`items`) becomes `{type: object}`, and only what the rest still references is kept.
The flag also drops `additionalProperties: {type: object}`, which the description's
generator puts on every schema for OData's open types: read literally it says every member
not declared must be an object, which forbids the string `@odata.type` Graph puts on every
object it returns, and a subtype's members (a phone method's `phoneNumber`) in a listing
declared with the base type; Prism, refusing such answers, would stop every listing. A
member not declared is then allowed, as in JSON Schema by default.
Nothing else changes: every operation, parameter, structural property and response is as
published.

Each SOURCE is one OpenAPI 3 document of Microsoft Graph v1.0: the whole description
(msgraph-metadata `openapi/v1.0/openapi.yaml`), or the per-module documents the Graph
PowerShell SDK publishes (`openApiDocs/v1.0/Users.yml`, `Identity.SignIns.yml`), which
are split from it. An operation is taken from the first SOURCE that has it; a component
likewise. The script fails if an operation or a referenced component is missing.
"""

import sys

import yaml

# (path, method): what the connector sends. Keep in step with crates/directory/src/entra*.
OPERATIONS = [
    ("/users", "get"),  # find a user ($filter), health ($top=1)
    ("/users/{user-id}", "get"),  # re-read a user by id
    ("/users/{user-id}", "patch"),  # passwordProfile
    ("/users/{user-id}/transitiveMemberOf", "get"),  # groups and directory roles
    ("/users/{user-id}/authentication/methods", "get"),
    ("/users/{user-id}/authentication/temporaryAccessPassMethods", "post"),
] + [
    (f"/users/{{user-id}}/authentication/{kind}Methods/{{{kind}AuthenticationMethod-id}}", "delete")
    for kind in [
        "email",
        "fido2",
        "microsoftAuthenticator",
        "phone",
        "softwareOath",
        "temporaryAccessPass",
        "windowsHelloForBusiness",
    ]
]


def refs(node):
    """Every `$ref` string in `node`."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def entity_types(docs):
    """The names of the component schemas that are entity types: `microsoft.graph.entity`
    and every schema whose `allOf` derives from one."""
    schemas = {}
    for doc in reversed(docs):
        schemas.update(doc.get("components", {}).get("schemas", {}))
    entities = {"microsoft.graph.entity"}
    changed = True
    while changed:
        changed = False
        for name, schema in schemas.items():
            if name in entities or not isinstance(schema, dict):
                continue
            for part in schema.get("allOf", []):
                base = part.get("$ref", "").rsplit("/", 1)[-1] if isinstance(part, dict) else ""
                if base in entities:
                    entities.add(name)
                    changed = True
    return entities


def stub_navigation(node, entities):
    """`node` with every property whose type is an entity type (or an array of one) made
    `{type: object}`."""
    def is_entity_ref(s):
        return isinstance(s, dict) and s.get("$ref", "").rsplit("/", 1)[-1] in entities

    def nav(s):
        if is_entity_ref(s):
            return True
        if isinstance(s, dict):
            if s.get("type") == "array" and is_entity_ref(s.get("items")):
                return True
            for k in ("anyOf", "oneOf"):
                if any(is_entity_ref(x) for x in s.get(k, [])):
                    return True
        return False

    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "properties" and isinstance(v, dict):
                out[k] = {
                    name: ({"type": "object"} if nav(prop) else stub_navigation(prop, entities))
                    for name, prop in v.items()
                }
            else:
                out[k] = stub_navigation(v, entities)
        return out
    if isinstance(node, list):
        return [stub_navigation(v, entities) for v in node]
    return node


def open_additional(node):
    """`node` without `additionalProperties: {type: object}` anywhere."""
    if isinstance(node, dict):
        return {
            k: open_additional(v)
            for k, v in node.items()
            if not (k == "additionalProperties" and v == {"type": "object"})
        }
    if isinstance(node, list):
        return [open_additional(v) for v in node]
    return node


def main(sources, stub=False):
    docs = []
    for path in sources:
        with open(path, encoding="utf-8") as f:
            docs.append(yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    entities = entity_types(docs) if stub else set()
    out_paths = {}
    for path, method in OPERATIONS:
        for doc in docs:
            item = doc.get("paths", {}).get(path)
            if item and method in item:
                kept = out_paths.setdefault(path, {})
                # Path-level parameters belong to every operation under the path.
                if "parameters" in item:
                    kept["parameters"] = item["parameters"]
                kept[method] = item[method]
                break
        else:
            sys.exit(f"no source has {method.upper()} {path}")
    components = {}
    pending = list(refs(out_paths))
    first = docs[0]
    for doc in docs:
        if doc.get("security"):
            first = doc
            break
    pending += list(refs(first.get("security", [])))
    seen = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        if not ref.startswith("#/components/"):
            sys.exit(f"unsupported reference {ref}")
        _, _, kind, name = ref.split("/", 3)
        for doc in docs:
            found = doc.get("components", {}).get(kind, {}).get(name)
            if found is not None:
                # Navigation properties are properties of entity types only.
                if stub and kind == "schemas" and name in entities:
                    found = stub_navigation(found, entities)
                components.setdefault(kind, {})[name] = found
                pending.extend(refs(found))
                break
        else:
            sys.exit(f"no source has {ref}")
    # The security scheme the whole API declares, as published.
    for doc in docs:
        schemes = doc.get("components", {}).get("securitySchemes")
        if schemes:
            components["securitySchemes"] = schemes
            break
    subset = {
        "openapi": first["openapi"],
        "info": {
            "title": "Microsoft Graph v1.0: the operations Reclaim's Entra connector calls",
            "version": first["info"]["version"],
        },
        "servers": first["servers"],
        "paths": dict(sorted(out_paths.items())),
        "components": {k: dict(sorted(v.items())) for k, v in sorted(components.items())},
    }
    if first.get("security"):
        subset["security"] = first["security"]
    if stub:
        subset = open_additional(subset)
    yaml.dump(subset, sys.stdout, sort_keys=False, allow_unicode=True, width=1000,
              Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper))


if __name__ == "__main__":
    args = sys.argv[1:]
    stub = "--stub-navigation" in args
    args = [a for a in args if a != "--stub-navigation"]
    if not args:
        sys.exit(__doc__)
    main(args, stub)
