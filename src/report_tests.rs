use super::*;

fn argv(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn sample(outcome: Outcome, reason: Option<Reason>) -> ProcessReport {
    ProcessReport {
        pid: 12345,
        name: "patina".into(),
        command: "/usr/local/bin/patina serve".into(),
        argv: argv(&["/usr/local/bin/patina", "serve"]),
        uid: 1000,
        age_secs: 2 * 86_400 + 3 * 3600 + 7,
        rss_bytes: 1_288_490_188,
        private_bytes: None,
        outcome,
        reason,
        ppid: 4321,
        trigger: (!matches!(outcome, Outcome::Skipped)).then_some(Trigger::Age),
        first_signal: (!matches!(outcome, Outcome::Skipped)).then_some(Signal::Term),
        parent_name: None,
        socket: None,
    }
}

#[test]
fn attached_serving_and_replaced_are_worded() {
    let mut p = sample(
        Outcome::Skipped,
        Some(Reason::Skipped(SkipReason::Attached)),
    );
    p.parent_name = Some("claude".into());
    assert_eq!(
        p.to_string(),
        "Kept patina serve (PID 12345, running 2d3h, 1.2 GiB): attached to claude (PID 4321)"
    );
    p.parent_name = None;
    assert!(p.to_string().ends_with("): attached to PID 4321"), "{p}");
    p.ppid = 0;
    assert!(
        p.to_string()
            .ends_with("): attached to a process outside this PID namespace"),
        "{p}"
    );
    p.ppid = 4321;
    let mut p = sample(Outcome::Skipped, Some(Reason::Skipped(SkipReason::Serving)));
    p.socket = Some("/run/patina/serve.sock".into());
    assert!(
        p.to_string().ends_with("): serving /run/patina/serve.sock"),
        "{p}"
    );
    let mut p = sample(Outcome::Terminated, None);
    p.trigger = Some(Trigger::Replaced);
    assert_eq!(
        p.to_string(),
        "Cleaned up stale patina serve (PID 12345, running 2d3h, 1.2 GiB; replaced since it started)"
    );
    let mut r = Report::new(0, 0, false, vec!["patina".into()]);
    r.push(p);
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["processes"][0]["ppid"], 4321);
    assert_eq!(
        json["processes"][0]["trigger"],
        serde_json::to_value(Trigger::Replaced).unwrap()
    );
    assert!(json["processes"][0].get("parent_name").is_none());
}

#[test]
fn human_lines_match_the_documented_wording() {
    assert_eq!(
        sample(Outcome::Terminated, None).to_string(),
        "Cleaned up stale patina serve (PID 12345, running 2d3h, 1.2 GiB)"
    );
    assert_eq!(
        sample(Outcome::Killed, None).to_string(),
        "Cleaned up stale patina serve (PID 12345, running 2d3h, 1.2 GiB; needed SIGKILL)"
    );
    assert_eq!(
        sample(Outcome::WouldReap, None).to_string(),
        "Would clean up stale patina serve (PID 12345, running 2d3h, 1.2 GiB)"
    );
    assert_eq!(
        sample(
            Outcome::Failed,
            Some(Reason::Failed(Failure::Signal {
                signal: Signal::Term,
                errno: 1
            }))
        )
        .to_string(),
        "could not clean up stale patina serve (PID 12345, running 2d3h, 1.2 GiB): permission denied sending SIGTERM (EPERM)"
    );
    assert_eq!(
        sample(Outcome::Skipped, Some(Reason::Skipped(SkipReason::Young))).to_string(),
        "Kept patina serve (PID 12345, running 2d3h, 1.2 GiB): younger than the threshold"
    );
}

#[test]
fn commands_drop_the_directory_of_the_first_word_only() {
    assert_eq!(
        display_command(&argv(&["/usr/local/bin/patina", "serve", "/a/b"]), "patina"),
        "patina serve /a/b"
    );
    assert_eq!(
        display_command(&argv(&["patina serve --dir /x/y"]), "patina"),
        "patina serve --dir /x/y"
    );
    assert_eq!(display_command(&[], "patina"), "[patina]");
}

#[test]
fn control_characters_never_reach_the_terminal() {
    let shown = display_command(
        &argv(&[
            "patina",
            "\u{1b}[31mred\u{7}",
            "two\nlines",
            "\u{202e}evil",
            "\u{9b}",
        ]),
        "patina",
    );
    assert_eq!(
        shown,
        "patina \\x1b[31mred\\x07 two\\nlines \\u{202e}evil \\x9b"
    );
    assert!(!shown.chars().any(|c| c.is_control()));
}

