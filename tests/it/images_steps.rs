//! The real image definitions under images/, read as they will run (they cannot be built here:
//! nothing can be pulled): shellcheck over every step, and static rules over the steps of each OS:
//! the package managers that OS has, a system python3 no step touches, every CLI connector tool
//! the seed promises installed from a package that OS really has, and the versions the AMI uses.
use crate::common::root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const OSES: [&str; 2] = ["amzn2023", "ubuntu24"];

/// Package managers a step could call, and the ones each OS has (`rpm` only queries, on amzn2023).
const PACKAGE_MANAGERS: [&str; 11] = [
    "apt", "apt-get", "aptitude", "dpkg", "dnf", "yum", "microdnf", "rpm", "apk", "zypper",
    "pacman",
];

fn allowed_package_managers(os: &str) -> &'static [&'static str] {
    match os {
        "amzn2023" => &["dnf", "rpm"],
        "ubuntu24" => &["apt-get"],
        // images/common/: shared by every OS, so none.
        "common" => &[],
        other => panic!("no package manager table for os {other}: add one"),
    }
}

/// How each CLI connector tool of the seed reaches the full image of an OS: a package of that OS
/// (names as Amazon Linux 2023 and Ubuntu 24.04 "noble" publish them), or a step that builds or
/// unpacks it.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// Installed by the OS's package manager (after `${VAR}` of images/common/lib.sh expands).
    Package(&'static str),
    /// A step of the OS, or a common script a step runs, that provides the tool.
    Step(&'static str),
}

fn connector_tools(os: &str) -> Vec<(&'static str, Source)> {
    use Source::*;
    match os {
        "amzn2023" => vec![
            ("psql", Package("postgresql15")),
            // MySQL's own client (mysql-community-client's signed rpm at the AMI's version), as on
            // the AMI (not mariadb105).
            ("mysql", Step("os/amzn2023/full/10-db-clients.sh")),
            ("sqlplus", Step("common/oracle.sh")),
            ("isql", Package("unixODBC")),
            ("tsql", Step("os/amzn2023/base/20-freetds.sh")),
        ],
        "ubuntu24" => vec![
            ("psql", Package("postgresql-client")),
            ("mysql", Package("default-mysql-client")),
            ("sqlplus", Step("common/oracle.sh")),
            ("isql", Package("unixodbc")),
            ("tsql", Package("freetds-bin")),
        ],
        other => panic!("no connector table for os {other}: add one"),
    }
}

fn images() -> PathBuf {
    root().join("images")
}

/// The steps of an OS (base, then full) in the order they run.
fn steps(os: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for kind in ["base", "full"] {
        let mut v: Vec<PathBuf> = std::fs::read_dir(images().join("os").join(os).join(kind))
            .unwrap_or_else(|e| panic!("images/os/{os}/{kind}: {e}"))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sh"))
            .collect();
        v.sort();
        out.extend(v);
    }
    out
}

fn common_scripts() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(images().join("common"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sh"))
        .collect();
    v.sort();
    v
}

fn rel(p: &Path) -> String {
    p.strip_prefix(images())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The commands of a script: continuation lines joined, comments and blank lines dropped.
fn commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') && cur.is_empty() {
            continue;
        }
        let t = match t.find(" #") {
            Some(i) if !t[..i].contains(['"', '\'']) => &t[..i],
            _ => t,
        };
        if let Some(head) = t.strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
            continue;
        }
        cur.push_str(t);
        if !cur.trim().is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.clear();
    }
    out
}

