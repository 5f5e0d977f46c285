//! The shape of the code: no cycle between rooms (the top-level modules of `src/`) and none between
//! the files of a room. A reference is any `crate::…`, `super::…` or `self::…` path in a file's
//! code (comments and its `mod tests` left out), resolved to the deepest module it names; a module
//! using its own parent or child is no edge.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// Every module of the library under `src` and its file (`lib.rs` and `bin/` left out).
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if p != src.join("bin") {
                    stack.push(p);
                }
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") || p == src.join("lib.rs") {
                continue;
            }
            let rel = p.strip_prefix(src).unwrap().with_extension("");
            let mut m: Module = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if m.last().is_some_and(|l| l == "mod") {
                m.pop();
            }
            out.insert(m, p);
        }
    }
    out
}

/// The code of a file without comments and without its `mod tests`.
fn code(text: &str) -> String {
    let text = text
        .find("#[cfg(test)]\nmod tests")
        .map_or(text, |i| &text[..i]);
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// The paths a file's code names, each from its start (`crate`, `super`, `self`) resolved
/// against `module`; `use super::{a, b::c}` names `super::a` and `super::b`.
fn paths(module: &[String], code: &str) -> Vec<Module> {
    let mut out = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            let before = code[..at].chars().last();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let base: Module = match start {
                "crate::" => vec![],
                "super::" => module[..module.len().saturating_sub(1)].to_vec(),
                _ => module.to_vec(),
            };
            let mut rest = &code[from..];
            let mut path = base.clone();
            loop {
                if let Some(group) = rest.strip_prefix('{') {
                    let end = group.find('}').unwrap_or(group.len());
                    for item in group[..end].split(',') {
                        let (name, _) = ident(item.trim());
                        if !name.is_empty() {
                            let mut p = path.clone();
                            p.push(name.to_string());
                            out.push(p);
                        }
                    }
                    break;
                }
                let (name, after) = ident(rest);
                if name.is_empty() {
                    break;
                }
                path.push(name.to_string());
                match after.strip_prefix("::") {
                    Some(more) => rest = more,
                    None => break,
                }
            }
            out.push(path);
        }
    }
    out
}

/// Edges between modules (`files`) and between rooms, each with the files that make it.
struct Graphs {
    files: BTreeMap<Module, BTreeSet<Module>>,
    rooms: BTreeMap<String, BTreeMap<String, BTreeSet<PathBuf>>>,
}

fn graphs(src: &Path) -> Graphs {
    let mods = modules(src);
    let mut g = Graphs {
        files: BTreeMap::new(),
        rooms: BTreeMap::new(),
    };
    for (m, file) in &mods {
        let text = code(&std::fs::read_to_string(file).unwrap());
        for p in paths(m, &text) {
            // The deepest module the path names.
            let Some(target) = (1..=p.len())
                .rev()
                .map(|n| p[..n].to_vec())
                .find(|k| mods.contains_key(k))
            else {
                continue;
            };
            let related = target.starts_with(m) || m.starts_with(&target);
            if target[0] != m[0] {
                g.rooms
                    .entry(m[0].clone())
                    .or_default()
                    .entry(target[0].clone())
                    .or_default()
                    .insert(file.clone());
            } else if !related {
                g.files.entry(m.clone()).or_default().insert(target);
            }
        }
    }
    g
}

/// One cycle of `edges`, as the nodes along it (first repeated at the end), if there is one.
fn cycle<N: Ord + Clone>(edges: &BTreeMap<N, BTreeSet<N>>) -> Option<Vec<N>> {
    // Depth-first search; a node met again while on the path closes a cycle.
    fn visit<N: Ord + Clone>(
        n: &N,
        edges: &BTreeMap<N, BTreeSet<N>>,
        path: &mut Vec<N>,
        done: &mut BTreeSet<N>,
    ) -> Option<Vec<N>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.clone());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.clone());
        for next in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.clone());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

/// What is wrong with the tree under `src`: each cycle found, one line each.
fn cycles(src: &Path) -> Vec<String> {
    let g = graphs(src);
    let mut out = Vec::new();
    let rooms: BTreeMap<String, BTreeSet<String>> = g
        .rooms
        .iter()
        .map(|(a, to)| (a.clone(), to.keys().cloned().collect()))
        .collect();
    if let Some(c) = cycle(&rooms) {
        let via: Vec<String> = c
            .windows(2)
            .map(|w| {
                let files: Vec<String> = g.rooms[&w[0]][&w[1]]
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect();
                format!("{} -> {} ({})", w[0], w[1], files.join(", "))
            })
            .collect();
        out.push(format!("rooms: {}", via.join("; ")));
    }
    if let Some(c) = cycle(&g.files) {
        let names: Vec<String> = c.iter().map(|m| m.join("::")).collect();
        out.push(format!("files: {}", names.join(" -> ")));
    }
    out
}

#[test]
fn no_cycle_between_rooms_or_between_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = cycles(&src);
    assert!(found.is_empty(), "{}", found.join("\n"));
    // The check sees the project's real dependencies (it would find nothing in an empty tree).
    let g = graphs(&src);
    assert!(
        g.rooms["stacks"].contains_key("ami"),
        "{:?}",
        g.rooms.keys()
    );
    assert!(
        g.files[&vec!["registry".to_string(), "stage".to_string()]]
            .contains(&vec!["registry".to_string(), "export".to_string()])
    );
}

