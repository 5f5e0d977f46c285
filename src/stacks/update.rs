//! `lava-ami -U`: for each selected stack, the AMI to roll out, the update, the wait, and what the
//! auto scaling group does next; one result line per stack.
use super::error::StackError;
use super::fetch;
use super::model::WorkerStack;
use super::prompt::{self, Choice, PromptError};
use super::replace::Replacement;
use crate::ami::model::{self as ami, Kind, LavaAmi};
use crate::output::{Format, progress};
use serde::Serialize;
use std::time::Duration;

/// Exit status of `lava-ami -U` when no stack failed but an update was still in progress when
/// `--wait-minutes` ran out.
pub const EXIT_IN_PROGRESS: i32 = 3;

/// The AMI `--ami` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmiChoice {
    /// The newest lava AMI of the stack's kind (or of `--kind`).
    Latest,
    Id(String),
}

/// What `lava-ami -U` is asked to do, resolved from its command line.
#[derive(Debug, Clone)]
pub struct Request {
    /// None: chosen per stack on the terminal.
    pub ami: Option<AmiChoice>,
    /// With `AmiChoice::Latest`: the kind to take the newest of (default: the stack's).
    pub kind: Option<Kind>,
    /// Do not ask for confirmation.
    pub yes: bool,
    /// Allow an AMI of another kind than the stack runs.
    pub force: bool,
    pub no_wait: bool,
    pub wait_minutes: u64,
    pub poll_seconds: u64,
    /// Go on with the other stacks after one fails.
    pub keep_going: bool,
    pub output: Format,
}

#[derive(Debug, Serialize, Clone)]
pub struct UpdateResult {
    pub stack: String,
    pub from: String,
    pub to: Option<String>,
    pub status: String,
    pub reason: String,
    /// The worker's auto scaling groups after the update: the rolling replacement.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replacement: Vec<Replacement>,
}

impl UpdateResult {
    fn new(stack: &WorkerStack) -> Self {
        UpdateResult {
            stack: stack.name.clone(),
            from: stack.ami_id.clone(),
            to: None,
            status: String::new(),
            reason: String::new(),
            replacement: Vec::new(),
        }
    }

    /// Whether the run counts this stack as failed. An update still in progress when the wait
    /// ran out (`STILL_IN_PROGRESS`) has not failed: it may yet complete or roll back.
    pub fn bad(&self) -> bool {
        !matches!(
            self.status.as_str(),
            "UPDATE_COMPLETE"
                | "ALREADY_CURRENT"
                | "SKIPPED"
                | "UPDATE_IN_PROGRESS"
                | STILL_IN_PROGRESS
        )
    }

    fn add_reason(&mut self, text: String) {
        if self.reason.is_empty() {
            self.reason = text;
        } else {
            self.reason = format!("{}; {text}", self.reason);
        }
    }

    fn print(&self) {
        let to = self.to.clone().unwrap_or_default();
        let reason = if self.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", self.reason)
        };
        println!(
            "{}: {} -> {to} {}{reason}",
            self.stack, self.from, self.status
        );
        for r in &self.replacement {
            println!("  {}", r.summary());
        }
    }
}

/// The status of an update still going on when `--wait-minutes` ran out.
pub const STILL_IN_PROGRESS: &str = "STILL_IN_PROGRESS";

/// The exit status of `lava-ami -U`: 1 when a stack failed, else 3 when an update was still in
/// progress when the wait ran out, else 0.
pub fn exit_status(results: &[UpdateResult]) -> i32 {
    if results.iter().any(UpdateResult::bad) {
        crate::error::EXIT_FAILURE
    } else if results.iter().any(|r| r.status == STILL_IN_PROGRESS) {
        EXIT_IN_PROGRESS
    } else {
        0
    }
}