/// What the issue found reaching terminals and JSON raw: Arabic letter mark, word
/// joiner, invisible plus, soft hyphen, a tag character, line and paragraph separator.
const HIDDEN: [char; 7] = [
    '\u{61c}',
    '\u{2060}',
    '\u{2064}',
    '\u{ad}',
    '\u{e0041}',
    '\u{2028}',
    '\u{2029}',
];

#[test]
fn invisible_and_separator_characters_are_escaped_for_people() {
    let text: String = HIDDEN.iter().flat_map(|&c| ['a', c]).collect();
    let shown = display_command(&argv(&["patina", &text]), "patina");
    assert_eq!(
        shown,
        "patina a\\u{61c}a\\u{2060}a\\u{2064}a\\xada\\u{e0041}a\\u{2028}a\\u{2029}"
    );
}

#[test]
fn invisible_and_separator_characters_are_escaped_in_json_and_read_back_exactly() {
    let mut r = Report::new(86_400, 5, false, vec!["patina".into()]);
    let mut p = sample(Outcome::Terminated, None);
    let text: String = HIDDEN.iter().collect();
    p.argv = argv(&["patina", &text]);
    r.push(p);
    let json = r.to_json();
    assert!(!json.chars().any(|c| HIDDEN.contains(&c)), "{json}");
    // Past U+FFFF as a surrogate pair, as JSON requires.
    assert!(
        json.contains("\\u061c\\u2060\\u2064\\u00ad\\udb40\\udc41\\u2028\\u2029"),
        "{json}"
    );
    let back: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back["processes"][0]["argv"][1], text);
}

#[test]
fn long_commands_are_shortened_with_an_ellipsis() {
    let long = "x".repeat(300);
    let shown = display_command(&argv(&["patina", &long]), "patina");
    assert_eq!(shown.chars().count(), MAX_COMMAND + 1);
    assert!(shown.ends_with('…'));
    let exact = "y".repeat(MAX_COMMAND - 7);
    assert!(!display_command(&argv(&["patina", &exact]), "patina").ends_with('…'));
}

#[test]
fn sizes_use_binary_units() {
    assert_eq!(format_bytes(0), "0 B");
    assert_eq!(format_bytes(1023), "1023 B");
    assert_eq!(format_bytes(1024), "1.0 KiB");
    assert_eq!(format_bytes(1_288_490_188), "1.2 GiB");
    assert_eq!(format_bytes(1_503_238_553), "1.4 GiB");
    assert_eq!(format_bytes(512 * 1024 * 1024), "512.0 MiB");
}

#[test]
fn summary_lines_count_and_add_up() {
    let mut r = Report::new(86_400, 5, false, vec!["patina".into()]);
    assert_eq!(
        r.summary_line(),
        "No stale patina processes (threshold 24h)"
    );
    r.push(sample(Outcome::Terminated, None));
    r.push(sample(
        Outcome::Skipped,
        Some(Reason::Skipped(SkipReason::Young)),
    ));
    r.push(sample(Outcome::Killed, None));
    assert_eq!(r.summary.reaped, 2);
    assert_eq!(r.summary.freed_bytes, 2 * 1_288_490_188);
    assert_eq!(
        r.summary_line(),
        "Reaped 2 stale patina processes, up to 2.4 GiB freed"
    );
    r.push(sample(
        Outcome::Failed,
        Some(Reason::Failed(Failure::InterruptedAfterSigkill)),
    ));
    assert_eq!(
        r.summary_line(),
        "Reaped 2 stale patina processes, up to 2.4 GiB freed; 1 could not be reaped"
    );
}

#[test]
fn private_memory_is_what_is_freed_where_known() {
    let mut r = Report::new(86_400, 5, false, vec!["patina".into()]);
    let mut p = sample(Outcome::Terminated, None);
    p.private_bytes = Some(3 * 1024 * 1024);
    assert_eq!(
        p.to_string(),
        "Cleaned up stale patina serve (PID 12345, running 2d3h, 3.0 MiB)"
    );
    r.push(p.clone());
    r.push(p);
    assert_eq!(r.summary.freed_bytes, 6 * 1024 * 1024);
    assert_eq!(
        r.summary_line(),
        "Reaped 2 stale patina processes, 6.0 MiB freed"
    );
    // One unknown: its resident size counts, and the total is an upper bound.
    r.push(sample(Outcome::Killed, None));
    assert_eq!(r.summary.freed_bytes, 6 * 1024 * 1024 + 1_288_490_188);
    assert!(
        r.summary_line().contains(", up to 1.2 GiB freed"),
        "{}",
        r.summary_line()
    );
}