#[test]
fn the_check_finds_cycles_between_rooms_and_between_files() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path();
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("lib.rs", "pub mod a;\npub mod b;\npub mod x;\n");
    write("a.rs", "use crate::b::thing;\n");
    write(
        "b.rs",
        "// crate::a in a comment is no edge\npub fn thing() { crate::a::f() }\n",
    );
    write("x/mod.rs", "pub mod p;\npub mod q;\n");
    write("x/p.rs", "use super::{q, mod_free};\n");
    write(
        "x/q.rs",
        "use super::p::X;\nfn f() {}\n#[cfg(test)]\nmod tests {\n    use crate::a;\n}\n",
    );
    let found = cycles(src);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("rooms: a -> b (") && found[0].contains("b -> a ("));
    assert_eq!(found[1], "files: x::p -> x::q -> x::p");
    // Without the back edges: nothing.
    write(
        "b.rs",
        "// crate::a in a comment is no edge\npub fn thing() {}\n",
    );
    write("x/q.rs", "fn f() {}\n");
    assert_eq!(cycles(src), Vec::<String>::new());
}

/// The files under `src` (not `cli/`, not `bin/`) whose code (comments and `mod tests` left out)
/// names any of `words`, with the word found.
fn outside_cli_naming(src: &Path, words: &[&str], allowed: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for file in modules(src).values() {
        let rel = file
            .strip_prefix(src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel.starts_with("cli/") || allowed.contains(&rel.as_str()) {
            continue;
        }
        let text = code(&std::fs::read_to_string(file).unwrap());
        for w in words.iter().filter(|w| text.contains(**w)) {
            out.push(format!("src/{rel}: {w}"));
        }
    }
    out.sort();
    out
}

/// Only `src/cli/` knows clap and builds the AWS configuration; the rooms take requests and
/// clients (`aws::AwsConfig`), so every call of a command uses the profile and region it was given.
#[test]
fn only_the_command_line_layer_knows_clap_and_builds_the_aws_config() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let clap = outside_cli_naming(&src, &["clap::", "#[arg(", "#[command("], &[]);
    assert!(clap.is_empty(), "clap below src/cli/:\n{}", clap.join("\n"));
    let aws = outside_cli_naming(&src, &["sdk_config("], &["aws/mod.rs"]);
    assert!(
        aws.is_empty(),
        "AWS config built below src/cli/:\n{}",
        aws.join("\n")
    );
    // The check can fail: on a tree where a room derives a clap type and loads a config.
    let d = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = d.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("lib.rs", "pub mod cli;\npub mod job;\n");
    write("cli/mod.rs", "#[derive(clap::Parser)]\nstruct A;\n");
    write(
        "job/mod.rs",
        "// clap:: in a comment\n#[derive(clap::ValueEnum)]\nenum P { A }\nasync fn f() { crate::aws::sdk_config(None, None).await; }\n",
    );
    assert_eq!(
        outside_cli_naming(d.path(), &["clap::", "sdk_config("], &[]),
        ["src/job/mod.rs: clap::", "src/job/mod.rs: sdk_config("]
    );
}

/// The packages the library depends on (normal edges, this machine's target) with `features`.
fn dependencies(features: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["tree", "--quiet", "--locked", "--offline", "-e", "normal"])
        .args(["--prefix", "none", "--format", "{p}"])
        .args(features)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree {features:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "lava-build")
        .map(String::from)
        .collect()
}

/// The boot agent on every instance links only what it uses: built without the `build` feature
/// (`make agent`), no Docker engine, registry, template, archive or EC2/CloudFormation code.
#[test]
fn the_boot_agent_links_none_of_the_build_tools_crates() {
    let build_only = [
        "bollard",
        "oci-client",
        "reqwest",
        "aws-sdk-ec2",
        "aws-sdk-cloudformation",
        "aws-sdk-autoscaling",
        "aws-sdk-ecr",
        "aws-sdk-ssm",
        "aws-sdk-dynamodb",
        "aws-sdk-kms",
        "aws-sdk-secretsmanager",
        "aws-sdk-redshift",
        "minijinja",
        "yaml_serde",
        "tar",
        "dialoguer",
        "clap_complete",
        "comfy-table",
    ];
    let agent = dependencies(&["--no-default-features"]);
    let full = dependencies(&[]);
    // What the agent does need is there (the check reads the tree it means to).
    for needed in ["aws-config", "aws-sdk-s3", "tokio", "nix", "clap"] {
        assert!(agent.contains(needed), "lava-rc lacks {needed}");
    }
    let linked: Vec<&str> = build_only
        .iter()
        .copied()
        .filter(|c| agent.contains(*c))
        .collect();
    assert!(linked.is_empty(), "lava-rc links {linked:?}");
    // The check can fail: with the default features every one of them is linked.
    let missing: Vec<&str> = build_only
        .iter()
        .copied()
        .filter(|c| !full.contains(*c))
        .collect();
    assert!(missing.is_empty(), "lava-build does not link {missing:?}");
    assert!(
        agent.len() * 3 < full.len() * 2,
        "lava-rc's {} packages are not a third fewer than lava-build's {}",
        agent.len(),
        full.len()
    );
}
