//! BuildKit builds through the Engine API, their output streamed line by line.
use super::EngineError;
use crate::output::progress;
use bollard::Docker;
use bollard::models::BuildInfoAux;
use bollard::query_parameters::{BuildImageOptionsBuilder, BuilderVersion};
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// How many of a step's last output lines a failure shows.
const TAIL_LINES: usize = 8;

/// One build of one image for one platform.
pub struct BuildRequest<'a> {
    pub context: Vec<u8>,
    pub tag: &'a str,
    pub platform: &'a str,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// `host`/`none` where the engine has no bridge network.
    pub network: Option<&'a str>,
    /// Prefix of every output line, e.g. `[amzn2023/base linux/amd64]`.
    pub prefix: &'a str,
    /// Do not use the engine's layer cache.
    pub no_cache: bool,
    /// Fetch the FROM image from its registry even when the engine has a copy.
    pub pull: bool,
}

/// Builds with BuildKit, streaming the steps' output. On failure: the step and its last lines.
pub async fn build(docker: &Docker, req: BuildRequest<'_>) -> Result<(), EngineError> {
    let args: HashMap<String, String> = req.build_args.into_iter().collect();
    let labels: HashMap<String, String> = req.labels.into_iter().collect();
    let session = format!("lava-build-{}", uuid::Uuid::new_v4().simple());
    let mut opts = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(req.tag)
        .platform(req.platform)
        .buildargs(&args)
        .labels(&labels)
        .rm(true)
        .nocache(req.no_cache)
        .version(BuilderVersion::BuilderBuildKit)
        .session(&session);
    if let Some(n) = req.network {
        opts = opts.networkmode(n);
    }
    if req.pull {
        opts = opts.pull("1");
    }
    let mut stream = docker.build_image(
        opts.build(),
        None,
        Some(bollard::body_full(req.context.into())),
    );
    let tag = req.tag.to_string();
    let mut names: HashMap<String, String> = HashMap::new();
    let mut tails: HashMap<String, VecDeque<String>> = HashMap::new();
    let mut failure: Option<EngineError> = None;
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(i) => i,
            Err(source) => {
                failure.get_or_insert(EngineError::BuildStream {
                    tag: tag.clone(),
                    source: Box::new(source),
                });
                break;
            }
        };
        if let Some(report) = info.error_detail.and_then(|d| d.message) {
            failure.get_or_insert(EngineError::BuildFailed {
                tag: tag.clone(),
                report,
            });
        }
        if let Some(s) = info.stream {
            for l in s.lines().filter(|l| !l.trim().is_empty()) {
                progress::line(req.prefix, l);
            }
        }
        let Some(BuildInfoAux::BuildKit(status)) = info.aux else {
            continue;
        };
        for v in &status.vertexes {
            if !v.name.is_empty() {
                if !names.contains_key(&v.digest) && !v.name.starts_with("[internal]") {
                    progress::line(req.prefix, &v.name);
                }
                names.insert(v.digest.clone(), v.name.clone());
            }
            if !v.error.is_empty() && failure.is_none() {
                failure = Some(EngineError::StepFailed {
                    tag: tag.clone(),
                    step: v.name.clone(),
                    error: v.error.clone(),
                    tail: tails
                        .get(&v.digest)
                        .map(|t| t.iter().cloned().collect())
                        .unwrap_or_default(),
                });
            }
        }
        for log in &status.logs {
            let text = String::from_utf8_lossy(&log.msg);
            let tail = tails.entry(log.vertex.clone()).or_default();
            for l in text.lines().filter(|l| !l.trim().is_empty()) {
                progress::line(req.prefix, format_args!("  {l}"));
                tail.push_back(l.to_string());
                if tail.len() > TAIL_LINES {
                    tail.pop_front();
                }
            }
        }
    }
    match failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}
