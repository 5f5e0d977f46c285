//! `lava-build payload index`: the arguments, the request and what is printed.
use super::{ProjectArgs, TargetArgs, ecr_client, tags};
use crate::config::ConfigError;
use crate::engine::Platform;
use crate::output::{self, Format};
use crate::payload::index::{self, IndexRequest, IndexRow};
use crate::payload::project::{Platforms, Project};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct IndexArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Digests files written by `payload install --push-by-digest` runs (one per platform, or
    /// merged).
    #[arg(long, num_args = 1.., required = true, value_name = "FILE")]
    pub digests: Vec<PathBuf>,
    /// Another tag besides latest.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// The platforms every payload's index must list, comma-separated [default: docker.platform;
    /// needed when it is host].
    #[arg(
        long = "platform",
        value_enum,
        value_delimiter = ',',
        value_name = "LIST"
    )]
    pub platforms: Vec<Platform>,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// The platforms every index lists: `--platform`, else docker.platform's list.
fn platforms(project: &Project, given: &[Platform]) -> Result<Vec<Platform>, ConfigError> {
    if !given.is_empty() {
        let mut list: Vec<Platform> = Vec::new();
        for p in given {
            if !list.contains(p) {
                list.push(*p);
            }
        }
        return Ok(list);
    }
    match &project.platforms {
        Platforms::List(l) => Ok(l.iter().filter_map(|p| Platform::parse(p)).collect()),
        Platforms::Host => Err(ConfigError::Missing {
            param: "--platform".into(),
            hint: format!(
                "docker.platform in {} is host: name the platforms every index lists",
                project.config_file
            ),
        }),
    }
}

fn report(rows: &[IndexRow], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return output::print_json(&rows);
    }
    let mut t = output::table(&["payload", "index", "platforms", "tags", "push"]);
    for r in rows {
        let platforms: Vec<&str> = r.platforms.iter().map(|p| p.as_str()).collect();
        t.add_row(vec![
            r.payload.clone(),
            format!("{}@{}", r.repository, r.digest),
            platforms.join(", "),
            r.tags.join(", "),
            match r.status {
                "pushed" => format!("pushed {}", r.written.join(", ")),
                other => other.to_string(),
            },
        ]);
    }
    println!("{t}");
    Ok(())
}

/// `payload index`.
pub async fn run(a: &IndexArgs) -> anyhow::Result<()> {
    let project = Project::load(&a.project.project, &a.project.env)?;
    let payloads = project.select(&a.project.names)?;
    let aws = a.target.auth.profile.aws();
    let req = IndexRequest {
        tags: tags(a.tag.as_deref())?,
        platforms: platforms(&project, &a.platforms)?,
        project,
        payloads,
        files: a.digests.clone(),
        registry: a.target.registry.clone(),
        auth: a.target.auth.request_with(&aws),
        ecr: ecr_client(&aws).await,
        dry_run: a.project.dry_run,
    };
    let rows = index::index(&req).await?;
    report(&rows, a.project.output)
}
