//! The man page and shell completions in the repository: generated from the clap
//! definition, up to date, what `--generate` prints, valid for groff and bash, within 80
//! columns, and in step with `--help`.

use std::io::Write;

use clap::ValueEnum;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::*;

#[allow(dead_code)]
#[path = "../examples/generate.rs"]
mod regenerate;

use regenerate::cli::Generate;

/// The command that rewrites every generated file.
const REGENERATE: &str = "cargo run --example generate";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn generated() -> Vec<regenerate::Generated> {
    regenerate::all().expect("render the man page and completions")
}

fn man_page() -> String {
    String::from_utf8(Generate::Man.render().expect("render the man page")).unwrap()
}

/// Run `program` with `args` (and `stdin`), or `None` when it is not installed.
fn run_tool(program: &str, args: &[&str], stdin: Option<&[u8]>) -> Option<Output> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        // Not installed, or not runnable by this user (a PATH entry it cannot read).
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            return None
        }
        Err(e) => panic!("cannot run {program}: {e}"),
    };
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    Some(child.wait_with_output().unwrap())
}

#[test]
fn committed_man_page_and_completions_match_the_cli_definition() {
    let mut stale = Vec::new();
    for file in generated() {
        match std::fs::read(root().join(&file.path)) {
            Ok(committed) if committed == file.content => {}
            Ok(_) => stale.push(format!("{} differs from what src/cli.rs gives", file.path)),
            Err(e) => stale.push(format!("{} cannot be read: {e}", file.path)),
        }
    }
    assert!(
        stale.is_empty(),
        "the generated files are out of date:\n  {}\nRegenerate them with `{REGENERATE}` and \
         commit the result.",
        stale.join("\n  ")
    );
}

