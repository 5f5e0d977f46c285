//! A payload made ready to build, as the job framework's build makes it: a clean copy of its
//! folder (dot files and `.dockerignore` included, symlinks inside the project followed, links
//! leaving it refused unless asked for, the source never touched), `env/` files rendered,
//! notebooks turned into runnable Python, the Dockerfile rendered (or the default one), all as one
//! deterministic build-context tar from which the payload's `.dockerignore` leaves out what it
//! names, as the framework's build (its folder is the context) does.
use super::dockerignore::DockerIgnore;
use super::notebook;
use super::project::{Payload, Project};
use super::render;
use crate::config::ConfigError;
use crate::engine::context;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The default Dockerfile (`images/payload/Dockerfile`), built into the binary so that it works
/// from any project folder.
pub const DEFAULT_DOCKERFILE: &str = include_str!("../../images/payload/Dockerfile");

/// A payload ready to build.
#[derive(Debug)]
pub struct Prepared {
    pub payload: Payload,
    /// The build context tar.
    pub context: Vec<u8>,
    /// Whether the default Dockerfile is used (the payload has none).
    pub default_dockerfile: bool,
    /// The images the Dockerfile builds FROM (other than scratch and its own stages).
    pub from: Vec<String>,
}

/// Why a payload could not be made ready: its folder or templates are wrong (the input: exit 2),
/// or this machine could not stage the copy (run time: exit 1).
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    // Shown as the config error it is, and kept in the chain as one (exit 2).
    #[error("{0}")]
    Input(#[source] ConfigError),
    #[error("staging {path}")]
    Staging {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{payload}: the build context")]
    Context {
        payload: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<ConfigError> for PrepareError {
    fn from(e: ConfigError) -> Self {
        PrepareError::Input(e)
    }
}

/// The payload's own folder could not be read: its files are the input.
fn read_err(path: &Path, source: std::io::Error) -> ConfigError {
    ConfigError::Read {
        path: path.display().to_string(),
        source,
    }
}

/// The staging copy could not be written or read back: a failure of this machine.
fn stage_err(path: &Path, source: std::io::Error) -> PrepareError {
    PrepareError::Staging {
        path: path.to_path_buf(),
        source,
    }
}

/// How the copy treats what it finds.
struct CopyRules<'a> {
    /// The project folder, resolved: links whose target is outside it leave the project.
    project: &'a Path,
    /// `--follow-external-links`: follow those too.
    follow_external: bool,
    /// Files become 0644, or 0755 when the owner may execute them; folders 0755.
    normalise: bool,
    /// How the payload's folder is named in messages (`lava-payloads/NAME.docker`).
    shown: &'a str,
}

/// Copies `src` into `dst`: files and folders, dot entries included, symlinks followed when their
/// target is inside the project (or `follow_external`), else refused naming the link.
fn copy_tree(src: &Path, dst: &Path, rules: &CopyRules<'_>) -> Result<(), PrepareError> {
    let walker = walkdir::WalkDir::new(src)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    for e in walker {
        let e = e.map_err(|err| {
            let path = err.path().unwrap_or(src).to_path_buf();
            read_err(&path, std::io::Error::from(err))
        })?;
        let rel = e
            .path()
            .strip_prefix(src)
            .map_err(|err| read_err(e.path(), std::io::Error::other(err)))?;
        if e.path_is_symlink() && !rules.follow_external {
            let target = std::fs::canonicalize(e.path()).map_err(|err| read_err(e.path(), err))?;
            if !target.starts_with(rules.project) {
                let link = if rel.as_os_str().is_empty() {
                    rules.shown.to_string()
                } else {
                    format!("{}/{}", rules.shown, rel.display())
                };
                return Err(ConfigError::invalid(
                    &link,
                    &target.display().to_string(),
                    "a symlink to a file or folder inside the project (a link out of it could \
                     ship anything, ~/.aws included; --follow-external-links follows it)",
                )
                .into());
            }
        }
        let to = dst.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).map_err(|err| stage_err(&to, err))?;
            if rules.normalise {
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))
                    .map_err(|err| stage_err(&to, err))?;
            }
        } else if e.file_type().is_file() {
            // A source that cannot be opened is the input's fault; a copy that cannot be written
            // is this machine's.
            std::fs::File::open(e.path()).map_err(|err| read_err(e.path(), err))?;
            std::fs::copy(e.path(), &to).map_err(|err| stage_err(&to, err))?;
            if rules.normalise {
                let mode = e
                    .metadata()
                    .map_err(|err| read_err(e.path(), std::io::Error::from(err)))?
                    .permissions()
                    .mode();
                let m = if mode & 0o100 != 0 { 0o755 } else { 0o644 };
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(m))
                    .map_err(|err| stage_err(&to, err))?;
            }
        }
    }
    Ok(())
}