/// Why an AMI may not go to a stack without `--force`: it is of another kind (OS, Python X.Y,
/// arch) than the AMI the stack runs, or the stack's AMI is not a lava AMI of this account (its
/// kind unknown) and the new one was named by id. None when it may.
pub fn kind_refusal(stack: &WorkerStack, to: &LavaAmi) -> Option<KindRefusal> {
    let (stack_name, running, to_id, to_kind) = (
        stack.name.clone(),
        stack.ami_id.clone(),
        to.id.clone(),
        to.kind.to_string(),
    );
    match &stack.kind {
        Some(k) if *k != to.kind => Some(KindRefusal::Other {
            stack: stack_name,
            running,
            kind: k.to_string(),
            to: to_id,
            to_kind,
        }),
        Some(_) => None,
        None => Some(KindRefusal::Unknown {
            stack: stack_name,
            running,
            to: to_id,
            to_kind,
        }),
    }
}

/// Why a stack may not move to an AMI without `--force`.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KindRefusal {
    #[error(
        "stack {stack} runs {running} of kind {kind}; {to} is {to_kind}: another kind or architecture needs --force"
    )]
    Other {
        stack: String,
        running: String,
        kind: String,
        to: String,
        to_kind: String,
    },
    #[error(
        "stack {stack} runs {running}, not a lava AMI of this account (kind unknown); {to} is {to_kind}: pass --force if that is the stack's kind"
    )]
    Unknown {
        stack: String,
        running: String,
        to: String,
        to_kind: String,
    },
}

/// Before any update (`--ami` given, no `--force`): every selected stack's new AMI is of its kind.
/// `--ami latest --kind K` on a stack whose kind is unknown takes K as the operator's word.
pub fn precheck(
    args: &Request,
    stacks: &[WorkerStack],
    all: &[LavaAmi],
) -> Result<(), KindRefusal> {
    if args.force {
        return Ok(());
    }
    for stack in stacks {
        let to = match &args.ami {
            None => return Ok(()),
            Some(AmiChoice::Latest) => {
                if stack.kind.is_none() {
                    continue;
                }
                args.kind
                    .as_ref()
                    .or(stack.kind.as_ref())
                    .and_then(|k| ami::latest(all, k))
            }
            Some(AmiChoice::Id(id)) => all.iter().find(|a| &a.id == id),
        };
        // No such AMI: the update refuses it per stack, with its own reason.
        if let Some(to) = to
            && to.id != stack.ami_id
            && let Some(why) = kind_refusal(stack, to)
        {
            return Err(why);
        }
    }
    Ok(())
}

/// The AWS clients an update uses.
pub struct Clients {
    pub cfn: aws_sdk_cloudformation::Client,
    pub asg: aws_sdk_autoscaling::Client,
}

/// The AMI a stack is to run: chosen on the terminal, the newest of a kind, or the id given.
enum Target {
    Ami(String),
    Skip,
    Quit,
    /// Not possible for this stack; why.
    Refused(String),
}

fn target(args: &Request, stack: &WorkerStack, all: &[LavaAmi]) -> Result<Target, PromptError> {
    Ok(match &args.ami {
        None => match prompt::choose(stack, all, args.force)? {
            Choice::Ami(id) => Target::Ami(id),
            Choice::Skip => Target::Skip,
            Choice::Quit => Target::Quit,
        },
        Some(AmiChoice::Latest) => match args.kind.as_ref().or(stack.kind.as_ref()) {
            None => Target::Refused(format!(
                "its AMI {} is not a lava AMI of this account: pass --kind (kinds here: {})",
                stack.ami_id,
                ami::kinds(all)
            )),
            Some(k) => match ami::latest(all, k) {
                Some(a) => Target::Ami(a.id.clone()),
                None => Target::Refused(format!("no lava AMI of kind {k}")),
            },
        },
        Some(AmiChoice::Id(id)) if all.iter().any(|a| &a.id == id) => Target::Ami(id.clone()),
        Some(AmiChoice::Id(id)) => {
            Target::Refused(format!("{id} is not an available lava AMI of this account"))
        }
    })
}

