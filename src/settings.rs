//! From raw arguments to checked settings: every usage error is found here, before
//! anything is scanned or signalled.

use std::ffi::OsString;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use patina_reap::for_cli::escape;
use patina_reap::{DEFAULT_THRESHOLD, THRESHOLD_ENV};

use crate::cli::{name_problem, Cli, Generate};
use crate::color::{color_flag, Colors};
use crate::exit_codes::ExitCode;
use crate::output::{print_clap_error, print_generated, usage_error};

/// What the threshold setting resolved to.
pub(crate) enum Threshold {
    After(Duration),
    Off,
}

/// The checked values of the flags and variables.
pub(crate) struct Settings {
    pub(crate) threshold: Threshold,
    pub(crate) grace: Duration,
    pub(crate) names: Vec<String>,
    /// `None` for the default socket, empty for `--socket none`.
    pub(crate) sockets: Option<Vec<std::path::PathBuf>>,
    /// The uids of `--user`; empty for the default.
    pub(crate) users: Vec<u32>,
}

/// `--preflight`'s settings: what the library's preflight is given besides its defaults.
pub(crate) struct PreflightSettings {
    /// `--threshold`; `None` to leave PATINA_REAP_THRESHOLD to the preflight, which reads
    /// it as the library does (a bad value is a warning, `off` turns it off silently).
    pub(crate) threshold: Option<Duration>,
    pub(crate) names: Vec<String>,
    /// `None` for the default socket, empty for `--socket none`.
    pub(crate) sockets: Option<Vec<std::path::PathBuf>>,
}

/// What the command line asks for.
pub(crate) enum Parsed {
    /// Reap or list, with the checked settings.
    Run(Cli, Settings, Colors),
    /// `--preflight`.
    Preflight(PreflightSettings),
}

/// Parse and check `args`; on a usage error (or help, version, `--generate`) it has been
/// printed and `Err` holds the status to exit with.
pub(crate) fn parse(args: &[OsString]) -> Result<Parsed, ExitCode> {
    let colors = Colors::decide(color_flag(args));
    let command = || Cli::command().color(colors.clap());
    let (matches, unreadable_env) = match command().try_get_matches_from(args) {
        Ok(matches) => (matches, false),
        // Perhaps PATINA_REAP_THRESHOLD, which clap reads for the threshold: parsed
        // again without it, the preflight reads the variable itself as the library does
        // (a warning, then 24h), and the CLI names it.
        Err(e) if e.kind() == ErrorKind::InvalidUtf8 => {
            let matches = command()
                .mut_arg("threshold", |arg| arg.env(None))
                .try_get_matches_from(args)
                .map_err(|_| print_clap_error(&e, args, &colors))?;
            (matches, true)
        }
        Err(e) => return Err(print_clap_error(&e, args, &colors)),
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| print_clap_error(&e, args, &colors))?;
    if let Some(kind) = cli.generate {
        return Err(generate_alone(&matches, kind, &colors));
    }
    let from_env = matches.value_source("threshold") == Some(ValueSource::EnvVariable);
    if cli.preflight {
        // --color conflicts with --preflight: the colors decided above stand.
        return PreflightSettings::check(&cli, (!from_env).then(|| threshold_flag(args)))
            .map(Parsed::Preflight)
            .map_err(|message| usage_error(&colors, &message));
    }
    let colors = Colors::decide(cli.color);
    if unreadable_env && cli.threshold.is_none() {
        let value = std::env::var_os(THRESHOLD_ENV).unwrap_or_default();
        let message = format!(
            "invalid value '{}' for '{THRESHOLD_ENV}': not UTF-8",
            escape(&value.to_string_lossy())
        );
        return Err(usage_error(&colors, &message));
    }
    let threshold_origin = match from_env {
        true => THRESHOLD_ENV,
        false => threshold_flag(args),
    };
    let settings = Settings::check(&cli, threshold_origin)
        .map_err(|message| usage_error(&colors, &message))?;
    Ok(Parsed::Run(cli, settings, colors))
}

impl PreflightSettings {
    /// Check the flags that combine with `--preflight`, as [`Settings::check`] does;
    /// `threshold_flag` is the threshold flag as it was spelled, `None` when the value
    /// (if any) came from PATINA_REAP_THRESHOLD.
    fn check(cli: &Cli, threshold_flag: Option<&str>) -> Result<Self, String> {
        let threshold = match (threshold_flag, cli.threshold.as_deref()) {
            (Some(origin), Some(text)) => Some(threshold_value(cli, text, origin)?),
            _ => None,
        };
        Ok(Self {
            threshold,
            names: checked_names(cli)?,
            sockets: cli.socket_list()?,
        })
    }
}

