//! The questions `lava-ami -U` asks on the terminal: which AMI for a stack, and whether to go on.
use super::model::{AmiState, WorkerStack};
use crate::ami::model::LavaAmi;
use crate::output::progress;

/// The terminal could not be asked (closed, not readable): the update stops with this error.
#[derive(Debug, thiserror::Error)]
#[error("cannot ask on the terminal ({question})")]
pub struct PromptError {
    question: String,
    #[source]
    source: dialoguer::Error,
}

/// The answer for one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Ami(String),
    Skip,
    Quit,
}

pub fn state_text(s: AmiState) -> &'static str {
    match s {
        AmiState::Newest => "newest",
        AmiState::Older => "older lava AMI",
        AmiState::Unknown => "unknown",
    }
}

/// Interactive choice of an AMI for one stack, by number: AMIs of the stack's own kind only, unless
/// `force` or the stack's kind is unknown (then every AMI, the stack's kind first).
pub fn choose(stack: &WorkerStack, amis: &[LavaAmi], force: bool) -> Result<Choice, PromptError> {
    let mut ids: Vec<&LavaAmi> = amis
        .iter()
        .filter(|a| force || stack.kind.as_ref().is_none_or(|k| *k == a.kind))
        .collect();
    ids.sort_by_key(|a| Some(&a.kind) != stack.kind.as_ref());
    progress::line(
        "",
        format!(
            "\n{} (realm {}, worker {}) runs {} [{}]",
            stack.name,
            stack.realm,
            stack.worker,
            stack.ami_id,
            state_text(stack.ami_state)
        ),
    );
    for (i, a) in ids.iter().enumerate() {
        let newest = if a.newest { " (newest)" } else { "" };
        progress::line("", format!("  {:>2}. {} {}{newest}", i + 1, a.id, a.name));
    }
    let n = ids.len();
    let question = format!("AMI number 1-{n}, s to skip this stack, q to quit");
    let answer: String = dialoguer::Input::new()
        .with_prompt(&question)
        .validate_with(|v: &String| match parse_answer(v, n) {
            Some(_) => Ok(()),
            None => Err(format!("enter a number from 1 to {n}, s or q")),
        })
        .interact_text()
        .map_err(|source| PromptError { question, source })?;
    Ok(match parse_answer(&answer, n) {
        Some(Answer::Number(k)) => Choice::Ami(ids[k - 1].id.clone()),
        Some(Answer::Skip) => Choice::Skip,
        Some(Answer::Quit) | None => Choice::Quit,
    })
}

/// `update <stack> from <ami> to <ami>?` (default no).
pub fn confirm(stack: &WorkerStack, to: &str) -> Result<bool, PromptError> {
    let question = format!("update {} from {} to {to}?", stack.name, stack.ami_id);
    dialoguer::Confirm::new()
        .with_prompt(&question)
        .default(false)
        .interact()
        .map_err(|source| PromptError { question, source })
}

#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Number(usize),
    Skip,
    Quit,
}

fn parse_answer(text: &str, n: usize) -> Option<Answer> {
    match text.trim() {
        "s" => Some(Answer::Skip),
        "q" => Some(Answer::Quit),
        k => k
            .parse::<usize>()
            .ok()
            .filter(|k| (1..=n).contains(k))
            .map(Answer::Number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_a_number_in_range_s_or_q() {
        assert_eq!(parse_answer(" 2 ", 3), Some(Answer::Number(2)));
        assert_eq!(parse_answer("s", 3), Some(Answer::Skip));
        assert_eq!(parse_answer("q", 3), Some(Answer::Quit));
        for bad in ["0", "4", "x", ""] {
            assert_eq!(parse_answer(bad, 3), None, "{bad}");
        }
    }
}
