//! Writes the man page (`man/patina-reap.1`) and the shell completions (`completions/`)
//! from the one clap definition in `src/cli.rs`:
//!
//! ```sh
//! cargo run --example generate
//! ```
//!
//! `tests/generated.rs` regenerates the same files in memory and fails when a committed
//! one differs, so the files in the repository always match the binary.

use std::io;
use std::path::Path;

use clap::{Arg, ArgAction, Command, CommandFactory};
use clap_complete::{Generator, Shell};
use clap_mangen::roff::{bold, italic, line_break, roman, Inline, Roff};
use clap_mangen::Man;

// Only the definition and its texts are used here, not the parsed fields.
#[allow(dead_code)]
#[path = "../src/cli.rs"]
mod cli;

const BIN: &str = "patina-reap";

/// The shells completions are generated for.
const SHELLS: &[Shell] = &[
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::Elvish,
    Shell::PowerShell,
];

/// One generated file.
pub(crate) struct Generated {
    /// Relative to the repository root, with `/` separators.
    pub(crate) path: String,
    pub(crate) content: Vec<u8>,
}

/// Every generated file, rendered in memory.
pub(crate) fn all() -> io::Result<Vec<Generated>> {
    let mut files = vec![
        Generated {
            path: format!("man/{BIN}.1"),
            content: man_page()?,
        },
        Generated {
            path: "README.md".to_owned(),
            content: readme()?,
        },
    ];
    for &shell in SHELLS {
        let mut content = Vec::new();
        clap_complete::generate(shell, &mut cli::Cli::command(), BIN, &mut content);
        files.push(Generated {
            path: format!("completions/{}", shell.file_name(BIN)),
            content,
        });
    }
    Ok(files)
}

fn main() -> io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in all()? {
        let path = root.join(&file.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &file.content)?;
        println!("wrote {}", file.path);
    }
    Ok(())
}

/// The width the README's copy of `-h` is wrapped at.
pub(crate) const README_COLUMNS: usize = 80;
/// The lines around the README's options block.
pub(crate) const README_START: &str =
    "<!-- `patina-reap -h` at 80 columns, written by `cargo run --example generate` -->\n```text\n";
pub(crate) const README_END: &str = "```\n<!-- end of `patina-reap -h` -->\n";

/// `patina-reap -h` (uncolored) as a terminal of [`README_COLUMNS`] columns shows it.
pub(crate) fn short_help() -> String {
    cli::Cli::command()
        .term_width(README_COLUMNS)
        .render_help()
        .to_string()
}

/// The committed README with its options block set to [`short_help`].
fn readme() -> io::Result<Vec<u8>> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))?;
    let missing = || io::Error::other("README.md lacks the markers of its options block");
    let start = text.find(README_START).ok_or_else(missing)? + README_START.len();
    let end = start + text[start..].find(README_END).ok_or_else(missing)?;
    let help = short_help();
    Ok(format!("{}{}{}", &text[..start], help.trim_end(), &text[end - 1..]).into_bytes())
}

/// The man page: NAME and OPTIONS as clap_mangen renders them; SYNOPSIS from the same
/// Command; DESCRIPTION, DURATION, ENVIRONMENT, EXIT STATUS and EXAMPLES from the texts
/// in `src/cli.rs`, plus the cron and launchd examples and SEE ALSO below.
fn man_page() -> io::Result<Vec<u8>> {
    let mut cmd = cli::Cli::command();
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

/// One line with every option and its value, then one line each for help and version.
fn synopsis(cmd: &Command) -> Roff {
    let (alone, options): (Vec<&Arg>, Vec<&Arg>) = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .partition(|a| {
            matches!(
                a.get_action(),
                ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
            )
        });
    let mut line = vec![bold(BIN)];
    for arg in options {
        line.push(roman(" ["));
        line.extend(flag(arg));
        let takes_values = arg.get_num_args().is_some_and(|n| n.takes_values());
        if let Some(names) = arg.get_value_names().filter(|_| takes_values) {
            for name in names {
                line.push(roman(" "));
                line.push(italic(name.as_str()));
            }
        }
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
        example(&mut roff, &[command]);
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

/// Examples too long for `--help`: (what they do, lines of text to type or save).
const MAN_EXAMPLES: &[(&str, &[&str])] = &[
    (
        "Reap every hour from cron(8), which mails whatever a job prints, so only \
         failures arrive; a crontab(5) line (cron's PATH is short, so give the full path):",
        &["17 * * * * /usr/local/bin/patina-reap --quiet"],
    ),
    (
        "The same as root for every user's patina processes, in /etc/cron.d/patina-reap:",
        &["17 * * * * root /usr/local/bin/patina-reap --quiet --all-users"],
    ),
    (
        "On macOS, reap every hour with launchd(8): save this as \
         ~/Library/LaunchAgents/dev.patina.reap.plist,",
        &[
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN""#,
            r#"  "http://www.apple.com/DTDs/PropertyList-1.0.dtd">"#,
            r#"<plist version="1.0">"#,
            r#"<dict>"#,
            r#"  <key>Label</key><string>dev.patina.reap</string>"#,
            r#"  <key>ProgramArguments</key>"#,
            r#"  <array>"#,
            r#"    <string>/usr/local/bin/patina-reap</string>"#,
            r#"    <string>--quiet</string>"#,
            r#"  </array>"#,
            r#"  <key>StartInterval</key><integer>3600</integer>"#,
            r#"</dict>"#,
            r#"</plist>"#,
        ],
    ),
    (
        "and load it:",
        &["launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/dev.patina.reap.plist"],
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