#[test]
fn generate_prints_each_shipped_file() {
    let kinds = Generate::value_variants();
    assert_eq!(
        kinds.len(),
        6,
        "bash, zsh, fish, elvish, powershell and man"
    );
    for kind in kinds {
        let name = kind.to_possible_value().unwrap().get_name().to_owned();
        let out = Command::new(reaper_bin())
            .args(["--generate", &name])
            .env("COLUMNS", "40")
            .output()
            .unwrap();
        assert!(out.status.success(), "--generate {name}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "--generate {name}");
        let shipped = std::fs::read(root().join(kind.path())).unwrap();
        assert!(
            out.stdout == shipped,
            "`patina-reap --generate {name}` differs from {}; run `{REGENERATE}`",
            kind.path()
        );
    }
}

#[test]
fn generate_is_used_alone_whatever_the_environment_says() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new(reaper_bin());
        cmd.args(args).env_remove("PATINA_REAP_THRESHOLD");
        for (key, value) in env {
            cmd.env(key, value);
        }
        cmd.output().unwrap()
    };
    for other in [
        &["--json"][..],
        &["-n"],
        &["--threshold", "1h"],
        &["--name", "x"],
    ] {
        let mut args = vec!["--generate", "bash"];
        args.extend_from_slice(other);
        let out = run(&args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(
            stderr(&out).contains("the argument '--generate <KIND>' cannot be used with '--"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // Variables are not flags: patina's users may have PATINA_REAP_THRESHOLD set, even
    // to something the tool would refuse.
    let out = run(
        &["--generate", "zsh"],
        &[
            ("PATINA_REAP_THRESHOLD", "bogus"),
            ("PATINA_REAP_BACKEND", "x"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, Generate::Zsh.render().unwrap());
    let out = run(&["--generate", "tcsh"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("possible values"), "{}", stderr(&out));
}

#[test]
fn man_and_completions_hold_only_generated_files() {
    let expected: Vec<PathBuf> = generated().iter().map(|f| root().join(&f.path)).collect();
    for dir in ["man", "completions"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            assert!(
                expected.contains(&path),
                "{} is not generated by `{REGENERATE}`; delete it",
                path.display()
            );
        }
    }
}

#[test]
fn the_man_page_has_every_section_in_order() {
    let page = man_page();
    let headings: Vec<&str> = page
        .lines()
        .filter_map(|l| l.strip_prefix(".SH "))
        .map(|h| h.trim_matches('"'))
        .collect();
    assert_eq!(
        headings,
        [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "ENVIRONMENT",
            "EXIT STATUS",
            "JSON OUTPUT",
            "FILES",
            "EXAMPLES",
            "SEE ALSO"
        ]
    );
    let text = page.replace("\\-", "-");
    for needle in [
        "basename of the first word of argv[0]",
        "ancestor",
        "zombie",
        "foreground process group of a live terminal",
        "--all-users",
        "pidfd",
        "SIGTERM",
        "SIGKILL",
        ".SS DURATION",
        "PATINA_REAP_THRESHOLD",
        "PATINA_REAP_BACKEND",
        "NO_COLOR",
        "would_fail",
        "threshold_secs",
        "patina-reap-UID-HASH.lock",
        "jq",
        "crontab",
        "launchd",
        ".BR pkill (1),",
        ".BR kill (1),",
        ".BR ps (1)",
    ] {
        assert!(text.contains(needle), "the man page lacks {needle:?}");
    }
}

#[test]
fn groff_renders_the_man_page_without_warnings() {
    let page = root().join("man/patina-reap.1");
    let page = page.to_str().unwrap();
    let Some(out) = run_tool("groff", &["-ww", "-man", "-z", page], None) else {
        return skip("groff is not installed (Debian: groff-base)");
    };
    assert!(out.status.success(), "groff failed: {}", stderr(&out));
    assert_eq!(stderr(&out), "", "groff -ww -man -z warned");
    let out = run_tool("groff", &["-man", "-Tutf8", "-P-cbu", page], None).unwrap();
    let rendered = stdout(&out);
    assert!(rendered.contains("EXIT STATUS"), "{rendered}");
}

#[test]
fn the_man_page_fits_80_columns() {
    // What `MANWIDTH=80 man patina-reap` shows, and the lines it cannot wrap (examples).
    let page = root().join("man/patina-reap.1");
    let Some(out) = run_tool(
        "groff",
        &[
            "-man",
            "-Tutf8",
            "-rLL=80n",
            "-P-cbu",
            page.to_str().unwrap(),
        ],
        None,
    ) else {
        return skip("groff is not installed (Debian: groff-base)");
    };
    assert!(out.status.success(), "groff failed: {}", stderr(&out));
    let rendered = stdout(&out);
    assert!(rendered.contains("EXAMPLES"), "{rendered}");
    let wide: Vec<&str> = rendered
        .lines()
        .filter(|l| l.chars().count() > 80)
        .collect();
    assert!(
        wide.is_empty(),
        "lines of the man page wider than 80 columns:\n{}",
        wide.join("\n")
    );
}

#[test]
fn the_bash_completion_is_valid_bash() {
    let script = root().join("completions/patina-reap.bash");
    let Some(out) = run_tool("bash", &["-n", script.to_str().unwrap()], None) else {
        return skip("bash is not installed");
    };
    assert!(out.status.success(), "bash -n: {}", stderr(&out));
}

/// Source the committed bash completion and complete the words `line` (the last one is
/// being typed); returns the candidates offered.
fn bash_complete(line: &[&str]) -> Option<Vec<String>> {
    const DRIVER: &str = r#"
source "$1" || exit 3
shift
spec=$(complete -p patina-reap) || exit 4
fn=${spec#*-F }
fn=${fn%% *}
COMP_WORDS=("$@")
COMP_CWORD=$(( $# - 1 ))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
prev=""
[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
"$fn" patina-reap "${COMP_WORDS[COMP_CWORD]}" "$prev"
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let script = root().join("completions/patina-reap.bash");
    let mut args = vec![
        "--norc",
        "--noprofile",
        "-c",
        DRIVER,
        "bash",
        script.to_str().unwrap(),
    ];
    args.extend_from_slice(line);
    let out = run_tool("bash", &args, None)?;
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(&out));
    Some(stdout(&out).lines().map(str::to_owned).collect())
}

#[test]
fn bash_completes_long_flags_and_their_values() {
    let Some(offered) = bash_complete(&["patina-reap", "--th"]) else {
        return skip("bash is not installed");
    };
    assert_eq!(offered, ["--threshold"]);
    let offered = bash_complete(&["patina-reap", "--dry-run", "--co"]).unwrap();
    assert_eq!(offered, ["--color"]);
    let offered = bash_complete(&["patina-reap", "--color", ""]).unwrap();
    assert_eq!(offered, ["auto", "always", "never"]);
    let offered = bash_complete(&["patina-reap", "--generate", ""]).unwrap();
    assert_eq!(
        offered,
        ["bash", "zsh", "fish", "elvish", "powershell", "man"]
    );
    // A DURATION is not a file name.
    let offered = bash_complete(&["patina-reap", "--grace", "5"]).unwrap();
    assert_eq!(offered, ["5"]);
}

#[test]
fn completions_parse_in_the_other_installed_shells() {
    for (shell, args, file) in [
        ("zsh", &["-n"][..], "_patina-reap"),
        ("fish", &["--no-execute"][..], "patina-reap.fish"),
    ] {
        let path = root().join("completions").join(file);
        let mut args = args.to_vec();
        args.push(path.to_str().unwrap());
        match run_tool(shell, &args, None) {
            Some(out) => assert!(out.status.success(), "{shell}: {}", stderr(&out)),
            None => skip(&format!("{shell} is not installed")),
        }
    }
}

#[test]
fn short_help_is_shorter_and_long_help_documents_every_flag_and_variable() {
    let help = |flag: &str| {
        let out = Command::new(reaper_bin())
            .arg(flag)
            .env("COLUMNS", "100")
            .output()
            .unwrap();
        assert!(out.status.success(), "{flag}: {}", stderr(&out));
        stdout(&out)
    };
    let short = help("-h");
    let long = help("--help");
    assert!(
        short.lines().count() * 2 < long.lines().count(),
        "-h:\n{short}\n--help:\n{long}"
    );
    let page = man_page().replace("\\-", "-");
    for flag in [
        "--threshold",
        "--older",
        "--older-than",
        "--dry-run",
        "--json",
        "--grace",
        "--name",
        "--all-users",
        "--user",
        "--pids",
        "--full",
        "--verbose",
        "--quiet",
        "--color",
        "--generate",
    ] {
        assert!(short.contains(flag), "-h lacks {flag}");
        assert!(
            page.contains(&format!("fB{flag}")),
            "the man page lacks {flag}"
        );
    }
    for text in [
        "PATINA_REAP_THRESHOLD",
        "PATINA_REAP_BACKEND",
        "NO_COLOR",
        "DURATION is",
        "Exit status:",
        "Examples:",
        "foreground",
        "patina-reap(1)",
    ] {
        assert!(long.contains(text), "--help lacks {text:?}");
    }
}

#[test]
fn an_unknown_backend_fails_with_the_documented_status() {
    let out = Command::new(reaper_bin())
        .args(["--name", &unique_name(), "--dry-run"])
        .env("PATINA_REAP_BACKEND", "no-such-backend")
        .env_remove("PATINA_REAP_THRESHOLD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("PATINA_REAP_BACKEND"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_readme_options_block_is_what_dash_h_prints() {
    let out = Command::new(reaper_bin())
        .arg("-h")
        .env("COLUMNS", regenerate::README_COLUMNS.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find(regenerate::README_START)
        .expect("the README's options block")
        + regenerate::README_START.len();
    let end = start + readme[start..].find(regenerate::README_END).unwrap();
    assert_eq!(
        readme[start..end].trim_end(),
        stdout(&out).trim_end(),
        "the README's options block differs from `patina-reap -h`; run `{REGENERATE}`"
    );
    assert_eq!(stdout(&out), regenerate::short_help());
}

#[test]
fn long_help_starts_with_usage_and_options_and_explains_after_them() {
    let out = Command::new(reaper_bin())
        .arg("--help")
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    let help = stdout(&out);
    let lines: Vec<&str> = help.lines().collect();
    let usage = lines.iter().position(|l| l.starts_with("Usage: ")).unwrap();
    assert!(usage <= 4, "Usage: on line {}:\n{help}", usage + 1);
    assert_eq!(lines[usage + 2], "Options:", "{help}");
    let options_end = lines.iter().position(|l| l.starts_with("  -V, --version"));
    let prose = lines
        .iter()
        .position(|l| l.starts_with("A process is a patina process"));
    assert!(options_end < prose && prose.is_some(), "{help}");
}

#[test]
fn the_readme_and_the_man_page_explain_every_json_field() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let (doc, out) = sb.run_json(&["-n", "-t", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let page = man_page().replace("\\-", "-");
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    let process = entry(&doc, pid).expect("the sleeper is listed");
    let mut fields: Vec<(String, String)> = Vec::new();
    for key in keys(&doc) {
        fields.push((format!("`{key}"), key.clone()));
    }
    for key in keys(process) {
        fields.push((format!("`.{key}`"), key.clone()));
    }
    for key in keys(&doc["summary"]) {
        fields.push((format!("`{key}`"), key.clone()));
    }
    for (in_readme, in_man) in fields {
        assert!(
            readme.contains(&format!("| {in_readme}")) || readme.contains(&in_readme),
            "README.md's JSON table lacks {in_readme}"
        );
        assert!(page.contains(&in_man), "the man page lacks {in_man}");
    }
}

/// Whether the words of one `patina-reap` command line send signals: not with
/// `--dry-run` (or `-n`, alone or among other short flags), `--help`, `--version` or
/// `--generate`.
fn signals(words: &[&str]) -> bool {
    !words.iter().any(|w| {
        matches!(
            *w,
            "--dry-run" | "--help" | "-h" | "--version" | "-V" | "--generate"
        ) || (w.starts_with('-') && !w.starts_with("--") && w.contains('n'))
    })
}

/// The `patina-reap` commands in a line of shell: each part of a pipeline or list whose
/// program (after any `VAR=value`) is patina-reap, as its words.
fn reaper_commands(line: &str) -> Vec<Vec<&str>> {
    line.split(['|', ';', '&'])
        .map(|part| {
            part.split_whitespace()
                .skip_while(|w| w.contains('=') && !w.starts_with('-'))
                .collect::<Vec<&str>>()
        })
        .filter(|words| {
            words
                .first()
                .is_some_and(|w| *w == "patina-reap" || w.ends_with("/patina-reap"))
        })
        .collect()
}

#[test]
fn the_first_examples_signal_nothing_and_those_that_signal_say_so() {
    // The README: each code block, with the paragraph that introduces it.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut commands: Vec<(String, bool)> = Vec::new();
    // The last paragraph before a block: its lines since the last blank line.
    let mut intro: Vec<&str> = Vec::new();
    let mut after_blank = false;
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(lang) = line.strip_prefix("```") else {
            if line.trim().is_empty() {
                after_blank = true;
            } else {
                if after_blank {
                    intro.clear();
                }
                intro.push(line);
                after_blank = false;
            }
            continue;
        };
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let shell_lines = block.iter().filter_map(|l| match lang {
            "console" => l.strip_prefix("$ "),
            "sh" => Some(*l),
            _ => None,
        });
        let mut signalling = Vec::new();
        for line in shell_lines {
            for words in reaper_commands(line) {
                commands.push((words.join(" "), signals(&words)));
                if signals(&words) {
                    signalling.push(words.join(" "));
                }
            }
        }
        let says = intro.join(" ").to_lowercase();
        assert!(
            signalling.is_empty() || says.contains("reaps") || says.contains("signals"),
            "README.md: {signalling:?} send signals, and the text before them does not say \
             so (\"reaps\"): {says:?}"
        );
        intro.clear();
    }
    assert!(!commands.is_empty());
    assert!(
        !commands[0].1,
        "the README's first example signals: {}",
        commands[0].0
    );
    let json = commands.iter().find(|(c, _)| c.contains("--json")).unwrap();
    assert!(
        !json.1,
        "the README's first JSON example signals: {}",
        json.0
    );

    // --help and the man page: the examples that signal come last, and say so.
    let out = Command::new(reaper_bin()).arg("--help").output().unwrap();
    let help = stdout(&out);
    let examples = help
        .split_once("\nExamples:\n")
        .expect("--help has examples")
        .1;
    // A command is indented by 2, its text by 6 (a long text wraps, indented alike).
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for line in examples.lines().take_while(|l| !l.is_empty()) {
        match line.strip_prefix("      ") {
            Some(what) => match pairs.last_mut() {
                Some((_, text)) if text.is_empty() => *text = what,
                _ => {}
            },
            None => pairs.push((line.trim(), "")),
        }
    }
    assert!(pairs.len() >= 3, "{examples}");
    let mut seen_signal = false;
    for (command, what) in pairs {
        let signal = reaper_commands(command).iter().any(|w| signals(w));
        assert!(
            signal || !seen_signal,
            "--help: {command} signals nothing but comes after an example that does"
        );
        assert!(
            !signal || what.starts_with("Reap"),
            "--help: {command} signals; its text should start with Reap: {what}"
        );
        seen_signal |= signal;
    }
}

/// The README's JSON table row of `field`.
fn readme_row(field: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    readme
        .lines()
        .find(|l| l.starts_with(&format!("| `{field}` |")))
        .unwrap_or_else(|| panic!("README.md has no row for {field}"))
        .to_owned()
}

#[test]
fn every_reason_trigger_and_outcome_is_in_the_man_page_the_help_and_the_readme() {
    use patina_reap::{Outcome, SkipReason, Trigger};
    let page = man_page().replace("\\-", "-");
    let out = Command::new(reaper_bin())
        .arg("--help")
        .env("COLUMNS", "1000")
        .output()
        .unwrap();
    let long = stdout(&out);
    let lists: [(&str, Vec<String>); 3] = [
        (".outcome", Outcome::ALL.iter().map(|o| o.name()).collect()),
        (
            ".reason",
            SkipReason::ALL.iter().map(|r| r.name()).collect(),
        ),
        (".trigger", Trigger::ALL.iter().map(|t| t.name()).collect()),
    ];
    for (field, names) in lists {
        let row = readme_row(field);
        // The man page's entry: from its field name to the next one.
        let at = page
            .find(&format!("\\fB{field}\\fR"))
            .unwrap_or_else(|| panic!("the man page has no {field}"));
        let entry: String = page[at..].lines().take(3).collect();
        for name in names {
            assert!(
                row.contains(&format!("`{name}`")),
                "README.md's {field} row lacks {name}"
            );
            assert!(
                entry.contains(&name),
                "the man page's {field} lacks {name}: {entry}"
            );
            if field != ".outcome" {
                assert!(long.contains(&name), "--help lacks {name}");
            }
        }
    }
    for reason in SkipReason::ALL {
        let item = format!("  - {}: {}", reason.name(), reason.meaning());
        assert!(
            long.replace('\n', " ").contains(&item.replace('\n', " "))
                || long.contains(&format!("  - {}:", reason.name())),
            "--help lacks the reason {item}"
        );
    }
}