/// The words of a command, split at blanks and the shell's separators.
fn words(command: &str) -> Vec<String> {
    command
        .split(|c: char| c.is_whitespace() || ";|&()`<>\"'".contains(c))
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// Every line of `text` that changes (or names) the system's python3: the path /usr/bin/python3
/// itself (not /usr/bin/python3.12), or the python3 alternative.
fn python3_violations(text: &str) -> Vec<String> {
    commands(text)
        .into_iter()
        .filter(|c| {
            let names_path = c.match_indices("/usr/bin/python3").any(|(i, m)| {
                !c[i + m.len()..].starts_with(|x: char| x == '.' || x.is_ascii_digit())
            });
            let w = words(c);
            let alternative = w
                .iter()
                .any(|x| x == "alternatives" || x == "update-alternatives")
                && w.iter().any(|x| x.starts_with("python"));
            names_path || alternative
        })
        .collect()
}

/// The package managers a script calls.
fn package_managers(text: &str) -> BTreeSet<String> {
    commands(text)
        .iter()
        .flat_map(|c| words(c))
        .filter(|w| PACKAGE_MANAGERS.contains(&w.as_str()))
        .collect()
}

/// The variables images/common/lib.sh sets (NAME=value at the start of a line).
fn lib_variables() -> BTreeMap<String, String> {
    std::fs::read_to_string(images().join("common/lib.sh"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.starts_with(|c: char| c.is_ascii_uppercase())
                && k.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .then(|| (k.to_string(), v.trim().to_string()))
        })
        .collect()
}

fn expand(word: &str, vars: &BTreeMap<String, String>) -> String {
    let mut w = word.to_string();
    for (k, v) in vars {
        w = w
            .replace(&format!("${{{k}}}"), v)
            .replace(&format!("${k}"), v);
    }
    w
}

/// The packages a script installs with dnf or apt-get (`install` arguments that are not options).
fn installed_packages(text: &str, vars: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for c in commands(text) {
        let w = words(&c);
        let Some(pm) = w.iter().position(|x| x == "dnf" || x == "apt-get") else {
            continue;
        };
        let Some(install) = w[pm..].iter().position(|x| x == "install") else {
            continue;
        };
        for arg in &w[pm + install + 1..] {
            if !arg.starts_with('-') {
                out.insert(expand(arg, vars));
            }
        }
    }
    out
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn shellcheck_passes_on_every_image_step() {
    let mut files: Vec<PathBuf> = common_scripts();
    for os in OSES {
        files.extend(steps(os));
    }
    assert!(files.len() >= 15, "{files:?}");
    let out = std::process::Command::new("shellcheck")
        .args(["--shell=sh", "--severity=style"])
        .args(&files)
        .output()
        .expect("shellcheck (Debian) on PATH");
    assert!(
        out.status.success(),
        "shellcheck:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_python3_rule_finds_every_way_of_changing_the_system_python() {
    for bad in [
        "alternatives --install /usr/bin/python3 python3 /usr/bin/python3.12 10",
        "alternatives --set python3 /usr/bin/python3.12",
        "update-alternatives --install /usr/bin/python python /usr/bin/python3.12 1",
        "ln -sf /usr/bin/python3.12 /usr/bin/python3",
        "rm -f /usr/bin/python3; true",
        "dnf -y install x && \\\n  ln -s python3.12 /usr/bin/python3",
    ] {
        assert_eq!(
            python3_violations(&format!("#!/bin/sh\n{bad}\n")).len(),
            1,
            "not found: {bad}"
        );
    }
    for fine in [
        "ln -sf /usr/bin/python3.12 /usr/local/bin/python3",
        "ln -sf /usr/bin/pip3.12 /usr/local/bin/pip3",
        "# never: alternatives --install /usr/bin/python3 python3 /usr/bin/python3.12 10",
        "python3 -m pip install jinlava",
    ] {
        assert!(
            python3_violations(&format!("#!/bin/sh\n{fine}\n")).is_empty(),
            "flagged: {fine}"
        );
    }
}

#[test]
fn no_image_step_changes_the_system_python3() {
    let mut files = common_scripts();
    for os in OSES {
        files.extend(steps(os));
    }
    let bad: Vec<String> = files
        .iter()
        .flat_map(|f| {
            python3_violations(&read(f))
                .into_iter()
                .map(move |l| format!("{}: {l}", rel(f)))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "dnf runs on /usr/bin/python3 (FACTS §8): {bad:?}"
    );
    // amzn2023: python3 and pip3 of 3.12 are links in /usr/local/bin, first on PATH in the
    // image and in every step.
    let packages = read(&images().join("os/amzn2023/base/10-packages.sh"));
    for link in [
        "ln -sf /usr/bin/python3.12 /usr/local/bin/python3",
        "ln -sf /usr/bin/pip3.12 /usr/local/bin/pip3",
    ] {
        assert!(packages.contains(link), "10-packages.sh: {link}");
    }
    let path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    assert!(read(&images().join("common/lib.sh")).contains(path));
    assert!(read(&images().join("Dockerfile")).contains(&format!("ENV {path}")));
}

#[test]
fn the_package_manager_rule_finds_every_manager() {
    let text = "#!/bin/sh\n# apt-get in a comment does not count\napt-get update -q\n\
                retry 3 dnf -y install x\nx=$(rpm -q python3)\nyes | yum install y\n\
                echo ok && apk add z\n";
    assert_eq!(
        package_managers(text).into_iter().collect::<Vec<_>>(),
        ["apk", "apt-get", "dnf", "rpm", "yum"]
    );
}

#[test]
fn every_step_calls_only_the_package_managers_its_os_has() {
    let mut bad = Vec::new();
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let scripts = OSES
        .iter()
        .flat_map(|os| steps(os).into_iter().map(move |f| (*os, f)))
        .chain(common_scripts().into_iter().map(|f| ("common", f)));
    for (os, f) in scripts {
        for pm in package_managers(&read(&f)) {
            if !allowed_package_managers(os).contains(&pm.as_str()) {
                bad.push(format!(
                    "{}: {pm} (this OS has {:?})",
                    rel(&f),
                    allowed_package_managers(os)
                ));
            }
            seen.entry(os.to_string()).or_default().insert(pm);
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
    // The table is not vacuous: each OS's steps do install with its own manager.
    assert!(seen["amzn2023"].contains("dnf"), "{seen:?}");
    assert!(seen["ubuntu24"].contains("apt-get"), "{seen:?}");
}

#[test]
fn the_full_image_of_every_os_has_every_cli_connector_tool() {
    let vars = lib_variables();
    let checks: serde_json::Value =
        serde_yaml::from_str(&read(&images().join("checks.yaml"))).expect("images/checks.yaml");
    let checked: Vec<String> = ["base", "full"]
        .iter()
        .flat_map(|k| checks[k].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["run"].as_str().map(String::from))
        .collect();
    for os in OSES {
        let texts: Vec<(String, String)> = steps(os).iter().map(|f| (rel(f), read(f))).collect();
        let installed: BTreeSet<String> = texts
            .iter()
            .flat_map(|(_, t)| installed_packages(t, &vars))
            .collect();
        for (tool, source) in connector_tools(os) {
            match source {
                Source::Package(p) => assert!(
                    installed.contains(p),
                    "{os}: {tool} comes from the package {p}, which no step installs (installed: {installed:?})"
                ),
                Source::Step(s) if s.starts_with("common/") => assert!(
                    texts
                        .iter()
                        .any(|(n, t)| n.starts_with(&format!("os/{os}/full/"))
                            && t.contains(&format!("/common/{}", &s["common/".len()..]))),
                    "{os}: {tool} comes from {s}, which no full step runs"
                ),
                Source::Step(s) => assert!(
                    texts.iter().any(|(n, t)| n == s && t.contains(tool)),
                    "{os}: {tool} comes from {s}, which is missing or does not make it"
                ),
            }
            assert!(
                checked
                    .iter()
                    .any(|run| words(run).first().map(String::as_str) == Some(tool)),
                "images/checks.yaml has no check running {tool}"
            );
        }
    }
    // MySQL's own client as on the AMI: the key checked against MySQL's published id and imported,
    // every package's signature checked, then the packages installed; no repository is left.
    let amzn_full = read(&images().join("os/amzn2023/full/10-db-clients.sh"));
    let at = |needle: &str| {
        amzn_full
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} in the amzn2023 full step"))
    };
    assert!(at("$MYSQL_KEY_ID") < at("rpm --import"));
    assert!(at("rpm --import") < at("rpm -K"));
    assert!(at("rpm -K") < at("dnf -y -q install $rpms"));
    assert!(at("mysql-community-$pkg-$MYSQL_VERSION") < at("rpm -K"));
    assert!(
        !amzn_full.contains("release-el9"),
        "no MySQL repository rpm"
    );
    assert!(!amzn_full.contains("mariadb"), "no MariaDB client");
}

#[test]
fn amzn2023_builds_freetds_with_openssl_headers_removed_again_with_the_compiler() {
    let vars = lib_variables();
    let steps = steps("amzn2023");
    let pos = |name: &str| {
        steps
            .iter()
            .position(|p| p.ends_with(name))
            .unwrap_or_else(|| panic!("{name} in {steps:?}"))
    };
    let freetds = pos("base/20-freetds.sh");
    assert!(read(&steps[freetds]).contains("--with-openssl"));
    let before: BTreeSet<String> = steps[..freetds]
        .iter()
        .flat_map(|f| installed_packages(&read(f), &vars))
        .collect();
    for p in ["gcc", "make", "openssl-devel", "unixODBC-devel"] {
        assert!(
            before.contains(p),
            "FreeTDS's build needs {p} installed before it"
        );
    }
    let cleanup = read(&steps[pos("base/90-cleanup.sh")]);
    let removed = commands(&cleanup)
        .into_iter()
        .find(|c| words(c).iter().any(|w| w == "remove"))
        .expect("90-cleanup.sh removes the build-only packages");
    let removed = words(&removed);
    for p in ["gcc", "openssl-devel"] {
        assert!(
            removed.iter().any(|w| w == p),
            "90-cleanup.sh removes {p}: {removed:?}"
        );
    }
    assert!(
        !cleanup.contains("|| true"),
        "a failing removal fails the build"
    );
}

#[test]
fn the_images_use_the_amis_versions() {
    let ami = read(&root().join("ami/os/amzn2023/versions.sh"));
    let ami: BTreeMap<String, String> = ami
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let ours = lib_variables();
    for k in [
        "FREETDS_VERSION",
        "MYSQL_VERSION",
        "MYSQL_KEY_ID",
        "POSTGRESQL_MAJOR",
    ] {
        assert_eq!(
            ours.get(k),
            ami.get(k),
            "{k}: images/common/lib.sh and ami/os/amzn2023/versions.sh"
        );
    }
    // The FreeTDS source is the AMI's pinned file, checked against the same SHA-256.
    let lock = read(&root().join("ami/os/amzn2023/downloads.lock"));
    let file = format!("freetds-{}.tar.bz2", ours["FREETDS_VERSION"]);
    let pinned = lock
        .lines()
        .find(|l| l.split_whitespace().next() == Some(file.as_str()))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or_else(|| panic!("{file} in ami/os/amzn2023/downloads.lock"));
    assert_eq!(ours.get("FREETDS_SHA256").map(String::as_str), Some(pinned));
    let step = read(&images().join("os/amzn2023/base/20-freetds.sh"));
    assert!(
        step.contains("${FREETDS_SHA256}  freetds.tar.bz2\" | sha256sum -c -")
            && step.contains("freetds-${FREETDS_VERSION}.tar.bz2"),
        "20-freetds.sh checks the pinned sum of the .tar.bz2"
    );
}

/// A misspelt os or type names a folder with no step: run-steps.sh fails naming it instead of
/// leaving a bare FROM image to be tagged as lava; a folder with steps runs them in order.
#[test]
fn run_steps_fails_on_a_folder_without_steps_and_runs_the_steps_of_one() {
    let run = |dir: &Path| {
        std::process::Command::new("sh")
            .arg(images().join("common/run-steps.sh"))
            .arg(dir)
            .output()
            .unwrap()
    };
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("os/amzn2032/base");
    let out = run(&missing);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("no steps in {}", missing.display())),
        "{err}"
    );
    let empty = tmp.path().join("os/amzn2023/bsae");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("README"), "not a step\n").unwrap();
    assert_eq!(run(&empty).status.code(), Some(1));

    let real = tmp.path().join("os/x/base");
    std::fs::create_dir_all(&real).unwrap();
    let log = tmp.path().join("log");
    for n in ["20-b.sh", "10-a.sh"] {
        std::fs::write(real.join(n), format!("echo {n} >> '{}'\n", log.display())).unwrap();
    }
    let out = run(&real);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "10-a.sh\n20-b.sh\n");
}