/// The `--name` values, checked, each once.
fn checked_names(cli: &Cli) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::with_capacity(cli.names.len());
    for name in &cli.names {
        if let Some(why) = name_problem(name) {
            return Err(format!(
                "invalid value '{}' for '--name <NAME>': {why}",
                escape(name)
            ));
        }
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    Ok(names)
}

impl Settings {
    /// Check every value, in one layout: `invalid value 'V' for 'WHERE': WHY`.
    /// `threshold_origin` is where the threshold came from: [`THRESHOLD_ENV`] or the
    /// flag as it was spelled.
    fn check(cli: &Cli, threshold_origin: &str) -> Result<Self, String> {
        let threshold = resolve_threshold(cli, threshold_origin)?;
        let grace = duration_value(&cli.grace, "--grace <DURATION>", "5s, 30s or 1m")?;
        let names = checked_names(cli)?;
        let sockets = cli.socket_list()?;
        let users = cli
            .users
            .iter()
            .map(|user| uid_of(user))
            .collect::<Result<Vec<u32>, String>>()?;
        Ok(Self {
            threshold,
            grace,
            names,
            sockets,
            users,
        })
    }
}

/// `--generate`: print the file, as `--help` prints help, when it is the only flag given.
/// Only the command line counts: clap's own conflicts would count PATINA_REAP_THRESHOLD,
/// which is set where patina users run this.
fn generate_alone(matches: &ArgMatches, kind: Generate, colors: &Colors) -> ExitCode {
    let mut cmd = Cli::command();
    cmd.build();
    let other = cmd.get_arguments().find(|arg| {
        arg.get_id() != "generate"
            && matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine)
    });
    match other {
        Some(arg) => usage_error(
            colors,
            &format!("the argument '--generate <KIND>' cannot be used with '{arg}'"),
        ),
        None => print_generated(kind, colors),
    }
}

/// The uid `--user` means: a number as it is (pgrep takes uids no account has), else
/// the user of that name in the system's user database.
fn uid_of(user: &str) -> Result<u32, String> {
    let invalid = |why: &str| {
        format!(
            "invalid value '{}' for '--user <USER>': {why}",
            escape(user)
        )
    };
    if user.is_empty() {
        return Err(invalid("a user name or uid cannot be empty"));
    }
    if user.bytes().all(|b| b.is_ascii_digit()) {
        return user
            .parse()
            .map_err(|_| invalid("a uid is at most 4294967295"));
    }
    match crate::users::uid_of_name(user) {
        Ok(Some(uid)) => Ok(uid),
        Ok(None) => Err(invalid("no such user")),
        Err(e) => Err(invalid(&format!(
            "cannot look it up in the user database: {e}"
        ))),
    }
}

/// The last spelling of the threshold flag in the raw arguments, with its value's name:
/// `--older <DURATION>` and `--older-than <DURATION>` for pkill's and killall's names,
/// else `--threshold <DURATION>` (also for `-t`). clap does not say which alias it saw.
fn threshold_flag(args: &[OsString]) -> &'static str {
    // The flags that take a value, whose value is the next argument unless attached.
    const LONG: &[&str] = &[
        "threshold",
        "older",
        "older-than",
        "grace",
        "name",
        "user",
        "socket",
        "color",
        "generate",
    ];
    const SHORT: &[char] = &['t', 'g', 'u'];
    let mut flag = "--threshold <DURATION>";
    let mut iter = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(arg) = iter.next() {
        if arg == "--" {
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, attached) = long
                .split_once('=')
                .map_or((long, false), |(n, _)| (n, true));
            match name {
                "older" => flag = "--older <DURATION>",
                "older-than" => flag = "--older-than <DURATION>",
                "threshold" => flag = "--threshold <DURATION>",
                _ => {}
            }
            if !attached && LONG.contains(&name) {
                iter.next();
            }
        } else if let Some(shorts) = arg.strip_prefix('-') {
            // A cluster such as -nt: the first flag that takes a value ends it.
            if let Some((at, c)) = shorts.char_indices().find(|(_, c)| SHORT.contains(c)) {
                if c == 't' {
                    flag = "--threshold <DURATION>";
                }
                if at + 1 == shorts.len() {
                    iter.next();
                }
            }
        }
    }
    flag
}

fn resolve_threshold(cli: &Cli, origin: &str) -> Result<Threshold, String> {
    let Some(text) = cli.threshold.as_deref() else {
        return Ok(Threshold::After(DEFAULT_THRESHOLD));
    };
    if origin == THRESHOLD_ENV {
        match text.trim() {
            "off" => return Ok(Threshold::Off),
            "" => return Ok(Threshold::After(DEFAULT_THRESHOLD)),
            _ => {}
        }
    }
    threshold_value(cli, text, origin).map(Threshold::After)
}

