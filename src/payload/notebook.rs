//! Jupyter notebooks to Python: code cells in order, markdown cells as comments, IPython magics
//! (`%…`, `!…`) commented out. Pure.
use serde::Deserialize;

#[derive(Deserialize)]
struct Notebook {
    cells: Vec<Cell>,
}

#[derive(Deserialize)]
struct Cell {
    cell_type: String,
    #[serde(default)]
    source: Source,
}

/// nbformat stores a cell's source as one string or as a list of lines.
#[derive(Deserialize)]
#[serde(untagged)]
enum Source {
    Text(String),
    Lines(Vec<String>),
}

impl Default for Source {
    fn default() -> Self {
        Source::Text(String::new())
    }
}

impl Source {
    fn text(&self) -> String {
        match self {
            Source::Text(t) => t.clone(),
            Source::Lines(l) => l.concat(),
        }
    }
}

fn is_magic(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with('%') || t.starts_with('!')
}

/// A file that is not a Jupyter notebook (the JSON parser says where and why).
#[derive(Debug, thiserror::Error)]
#[error("not a Jupyter notebook")]
pub struct NotANotebook(#[source] serde_json::Error);

/// The Python of a notebook's JSON.
pub fn to_python(json: &[u8]) -> Result<String, NotANotebook> {
    let nb: Notebook = serde_json::from_slice(json).map_err(NotANotebook)?;
    let mut parts: Vec<String> = Vec::new();
    for cell in &nb.cells {
        let text = cell.source.text();
        if text.trim().is_empty() {
            continue;
        }
        let lines: Vec<String> = match cell.cell_type.as_str() {
            "code" => text
                .lines()
                .map(|l| {
                    if is_magic(l) {
                        format!("# {l}")
                    } else {
                        l.to_string()
                    }
                })
                .collect(),
            "markdown" => text
                .lines()
                .map(|l| {
                    if l.is_empty() {
                        "#".to_string()
                    } else {
                        format!("# {l}")
                    }
                })
                .collect(),
            _ => continue,
        };
        parts.push(lines.join("\n"));
    }
    let mut out = parts.join("\n\n");
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_in_order_markdown_as_comments_magics_commented() {
        let nb = br##"{"cells": [
            {"cell_type": "markdown", "source": ["# Title\n", "\n", "text"]},
            {"cell_type": "code", "source": ["%matplotlib inline\n", "import os\n", "  !ls\n", "print(1)"]},
            {"cell_type": "raw", "source": "ignored"},
            {"cell_type": "code", "source": "x = 2\n"}
        ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"##;
        assert_eq!(
            to_python(nb).unwrap(),
            "# # Title\n#\n# text\n\n# %matplotlib inline\nimport os\n#   !ls\nprint(1)\n\nx = 2\n"
        );
        let e = to_python(b"{not json").unwrap_err();
        assert_eq!(e.0.classify(), serde_json::error::Category::Syntax);
        assert!(to_python(b"{\"cells\": 3}").is_err());
    }
}