#[test]
fn a_dry_run_counts_what_it_would_reap_and_free() {
    let mut r = Report::new(86_400, 5, true, vec!["patina".into()]);
    let mut p = sample(Outcome::WouldReap, None);
    p.private_bytes = Some(1024 * 1024);
    r.push(p.clone());
    r.push(p);
    r.push(sample(
        Outcome::Skipped,
        Some(Reason::Skipped(SkipReason::Young)),
    ));
    assert_eq!(r.summary.would_reap, 2);
    assert_eq!(r.summary.would_free_bytes, 2 * 1024 * 1024);
    assert_eq!(r.summary.reaped, 0);
    assert_eq!(r.summary.freed_bytes, 0);
    assert_eq!(
        r.summary_line(),
        "Would reap 2 stale patina processes, 2.0 MiB to free (dry run)"
    );
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["summary"]["would_reap"], 2);
    assert_eq!(v["summary"]["would_free_bytes"], 2 * 1024 * 1024);
    assert_eq!(v["processes"][0]["private_bytes"], 1024 * 1024);
    assert_eq!(v["processes"][2]["private_bytes"], serde_json::Value::Null);
}

#[test]
fn json_escapes_terminal_controls_and_keeps_the_text_exact() {
    let mut r = Report::new(86_400, 5, false, vec!["patina".into()]);
    let mut p = sample(Outcome::Terminated, None);
    p.argv = argv(&["patina", "\u{9b}31m\u{202e}x\u{7f}\u{1b}é"]);
    r.push(p.clone());
    let json = r.to_json();
    assert!(!json.chars().any(|c| c.is_control()), "{json}");
    assert!(json.contains("\\u009b31m\\u202ex\\u007f\\u001bé"), "{json}");
    let back: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back["processes"][0]["argv"][1], p.argv[1]);
}

#[test]
fn json_has_the_documented_shape() {
    let mut r = Report::new(86_400, 5, false, vec!["patina".into()]);
    r.push(sample(Outcome::Terminated, None));
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["threshold_secs"], 86_400);
    assert_eq!(v["grace_secs"], 5);
    assert_eq!(v["dry_run"], false);
    assert_eq!(v["disabled"], false);
    let p = &v["processes"][0];
    assert_eq!(p["pid"], 12345);
    assert_eq!(p["outcome"], "terminated");
    assert_eq!(p["reason"], serde_json::Value::Null);
    assert_eq!(p["argv"][1], "serve");
    assert_eq!(v["summary"]["reaped"], 1);
    assert_eq!(v["summary"]["freed_bytes"], 1_288_490_188u64);
    assert_eq!(v["summary"]["would_reap"], 0);
    assert_eq!(v["summary"]["would_free_bytes"], 0);
    assert_eq!(p["private_bytes"], serde_json::Value::Null);
    assert!(v.get("names").is_none());
}

/// Property tests; `PROPTEST_CASES=100000 cargo test proptests` runs them longer.
mod proptests {
    use super::*;
    use proptest::prelude::*;

    use crate::text::testing::{drives_a_terminal, hostile};

    proptest! {
        #[test]
        fn a_shown_command_is_one_short_safe_line(
            argv in prop::collection::vec(hostile(), 0..6),
            name in "[a-z]{1,15}",
        ) {
            let shown = display_command(&argv, &name);
            prop_assert!(!shown.chars().any(drives_a_terminal), "{shown:?}");
            prop_assert!(shown.chars().count() <= MAX_COMMAND + 1);
        }

        #[test]
        fn json_carries_argv_text_exactly(
            argv in prop::collection::vec(hostile(), 0..6),
            raw in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 0..4),
        ) {
            let mut argv = argv;
            argv.extend(lossy_argv(&raw));
            let report = ProcessReport {
                pid: 1,
                name: "patina".into(),
                command: argv.join(" "),
                argv: argv.clone(),
                uid: 0,
                age_secs: 0,
                rss_bytes: 0,
                private_bytes: None,
                outcome: Outcome::WouldReap,
                reason: None,
                ppid: 1,
                trigger: Some(Trigger::Age),
                first_signal: Some(Signal::Term),
                parent_name: None,
                socket: None,
            };
            let mut r = Report::new(0, 0, true, vec!["patina".into()]);
            r.push(report);
            let json = r.to_json();
            // One line, with nothing a terminal acts on, and still exact.
            prop_assert!(!json.bytes().any(|b| b < 0x20));
            prop_assert!(!json.chars().any(needs_json_escape), "{json}");
            let back: serde_json::Value = serde_json::from_str(&json).unwrap();
            let got: Vec<&str> = back["processes"][0]["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            prop_assert_eq!(got, argv.iter().map(String::as_str).collect::<Vec<_>>());
            prop_assert_eq!(back["processes"][0]["command"].as_str().unwrap(), argv.join(" "));
        }

        #[test]
        fn sizes_never_panic_and_keep_their_unit(bytes in any::<u64>()) {
            let text = format_bytes(bytes);
            prop_assert!(text.ends_with(" B") || text.ends_with("iB"), "{text}");
        }
    }
}
