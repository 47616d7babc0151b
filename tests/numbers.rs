//! Numbers a script can rely on: a dry run's totals, and memory counted as what ending a
//! process frees (its private pages), not its resident size with shared libraries.

use std::time::Duration;

use crate::common::*;

/// On Linux's `/proc` backend private memory is known; `ps` only knows the resident size.
fn private_known() -> bool {
    exact_argv()
}

#[test]
fn a_dry_run_summary_counts_what_it_would_reap_and_free() {
    let mut sb = Sandbox::new();
    let a = sb.spawn_sleeper();
    let b = sb.spawn_sleeper();
    let (doc, out) = sb.run_json(&["-n", "-t", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = &doc["summary"];
    assert_eq!(summary["would_reap"], 2, "{doc}");
    assert_eq!(summary["reaped"], 0);
    assert_eq!(summary["freed_bytes"], 0);
    let expected: u64 = [a, b]
        .iter()
        .map(|&pid| {
            let e = entry(&doc, pid).unwrap();
            e["private_bytes"]
                .as_u64()
                .unwrap_or_else(|| e["rss_bytes"].as_u64().unwrap())
        })
        .sum();
    assert!(expected > 0);
    assert_eq!(summary["would_free_bytes"], expected, "{doc}");
    // Nothing stale: a CI step can gate on `.summary.would_reap == 0`.
    let (doc, _) = sb.run_json(&["-n", "-t", "1h"]);
    assert_eq!(doc["summary"]["would_reap"], 0, "{doc}");
    assert!(sb.alive(a) && sb.alive(b));
}

#[test]
fn reaped_memory_is_private_memory_where_it_is_known() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let (doc, out) = sb.run_json(&["-t", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = entry(&doc, pid).unwrap();
    assert_eq!(e["outcome"], "terminated");
    let rss = e["rss_bytes"].as_u64().unwrap();
    if private_known() {
        let private = e["private_bytes"].as_u64().expect("private_bytes");
        // A sleeper's resident size is mostly shared libraries.
        assert!(private > 0 && private < rss, "{private} vs {rss}");
        assert_eq!(doc["summary"]["freed_bytes"], private);
    } else {
        assert!(e["private_bytes"].is_null(), "{e}");
        assert_eq!(doc["summary"]["freed_bytes"], rss);
    }
    assert!(sb.exits_within(pid, Duration::from_secs(5)));
}

#[test]
fn the_summary_line_says_up_to_where_it_counts_resident_memory() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let out = sb.run(&["-t", "0s", "--color", "never"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let summary = text.lines().last().unwrap();
    assert!(summary.ends_with(" freed"), "{summary}");
    assert_eq!(summary.contains(", up to "), !private_known(), "{summary}");
    assert!(sb.exits_within(pid, Duration::from_secs(5)));
}

#[test]
fn kept_processes_have_no_private_memory_read() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let (doc, _) = sb.run_json(&["-n", "-t", "1h"]);
    let e = entry(&doc, pid).unwrap();
    assert_eq!(e["outcome"], "skipped");
    assert!(e["private_bytes"].is_null(), "{e}");
    assert!(sb.alive(pid));
}
