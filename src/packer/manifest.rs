//! Packer's manifest post-processor output: which AMIs one run built. Pure.
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Deserialize, Default)]
pub struct Manifest {
    #[serde(default)]
    pub builds: Vec<Entry>,
    #[serde(default)]
    pub last_run_uuid: String,
}

#[derive(Debug, Deserialize, Clone)]
pub struct Entry {
    pub name: String,
    #[serde(default)]
    pub artifact_id: String,
    #[serde(default)]
    pub packer_run_uuid: String,
    #[serde(default)]
    pub custom_data: std::collections::BTreeMap<String, String>,
}

/// One AMI of the result table.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BuiltAmi {
    pub arch: String,
    pub region: String,
    pub ami_id: String,
    pub name: String,
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Run ids already present (read before a run, so its entries can be told apart).
    pub fn run_ids(&self) -> BTreeSet<String> {
        self.builds
            .iter()
            .map(|b| b.packer_run_uuid.clone())
            .collect()
    }

    /// Entries written by this run: a run id not seen before and our build id. An `artifact_id`
    /// may list several `region:ami` pairs (AMI copies); each becomes a row.
    pub fn this_run(
        &self,
        before: &BTreeSet<String>,
        build_id: &str,
        name_of: impl Fn(&str) -> Option<String>,
    ) -> Vec<BuiltAmi> {
        let mut out = Vec::new();
        for b in &self.builds {
            if before.contains(&b.packer_run_uuid)
                || b.custom_data.get("BuildId").map(String::as_str) != Some(build_id)
            {
                continue;
            }
            for pair in b.artifact_id.split(',') {
                if let Some((region, ami)) = pair.split_once(':') {
                    out.push(BuiltAmi {
                        arch: b.name.clone(),
                        region: region.to_string(),
                        ami_id: ami.to_string(),
                        name: name_of(&b.name).unwrap_or_default(),
                    });
                }
            }
        }
        out.sort_by(|a, b| (&a.arch, &a.region).cmp(&(&b.arch, &b.region)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"{"builds":[
      {"name":"x86_64","builder_type":"amazon-ebs","artifact_id":"us-east-1:ami-0aaa","packer_run_uuid":"old","custom_data":{"BuildId":"dev-1"}},
      {"name":"x86_64","builder_type":"amazon-ebs","artifact_id":"us-east-1:ami-0bbb","packer_run_uuid":"new","custom_data":{"BuildId":"dev-2"}},
      {"name":"arm64","builder_type":"amazon-ebs","artifact_id":"us-east-1:ami-0ccc,eu-west-1:ami-0ddd","packer_run_uuid":"new","custom_data":{"BuildId":"dev-2"}}
    ],"last_run_uuid":"new"}"#;

    #[test]
    fn only_entries_of_this_run_are_reported() {
        let m = Manifest::parse(TEXT).unwrap();
        let before = BTreeSet::from(["old".to_string()]);
        let got = m.this_run(&before, "dev-2", |a| Some(format!("name-{a}")));
        let ids: Vec<_> = got.iter().map(|b| b.ami_id.as_str()).collect();
        assert_eq!(ids, ["ami-0ddd", "ami-0ccc", "ami-0bbb"]);
        assert_eq!(got[0].name, "name-arm64");
        assert_eq!(got[0].region, "eu-west-1");
    }

    #[test]
    fn an_earlier_run_with_the_same_build_id_is_not_reported() {
        let m = Manifest::parse(TEXT).unwrap();
        let before = m.run_ids();
        assert!(m.this_run(&before, "dev-2", |_| None).is_empty());
        assert!(
            m.this_run(&BTreeSet::new(), "dev-3", |_| None).is_empty(),
            "a build id of no entry gives nothing"
        );
    }
}