/// The threshold `text` from `origin` (PATINA_REAP_THRESHOLD or the flag as it was
/// spelled) asks for, which is not that variable's `off` or empty value.
fn threshold_value(cli: &Cli, text: &str, origin: &str) -> Result<Duration, String> {
    let bare_number = !text.trim().is_empty() && text.trim().bytes().all(|b| b.is_ascii_digit());
    if bare_number && origin.starts_with("--older") {
        // pkill's --older counts seconds: say so, and guess nothing.
        let n = text.trim();
        return Err(format!(
            "invalid value '{n}' for '{origin}': no unit; did you mean {n}s? (pkill's --older \
             counts seconds; here a DURATION needs a unit: s, m, h, d or w)"
        ));
    }
    match text.trim() {
        "off" => Err(format!(
            "invalid value 'off' for '{origin}': 'off' is only understood in {THRESHOLD_ENV}{}",
            match cli.preflight {
                true => "",
                false => "; to send no signal use --dry-run",
            }
        )),
        _ => duration_value(text, origin, "24h, 90m or 2d3h"),
    }
}

/// Parse a DURATION for `origin`; the error names the value (escaped) and gives
/// examples that fit `origin`.
fn duration_value(text: &str, origin: &str, examples: &str) -> Result<Duration, String> {
    let value = text.trim();
    patina_reap::for_cli::parse_duration(value).map_err(|e| {
        let why = e.explain(value, examples);
        format!("invalid value '{}' for '{origin}': {why}", escape(value))
    })
}

#[cfg(test)]
mod tests {
    use super::threshold_flag;
    use clap::CommandFactory;

    #[test]
    fn every_flag_but_name_threshold_and_socket_conflicts_with_preflight() {
        // A launcher passes fixed flags: a new flag must be taken up here, and in the
        // docs of --preflight, before it can combine with it.
        use clap::error::ErrorKind;
        let mut cmd = crate::cli::Cli::command();
        cmd.build();
        let mut checked = 0;
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(
                id,
                "preflight" | "names" | "threshold" | "sockets" | "help" | "version"
            ) {
                continue;
            }
            let long = arg.get_long().expect("every flag has a long name");
            let mut args = vec![
                "patina-reap".to_owned(),
                "--preflight".into(),
                format!("--{long}"),
            ];
            if arg.get_action().takes_values() {
                let value = arg
                    .get_possible_values()
                    .first()
                    .map_or("1".into(), |v| v.get_name().to_owned());
                args.push(value);
            }
            let err = crate::cli::Cli::command()
                .try_get_matches_from(&args)
                .expect_err(&format!("{args:?} parsed"));
            assert_eq!(err.kind(), ErrorKind::ArgumentConflict, "{args:?}: {err}");
            checked += 1;
        }
        assert_eq!(checked, 11);
        let combined = [
            "patina-reap",
            "--preflight",
            "--name",
            "a",
            "--name",
            "b",
            "--threshold",
            "1h",
            "--socket",
            "none",
        ];
        assert!(crate::cli::Cli::command()
            .try_get_matches_from(combined)
            .is_ok());
    }

    #[test]
    fn the_threshold_flag_is_named_as_it_was_last_spelled() {
        let flag = |args: &[&str]| {
            let args: Vec<std::ffi::OsString> = std::iter::once("patina-reap")
                .chain(args.iter().copied())
                .map(Into::into)
                .collect();
            threshold_flag(&args)
        };
        assert_eq!(flag(&[]), "--threshold <DURATION>");
        assert_eq!(flag(&["--older", "5"]), "--older <DURATION>");
        assert_eq!(flag(&["--older-than=5"]), "--older-than <DURATION>");
        assert_eq!(
            flag(&["-n", "--older-than", "5", "-v"]),
            "--older-than <DURATION>"
        );
        assert_eq!(
            flag(&["--older", "5", "-nt", "5"]),
            "--threshold <DURATION>"
        );
        assert_eq!(flag(&["--older", "5", "-t5"]), "--threshold <DURATION>");
        assert_eq!(flag(&["-t", "1h", "--older=5"]), "--older <DURATION>");
        // Values are not flags: -t's value may start with a dash, and -g ends a cluster.
        assert_eq!(
            flag(&["--older", "5", "-t", "--older"]),
            "--threshold <DURATION>"
        );
        assert_eq!(
            flag(&["-t", "5", "--grace", "--older"]),
            "--threshold <DURATION>"
        );
        assert_eq!(
            flag(&["-t", "5", "-gt", "--older", "1"]),
            "--older <DURATION>"
        );
        assert_eq!(flag(&["--older", "5", "--", "-t"]), "--older <DURATION>");
    }
}
