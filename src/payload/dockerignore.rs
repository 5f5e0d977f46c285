//! A payload's `.dockerignore`, applied to its build context as the Docker CLI and buildx apply it
//! on the client (the Engine API takes the context as sent): one pattern a line, `#` comments,
//! `!` exceptions, the last matching line decides, a pattern that matches a folder leaves out
//! everything in it, `*` and `?` stay within one path element, `**` spans any number of them, a
//! leading `/` is the context root. Pure.
use crate::config::ConfigError;
use globset::{Glob, GlobBuilder, GlobMatcher};

/// The patterns of one `.dockerignore`.
#[derive(Debug, Default)]
pub struct DockerIgnore {
    /// (matcher, is an exception).
    rules: Vec<(GlobMatcher, bool)>,
}

impl DockerIgnore {
    /// Parses the text of `.dockerignore`; `shown` names the file in errors.
    pub fn parse(shown: &str, text: &str) -> Result<DockerIgnore, ConfigError> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pattern = clean(pattern);
            if pattern.is_empty() {
                continue;
            }
            let glob: Glob = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| {
                    ConfigError::invalid(
                        &format!("{shown}:{}", n + 1),
                        line,
                        &format!("a .dockerignore pattern ({})", e.kind()),
                    )
                })?;
            rules.push((glob.compile_matcher(), exception));
        }
        Ok(DockerIgnore { rules })
    }

    /// Whether the context path `rel` (`a/b/c`, relative to the context root) is left out.
    pub fn excluded(&self, rel: &str) -> bool {
        let mut out = false;
        for (m, exception) in &self.rules {
            if matches_or_parent(m, rel) {
                out = !exception;
            }
        }
        out
    }
}

/// A pattern as the CLI cleans it: no leading `/` or `./`, no `.` elements, no repeated `/`.
fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// Whether `rel` or one of its parent folders matches.
fn matches_or_parent(m: &GlobMatcher, rel: &str) -> bool {
    if m.is_match(rel) {
        return true;
    }
    let mut end = rel.len();
    while let Some(i) = rel[..end].rfind('/') {
        if m.is_match(&rel[..i]) {
            return true;
        }
        end = i;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_exceptions_folders_and_double_stars() {
        let d = DockerIgnore::parse(
            ".dockerignore",
            "# comment\n\n*.log\n/build\ndocs/*.md\n!docs/keep.md\n**/tmp\ndata/?.csv\n",
        )
        .unwrap();
        for out in [
            "a.log",
            "build",
            "build/x/y",
            "docs/a.md",
            "tmp",
            "deep/er/tmp/x",
            "data/1.csv",
        ] {
            assert!(d.excluded(out), "{out} is left out");
        }
        for kept in [
            "sub/a.log",
            "docs/keep.md",
            "docs/sub/a.md",
            "data/10.csv",
            "builds",
            "x.txt",
        ] {
            assert!(!d.excluded(kept), "{kept} is kept");
        }
        // The last matching line decides.
        let d = DockerIgnore::parse(".dockerignore", "!a.txt\n*.txt\n").unwrap();
        assert!(d.excluded("a.txt"));
        let e = DockerIgnore::parse("lava-payloads/x.docker/.dockerignore", "ok\n[z-a\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("lava-payloads/x.docker/.dockerignore:2: invalid value \"[z-a\""),
            "{e}"
        );
    }
}
