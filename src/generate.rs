//! The man page and the shell completions, made from the clap definition in `cli.rs`:
//! what `patina-reap --generate KIND` prints, and what the repository ships in `man/`
//! and `completions/` (written by `cargo run --example generate`; a test keeps the two
//! the same).
//!
//! Modules are named through `super::` so that the example, which includes this file
//! and `cli.rs` by path, builds it as the binary does.

use std::io;

use clap::{Arg, ArgAction, Command, CommandFactory};
use clap_complete::{Generator, Shell};
use clap_mangen::roff::{bold, italic, line_break, roman, Inline, Roff};
use clap_mangen::Man;

use super::cli::{self, Cli, Generate};

const BIN: &str = "patina-reap";

impl Generate {
    /// Where the repository keeps this file, relative to its root, `/`-separated.
    pub(crate) fn path(self) -> String {
        match self.shell() {
            Some(shell) => format!("completions/{}", shell.file_name(BIN)),
            None => format!("man/{BIN}.1"),
        }
    }

    /// The file's content.
    pub(crate) fn render(self) -> io::Result<Vec<u8>> {
        let Some(shell) = self.shell() else {
            return man_page();
        };
        let mut content = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), BIN, &mut content);
        Ok(content)
    }

    fn shell(self) -> Option<Shell> {
        match self {
            Self::Bash => Some(Shell::Bash),
            Self::Zsh => Some(Shell::Zsh),
            Self::Fish => Some(Shell::Fish),
            Self::Elvish => Some(Shell::Elvish),
            Self::Powershell => Some(Shell::PowerShell),
            Self::Man => None,
        }
    }
}

/// The man page: NAME and OPTIONS as clap_mangen renders them; SYNOPSIS from the same
/// Command; DESCRIPTION, DURATION, ENVIRONMENT, EXIT STATUS and EXAMPLES from the texts
/// in `cli.rs`, plus the cron and launchd examples and SEE ALSO below.
fn man_page() -> io::Result<Vec<u8>> {
    let mut cmd = Cli::command();
    cmd.build();
    let man = Man::new(cmd.clone());
    let mut parts = vec![Vec::new(); 5];
    man.render_name_section(&mut parts[0])?;
    synopsis(&cmd).to_writer(&mut parts[1])?;
    description().to_writer(&mut parts[2])?;
    man.render_options_section(&mut parts[3])?;
    after_options().to_writer(&mut parts[4])?;
    // Every part starts with the same preamble; the page needs it once. The title line
    // is written here because clap_mangen drops an empty date, shifting the later fields.
    let preamble = Roff::new().render();
    let mut page = format!(
        "{preamble}.TH {} 1 \"\" \"{} {}\"\n",
        BIN.to_uppercase().replace('-', "\\-"),
        BIN.replace('-', "\\-"),
        env!("CARGO_PKG_VERSION")
    );
    for (i, part) in parts.into_iter().enumerate() {
        let mut part = String::from_utf8(part).map_err(io::Error::other)?;
        if i == 3 {
            part = with_aliases(part, &cmd);
        }
        page.push_str(part.strip_prefix(preamble.as_str()).unwrap_or(&part));
    }
    Ok(page.into_bytes())
}

/// clap_mangen leaves an option's visible aliases out of its header in OPTIONS: add
/// them after its long name (`-t, --threshold, --older, --older-than <DURATION>`).
fn with_aliases(mut options: String, cmd: &Command) -> String {
    let bold_long = |name: &str| format!("\\fB\\-\\-{}\\fR", name.replace('-', "\\-"));
    for arg in cmd.get_arguments() {
        let (Some(long), Some(aliases)) = (arg.get_long(), arg.get_visible_aliases()) else {
            continue;
        };
        let header = bold_long(long);
        let more: String = aliases
            .iter()
            .map(|a| format!(", {}", bold_long(a)))
            .collect();
        options = options.replacen(&header, &format!("{header}{more}"), 1);
    }
    options
}

/// One line with every option and its value, then one line each for those used alone
/// (help, version, --generate).
fn synopsis(cmd: &Command) -> Roff {
    let (alone, options): (Vec<&Arg>, Vec<&Arg>) = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .partition(|a| {
            a.get_id() == "generate"
                || matches!(
                    a.get_action(),
                    ArgAction::Help
                        | ArgAction::HelpShort
                        | ArgAction::HelpLong
                        | ArgAction::Version
                )
        });
    let mut line = vec![bold(BIN)];
    for arg in options {
        line.push(roman(" ["));
        line.extend(flag(arg));
        line.extend(values(arg));
        line.push(roman("]"));
        if matches!(arg.get_action(), ArgAction::Append) {
            line.push(roman("..."));
        }
    }
    for arg in alone {
        line.push(line_break());
        line.push(bold(BIN));
        line.push(roman(" "));
        line.extend(flag(arg));
        line.extend(values(arg));
    }
    let mut roff = Roff::new();
    roff.control("SH", ["SYNOPSIS"]);
    roff.text(line);
    roff
}

/// `-t|--threshold`, `--json` or `-n`, in bold.
fn flag(arg: &Arg) -> Vec<Inline> {
    let mut parts = Vec::new();
    if let Some(short) = arg.get_short() {
        parts.push(bold(format!("-{short}")));
    }
    if let Some(long) = arg.get_long() {
        if !parts.is_empty() {
            parts.push(roman("|"));
        }
        parts.push(bold(format!("--{long}")));
    }
    parts
}

