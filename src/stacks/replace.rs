//! After an AMI update: which launch template version the worker's auto scaling group uses, how
//! many instances run it, and the group's scaling activities since the update (the rolling
//! replacement). Pure; `fetch::replacement` gathers the facts.
use serde::Serialize;

/// One scaling activity of the group.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Activity {
    pub description: String,
    pub status: String,
}

/// One auto scaling group of a worker stack, after the update.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Replacement {
    pub group: String,
    /// The launch template version the group launches (`None`: it names none).
    pub launch_template_version: Option<String>,
    pub instances: usize,
    /// Instances launched from that version.
    pub on_version: usize,
    /// Scaling activities started since the update, oldest first.
    pub activities: Vec<Activity>,
}

impl Replacement {
    /// From the group's version, its instances' versions and the activities since the update.
    pub fn new(
        group: &str,
        version: Option<&str>,
        instance_versions: &[Option<&str>],
        activities: Vec<Activity>,
    ) -> Self {
        Replacement {
            group: group.to_string(),
            launch_template_version: version.map(String::from),
            instances: instance_versions.len(),
            on_version: instance_versions
                .iter()
                .filter(|v| v.is_some() && **v == version)
                .count(),
            activities,
        }
    }

    /// Activities not finished yet.
    pub fn in_progress(&self) -> usize {
        self.activities
            .iter()
            .filter(|a| !matches!(a.status.as_str(), "Successful" | "Failed" | "Cancelled"))
            .count()
    }

    /// One line for the terminal.
    pub fn summary(&self) -> String {
        let version = self.launch_template_version.as_deref().unwrap_or("(none)");
        let mut s = format!(
            "group {}: launch template version {version}, {} of {} instance(s) on it",
            self.group, self.on_version, self.instances
        );
        let older = self.instances - self.on_version;
        if self.activities.is_empty() {
            if older > 0 {
                s.push_str(&format!(
                    "; {older} on an older version and no scaling activity since the update: \
                     nothing is replacing them (check the group's update policy)"
                ));
            } else {
                s.push_str("; no scaling activity since the update");
            }
        } else {
            let running = self.in_progress();
            let state = if running > 0 {
                "being replaced"
            } else {
                "replaced"
            };
            s.push_str(&format!(
                "; instances {state}: {} scaling activit{} since the update ({running} in progress): ",
                self.activities.len(),
                if self.activities.len() == 1 { "y" } else { "ies" }
            ));
            let items: Vec<String> = self
                .activities
                .iter()
                .map(|a| format!("{} [{}]", a.description, a.status))
                .collect();
            s.push_str(&items.join("; "));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(d: &str, s: &str) -> Activity {
        Activity {
            description: d.into(),
            status: s.into(),
        }
    }

    #[test]
    fn counts_instances_on_the_group_version() {
        let r = Replacement::new("g", Some("3"), &[Some("3"), Some("2"), None], vec![]);
        assert_eq!((r.instances, r.on_version), (3, 1));
        assert!(
            r.summary()
                .contains("1 of 3 instance(s) on it; 2 on an older version")
        );
        let none = Replacement::new("g", None, &[None], vec![]);
        assert_eq!(
            none.on_version, 0,
            "no version named: nothing counts as on it"
        );
    }

    #[test]
    fn reports_the_replacement_activities() {
        let r = Replacement::new(
            "lava-prod-core-WorkerGroup-1",
            Some("2"),
            &[Some("2"), Some("1")],
            vec![
                act("Launching a new EC2 instance: i-new", "Successful"),
                act("Terminating EC2 instance: i-old", "InProgress"),
            ],
        );
        assert_eq!(r.in_progress(), 1);
        assert_eq!(
            r.summary(),
            "group lava-prod-core-WorkerGroup-1: launch template version 2, 1 of 2 instance(s) on it; \
             instances being replaced: 2 scaling activities since the update (1 in progress): \
             Launching a new EC2 instance: i-new [Successful]; Terminating EC2 instance: i-old [InProgress]"
        );
        let finished = Replacement::new(
            "g",
            Some("2"),
            &[Some("2")],
            vec![
                act("Launching a new EC2 instance: i-new", "Successful"),
                act("Terminating EC2 instance: i-old", "Successful"),
            ],
        );
        assert!(
            finished.summary().contains(
                "; instances replaced: 2 scaling activities since the update (0 in progress): "
            ),
            "{}",
            finished.summary()
        );
        let done = Replacement::new("g", Some("2"), &[Some("2")], vec![]);
        assert_eq!(
            done.summary(),
            "group g: launch template version 2, 1 of 1 instance(s) on it; no scaling activity since the update"
        );
    }
}
