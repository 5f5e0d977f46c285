//! Reading YAML files with positioned errors, and finding the line of a key for value sources.
use super::error::ConfigError;
use serde_yaml::Value;
use std::collections::HashMap;

/// A parsed YAML document plus the line of every block-style key path.
#[derive(Debug)]
pub struct YamlDoc {
    pub path: String,
    pub root: Value,
    lines: HashMap<Vec<String>, usize>,
}

impl YamlDoc {
    pub fn load(path: &str) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_string(),
            source,
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &str, text: &str) -> Result<Self, ConfigError> {
        let root: Value = serde_yaml::from_str(text).map_err(|e| {
            let location = match e.location() {
                Some(l) => format!("{path}:{}:{}", l.line(), l.column()),
                None => path.to_string(),
            };
            // The parser's message repeats the position at its end; keep the cause only.
            let message = e.to_string();
            let message = match message.find(" at line ") {
                Some(i) => message[..i].to_string(),
                None => message,
            };
            ConfigError::Yaml { location, message }
        })?;
        Ok(YamlDoc {
            path: path.to_string(),
            root,
            lines: key_lines(text),
        })
    }

    /// `path:line` of the key at `keys`, or just the file when the line is unknown.
    pub fn location(&self, keys: &[&str]) -> String {
        match self.line(keys) {
            Some(l) => format!("{}:{l}", self.path),
            None => self.path.clone(),
        }
    }

    pub fn line(&self, keys: &[&str]) -> Option<usize> {
        let k: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
        self.lines.get(&k).copied()
    }
}

/// A short name for the YAML type of a value, for wrong-type messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// The text of a scalar value (string, number or boolean), or `None` for anything else.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Line numbers (1-based) of the keys of block mappings, by key path.
///
/// This is a light scan of the indentation structure, good for the block style config files
/// are written in; keys in flow style (`{a: 1}`) are not found, and their values then carry
/// the file name without a line.
fn key_lines(text: &str) -> HashMap<Vec<String>, usize> {
    let mut out = HashMap::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut block_scalar_indent: Option<usize> = None;
    for (no, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = raw.len() - trimmed.len();
        if let Some(bi) = block_scalar_indent {
            if indent > bi {
                continue;
            }
            block_scalar_indent = None;
        }
        if trimmed.starts_with('-') || trimmed.starts_with("---") {
            continue;
        }
        let Some((key, rest)) = split_key(trimmed) else {
            continue;
        };
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key));
        let path: Vec<String> = stack.iter().map(|(_, k)| k.clone()).collect();
        out.entry(path).or_insert(no + 1);
        let rest = rest.trim();
        if rest.starts_with('|') || rest.starts_with('>') {
            block_scalar_indent = Some(indent);
        }
    }
    out
}

fn split_key(line: &str) -> Option<(String, &str)> {
    let (key, rest) = if let Some(q) = line.strip_prefix('"') {
        let end = q.find('"')?;
        (q[..end].to_string(), q[end + 1..].strip_prefix(':')?)
    } else if let Some(q) = line.strip_prefix('\'') {
        let end = q.find('\'')?;
        (q[..end].to_string(), q[end + 1..].strip_prefix(':')?)
    } else {
        let mut split = None;
        for (i, c) in line.char_indices() {
            if c == ':' {
                let after = &line[i + 1..];
                if after.is_empty() || after.starts_with(' ') || after.starts_with('\t') {
                    split = Some(i);
                    break;
                }
            }
        }
        let i = split?;
        (line[..i].trim_end().to_string(), &line[i + 1..])
    };
    if key.is_empty() {
        return None;
    }
    Some((key, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_of_nested_keys() {
        let text = "# c\ndev:\n  _:\n    s3base: b/p\n  ami:\n    note: |\n      tz: fake\n    tz: UTC\n    python:\n      version: \"3.11.12\"\nprod:\n  ami:\n    tz: UTC\n";
        let lines = key_lines(text);
        let get = |p: &[&str]| {
            lines
                .get(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .copied()
        };
        assert_eq!(get(&["dev", "_", "s3base"]), Some(4));
        assert_eq!(get(&["dev", "ami", "tz"]), Some(8));
        assert_eq!(get(&["dev", "ami", "python", "version"]), Some(10));
        assert_eq!(get(&["prod", "ami", "tz"]), Some(13));
    }

    #[test]
    fn syntax_and_duplicate_errors_have_positions() {
        let e = YamlDoc::parse("f.yaml", "a:\n  b: [1, 2\n").unwrap_err();
        assert!(
            matches!(&e, ConfigError::Yaml { location, .. } if location.starts_with("f.yaml:")),
            "{e}"
        );
        let e = YamlDoc::parse("f.yaml", "a:\n  b: 1\n  b: 2\n").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("duplicate") && msg.starts_with("f.yaml:"),
            "{msg}"
        );
    }
}
