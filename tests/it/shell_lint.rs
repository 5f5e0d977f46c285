//! Shell lint (issue 30, point 1): no early-exit consumer at the end of a pipe.
//!
//! Under `set -o pipefail`, `producer | grep -q …` fails whenever grep exits at its first match
//! before the producer has written everything: the producer dies of SIGPIPE (status 141) and the
//! pipe fails although the pattern was found. The same holds for `head`, `grep -m`, `grep -l`,
//! `sed …q` and `awk` programs that `exit` before the end. Every shell file under `ami/`, `images/`,
//! `rc.d/` and `scripts/` is scanned (files without pipefail too: a step can gain it through a
//! sourced helper). Write `grep -q PATTERN <<<"$(producer)"` or `producer | grep -c PATTERN
//! >/dev/null` instead (both read all of the producer's output).
use crate::common::root;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Folders scanned, relative to the repository root.
const SCANNED: [&str; 4] = ["ami", "images", "rc.d", "scripts"];

/// Whether `path` is a shell file: `*.sh`, or a first line naming sh or bash.
fn is_shell(path: &Path) -> bool {
    if path.extension().is_some_and(|e| e == "sh") {
        return true;
    }
    let Ok(text) = std::fs::read(path) else {
        return false;
    };
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    first.starts_with("#!")
        && (first.ends_with("/sh")
            || first.ends_with("/bash")
            || first.ends_with(" sh")
            || first.ends_with(" bash"))
}

fn shell_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in SCANNED {
        for e in walkdir::WalkDir::new(root().join(dir))
            .into_iter()
            .filter_entry(|e| {
                let n = e.file_name().to_string_lossy();
                !(n == "resources.s3" || n == "__pycache__" || n.starts_with('.'))
            })
            .flatten()
        {
            if e.file_type().is_file() && is_shell(e.path()) {
                files.push(e.path().to_path_buf());
            }
        }
    }
    files.sort();
    files
}

/// The logical lines of a shell text with their first line number: comments dropped, here-document
/// bodies skipped, lines continued with `\`, `|`, `&&` or `||` joined.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    let mut heredoc: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        if let Some(end) = &heredoc {
            if raw.trim() == end {
                heredoc = None;
            }
            continue;
        }
        let line = strip_comment(raw);
        if line.trim().is_empty() && pending.is_none() {
            continue;
        }
        if let Some(word) = heredoc_word(&line) {
            heredoc = Some(word);
        }
        let (n, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
        let t = line.trim_end();
        if let Some(cont) = t.strip_suffix('\\') {
            acc.push_str(cont);
            acc.push(' ');
            pending = Some((n, acc));
        } else if t.ends_with('|') || t.ends_with("&&") {
            acc.push_str(t);
            acc.push(' ');
            pending = Some((n, acc));
        } else {
            acc.push_str(t);
            out.push((n, acc));
        }
    }
    if let Some(p) = pending {
        out.push(p);
    }
    out
}

/// The line without a trailing `# comment` (a `#` outside quotes, at the start or after a blank).
fn strip_comment(line: &str) -> String {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single && prev != '\\' => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return line[..i].to_string(),
            _ => {}
        }
        prev = c;
    }
    line.to_string()
}

/// The terminator of a here-document opened on this line (`<<WORD`, `<<-'WORD'`), not `<<<`.
fn heredoc_word(line: &str) -> Option<String> {
    let at = line.find("<<")?;
    let rest = &line[at + 2..];
    if rest.starts_with('<') {
        return None;
    }
    let rest = rest.trim_start_matches('-').trim_start();
    let word: String = rest
        .trim_start_matches(['\'', '"'])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!word.is_empty()).then_some(word)
}

