//! What `lava-build ami` prints after a build: notes, the AMIs, the log and manifest, and what was
//! published and copied (or all of it as JSON).
use crate::output::{self, Format, progress};
use serde::Serialize;

pub(super) fn print_report(
    report: &crate::packer::build::BuildReport,
    format: Format,
    dist: Option<&crate::lifecycle::build::Distribution>,
) -> anyhow::Result<()> {
    for n in &report.notes {
        progress::note(n);
    }
    if format == Format::Json {
        #[derive(Serialize)]
        struct WithDistribution<'a> {
            #[serde(flatten)]
            report: &'a crate::packer::build::BuildReport,
            #[serde(skip_serializing_if = "Option::is_none")]
            distribution: Option<&'a crate::lifecycle::build::Distribution>,
        }
        return output::print_json(&WithDistribution {
            report,
            distribution: dist,
        });
    }
    if report.validated_only {
        println!(
            "packer {}: {} is valid",
            report.packer_version, report.template
        );
        return Ok(());
    }
    let mut t = output::table(&["arch", "region", "AMI id", "name"]);
    for a in &report.amis {
        t.add_row(vec![&a.arch, &a.region, &a.ami_id, &a.name]);
    }
    println!("{t}");
    if let Some(log) = &report.log {
        println!("log: {log}");
    }
    println!("manifest: {}", report.manifest);
    if let Some(d) = dist {
        d.print_text();
    }
    Ok(())
}
