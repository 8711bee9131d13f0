//! A validator for the part of JSON Schema (as OpenAPI 3.0 writes it) that openapi.json
//! uses: `$ref`, `type`, `properties`, `required`, `additionalProperties`, `enum`, `items`,
//! `oneOf`, `nullable`, `maxLength`, `maxItems`, `minimum`. Anything else in a schema is
//! refused, so the document cannot start using a keyword this check would ignore.
//!
//! Stricter than JSON Schema in one way, on purpose: an object's property that its schema
//! does not declare is an error unless the schema says `additionalProperties: true` (or
//! gives a schema for them). A field the server adds without documenting it is drift.

use std::collections::BTreeSet;

use serde_json::Value;

const KNOWN: [&str; 14] = [
    "$ref",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "items",
    "oneOf",
    "nullable",
    "maxLength",
    "maxItems",
    "minimum",
    "description",
    "format",
];

/// Checks values against the schemas of one OpenAPI document, remembering which named
/// schemas (`#/components/schemas/...`) it went through.
pub struct Validator<'a> {
    spec: &'a Value,
    pub visited: BTreeSet<String>,
}

impl<'a> Validator<'a> {
    pub fn new(spec: &'a Value) -> Validator<'a> {
        Validator {
            spec,
            visited: BTreeSet::new(),
        }
    }

    /// Every way `value` breaks `schema`, each with the path to where it does.
    pub fn check(&mut self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.walk(schema, value, "$", &mut errors);
        errors
    }

    fn resolve(&mut self, reference: &str, at: &str, errors: &mut Vec<String>) -> Option<Value> {
        let Some(name) = reference.strip_prefix("#/components/schemas/") else {
            errors.push(format!("{at}: unsupported $ref {reference}"));
            return None;
        };
        self.visited.insert(name.to_string());
        let found = self.spec["components"]["schemas"].get(name).cloned();
        if found.is_none() {
            errors.push(format!("{at}: $ref to a missing schema {name}"));
        }
        found
    }

    fn walk(&mut self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(rules) = schema.as_object() else {
            errors.push(format!("{at}: the schema is not an object"));
            return;
        };
        if let Some(unknown) = rules.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            errors.push(format!("{at}: the validator does not know `{unknown}`"));
        }
        if let Some(reference) = rules.get("$ref").and_then(Value::as_str) {
            if let Some(target) = self.resolve(reference, at, errors) {
                self.walk(&target, value, at, errors);
            }
            return;
        }
        if value.is_null() && rules.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        if let Some(options) = rules.get("oneOf").and_then(Value::as_array) {
            self.one_of(options, value, at, errors);
        }
        if let Some(allowed) = rules.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                errors.push(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        let Some(kind) = rules.get("type").and_then(Value::as_str) else {
            if !rules.contains_key("oneOf") {
                errors.push(format!("{at}: the schema has no type"));
            }
            return;
        };
        let fits = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            other => {
                errors.push(format!("{at}: unknown type {other}"));
                return;
            }
        };
        if !fits {
            errors.push(format!("{at}: {value} is not of type {kind}"));
            return;
        }
        if let (Some(max), Some(text)) = (
            rules.get("maxLength").and_then(Value::as_u64),
            value.as_str(),
        ) {
            if text.chars().count() as u64 > max {
                errors.push(format!("{at}: longer than {max} characters"));
            }
        }
        if let (Some(min), Some(n)) = (rules.get("minimum").and_then(Value::as_i64), value.as_i64())
        {
            if n < min {
                errors.push(format!("{at}: {n} is below the minimum {min}"));
            }
        }
        match value {
            Value::Object(fields) => self.object(rules, fields, at, errors),
            Value::Array(items) => {
                if let Some(max) = rules.get("maxItems").and_then(Value::as_u64) {
                    if items.len() as u64 > max {
                        errors.push(format!("{at}: more than {max} items"));
                    }
                }
                match rules.get("items") {
                    Some(item_schema) => {
                        for (i, item) in items.iter().enumerate() {
                            self.walk(item_schema, item, &format!("{at}[{i}]"), errors);
                        }
                    }
                    None => errors.push(format!("{at}: an array schema without items")),
                }
            }
            _ => {}
        }
    }

    fn one_of(&mut self, options: &[Value], value: &Value, at: &str, errors: &mut Vec<String>) {
        let mut matched = 0;
        let mut reasons = Vec::new();
        for option in options {
            let mut option_errors = Vec::new();
            self.walk(option, value, at, &mut option_errors);
            if option_errors.is_empty() {
                matched += 1;
            } else {
                reasons.extend(option_errors);
            }
        }
        if matched != 1 {
            errors.push(format!(
                "{at}: matches {matched} of the oneOf schemas, not exactly one ({reasons:?})"
            ));
        }
    }

    fn object(
        &mut self,
        rules: &serde_json::Map<String, Value>,
        fields: &serde_json::Map<String, Value>,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let empty = serde_json::Map::new();
        let properties = rules
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for required in rules
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !fields.contains_key(required) {
                errors.push(format!("{at}: lacks the required `{required}`"));
            }
        }
        for (name, field) in fields {
            let here = format!("{at}.{name}");
            match (properties.get(name), rules.get("additionalProperties")) {
                (Some(schema), _) => self.walk(schema, field, &here, errors),
                (None, Some(Value::Bool(true))) => {}
                (None, Some(extra @ Value::Object(_))) => self.walk(extra, field, &here, errors),
                (None, _) => errors.push(format!("{here}: not in the schema")),
            }
        }
    }
}