/// The commands of a logical line that read from a pipe: the text after each `|` (not `||`) in code,
/// up to the end of that command (`|`, `;`, `&&`, `||` or the `)` closing its `$(…)`). Quotes are
/// followed: a `|` in single or double quotes is text, one in a `$(…)` inside double quotes is code.
fn pipe_consumers(line: &str) -> Vec<&str> {
    #[derive(PartialEq, Clone, Copy)]
    enum Ctx {
        Code,
        Single,
        Double,
    }
    let b = line.as_bytes();
    let mut stack = vec![Ctx::Code];
    // (start, depth) of each consumer still being read, and the finished ranges.
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut done: Vec<(usize, usize)> = Vec::new();
    let close_at = |open: &mut Vec<(usize, usize)>,
                    done: &mut Vec<(usize, usize)>,
                    depth: usize,
                    end: usize| {
        while let Some(&(s, d)) = open.last() {
            if d < depth {
                break;
            }
            done.push((s, end));
            open.pop();
        }
    };
    let mut i = 0;
    while i < b.len() {
        let top = *stack.last().unwrap();
        let depth = stack.len();
        let c = b[i];
        match top {
            Ctx::Single => {
                if c == b'\'' {
                    stack.pop();
                }
            }
            Ctx::Double => match c {
                b'\\' => i += 1,
                b'"' => {
                    stack.pop();
                }
                b'$' if b.get(i + 1) == Some(&b'(') => {
                    stack.push(Ctx::Code);
                    i += 1;
                }
                _ => {}
            },
            Ctx::Code => match c {
                b'\\' => i += 1,
                b'\'' => stack.push(Ctx::Single),
                b'"' => stack.push(Ctx::Double),
                b'(' => stack.push(Ctx::Code),
                b')' => {
                    close_at(&mut open, &mut done, depth, i);
                    if stack.len() > 1 {
                        stack.pop();
                    }
                }
                b'|' if b.get(i + 1) == Some(&b'|') => {
                    close_at(&mut open, &mut done, depth, i);
                    i += 1;
                }
                b'|' => {
                    close_at(&mut open, &mut done, depth, i);
                    let start = i + 1 + usize::from(b.get(i + 1) == Some(&b'&'));
                    open.push((start, depth));
                }
                b'&' if b.get(i + 1) == Some(&b'&') => {
                    close_at(&mut open, &mut done, depth, i);
                    i += 1;
                }
                b';' | b'`' => close_at(&mut open, &mut done, depth, i),
                _ => {}
            },
        }
        i += 1;
    }
    close_at(&mut open, &mut done, 0, b.len());
    done.sort();
    done.iter()
        .map(|&(s, e)| line[s.min(line.len())..e.min(line.len())].trim())
        .collect()
}

/// Why `command` (a pipe's consumer) may exit before reading all its input, if it may.
fn early_exit(command: &str) -> Option<String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let mut w = words.iter().copied().skip_while(|w| {
        w.contains('=') && !w.starts_with('-') || matches!(*w, "command" | "exec" | "sudo" | "!")
    });
    let cmd = w.next()?.trim_start_matches(['(', '{']);
    let args: Vec<&str> = w.collect();
    let unquote = |a: &str| a.trim_matches(['\'', '"']).to_string();
    match cmd {
        "head" => Some("head stops reading after its lines".into()),
        "grep" | "egrep" | "fgrep" => {
            for a in &args {
                if *a == "--" {
                    break;
                }
                if let Some(long) = a.strip_prefix("--") {
                    let name = long.split('=').next().unwrap_or_default();
                    if matches!(
                        name,
                        "quiet" | "silent" | "max-count" | "files-with-matches"
                    ) {
                        return Some(format!("grep --{name} stops at the first match"));
                    }
                } else if let Some(short) = a.strip_prefix('-') {
                    let letters: String = short
                        .chars()
                        .take_while(|c| c.is_ascii_alphabetic())
                        .collect();
                    if short[letters.len()..].chars().all(|c| c.is_ascii_digit())
                        && let Some(f) = letters.chars().find(|c| matches!(c, 'q' | 'm' | 'l'))
                    {
                        return Some(format!("grep -{f} stops at the first match"));
                    }
                }
            }
            None
        }
        "sed" => args
            .iter()
            .filter(|a| !a.starts_with('-'))
            .map(|a| unquote(a))
            .find(|s| {
                s.split(';').any(|cmd| {
                    let c = cmd.trim().trim_end_matches('}').trim();
                    let c = c.trim_start_matches(|ch: char| {
                        ch.is_ascii_digit() || ch == '$' || ch == ','
                    });
                    let c = match c.strip_prefix('/') {
                        Some(r) => r.rsplit_once('/').map_or(c, |(_, after)| after),
                        None => c,
                    };
                    matches!(c.trim(), "q" | "Q") || c.trim().starts_with('q') && c.len() <= 3
                })
            })
            .map(|s| format!("sed quits early ({s})")),
        "awk" | "gawk" | "mawk" => {
            let prog = args
                .iter()
                .map(|a| unquote(a))
                .collect::<Vec<_>>()
                .join(" ");
            (prog.contains("exit") && !prog.contains("END"))
                .then(|| "awk exits before the end of its input".into())
        }
        _ => None,
    }
}

/// Every early-exit consumer of a pipe in `text`, as "line N: why: command".
fn findings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (n, line) in logical_lines(text) {
        for consumer in pipe_consumers(&line) {
            if let Some(why) = early_exit(consumer) {
                out.push(format!("line {n}: {why}: | {consumer}"));
            }
        }
    }
    out
}

