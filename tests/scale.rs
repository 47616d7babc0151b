//! Many stale processes at once, and several reapers racing over the same set.

use std::collections::HashMap;
#[cfg(target_os = "linux")]
use std::process::Command;
use std::time::Duration;

use crate::common::*;

const EXIT: Duration = Duration::from_secs(20);

/// Start `n` stale sleepers, `ignorers` of them ignoring SIGTERM, plus lookalikes that
/// must survive. Returns (stale, innocent) pids.
fn populate(
    sb: &mut Sandbox,
    n: usize,
    ignorers: usize,
    lookalikes: usize,
) -> (Vec<u32>, Vec<u32>) {
    let mut stale = Vec::with_capacity(n);
    for i in 0..n {
        stale.push(if i < ignorers {
            sb.spawn_term_ignorer()
        } else {
            sb.spawn_sleeper()
        });
    }
    let name = sb.name.clone();
    let innocent = (0..lookalikes)
        .map(|i| sb.spawn_with_argv0(&format!("{name}-{i}"), &["1000"]))
        .collect();
    (stale, innocent)
}

#[test]
fn five_hundred_stale_processes_are_reaped_in_one_run() {
    let mut sb = Sandbox::new();
    let (stale, innocent) = populate(&mut sb, 500, 10, 20);
    let zombies: Vec<u32> = (0..10).map(|_| sb.spawn_zombie()).collect();

    let (doc, out) = sb.run_json(&["--threshold", "0s", "--grace", "2s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for (i, &pid) in stale.iter().enumerate() {
        let expected = if i < 10 { "killed" } else { "terminated" };
        assert_eq!(outcome(&doc, pid), expected, "{pid}");
    }
    assert_eq!(doc["summary"]["reaped"], 500);
    assert_eq!(doc["summary"]["failed"], 0);
    for &pid in &stale {
        assert!(sb.exits_within(pid, EXIT), "{pid} still running");
    }
    for pid in innocent {
        assert_eq!(outcome(&doc, pid), "absent");
        assert!(sb.alive(pid), "{pid} was hit");
    }
    for pid in zombies {
        assert_eq!(entry(&doc, pid).unwrap()["reason"], "zombie");
        assert_eq!(state(pid), Some('Z'));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn with_few_file_descriptors_pidfds_come_in_batches_and_all_are_reaped() {
    // 120 targets and a hard limit of 40 descriptors: the pidfds cannot all be open at
    // once, so the reaper escalates batch after batch.
    let mut sb = Sandbox::new();
    let (stale, innocent) = populate(&mut sb, 120, 3, 5);
    let out = sb
        .private_tmp(&mut Command::new(which("prlimit")))
        .args(["--nofile=40:40", "--"])
        .arg(reaper_bin())
        .args([
            "--name",
            &sb.name,
            "--threshold",
            "0s",
            "--grace",
            "1s",
            "--json",
        ])
        .env_remove("PATINA_REAP_THRESHOLD")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (i, &pid) in stale.iter().enumerate() {
        let expected = if i < 3 { "killed" } else { "terminated" };
        assert_eq!(outcome(&doc, pid), expected, "{pid}");
        assert!(sb.exits_within(pid, EXIT), "{pid} still running");
    }
    assert_eq!(doc["summary"]["reaped"], 120);
    assert_eq!(doc["summary"]["failed"], 0);
    for pid in innocent {
        assert!(sb.alive(pid), "{pid} was hit");
    }
}

/// Run `reapers` reapers at once over one set and check that they shared it cleanly.
fn race(reapers: usize) {
    let mut sb = Sandbox::new();
    let (stale, innocent) = populate(&mut sb, 150, 10, 10);
    let children: Vec<_> = (0..reapers)
        .map(|_| {
            sb.reaper()
                .args(["--threshold", "0s", "--grace", "1s", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let docs: Vec<serde_json::Value> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .collect();

    let mut claims: HashMap<u32, usize> = HashMap::new();
    for doc in &docs {
        assert_eq!(doc["summary"]["failed"], 0, "{doc}");
        for p in doc["processes"].as_array().unwrap() {
            let pid = p["pid"].as_u64().unwrap() as u32;
            assert!(stale.contains(&pid), "an unknown process was listed: {p}");
            match p["outcome"].as_str().unwrap() {
                "terminated" | "killed" => *claims.entry(pid).or_default() += 1,
                "vanished" => {}
                // Exited already and not yet collected by this test.
                "skipped" => assert_eq!(p["reason"], "zombie", "{p}"),
                other => panic!("{pid}: {other}"),
            }
        }
    }
    let twice = claims.values().filter(|&&n| n > 1).count();
    eprintln!(
        "{reapers} reapers over {} stale processes: {} claimed by more than one reaper",
        stale.len(),
        twice
    );
    // Reapers of the same name take turns, so each process is reported reaped once.
    assert_eq!(
        twice, 0,
        "processes reported reaped by more than one reaper"
    );
    for &pid in &stale {
        assert_eq!(claims.get(&pid), Some(&1), "{pid} unclaimed");
        assert!(sb.exits_within(pid, EXIT), "{pid} still running");
    }
    for pid in innocent {
        assert!(sb.alive(pid), "{pid} was hit");
    }
}

#[test]
fn two_reapers_at_once_share_the_work_and_hit_nothing_else() {
    race(2);
}

#[test]
fn five_reapers_at_once_share_the_work_and_hit_nothing_else() {
    race(5);
}

#[test]
fn reapers_racing_a_forking_process_hit_only_its_family() {
    let mut sb = Sandbox::new();
    let strays = Strays::under(sb.dir.path());
    let innocent = sb.spawn_with_argv0(&format!("{}x", sb.name), &["1000"]);
    let mut forkers = Vec::new();
    for _ in 0..10 {
        let mut cmd = orphan_command(sb.sleeper_path());
        cmd.arg("1000").env("SLEEPER_FORK_ON_TERM", "1");
        forkers.push(sb.spawn_launched(cmd));
    }
    // Three rounds of three concurrent reapers: each forker's child appears after
    // some scan and is found by a later one.
    for _ in 0..3 {
        let children: Vec<_> = (0..3)
            .map(|_| {
                sb.reaper()
                    .args(["--threshold", "0s", "--grace", "1s", "--json"])
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success());
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(doc["summary"]["failed"], 0, "{doc}");
            assert_eq!(outcome(&doc, innocent), "absent");
        }
    }
    for pid in forkers {
        assert!(sb.exits_within(pid, EXIT));
    }
    // The children reset SIGTERM: none may outlive the rounds after its birth.
    let deadline = std::time::Instant::now() + EXIT;
    loop {
        let left: Vec<u32> = strays
            .pids()
            .into_iter()
            .filter(|&p| p != innocent && proc_state_and_start(p).is_some_and(|(s, _)| s != 'Z'))
            .collect();
        if left.is_empty() {
            break;
        }
        if std::time::Instant::now() > deadline {
            // One more reaper run must find them.
            let (doc, _) = sb.run_json(&["--threshold", "0s"]);
            panic!("children left after three rounds: {left:?}; a fourth run: {doc}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(sb.alive(innocent));
}