/// ` DURATION`, in italics, for a flag that takes a value.
fn values(arg: &Arg) -> Vec<Inline> {
    let takes_values = arg.get_num_args().is_some_and(|n| n.takes_values());
    let names = arg.get_value_names().filter(|_| takes_values);
    names
        .into_iter()
        .flatten()
        .flat_map(|name| [roman(" "), italic(name.as_str())])
        .collect()
}

fn description() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["DESCRIPTION"]);
    prose(&mut roff, &cli::long_about());
    roff
}

/// Everything after OPTIONS.
fn after_options() -> Roff {
    let mut roff = Roff::new();
    roff.control("SS", ["DURATION"]);
    prose(&mut roff, cli::DURATION_SYNTAX);

    // The man page has room for the whole text; --help shows the summaries.
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, _, text) in cli::ENVIRONMENT {
        term(&mut roff, name, text);
    }

    roff.control("SH", ["EXIT STATUS"]);
    for (status, _, text) in cli::EXIT_STATUS {
        term(&mut roff, status, text);
    }
    roff.control("PP", []);
    roff.text([roman(cli::NOTHING_MATCHED)]);

    roff.control("SH", ["JSON OUTPUT"]);
    roff.text([roman(
        "--json prints one document on stdout, on one line, also when nothing matched; \
         every string is exact and safe to print (control and invisible characters are \
         \\uXXXX escapes). Its fields:",
    )]);
    for (field, text) in cli::json_fields() {
        term(&mut roff, field, &text);
    }

    roff.control("SH", ["FILES"]);
    for (path, text) in cli::FILES {
        term(&mut roff, path, text);
    }

    roff.control("SH", ["EXAMPLES"]);
    for (i, (command, what)) in cli::EXAMPLES.iter().enumerate() {
        if i > 0 {
            roff.control("PP", []);
        }
        roff.text([roman(*what)]);
        example(&mut roff, &command.lines().collect::<Vec<_>>());
    }
    for (what, lines) in MAN_EXAMPLES {
        roff.control("PP", []);
        roff.text([roman(*what)]);
        example(&mut roff, lines);
    }

    roff.control("SH", ["SEE ALSO"]);
    roff.control("BR", ["pkill", "(1),"]);
    roff.control("BR", ["kill", "(1),"]);
    roff.control("BR", ["ps", "(1)"]);
    roff
}

/// Examples too long for `--help`: (what they do, lines of text to type or save). The
/// paths are where `cargo install` puts the binary (README: Set-up).
const MAN_EXAMPLES: &[(&str, &[&str])] = &[
    (
        "Reap every hour from cron(8), which mails whatever a job prints, so only \
         failures arrive; a crontab(5) line (cron's PATH is short, so give the full path, \
         here where cargo install puts it):",
        &["17 * * * * $HOME/.cargo/bin/patina-reap --quiet"],
    ),
    (
        "The same as root for every user's patina processes, in /etc/cron.d/patina-reap, \
         with the binary installed for all users (cargo install --root /usr/local):",
        &["17 * * * * root /usr/local/bin/patina-reap --quiet --all-users"],
    ),
    (
        "On macOS, reap every hour with launchd(8): save this as \
         ~/Library/LaunchAgents/dev.patina.reap.plist, with your home directory in the \
         path (launchd expands neither ~ nor $HOME),",
        &[
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN""#,
            r#"  "http://www.apple.com/DTDs/PropertyList-1.0.dtd">"#,
            r#"<plist version="1.0">"#,
            r#"<dict>"#,
            r#"  <key>Label</key><string>dev.patina.reap</string>"#,
            r#"  <key>ProgramArguments</key>"#,
            r#"  <array>"#,
            r#"    <string>/Users/me/.cargo/bin/patina-reap</string>"#,
            r#"    <string>--quiet</string>"#,
            r#"  </array>"#,
            r#"  <key>StartInterval</key><integer>3600</integer>"#,
            r#"</dict>"#,
            r#"</plist>"#,
        ],
    ),
    (
        "and load it:",
        &[
            r#"launchctl bootstrap gui/$(id -u) \"#,
            r#"    ~/Library/LaunchAgents/dev.patina.reap.plist"#,
        ],
    ),
];

/// Render help prose: paragraphs separated by blank lines, `  - ` list items.
fn prose(roff: &mut Roff, text: &str) {
    for (i, block) in text.split("\n\n").enumerate() {
        if i > 0 {
            roff.control("PP", []);
        }
        let mut paragraph = Vec::new();
        for line in block.lines() {
            if let Some(item) = line.strip_prefix("  - ") {
                if !paragraph.is_empty() {
                    roff.text([roman(paragraph.join(" "))]);
                    paragraph.clear();
                }
                roff.control("IP", ["\\(bu", "2"]);
                roff.text([roman(item)]);
            } else {
                paragraph.push(line.trim());
            }
        }
        if !paragraph.is_empty() {
            roff.text([roman(paragraph.join(" "))]);
        }
    }
}

/// A tagged paragraph: `term` in bold, then `text`.
fn term(roff: &mut Roff, term: &str, text: &str) {
    roff.control("TP", []);
    roff.text([bold(term)]);
    roff.text([roman(text)]);
}

/// Lines to type or save, indented and unfilled.
fn example(roff: &mut Roff, lines: &[&str]) {
    roff.control("RS", ["4"]);
    roff.control("nf", []);
    for line in lines {
        roff.text([roman(*line)]);
    }
    roff.control("fi", []);
    roff.control("RE", []);
}