#[test]
fn no_shell_file_ends_a_pipe_with_an_early_exit_consumer() {
    let files = shell_files();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    for must in [
        "ami/ami-build.sh",
        "ami/os/amzn2023/conf.d/76-tmp.sh",
        "ami/os/amzn2023/lib/common.sh",
        "rc.d/rc.local",
        "scripts/test-services.sh",
        "images/os/amzn2023/base/20-freetds.sh",
    ] {
        assert!(names.iter().any(|n| n == must), "{must} is scanned");
    }
    let mut bad = Vec::new();
    for (path, name) in files.iter().zip(&names) {
        let text = std::fs::read_to_string(path).unwrap();
        bad.extend(findings(&text).into_iter().map(|f| format!("{name} {f}")));
    }
    assert!(
        bad.is_empty(),
        "early-exit consumers at the end of a pipe (under pipefail the producer's SIGPIPE fails the pipe; use `grep -q P <<<\"$(producer)\"` or `grep -c P >/dev/null`):\n{}",
        bad.join("\n")
    );
}

/// The lines issue 30 found, exactly as they were: each is caught; the fixed forms are not.
#[test]
fn the_lint_catches_the_old_lines_and_passes_their_fixes() {
    let old = [
        "systemd-tmpfiles --cat-config 2>/dev/null | grep -q '^q /tmp 1777 root root m:7d' ||\n    die \"x\"",
        "grubby --info ALL | grep -q 'selinux=0' || die \"no boot entry carries selinux=0\"",
        "ldd /usr/local/bin/openssl | grep -q '/usr/local/lib/libssl.so.3' || die \"x\"",
        "if ldd /usr/bin/openssl | grep -q '/usr/local/lib/'; then",
        "ldd /usr/local/lib/libtdsodbc.so | grep -q '/usr/local/lib/libssl.so.3' || die \"x\"",
        "info \"$(tsql -C | head -1)\"",
        "[ \"$(/usr/local/bin/packer version | head -1)\" = \"Packer v$PACKER_VERSION\" ] ||",
        "    if [[ $f == *.sh ]] || head -1 \"$f\" | grep -qE '^#!.*[/ ](ba)?sh$'; then",
        "            printf '%s\\n' \"$@\" | grep -qxF \"$file\" || continue",
        "m=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list 2>/dev/null |\n        awk '{print $2}' | grep -E '/debian/?$' | head -1)",
        "x=$(a | grep --quiet b)",
        "a | grep -m1 b",
        "a | sed -n 1p\\;q",
        "a | sed '1q'",
        "a | awk '/x/ { print; exit }'",
        "a |& grep -l x",
    ];
    for line in old {
        assert_eq!(findings(line).len(), 1, "caught: {line}");
    }
    let fixed = [
        "grep -q '^q /tmp 1777 root root m:7d' <<<\"$(systemd-tmpfiles --cat-config 2>/dev/null)\" ||\n    die x",
        "ldd x | grep -c '/usr/local/lib/' >/dev/null",
        "info \"$(tsql -C | sed -n 1p)\"",
        "a || grep -q b file",
        "grep -q x file && head -1 file",
        "ldd /usr/sbin/sshd | grep libcrypto | grep -v /usr/local/",
        "entries | awk '$1 == f { found = 1 } END { exit !found }'",
        "a | grep -E 'x|head' | sort",
        "echo 'a | grep -q b'",
        "odbcinst -i <<INI\nx | head\nINI",
        "a | sed 's/q/r/'",
        "# a | grep -q b",
        "ldd x | grep '/usr/local' # | head -1",
    ];
    for line in fixed {
        assert!(
            findings(line).is_empty(),
            "passes: {line}: {:?}",
            findings(line)
        );
    }
}

/// Why the rule exists, run for real: under pipefail, `producer | grep -q` fails although the pattern
/// is found (the producer, still writing, dies of SIGPIPE); the here-string form succeeds.
#[test]
fn under_pipefail_grep_q_at_the_end_of_a_pipe_fails_and_the_here_string_does_not() {
    let run = |script: &str| {
        Command::new("bash")
            .args(["-c", &format!("set -o pipefail; {script}")])
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(run("seq 1 1000000 | grep -q '^1$'"), Some(141));
    assert_eq!(run("seq 1 1000000 | head -1 >/dev/null"), Some(141));
    assert_eq!(run("grep -q '^1$' <<<\"$(seq 1 1000000)\""), Some(0));
    assert_eq!(run("seq 1 1000000 | grep -c '^1$' >/dev/null"), Some(0));
}
