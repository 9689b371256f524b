//! Changing one entry of a client's file and nothing else: JSON (with comments, where the
//! client allows them) through a concrete syntax tree, TOML through `toml_edit`. Every
//! comment, space, order and unknown key stays as the person wrote it.

use jsonc_parser::cst::{CstInputValue, CstObject, CstRootNode};
use serde_json::Value;

/// A JSON value as the CST takes it.
fn input(value: &Value) -> CstInputValue {
    match value {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(items) => CstInputValue::Array(items.iter().map(input).collect()),
        Value::Object(map) => {
            CstInputValue::Object(map.iter().map(|(k, v)| (k.clone(), input(v))).collect())
        }
    }
}

fn root(text: &str) -> Result<CstRootNode, String> {
    let source = if text.trim().is_empty() { "{}\n" } else { text };
    CstRootNode::parse(source, &jsonc_parser::ParseOptions::default()).map_err(|e| e.to_string())
}

/// The object at `path` under the root, created (appended) where missing.
fn container(root: &CstRootNode, path: &[&str]) -> CstObject {
    let mut object = root.object_value_or_set();
    for key in path {
        object = object.object_value_or_set(key);
    }
    object
}

/// `text` with `path.name` set to `entry` (replaced in place when it is there, appended
/// otherwise).
pub(super) fn json_put(
    text: &str,
    path: &[&str],
    name: &str,
    entry: &Value,
) -> Result<String, String> {
    let root = root(text)?;
    let object = container(&root, path);
    match object.get(name) {
        Some(prop) => prop.set_value(input(entry)),
        None => {
            object.append(name, input(entry));
        }
    }
    Ok(root.to_string())
}

/// `text` with `path.name.key` set to `value`, if `path.name` exists.
pub(super) fn json_set_in(
    text: &str,
    path: &[&str],
    name: &str,
    key: &str,
    value: &Value,
) -> Result<String, String> {
    let root = root(text)?;
    let object = container(&root, path);
    if let Some(entry) = object.get(name).and_then(|p| p.object_value()) {
        match entry.get(key) {
            Some(prop) => prop.set_value(input(value)),
            None => {
                entry.append(key, input(value));
            }
        }
    }
    Ok(root.to_string())
}

/// `text` without `path.name`.
pub(super) fn json_remove(text: &str, path: &[&str], name: &str) -> Result<String, String> {
    let root = root(text)?;
    let object = container(&root, path);
    if let Some(prop) = object.get(name) {
        prop.remove();
    }
    Ok(root.to_string())
}

/// `text` (TOML) with the table `[<table>.<name>]` set to `entry`'s keys.
pub(super) fn toml_put(
    text: &str,
    table: &str,
    name: &str,
    entry: &Value,
) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    let parent = doc
        .entry(table)
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_mut()
        .ok_or_else(|| format!("'{table}' is not a table"))?;
    let mut new = toml_edit::Table::new();
    if let Some(map) = entry.as_object() {
        for (key, value) in map {
            new.insert(key, toml_edit::value(toml_value(value)));
        }
    }
    parent.insert(name, toml_edit::Item::Table(new));
    Ok(doc.to_string())
}

/// `text` (TOML) with `[<table>.<name>].key = value`, if that table exists.
pub(super) fn toml_set_in(
    text: &str,
    table: &str,
    name: &str,
    key: &str,
    value: &Value,
) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    if let Some(entry) = doc
        .get_mut(table)
        .and_then(|t| t.get_mut(name))
        .and_then(toml_edit::Item::as_table_like_mut)
    {
        entry.insert(key, toml_edit::value(toml_value(value)));
    }
    Ok(doc.to_string())
}

fn toml_value(value: &Value) -> toml_edit::Value {
    match value {
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => n
            .as_i64()
            .map(toml_edit::Value::from)
            .unwrap_or_else(|| n.as_f64().unwrap_or_default().into()),
        Value::String(s) => s.as_str().into(),
        Value::Array(items) => {
            let mut array = toml_edit::Array::new();
            for item in items {
                array.push(toml_value(item));
            }
            toml_edit::Value::Array(array)
        }
        Value::Object(map) => {
            let mut table = toml_edit::InlineTable::new();
            for (k, v) in map {
                table.insert(k, toml_value(v));
            }
            toml_edit::Value::InlineTable(table)
        }
        Value::Null => "".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_json_entry_is_added_with_comments_and_order_kept() {
        let text = "{\n  // my servers\n  \"mcpServers\": {\n    \"a\": { \"command\": \"x\" } // keep\n  },\n  \"other\": 1\n}\n";
        let out = json_put(
            text,
            &["mcpServers"],
            "switchboard",
            &json!({"url": "http://127.0.0.1:1/mcp"}),
        )
        .unwrap();
        assert!(
            out.contains("// my servers") && out.contains("// keep"),
            "{out}"
        );
        assert!(out.contains("\"switchboard\""), "{out}");
        assert!(out.find("\"a\"").unwrap() < out.find("\"switchboard\"").unwrap());
        let value: Value = jsonc_parser::parse_to_serde_value(&out, &Default::default())
            .unwrap()
            .unwrap();
        assert_eq!(value["other"], 1);
        // Again: the same text.
        let again = json_put(
            &out,
            &["mcpServers"],
            "switchboard",
            &json!({"url": "http://127.0.0.1:1/mcp"}),
        )
        .unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn a_toml_table_is_added_with_comments_kept() {
        let text = "# codex\nmodel = \"o3\"\n\n[mcp_servers.a]\ncommand = \"x\" # keep\n";
        let out = toml_put(
            text,
            "mcp_servers",
            "switchboard",
            &json!({"command": "/usr/bin/switchboard", "args": ["connect"]}),
        )
        .unwrap();
        assert!(out.starts_with("# codex\nmodel = \"o3\"\n"), "{out}");
        assert!(out.contains("command = \"x\" # keep"), "{out}");
        assert!(out.contains("[mcp_servers.switchboard]"), "{out}");
    }
}