/// Updates the stacks one after the other; returns each one's result (the run stops at the first
/// failure unless `--keep-going`, or when the user quits).
pub async fn update_all(
    clients: &Clients,
    args: &Request,
    stacks: &[WorkerStack],
    all: &[LavaAmi],
) -> Result<Vec<UpdateResult>, PromptError> {
    let mut results = Vec::new();
    for stack in stacks {
        let mut result = UpdateResult::new(stack);
        match target(args, stack, all)? {
            Target::Quit => {
                progress::line("", "quit: the remaining stacks were not touched");
                break;
            }
            Target::Skip => result.status = "SKIPPED".into(),
            Target::Refused(why) => {
                result.status = "FAILED".into();
                result.reason = why;
            }
            Target::Ami(id) if id == stack.ami_id => {
                result.to = Some(id);
                result.status = "ALREADY_CURRENT".into();
            }
            Target::Ami(id) => {
                result.to = Some(id.clone());
                // A number picked on the terminal is the confirmation; an id or latest is asked.
                let asked = args.ami.is_some() && !args.yes;
                if asked && !prompt::confirm(stack, &id)? {
                    result.status = "SKIPPED".into();
                } else {
                    apply(clients, args, stack, &id, &mut result).await;
                }
            }
        }
        if args.output == Format::Text {
            result.print();
        }
        let bad = result.bad();
        results.push(result);
        if bad && !args.keep_going {
            progress::line(
                "",
                "stopping: the remaining stacks were not touched (--keep-going to go on)",
            );
            break;
        }
    }
    Ok(results)
}

/// What an UpdateStack refusal means. CloudFormation says "No updates are to be performed" only
/// with the code `ValidationError`, the code of every other refused request too (a bad parameter,
/// a stack in a state that cannot be updated), and its message is no interface. So the code alone
/// does not tell "nothing to do": the stack's own AMI parameter, read again, does. When it already
/// holds the AMI (someone updated it meanwhile), the stack is current; anything else is a failure
/// reported with the service's code and message.
pub fn refused_update_is_current(code: Option<&str>, now: Option<&str>, ami: &str) -> bool {
    code == Some("ValidationError") && now == Some(ami)
}

/// Updates one stack to `ami`, waits unless `--no-wait`, and records the status and what its
/// auto scaling groups are doing (the rolling replacement of its instances).
async fn apply(
    clients: &Clients,
    args: &Request,
    stack: &WorkerStack,
    ami: &str,
    result: &mut UpdateResult,
) {
    let info = super::model::StackInfo {
        name: stack.name.clone(),
        parameters: stack.parameters.clone(),
        capabilities: stack.capabilities.clone(),
        ..Default::default()
    };
    // Activities are matched by their start time on AWS's clock: allow a minute of skew.
    let since = aws_smithy_types::DateTime::from_secs(
        aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs() - 60,
    );
    if let Err(e) = fetch::update(&clients.cfn, &info, &stack.ami_parameter, ami).await {
        let now = match fetch::parameter(&clients.cfn, &stack.name, &stack.ami_parameter).await {
            Ok(now) => now,
            Err(read) => {
                result.status = "FAILED".into();
                result.reason = line(e);
                result.add_reason(format!("stack not read again: {}", line(read)));
                return;
            }
        };
        if refused_update_is_current(e.code(), now.as_deref(), ami) {
            result.status = "ALREADY_CURRENT".into();
        } else {
            result.status = "FAILED".into();
            result.reason = line(e);
        }
        return;
    }
    if args.no_wait {
        result.status = "UPDATE_IN_PROGRESS".into();
    } else {
        let limit = Duration::from_secs(args.wait_minutes * 60);
        let every = Duration::from_secs(args.poll_seconds);
        match fetch::wait(&clients.cfn, &stack.name, limit, every).await {
            Ok(w) => {
                if w.outcome == super::wait::Outcome::TimedOut {
                    result.status = STILL_IN_PROGRESS.into();
                    result.reason = format!(
                        "{} after {} minute(s) of waiting; neither failed nor complete yet: see it with `lava-ami {}`",
                        w.status, args.wait_minutes, stack.name
                    );
                } else {
                    result.status = w.status;
                    result.reason = w.reason;
                }
            }
            Err(e) => {
                result.status = "UNKNOWN".into();
                result.reason = line(e);
                return;
            }
        }
    }
    match fetch::replacement(&clients.cfn, &clients.asg, &stack.name, since).await {
        Ok(r) => result.replacement = r,
        Err(e) => result.add_reason(format!("auto scaling group not read: {}", line(e))),
    }
}

