//! Command-line parsing shared by the binaries: a bad argument ends the program with one line on
//! stderr (clap's first paragraph: the argument, the bad value, what is expected) and exit status 2;
//! help and version are printed as clap prints them. Then the command runs to an exit status.
use anyhow::Context;
use clap::Parser;

/// The parsed arguments, or the end of the program.
pub fn parse_or_exit<T: Parser>() -> T {
    T::try_parse().unwrap_or_else(|e| {
        use clap::error::ErrorKind;
        // Help (also when a subcommand is missing) and version: as clap prints them.
        if !e.use_stderr() || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            e.exit();
        }
        super::progress::line("", one_line(&e.render().to_string()));
        std::process::exit(crate::error::EXIT_USAGE);
    })
}

/// Sets up logging at info (raised by `-v` flags), runs `main` on a new multi-threaded runtime and
/// returns its exit status; an error is reported once, on one line (`progress::report`).
pub fn run(verbose: u8, main: impl Future<Output = anyhow::Result<i32>>) -> i32 {
    let setup = super::logging::Setup {
        level: super::logging::Level::Info.raised(verbose),
        ..Default::default()
    };
    let result = super::logging::init(setup)
        .map_err(anyhow::Error::from)
        .and_then(|()| tokio::runtime::Runtime::new().context("cannot start the async runtime"))
        .and_then(|rt| rt.block_on(main));
    match result {
        Ok(code) => code,
        Err(e) => super::progress::report(&e),
    }
}

/// The first paragraph of clap's message, its lines joined.
fn one_line(text: &str) -> String {
    let head: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    if head.is_empty() {
        "error: bad arguments".to_string()
    } else {
        head.join(" ")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_paragraph_on_one_line() {
        let text = "error: invalid value '0' for '--deadline <SECS>': 0 is not in 1..=604800\n\nFor more information, try '--help'.\n";
        assert_eq!(
            super::one_line(text),
            "error: invalid value '0' for '--deadline <SECS>': 0 is not in 1..=604800"
        );
        assert_eq!(super::one_line(""), "error: bad arguments");
    }
}