/// The context tar of the staged folder `dir`: every folder and file (dot entries too) but those
/// the payload's `.dockerignore` leaves out, sorted, modes kept, root-owned at time 0, so the same
/// files make the same bytes. `payload` is the payload's folder within `dir` (`""`: `dir` itself);
/// paths are matched relative to it, and the Dockerfile is always sent.
fn context_tar(
    dir: &Path,
    payload: &str,
    ignore: &DockerIgnore,
) -> Result<Vec<u8>, std::io::Error> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    for e in walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name() {
        let e = e.map_err(std::io::Error::from)?;
        let rel = e
            .path()
            .strip_prefix(dir)
            .map_err(std::io::Error::other)?
            .to_string_lossy()
            .into_owned();
        let in_payload = if payload.is_empty() {
            Some(rel.as_str())
        } else {
            rel.strip_prefix(payload).and_then(|r| r.strip_prefix('/'))
        };
        if rel != "Dockerfile"
            && let Some(p) = in_payload
            && ignore.excluded(p)
        {
            continue;
        }
        let mode = e
            .metadata()
            .map_err(std::io::Error::from)?
            .permissions()
            .mode()
            & 0o7777;
        if e.file_type().is_dir() {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            h.set_mode(mode);
            h.set_mtime(0);
            h.set_uid(0);
            h.set_gid(0);
            tar.append_data(&mut h, format!("{rel}/"), std::io::empty())?;
        } else if e.file_type().is_file() {
            let data = std::fs::read(e.path())?;
            context::append(&mut tar, &rel, mode, &data)?;
        }
    }
    tar.into_inner()
}

/// Every file under `dir` (sorted).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

/// Renders one file of the copy in place; `shown` names it in errors.
fn render_in_place(
    env: &minijinja::Environment<'_>,
    path: &Path,
    shown: &str,
    ctx: &minijinja::Value,
) -> Result<(), PrepareError> {
    let bytes = std::fs::read(path).map_err(|e| stage_err(path, e))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        ConfigError::invalid(
            shown,
            "binary content",
            "a UTF-8 text file (it is rendered)",
        )
    })?;
    let out = render::render(env, shown, &text, ctx)?;
    std::fs::write(path, out).map_err(|e| stage_err(path, e))
}

/// The images a Dockerfile builds FROM, with `${BASE_IMG}` as given; scratch and earlier stages
/// left out. Pure.
pub fn from_images(dockerfile: &str, base_img: &str) -> Vec<String> {
    let mut stages: Vec<String> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    for line in dockerfile.lines() {
        let mut words = line.split_whitespace();
        if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("FROM")) {
            continue;
        }
        let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
        let Some(image) = rest.first() else { continue };
        let image = image
            .replace("${BASE_IMG}", base_img)
            .replace("$BASE_IMG", base_img);
        if image != "scratch" && !stages.contains(&image.to_lowercase()) && !out.contains(&image) {
            out.push(image);
        }
        if let [_, as_kw, name] = rest.as_slice()
            && as_kw.eq_ignore_ascii_case("AS")
        {
            stages.push(name.to_lowercase());
        }
    }
    out
}

