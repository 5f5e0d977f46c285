//! A payload made ready to build: a clean copy of its folder (symlinks followed, dot files kept
//! out, the source never touched), `env/` files rendered, notebooks turned into Python, the
//! Dockerfile rendered (or the default one), all as one deterministic build-context tar.
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
        source: context::ContextError,
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

/// Copies `src` into `dst`: files and folders, symlinks followed, dot entries left out. With
/// `normalise`, files become 0644, or 0755 when the owner may execute them, folders 0755.
fn copy_tree(src: &Path, dst: &Path, normalise: bool) -> Result<(), PrepareError> {
    let walker = walkdir::WalkDir::new(src)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for e in walker {
        let e = e.map_err(|err| {
            let path = err.path().unwrap_or(src).to_path_buf();
            read_err(&path, std::io::Error::from(err))
        })?;
        let rel = e
            .path()
            .strip_prefix(src)
            .map_err(|err| read_err(e.path(), std::io::Error::other(err)))?;
        let to = dst.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).map_err(|err| stage_err(&to, err))?;
            if normalise {
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))
                    .map_err(|err| stage_err(&to, err))?;
            }
        } else if e.file_type().is_file() {
            // A source that cannot be opened is the input's fault; a copy that cannot be written
            // is this machine's.
            std::fs::File::open(e.path()).map_err(|err| read_err(e.path(), err))?;
            std::fs::copy(e.path(), &to).map_err(|err| stage_err(&to, err))?;
            if normalise {
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

/// Prepares one payload of `project` with the render context `ctx`.
pub fn prepare(
    project: &Project,
    payload: &Payload,
    ctx: &minijinja::Value,
) -> Result<Prepared, PrepareError> {
    let env = render::environment().map_err(|e| ConfigError::Usage {
        message: format!("template delimiters: {e}"),
    })?;
    let staging = tempfile::tempdir().map_err(|e| stage_err(&std::env::temp_dir(), e))?;
    let own = payload.dir.join("Dockerfile").is_file();
    let root = if own {
        staging.path().to_path_buf()
    } else {
        staging.path().join("payload")
    };
    std::fs::create_dir_all(&root).map_err(|e| stage_err(&root, e))?;
    copy_tree(&payload.dir, &root, !own)?;
    let shown_dir = format!("lava-payloads/{}.docker", payload.name);
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
            let mode = std::fs::metadata(&f)
                .map_err(|e| stage_err(&f, e))?
                .permissions();
            std::fs::write(&to, py).map_err(|e| stage_err(&to, e))?;
            std::fs::set_permissions(&to, mode).map_err(|e| stage_err(&to, e))?;
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
    let context = context::build(staging.path(), &[]).map_err(|source| PrepareError::Context {
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
