//! Jupyter notebooks to Python, as the job framework's conversion leaves them runnable: a
//! `#!/usr/bin/env python3` first line, code cells in order, markdown cells as comments, IPython
//! line magics and shell escapes (`%…`, `!…`) commented out, and a cell magic (`%%…` on the
//! cell's first line) comments out its whole cell (its body is not Python). Pure.
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

/// Whether a code cell is a cell magic: its first line that is not blank starts with `%%`.
fn is_cell_magic(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.trim_start().starts_with("%%"))
}

/// A line as a comment (`#` alone for a blank one).
fn commented(l: &str) -> String {
    if l.trim().is_empty() {
        "#".to_string()
    } else {
        format!("# {l}")
    }
}

/// The first line of every converted notebook (the framework's `ipynb2py` writes the same).
pub const SHEBANG: &str = "#!/usr/bin/env python3";

/// The Python of a notebook's JSON.
pub fn to_python(json: &[u8]) -> Result<String, NotANotebook> {
    let nb: Notebook = serde_json::from_slice(json).map_err(NotANotebook)?;
    let mut parts: Vec<String> = vec![SHEBANG.to_string()];
    for cell in &nb.cells {
        let text = cell.source.text();
        if text.trim().is_empty() {
            continue;
        }
        let lines: Vec<String> = match cell.cell_type.as_str() {
            "code" => {
                let whole = is_cell_magic(&text);
                text.lines()
                    .map(|l| {
                        if whole {
                            commented(l)
                        } else if is_magic(l) {
                            // An indented magic may be a block's only statement: `pass` keeps
                            // the block.
                            match l.len() - l.trim_start().len() {
                                0 => commented(l),
                                n => format!("{}pass  # {}", &l[..n], l.trim_start()),
                            }
                        } else {
                            l.to_string()
                        }
                    })
                    .collect()
            }
            "markdown" => text.lines().map(commented).collect(),
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
            {"cell_type": "code", "source": ["%matplotlib inline\n", "import os\n", "if os:\n", "  !ls\n", "print(1)"]},
            {"cell_type": "raw", "source": "ignored"},
            {"cell_type": "code", "source": "x = 2\n"}
        ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"##;
        assert_eq!(
            to_python(nb).unwrap(),
            "#!/usr/bin/env python3\n\n# # Title\n#\n# text\n\n# %matplotlib inline\nimport os\nif os:\n  pass  # !ls\nprint(1)\n\nx = 2\n"
        );
        // A cell magic's body is not Python: the whole cell is commented out.
        let nb = br##"{"cells": [
            {"cell_type": "code", "source": ["\n", "%%bash\n", "for f in *; do\n", "  echo $f\n", "done"]},
            {"cell_type": "code", "source": "print('after')"}
        ]}"##;
        assert_eq!(
            to_python(nb).unwrap(),
            "#!/usr/bin/env python3\n\n#\n# %%bash\n# for f in *; do\n#   echo $f\n# done\n\nprint('after')\n"
        );
        let e = to_python(b"{not json").unwrap_err();
        assert_eq!(e.0.classify(), serde_json::error::Category::Syntax);
        assert!(to_python(b"{\"cells\": 3}").is_err());
    }
}