/// Prepares one payload of `project` with the render context `ctx`; `follow_external`: follow
/// symlinks that leave the project.
pub fn prepare(
    project: &Project,
    payload: &Payload,
    ctx: &minijinja::Value,
    follow_external: bool,
) -> Result<Prepared, PrepareError> {
    let env = render::environment().map_err(|e| ConfigError::Usage {
        message: format!("template delimiters: {e}"),
    })?;
    let staging = tempfile::tempdir().map_err(|e| stage_err(&std::env::temp_dir(), e))?;
    let own = payload.dir.join("Dockerfile").is_file();
    // The payload's folder is the context of an own Dockerfile; the default one has it under
    // payload/ next to it.
    let sub = if own { "" } else { "payload" };
    let root = staging.path().join(sub);
    let project_dir = std::fs::canonicalize(&project.dir).map_err(|e| read_err(&project.dir, e))?;
    let shown_dir = format!("lava-payloads/{}.docker", payload.name);
    copy_tree(
        &payload.dir,
        &root,
        &CopyRules {
            project: &project_dir,
            follow_external,
            normalise: !own,
            shown: &shown_dir,
        },
    )?;
    let shown = |p: &Path| {
        format!(
            "{shown_dir}/{}",
            p.strip_prefix(&root).unwrap_or(p).display()
        )
    };
    for f in files_under(&root.join("env")) {
        render_in_place(&env, &f, &shown(&f), ctx)?;
    }
    for f in files_under(&root) {
        if f.extension().is_some_and(|x| x == "ipynb") {
            let json = std::fs::read(&f).map_err(|e| stage_err(&f, e))?;
            let py = notebook::to_python(&json).map_err(|e| ConfigError::Usage {
                message: format!("{}: {}", shown(&f), crate::error::chain(&e)),
            })?;
            let to = f.with_extension("py");
            // The owner may run it; with the default Dockerfile so may everyone.
            let mode = std::fs::metadata(&f)
                .map_err(|e| stage_err(&f, e))?
                .permissions()
                .mode();
            let mode = if own { mode | 0o100 } else { 0o755 };
            std::fs::write(&to, py).map_err(|e| stage_err(&to, e))?;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode))
                .map_err(|e| stage_err(&to, e))?;
            std::fs::remove_file(&f).map_err(|e| stage_err(&f, e))?;
        }
    }
    let dockerfile = staging.path().join("Dockerfile");
    if own {
        render_in_place(&env, &dockerfile, &shown(&dockerfile), ctx)?;
    } else {
        std::fs::write(&dockerfile, DEFAULT_DOCKERFILE).map_err(|e| stage_err(&dockerfile, e))?;
    }
    let text = std::fs::read_to_string(&dockerfile).map_err(|e| stage_err(&dockerfile, e))?;
    let ignore_file = root.join(".dockerignore");
    let ignore = match std::fs::read(&ignore_file) {
        Ok(bytes) => {
            let shown = shown(&ignore_file);
            let text = String::from_utf8(bytes).map_err(|_| {
                ConfigError::invalid(&shown, "binary content", "a text file of patterns")
            })?;
            DockerIgnore::parse(&shown, &text)?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DockerIgnore::default(),
        Err(e) => return Err(stage_err(&ignore_file, e)),
    };
    let context =
        context_tar(staging.path(), sub, &ignore).map_err(|source| PrepareError::Context {
            payload: shown_dir.clone(),
            source,
        })?;
    Ok(Prepared {
        payload: payload.clone(),
        context,
        default_dockerfile: !own,
        from: from_images(&text, &project.base_img),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lines_with_stages_args_and_scratch() {
        let df = "ARG BASE_IMG\nFROM --platform=linux/amd64 ${BASE_IMG} AS build\nRUN x\n\
                  FROM scratch\nfrom build\nFROM busybox:1 as b2\nFROM b2\n";
        assert_eq!(from_images(df, "lava/base"), ["lava/base", "busybox:1"]);
        assert_eq!(
            from_images(DEFAULT_DOCKERFILE, "lava-lab/debian:12"),
            ["lava-lab/debian:12"]
        );
    }
}
