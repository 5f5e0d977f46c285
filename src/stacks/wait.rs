//! What waiting for a stack update decides, from the stack's status and events. Pure.
use std::time::Duration;

/// How an update ended (or why we stopped waiting for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `UPDATE_COMPLETE`: the new AMI is in the launch template and the group.
    Complete,
    /// `UPDATE_ROLLBACK_COMPLETE`: the update failed and the stack is back as it was.
    RolledBack,
    /// The update failed and the stack is not back where it was (`UPDATE_ROLLBACK_FAILED`,
    /// `UPDATE_FAILED` with rollback disabled, or a status no update leads to).
    Failed,
    /// Still in progress when the time allowed ran out.
    TimedOut,
}

impl Outcome {
    pub fn is_success(self) -> bool {
        self == Outcome::Complete
    }
}

/// One poll's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Wait,
    Done(Outcome),
}

/// Decides from the stack status after `elapsed` of at most `limit`. A finished status wins over
/// the time limit; an in-progress one (including the clean-up phases) waits until the limit.
pub fn decide(status: &str, elapsed: Duration, limit: Duration) -> Step {
    match status {
        "UPDATE_COMPLETE" => Step::Done(Outcome::Complete),
        "UPDATE_ROLLBACK_COMPLETE" => Step::Done(Outcome::RolledBack),
        s if s.ends_with("_IN_PROGRESS") => {
            if elapsed >= limit {
                Step::Done(Outcome::TimedOut)
            } else {
                Step::Wait
            }
        }
        _ => Step::Done(Outcome::Failed),
    }
}

/// One stack event as DescribeStackEvents gives it (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

/// The first resource failure of the latest update, as "Resource (Type): reason": the events
/// after the stack's own last `UPDATE_IN_PROGRESS`, oldest first. None when no resource failed.
pub fn first_failure(events_newest_first: &[Event]) -> Option<String> {
    let start = events_newest_first
        .iter()
        .position(|e| {
            e.resource_type == "AWS::CloudFormation::Stack" && e.status == "UPDATE_IN_PROGRESS"
        })
        .unwrap_or(events_newest_first.len());
    events_newest_first[..start]
        .iter()
        .rev()
        .find(|e| e.status.ends_with("_FAILED") && e.resource_type != "AWS::CloudFormation::Stack")
        .map(|e| {
            format!(
                "{} ({}) {}: {}",
                e.logical_id, e.resource_type, e.status, e.reason
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn every_outcome() {
        let limit = 10 * MIN;
        assert_eq!(
            decide("UPDATE_COMPLETE", MIN, limit),
            Step::Done(Outcome::Complete)
        );
        assert_eq!(
            decide("UPDATE_ROLLBACK_COMPLETE", MIN, limit),
            Step::Done(Outcome::RolledBack)
        );
        for failed in [
            "UPDATE_ROLLBACK_FAILED",
            "UPDATE_FAILED",
            "DELETE_COMPLETE",
            "ROLLBACK_COMPLETE",
            "",
        ] {
            assert_eq!(
                decide(failed, MIN, limit),
                Step::Done(Outcome::Failed),
                "{failed}"
            );
        }
        for going in [
            "UPDATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        ] {
            assert_eq!(decide(going, MIN, limit), Step::Wait, "{going}");
            assert_eq!(
                decide(going, limit, limit),
                Step::Done(Outcome::TimedOut),
                "{going}"
            );
        }
        // Finished at the very end: the status wins over the clock.
        assert_eq!(
            decide("UPDATE_COMPLETE", 2 * limit, limit),
            Step::Done(Outcome::Complete)
        );
        assert!(Outcome::Complete.is_success());
        for o in [Outcome::RolledBack, Outcome::Failed, Outcome::TimedOut] {
            assert!(!o.is_success());
        }
    }

    fn ev(id: &str, ty: &str, status: &str, reason: &str) -> Event {
        Event {
            logical_id: id.into(),
            resource_type: ty.into(),
            status: status.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn the_first_failure_of_the_latest_update() {
        let stack = "AWS::CloudFormation::Stack";
        let asg = "AWS::AutoScaling::AutoScalingGroup";
        let events = vec![
            ev("s", stack, "UPDATE_ROLLBACK_COMPLETE", ""),
            ev("WorkerGroup", asg, "UPDATE_FAILED", "later, a consequence"),
            ev(
                "WorkerGroup",
                asg,
                "UPDATE_FAILED",
                "Received 0 SUCCESS signals",
            ),
            ev(
                "LaunchTemplate",
                "AWS::EC2::LaunchTemplate",
                "UPDATE_COMPLETE",
                "",
            ),
            ev("s", stack, "UPDATE_IN_PROGRESS", "User Initiated"),
            ev("Queue", "AWS::SQS::Queue", "CREATE_FAILED", "an older run"),
        ];
        assert_eq!(
            first_failure(&events).as_deref(),
            Some(
                "WorkerGroup (AWS::AutoScaling::AutoScalingGroup) UPDATE_FAILED: Received 0 SUCCESS signals"
            )
        );
        assert_eq!(
            first_failure(&events[3..]),
            None,
            "older failures are not this update's"
        );
        assert_eq!(first_failure(&[]), None);
    }
}