fn line(e: StackError) -> String {
    crate::error::one_line(&e.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ami::model::Kind;
    use crate::stacks::model::AmiState;

    fn kind(arch: &str) -> Kind {
        Kind {
            os: "amzn2023".into(),
            python: "3.11".into(),
            arch: arch.into(),
        }
    }

    fn stack(k: Option<Kind>) -> WorkerStack {
        WorkerStack {
            name: "lava-prod-core".into(),
            realm: "prod".into(),
            worker: "core".into(),
            last_updated: String::new(),
            status: "CREATE_COMPLETE".into(),
            ami_parameter: "amiId".into(),
            ami_id: "ami-0aaaaaaaaaaaaaaaa".into(),
            ami_state: AmiState::Newest,
            kind: k,
            parameters: Default::default(),
            capabilities: Vec::new(),
        }
    }

    fn ami(id: &str, k: Kind) -> LavaAmi {
        LavaAmi {
            id: id.into(),
            name: String::new(),
            created: String::new(),
            built: String::new(),
            built_from: crate::ami::built::BuiltFrom::Unknown,
            python: "3.11".into(),
            arch: k.arch.clone(),
            kind: k,
            newest: true,
        }
    }

    #[test]
    fn another_kind_or_an_unknown_one_is_refused() {
        let x86 = stack(Some(kind("x86_64")));
        assert_eq!(kind_refusal(&x86, &ami("ami-1", kind("x86_64"))), None);
        let why = kind_refusal(&x86, &ami("ami-2", kind("arm64"))).unwrap();
        assert_eq!(
            why.to_string(),
            "stack lava-prod-core runs ami-0aaaaaaaaaaaaaaaa of kind amzn2023/py3.11/x86_64; ami-2 is amzn2023/py3.11/arm64: another kind or architecture needs --force"
        );
        let py = Kind {
            python: "3.12".into(),
            ..kind("x86_64")
        };
        assert!(
            kind_refusal(&x86, &ami("ami-3", py)).is_some(),
            "Python X.Y"
        );
        let unknown = kind_refusal(&stack(None), &ami("ami-1", kind("x86_64"))).unwrap();
        assert!(unknown.to_string().contains("kind unknown"), "{unknown}");
    }

    #[test]
    fn still_in_progress_is_neither_failure_nor_success() {
        let r = |status: &str| UpdateResult {
            stack: "s".into(),
            from: String::new(),
            to: None,
            status: status.into(),
            reason: String::new(),
            replacement: Vec::new(),
        };
        assert_eq!(
            exit_status(&[r("UPDATE_COMPLETE"), r("ALREADY_CURRENT")]),
            0
        );
        assert_eq!(
            exit_status(&[r("UPDATE_COMPLETE"), r(STILL_IN_PROGRESS)]),
            3
        );
        assert_eq!(
            exit_status(&[r(STILL_IN_PROGRESS), r("UPDATE_ROLLBACK_COMPLETE")]),
            1
        );
        assert_eq!(exit_status(&[r("FAILED")]), 1);
        assert!(!r(STILL_IN_PROGRESS).bad());
    }

    #[test]
    fn a_refused_update_is_current_only_when_the_stack_holds_the_ami() {
        let ami = "ami-0123456789abcdef0";
        assert!(refused_update_is_current(
            Some("ValidationError"),
            Some(ami),
            ami
        ));
        // The parameter differs: nothing in the template uses it, or the request was wrong.
        assert!(!refused_update_is_current(
            Some("ValidationError"),
            Some("ami-0fedcba9876543210"),
            ami
        ));
        assert!(!refused_update_is_current(
            Some("AccessDenied"),
            Some(ami),
            ami
        ));
        assert!(!refused_update_is_current(None, Some(ami), ami));
    }
}
