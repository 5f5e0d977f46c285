//! What `payload build|install|uninstall` print: a table per payload, or JSON.
use crate::output::{self, Format};
use crate::payload::run::{Removal, Row};

pub(super) fn report(rows: &[Row], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return output::print_json(&rows);
    }
    let mut t = output::table(&["payload", "platform", "image", "build", "ecr", "push"]);
    for r in rows {
        let platforms: Vec<&str> = r.images.iter().map(|b| b.platform.as_str()).collect();
        let ids: Vec<&str> = r
            .images
            .iter()
            .map(|b| {
                b.image_id
                    .as_deref()
                    .map_or("-", crate::payload::build::short)
            })
            .collect();
        let builds: Vec<&str> = r.images.iter().map(|b| b.status).collect();
        let push = match (&r.pushed, r.push, &r.by_digest) {
            (_, Some(s), Some(b)) => {
                let each: Vec<String> = b.digests.values().map(|d| format!("@{d}")).collect();
                format!("{s} {}{}", b.repository, each.join(", "))
            }
            (Some(p), Some(s), _) => format!("{s} {}@{}", p.repository, p.digest),
            (None, Some(s), None) => s.to_string(),
            _ => String::new(),
        };
        t.add_row(vec![
            r.payload.clone(),
            platforms.join(", "),
            ids.join(", "),
            if r.error.is_some() {
                "failed".to_string()
            } else {
                builds.join(", ")
            },
            r.ecr.unwrap_or("").to_string(),
            push,
        ]);
    }
    println!("{t}");
    Ok(())
}

pub(super) fn report_removals(list: &[Removal], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return output::print_json(&list);
    }
    for r in list {
        match &r.images {
            Some(images) => {
                println!("{} {} ({} images)", r.status, r.repository, images.len());
                for i in images {
                    println!("  {i}");
                }
            }
            None => println!("{} {} (no such ECR repository)", r.status, r.repository),
        }
    }
    Ok(())
}
