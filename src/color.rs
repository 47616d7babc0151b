//! Whether and how to color each stream: decided once, from `--color` and the environment.

use std::ffi::OsString;
use std::io::IsTerminal;

use owo_colors::OwoColorize;

use crate::cli::ColorWhen;

/// Whether to color each stream.
pub(crate) struct Colors {
    stdout: bool,
    stderr: bool,
}

/// The styles this tool uses.
#[derive(Clone, Copy)]
pub(crate) enum Paint {
    Red,
    Yellow,
    Green,
    Dimmed,
    Bold,
}

impl Colors {
    /// `--color always` and `never` decide alone. With `auto`: NO_COLOR set and not
    /// empty turns color off (no-color.org); else CLICOLOR_FORCE or FORCE_COLOR set to
    /// something other than empty, `0` (or `false`) turns it on; else a stream is colored
    /// when it is a terminal and TERM is not `dumb`.
    pub(crate) fn decide(when: ColorWhen) -> Self {
        match when {
            ColorWhen::Always => Self::both(true),
            ColorWhen::Never => Self::both(false),
            ColorWhen::Auto => {
                if env_set("NO_COLOR", &[]) {
                    Self::both(false)
                } else if env_set("CLICOLOR_FORCE", &["0"])
                    || env_set("FORCE_COLOR", &["0", "false"])
                {
                    Self::both(true)
                } else {
                    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
                    Self {
                        stdout: !dumb && std::io::stdout().is_terminal(),
                        stderr: !dumb && std::io::stderr().is_terminal(),
                    }
                }
            }
        }
    }

    fn both(on: bool) -> Self {
        Self {
            stdout: on,
            stderr: on,
        }
    }

    /// clap's setting for usage errors (on stderr) and help (on stdout).
    pub(crate) fn clap(&self) -> clap::ColorChoice {
        if self.stderr {
            clap::ColorChoice::Always
        } else {
            clap::ColorChoice::Never
        }
    }

    /// Whether stderr is colored.
    pub(crate) fn stderr(&self) -> bool {
        self.stderr
    }

    pub(crate) fn out(&self, text: &str, paint: Paint) -> String {
        styled(self.stdout, text, paint)
    }

    pub(crate) fn err(&self, text: &str, paint: Paint) -> String {
        styled(self.stderr, text, paint)
    }
}

fn styled(on: bool, text: &str, paint: Paint) -> String {
    if !on {
        return text.to_owned();
    }
    match paint {
        Paint::Red => text.red().to_string(),
        Paint::Yellow => text.yellow().to_string(),
        Paint::Green => text.green().to_string(),
        Paint::Dimmed => text.dimmed().to_string(),
        Paint::Bold => text.bold().to_string(),
    }
}

/// Whether the variable is set to something other than empty or one of `off`.
fn env_set(name: &str, off: &[&str]) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && !off.iter().any(|o| v == *o))
}

/// The last `--color WHEN` or `--color=WHEN` in the raw arguments, for the usage errors
/// clap reports before the arguments are parsed; `auto` when there is none.
pub(crate) fn color_flag(args: &[OsString]) -> ColorWhen {
    use clap::ValueEnum;
    let mut when = ColorWhen::Auto;
    let mut iter = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(arg) = iter.next() {
        if arg == "--" {
            break;
        }
        let value = match arg.strip_prefix("--color") {
            Some("") => iter.next(),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        if let Some(w) = value.and_then(|v| ColorWhen::from_str(v, false).ok()) {
            when = w;
        }
    }
    when
}
