//! `lava-build completions` and `lava-build man`: what `make install` puts under
//! `$PREFIX/share` for the three binaries, for people who install with `cargo install` too.
use anyhow::Context as _;
use clap::{CommandFactory, ValueEnum};
use clap_complete::Shell;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The programs of the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Program {
    /// Builds AMIs, images, bundles.
    #[value(name = "lava-build")]
    LavaBuild,
    /// Lava AMIs and worker stacks.
    #[value(name = "lava-ami")]
    LavaAmi,
    /// The boot agent (also s3run).
    #[value(name = "lava-rc")]
    LavaRc,
}

impl Program {
    /// The program's name, as installed.
    pub fn name(self) -> &'static str {
        match self {
            Program::LavaBuild => "lava-build",
            Program::LavaAmi => "lava-ami",
            Program::LavaRc => "lava-rc",
        }
    }

    /// The program's command line as clap describes it.
    pub fn command(self) -> clap::Command {
        match self {
            Program::LavaBuild => super::Cli::command(),
            Program::LavaAmi => crate::cli::ami::Args::command(),
            Program::LavaRc => crate::cli::rc::command(),
        }
    }

    /// Its man page section: 8 for the boot agent (system administration), 1 for the others.
    pub fn man_section(self) -> &'static str {
        match self {
            Program::LavaRc => "8",
            _ => "1",
        }
    }
}

/// Print a shell completion script on stdout.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  lava-build completions bash > ~/.local/share/bash-completion/completions/lava-build
  lava-build completions zsh --command lava-ami > ~/.zfunc/_lava-ami
  lava-build completions fish --command lava-rc > ~/.config/fish/completions/lava-rc.fish")]
pub struct CompletionsArgs {
    /// The shell the script is for.
    #[arg(value_enum)]
    pub shell: Shell,
    /// The program to complete.
    #[arg(long, value_enum, default_value = "lava-build")]
    pub command: Program,
}

/// Write the man pages into DIR/man1 and DIR/man8.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Writes lava-build.1 and lava-build-<subcommand>.1 for each subcommand, lava-ami.1 and lava-rc.8,
then prints each file it wrote. Example: lava-build man /usr/local/share/man")]
pub struct ManArgs {
    /// The man folder (its man1 and man8 subfolders are created as needed).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Writes the completion script of `args.command` for `args.shell` to `out`.
pub fn completions(args: &CompletionsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut cmd = args.command.command();
    clap_complete::generate(args.shell, &mut cmd, args.command.name(), out);
    out.flush().context("writing the completion script")
}

/// Writes every man page under `args.dir`; prints each path written on stdout.
pub fn man(args: &ManArgs) -> anyhow::Result<()> {
    let written = write_man_pages(&args.dir)?;
    let mut out = std::io::stdout().lock();
    for path in written {
        writeln!(out, "{}", path.display()).context("writing to stdout")?;
    }
    Ok(())
}

/// Writes the man pages of the three programs (and of each lava-build subcommand) under `dir`;
/// returns the files written.
pub fn write_man_pages(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for program in [Program::LavaBuild, Program::LavaAmi, Program::LavaRc] {
        let section = program.man_section();
        let folder = dir.join(format!("man{section}"));
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating {}", folder.display()))?;
        let mut cmd = program.command();
        cmd.build();
        let mut pages = vec![(program.name().to_string(), cmd.clone())];
        if program == Program::LavaBuild {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let name = format!("{}-{}", program.name(), sub.get_name());
                pages.push((name.clone(), sub.clone().display_name(name)));
            }
        }
        for (name, page) in pages {
            let path = folder.join(format!("{name}.{section}"));
            let mut text = Vec::new();
            clap_mangen::Man::new(page)
                .section(section)
                .source(format!("lava-build {}", crate::version::PACKAGE))
                .manual("lava-build")
                .render(&mut text)
                .with_context(|| format!("rendering {}", path.display()))?;
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_pages_cover_every_subcommand_and_the_sections() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_man_pages(dir.path()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        for want in [
            "man1/lava-build.1",
            "man1/lava-build-ami.1",
            "man1/lava-build-images.1",
            "man1/lava-build-completions.1",
            "man1/lava-ami.1",
            "man8/lava-rc.8",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
        let rc = std::fs::read_to_string(dir.path().join("man8/lava-rc.8")).unwrap();
        assert!(rc.contains(".TH lava-rc 8"), "{rc}");
    }

    #[test]
    fn completions_name_the_subcommands() {
        let mut out = Vec::new();
        let args = CompletionsArgs {
            shell: Shell::Bash,
            command: Program::LavaBuild,
        };
        completions(&args, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let complete = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("complete "))
            .unwrap_or_default();
        assert!(complete.ends_with(" lava-build"), "{complete}");
        assert!(text.contains("images"), "bash completion lists subcommands");
    }
}
