//! Processes crafted to confuse the reaper: odd names and arguments, lookalikes, other
//! users, deep ancestry, stubborn and forking processes. Each case checks by liveness
//! afterwards that exactly the right processes were hit.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use crate::common::*;

const EXIT: Duration = Duration::from_secs(10);

/// Whether the backend under test reads exact argv bytes (`/proc`); `ps` prints the
/// space-joined command line with non-printable bytes replaced.
fn exact_argv_backend() -> bool {
    std::env::var("PATINA_REAP_BACKEND").map_or(true, |b| b != "ps")
}

/// Wait until `/proc/PID/comm` reads `comm` (prctl runs after exec).
fn wait_for_comm(pid: u32, comm: &[u8]) {
    let want: Vec<u8> = comm.iter().take(15).copied().collect();
    let deadline = std::time::Instant::now() + EXIT;
    loop {
        let now = std::fs::read(format!("/proc/{pid}/comm")).unwrap_or_default();
        if now.strip_suffix(b"\n") == Some(&want[..]) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "comm never became {want:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_comm_with_spaces_and_parentheses_does_not_shift_the_stat_fields() {
    let mut sb = Sandbox::new();
    let name = sb.name.clone();
    // Each imitates the fields that follow comm in /proc/PID/stat.
    let tricky = [") R 1 1 1 0 -1", "a) b (c", "x\ny) Z (0 0", "((((", "))))"];
    let mut targets = Vec::new();
    for comm in tricky {
        let mut cmd = orphan_command(sb.sleeper_path());
        cmd.arg("1000").env("SLEEPER_COMM", comm);
        let pid = sb.spawn_launched(cmd);
        wait_for_comm(pid, comm.as_bytes());
        targets.push(pid);
    }
    // Innocent: comm claims the name, argv[0] is another program.
    let mut innocents = Vec::new();
    for comm in [name.clone(), format!("({name}) S 1")] {
        let mut cmd = orphan_command(sleeper());
        cmd.arg0("innocent").arg("1000").env("SLEEPER_COMM", &comm);
        let pid = sb.spawn_launched(cmd);
        wait_for_comm(pid, comm.as_bytes());
        innocents.push(pid);
    }

    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let me = rustix::process::geteuid().as_raw();
    for &pid in &targets {
        let e = entry(&doc, pid).expect("named by argv[0], found whatever its comm");
        assert_eq!(e["outcome"], "terminated", "{e}");
        // A shifted parse would read another field as the start time or uid.
        assert!(e["age_secs"].as_u64().unwrap() < 3600, "{e}");
        assert_eq!(e["uid"], me);
        assert!(e["rss_bytes"].as_u64().unwrap() > 0, "{e}");
        assert!(sb.exits_within(pid, EXIT));
    }
    for pid in innocents {
        assert_eq!(outcome(&doc, pid), "absent");
        assert!(sb.alive(pid), "a process matched by comm alone was hit");
    }
}

#[test]
fn an_empty_argv_falls_back_to_comm_and_nothing_else() {
    let mut sb = Sandbox::new();
    // Re-executed with argc 0: the kernel's comm is the link's name.
    let mut cmd = orphan_command(sleeper());
    cmd.env("SLEEPER_EMPTY_ARGV", sb.sleeper_path());
    let named = sb.spawn_launched(cmd);
    // The same with another program name: no argv, comm does not match.
    let other = sb.link(sleeper(), "not-it");
    let mut cmd = orphan_command(sleeper());
    cmd.env("SLEEPER_EMPTY_ARGV", &other);
    let unnamed = sb.spawn_launched(cmd);
    for pid in [named, unnamed] {
        let deadline = std::time::Instant::now() + EXIT;
        while argv0_of(pid).is_none_or(|a| !a.is_empty()) {
            assert!(std::time::Instant::now() < deadline, "argv never emptied");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    wait_for_comm(named, sb.name.as_bytes());
    if !exact_argv_backend() {
        // ps shows no argv, only `[comm]`: the one it must not touch is the other.
        let (doc, _) = sb.run_json(&["--threshold", "0s"]);
        assert_eq!(outcome(&doc, unnamed), "absent");
        assert!(sb.alive(unnamed));
        skip("the comm fallback: the ps backend has no empty argv");
        return;
    }

    let out = sb.run(&["--threshold", "0s", "--dry-run", "--color", "never"]);
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "Would clean up stale [{}] (PID {named}, ",
            sb.name
        )),
        "{text}"
    );
    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = entry(&doc, named).expect("matched by comm");
    assert_eq!(e["argv"], serde_json::json!([]));
    assert_eq!(e["command"], "");
    assert_eq!(e["outcome"], "terminated");
    assert!(sb.exits_within(named, EXIT));
    assert_eq!(outcome(&doc, unnamed), "absent");
    assert!(sb.alive(unnamed));
}

#[test]
fn argv0_is_judged_by_the_basename_of_its_first_word() {
    let mut sb = Sandbox::new();
    let name = sb.name.clone();
    let dir = sb.dir.path().display().to_string();
    // First word `<dir>/some`: not the name, though the name ends the text.
    let spaced_dir = sb.spawn_with_argv0(&format!("{dir}/some dir/{name}"), &["1000"]);
    let spaced_file = sb.spawn_with_argv0(&format!("{dir}/bin/x {name}"), &["1000"]);
    // First word `<dir>/<name>`: the name, whatever follows the space.
    let titled = sb.spawn_with_argv0(&format!("{dir}/{name} dir/bin/other"), &["1000"]);
    let plain = sb.spawn_with_argv0(&format!("{dir}/{name}"), &["1000"]);

    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for pid in [spaced_dir, spaced_file] {
        assert_eq!(outcome(&doc, pid), "absent");
        assert!(sb.alive(pid), "{pid} was hit");
    }
    for pid in [titled, plain] {
        assert_eq!(outcome(&doc, pid), "terminated");
        assert!(sb.exits_within(pid, EXIT));
    }
}

#[test]
fn non_utf8_arguments_are_matched_by_bytes_and_shown_safely() {
    let mut sb = Sandbox::new();
    let name = sb.name.clone();
    let dir = sb.dir.path().as_os_str().as_bytes().to_vec();
    let bytes_arg0 = |parts: &[&[u8]]| -> Vec<u8> { parts.concat() };

    let mut cmd = orphan_command(sleeper());
    let odd_dir = bytes_arg0(&[&dir, b"/\xff\xfedir/", name.as_bytes()]);
    cmd.arg0(OsStr::from_bytes(&odd_dir))
        .arg(OsStr::from_bytes(b"caf\xe9"))
        .arg(OsStr::from_bytes(b"\xff\x9b[2J"))
        .arg("ok");
    let target = sb.spawn_launched(cmd);
    let mut innocents = Vec::new();
    for arg0 in [
        bytes_arg0(&[b"\xff", name.as_bytes()]),
        bytes_arg0(&[name.as_bytes(), b"\xff"]),
        bytes_arg0(&[&dir, b"/", name.as_bytes(), b"\xc0"]),
    ] {
        let mut cmd = orphan_command(sleeper());
        cmd.arg0(OsStr::from_bytes(&arg0)).arg("1000");
        innocents.push(sb.spawn_launched(cmd));
    }

    let out = sb.run(&["--threshold", "0s", "--dry-run", "--color", "never"]);
    let text = String::from_utf8(out.stdout.clone()).expect("human output is UTF-8");
    assert!(!has_terminal_control(&text), "{text:?}");
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        !exact_argv_backend()
            || text.contains(&format!(
                "{name} caf\u{fffd} \u{fffd}\u{fffd}[2J ok (PID {target}"
            )),
        "{text}"
    );

    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = entry(&doc, target).unwrap();
    assert_eq!(e["outcome"], "terminated");
    // Bytes that are not UTF-8 become U+FFFD, one per invalid sequence.
    if exact_argv_backend() {
        assert_eq!(
            e["argv"],
            serde_json::json!([
                String::from_utf8_lossy(&odd_dir),
                "caf\u{fffd}",
                "\u{fffd}\u{fffd}[2J",
                "ok"
            ])
        );
    }
    assert!(sb.exits_within(target, EXIT));
    for pid in innocents {
        assert_eq!(outcome(&doc, pid), "absent");
        assert!(sb.alive(pid));
    }
}

#[test]
fn very_long_command_lines_are_reported_whole() {
    let mut sb = Sandbox::new();
    // Past the 4 KiB peek, past a page, and one argument larger than both.
    let args: Vec<String> = (0..40)
        .map(|i| format!("{i}:{}", "a".repeat(500)))
        .chain(["b".repeat(70_000), "tail with spaces\nand a newline".into()])
        .collect();
    let mut cmd = orphan_command(sb.sleeper_path());
    cmd.args(&args);
    let pid = sb.spawn_launched(cmd);
    let path = sb.sleeper_path().display().to_string();

    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = entry(&doc, pid).unwrap();
    let mut expected = vec![path];
    expected.extend(args);
    if exact_argv_backend() {
        assert_eq!(e["argv"], serde_json::json!(expected));
        assert_eq!(e["command"], expected.join(" "));
    } else {
        // Not cut short, whatever ps made of the newline.
        let command = e["command"].as_str().unwrap();
        assert!(command.contains(&"b".repeat(70_000)));
        assert_eq!(command.len(), expected.join(" ").len());
    }
    assert_eq!(e["outcome"], "terminated");
    assert!(sb.exits_within(pid, EXIT));
}

/// The argv[0] `/<d...d>/<name><suffix>` whose `/<d...d>/<name>` is exactly 4096 bytes.
fn argv0_cut_at_the_peek(name: &str, suffix: &str) -> String {
    let pad = 4096 - 2 - name.len();
    format!("/{}/{name}{suffix}", "d".repeat(pad))
}

#[test]
fn an_argv0_longer_than_the_peek_is_judged_whole() {
    let mut sb = Sandbox::new();
    let name = sb.name.clone();
    // A lookalike whose first 4096 bytes end in `/<name>`: not the name.
    let lookalike = sb.spawn_with_argv0(&argv0_cut_at_the_peek(&name, "-index"), &["1000"]);
    // The name itself at the end of a path longer than the peek.
    let target = sb.spawn_with_argv0(&format!("/{}/{name}", "d".repeat(5000)), &["1000"]);
    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(outcome(&doc, lookalike), "absent");
    assert!(
        sb.alive(lookalike),
        "a lookalike with a long argv[0] was hit"
    );
    assert_eq!(outcome(&doc, target), "terminated");
    assert!(sb.exits_within(target, EXIT));
}

#[test]
fn lookalike_names_are_never_touched() {
    let mut sb = Sandbox::new();
    let name = sb.name.clone();
    let upper = name.to_uppercase();
    let homoglyph = name.replacen('p', "\u{440}", 1); // Cyrillic er
    let lookalikes = [
        upper.as_str(),
        homoglyph.as_str(),
        &format!("{name}\u{a0}serve"), // no-break space is not white space
        &format!("{name}/"),
        &format!("{name}.sh"),
        &format!("-{name}"),
        &format!("{name}-index"),
        &format!("{name}d"),
        &format!("x{name}"),
        &format!("{name}\u{200b}"),
        &format!("/{name}/bin/serve"),
        &format!("{name}:serve"),
    ]
    .map(str::to_owned);
    let mut innocents = Vec::new();
    for arg0 in &lookalikes {
        innocents.push(sb.spawn_with_argv0(arg0, &["1000"]));
    }
    // Arguments naming it, with the comm agreeing too.
    let mut cmd = Command::new(sleeper());
    cmd.arg0("sh")
        .args(["-c", &format!("exec {name} serve"), &name])
        .env("SLEEPER_COMM", &name);
    innocents.push(sb.spawn(cmd));
    // Controls that do match: ./name, a tab-separated title, a plain name.
    let mut matches = vec![
        sb.spawn_with_argv0(&format!("./{name}"), &["1000"]),
        sb.spawn_with_argv0(&name, &[]),
    ];
    // ps shows a tab as `?`: only /proc sees this title's first word.
    if exact_argv_backend() {
        matches.push(sb.spawn_with_argv0(&format!("{name}\tserve"), &["1000"]));
    }

    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for (pid, arg0) in innocents.iter().zip(lookalikes.iter().chain([&name])) {
        assert_eq!(outcome(&doc, *pid), "absent", "{arg0:?}");
        assert!(sb.alive(*pid), "{arg0:?} was hit");
    }
    for pid in matches {
        assert_eq!(outcome(&doc, pid), "terminated");
        assert!(sb.exits_within(pid, EXIT));
    }
}

#[test]
fn other_users_processes_are_safe_from_a_reaper_run_by_another_user() {
    if !is_root() {
        skip("needs root to start processes as other uids");
        return;
    }
    let mut sb = Sandbox::new();
    let as_uid = |sb: &mut Sandbox, uid: u32| {
        let mut cmd = orphan_command(sb.sleeper_path());
        cmd.arg("1000").uid(uid).gid(uid);
        sb.spawn_launched(cmd)
    };
    let roots = sb.spawn_sleeper();
    let other = as_uid(&mut sb, 65533);
    let own = as_uid(&mut sb, 65534);

    // Run as nobody: only nobody's own process is in reach.
    let mut cmd = sb.reaper();
    cmd.args(["--threshold", "0s", "--json"])
        .uid(65534)
        .gid(65534);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome(&doc, roots), "absent");
    assert_eq!(outcome(&doc, other), "absent");
    assert_eq!(outcome(&doc, own), "terminated");
    assert!(sb.exits_within(own, EXIT));

    // With --all-users it sees the others, cannot signal them, and says so.
    let mut cmd = sb.reaper();
    cmd.args(["--threshold", "0s", "--json", "--all-users"])
        .uid(65534)
        .gid(65534);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for pid in [roots, other] {
        let e = entry(&doc, pid).unwrap();
        assert_eq!(e["outcome"], "failed", "{e}");
        assert!(e["reason"].as_str().unwrap().contains("EPERM"), "{e}");
        assert!(sb.alive(pid), "{pid} was hit");
    }
    assert_eq!(entry(&doc, other).unwrap()["uid"], 65533);
}

#[test]
fn ancestors_several_levels_up_are_kept() {
    // name -> sh -> name -> sh -> name -> sh -> patina-reap, beside a stale sibling.
    let mut sb = Sandbox::new();
    let sibling = sb.spawn_sleeper();
    // Not `sb.link`: the sleeper holds the name in the sandbox's top directory.
    std::fs::create_dir(sb.dir.path().join("bin")).unwrap();
    let named_sh = sb.dir.path().join("bin").join(&sb.name);
    std::os::unix::fs::symlink(which("sh"), &named_sh).unwrap();
    let script = sb.dir.path().join("level.sh");
    let out_file = sb.dir.path().join("report.json");
    let pids_file = sb.dir.path().join("pids");
    std::fs::write(
        &script,
        format!(
            r#"echo $$ >> "{pids}"
n=$1
if [ "$n" -eq 0 ]; then
  "{bin}" --name {name} --threshold 0s --json > "{out}"
elif [ $((n % 2)) -eq 0 ]; then
  "{named}" "$0" $((n - 1))
else
  sh "$0" $((n - 1))
fi
true
"#,
            pids = pids_file.display(),
            bin = reaper_bin(),
            name = sb.name,
            out = out_file.display(),
            named = named_sh.display(),
        ),
    )
    .unwrap();
    let mut cmd = Command::new(&named_sh);
    cmd.arg(&script).arg("6");
    let top = sb.spawn(cmd);
    assert!(sb.exits_within(top, Duration::from_secs(30)));
    let pids: Vec<u32> = std::fs::read_to_string(&pids_file)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 7, "{pids:?}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    // pids[i] ran level 6 - i: levels 6 (the one we started), 5, 3 and 1 run the
    // shell under the name, levels 4, 2 and 0 plain sh.
    assert_eq!(pids[0], top);
    for i in [0, 1, 3, 5] {
        let e = entry(&doc, pids[i]).expect("named ancestor listed");
        assert_eq!(e["outcome"], "skipped", "{e}");
        assert_eq!(e["reason"], "ancestor", "{e}");
    }
    for i in [2, 4, 6] {
        assert_eq!(outcome(&doc, pids[i]), "absent");
    }
    assert_eq!(outcome(&doc, sibling), "terminated");
    assert!(sb.exits_within(sibling, EXIT));
}

#[test]
fn processes_that_ignore_sigterm_are_killed_and_children_are_not_spared() {
    let mut sb = Sandbox::new();
    let strays = Strays::under(sb.dir.path());
    let stubborn = sb.spawn_term_ignorer();
    // A stubborn parent with a stubborn child of the same name.
    let mut cmd = orphan_command(sb.sleeper_path());
    cmd.arg("1000")
        .env("SLEEPER_IGNORE_TERM", "1")
        .env("SLEEPER_FORK", "1");
    let parent = sb.spawn_launched(cmd);
    let child = wait_for_forked_child(&strays, &[stubborn, parent]);
    let child_start = proc_state_and_start(child).unwrap().1;

    let (doc, out) = sb.run_json(&["--threshold", "0s", "--grace", "1s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for pid in [stubborn, parent] {
        assert_eq!(outcome(&doc, pid), "killed", "{pid}");
    }
    // While its parent lives the child is attached to it; once adopted, it goes too.
    let e = entry(&doc, child).unwrap();
    assert_eq!(
        (&e["outcome"], &e["reason"]),
        (&"skipped".into(), &"attached".into())
    );
    assert_eq!(e["ppid"], parent);
    assert!(sb.exits_within(stubborn, EXIT));
    assert!(sb.exits_within(parent, EXIT));
    assert_eq!(doc["summary"]["reaped"], 2);
    assert_adopted(child);
    let (doc, out) = sb.run_json(&["--threshold", "0s", "--grace", "1s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(outcome(&doc, child), "killed");
    assert!(exited_within(child, child_start, EXIT));
}

/// The one process started from the sandbox that is none of `known`.
fn wait_for_forked_child(strays: &Strays, known: &[u32]) -> u32 {
    let deadline = std::time::Instant::now() + EXIT;
    loop {
        let new: Vec<u32> = strays
            .pids()
            .into_iter()
            .filter(|p| !known.contains(p))
            .collect();
        if let [pid] = new[..] {
            return pid;
        }
        assert!(new.len() < 2, "{new:?}");
        assert!(std::time::Instant::now() < deadline, "no child forked");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_parent_and_its_forked_child_are_each_reaped_once() {
    let mut sb = Sandbox::new();
    let strays = Strays::under(sb.dir.path());
    let innocent = sb.spawn_with_argv0(&format!("{}-worker", sb.name), &["1000"]);
    let mut cmd = orphan_command(sb.sleeper_path());
    cmd.arg("1000").env("SLEEPER_FORK", "1");
    let parent = sb.spawn_launched(cmd);
    let child = wait_for_forked_child(&strays, &[parent, innocent]);
    let child_start = proc_state_and_start(child).unwrap().1;

    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(outcome(&doc, parent), "terminated");
    assert_eq!(entry(&doc, child).unwrap()["reason"], "attached");
    assert!(sb.exits_within(parent, EXIT));
    // Adopted once its parent is gone: the next run reaps it, once.
    assert_adopted(child);
    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(outcome(&doc, child), "terminated");
    assert!(exited_within(child, child_start, EXIT));
    assert_eq!(outcome(&doc, innocent), "absent");
    assert!(sb.alive(innocent));
}

#[test]
fn a_process_that_forks_and_exits_on_sigterm_leaves_a_new_process_for_the_next_run() {
    let mut sb = Sandbox::new();
    let strays = Strays::under(sb.dir.path());
    let mut cmd = orphan_command(sb.sleeper_path());
    cmd.arg("1000").env("SLEEPER_FORK_ON_TERM", "1");
    let parent = sb.spawn_launched(cmd);

    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(outcome(&doc, parent), "terminated");
    assert_eq!(doc["processes"].as_array().unwrap().len(), 1, "{doc}");
    assert!(sb.exits_within(parent, EXIT));
    // The child was born after the scan: this run did not know it and left it alone.
    let child = wait_for_forked_child(&strays, &[parent]);
    let child_start = proc_state_and_start(child).unwrap().1;
    assert!(!has_exited(child, child_start));

    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(outcome(&doc, child), "terminated");
    assert!(exited_within(child, child_start, EXIT));
    assert_eq!(doc["summary"]["failed"], 0);
}

#[test]
fn zombies_stay_zombies_among_live_targets() {
    let mut sb = Sandbox::new();
    let zombies: Vec<u32> = (0..5).map(|_| sb.spawn_zombie()).collect();
    let live: Vec<u32> = (0..5).map(|_| sb.spawn_sleeper()).collect();
    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for &pid in &zombies {
        let e = entry(&doc, pid).unwrap();
        assert_eq!(e["reason"], "zombie", "{e}");
        assert_eq!(state(pid), Some('Z'));
    }
    for pid in live {
        assert_eq!(outcome(&doc, pid), "terminated");
        assert!(sb.exits_within(pid, EXIT));
    }
    assert_eq!(doc["summary"]["reaped"], 5);
}

/// `text` less the SGR color sequences (`ESC [ digits;... m`) the reaper itself writes
/// with `--color always`; argv above holds no raw SGR sequence that this could hide.
fn without_own_colors(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\u{1b}[") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 2..];
        let end = tail.find(|c: char| !(c.is_ascii_digit() || c == ';'));
        match end {
            Some(i) if tail[i..].starts_with('m') => rest = &tail[i + 1..],
            _ => {
                out.push_str("\u{1b}[");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Argument text chosen to drive a terminal if printed raw.
const HOSTILE: &[&str] = &[
    "\u{1b}[2J\u{1b}[H",               // clear screen, cursor home
    "\u{1b}]0;owned\u{7}",             // set the window title, BEL-terminated
    "\u{1b}]8;;http://x\u{1b}\\",      // hyperlink, ST-terminated
    "bell\u{7}\u{7}",                  // BEL
    "two\nlines\rback\u{8}\u{8}",      // newline, carriage return, backspace
    "\u{9b}31m\u{85}\u{9d}",           // C1: CSI, NEL, OSC
    "\u{202e}txt.exe\u{2066}\u{2069}", // bidi override and isolates
    "zero\u{200b}width\u{feff}",       // zero-width space, BOM
    "del\u{7f}tab\t",                  // DEL, tab
];

#[test]
fn no_output_line_carries_a_raw_control_character_from_another_process() {
    let mut sb = Sandbox::new();
    let name = sb.name.clone();
    let spawn_hostile = |sb: &mut Sandbox| {
        let mut cmd = orphan_command(sleeper());
        cmd.arg0(format!("{name} \u{1b}[31mtitle\u{7}"))
            .args(HOSTILE);
        sb.spawn_launched(cmd)
    };
    let pid = spawn_hostile(&mut sb);
    let check = |out: &std::process::Output, lines: usize| {
        for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = without_own_colors(&String::from_utf8(bytes.clone()).unwrap());
            assert!(!has_terminal_control(&text), "{what}: {text:?}");
        }
        assert_eq!(stdout(out).lines().count(), lines, "{}", stdout(out));
    };
    // Kept (young), would reap, reaped: one line each plus the summary.
    check(&sb.run(&["--threshold", "1h", "-v", "--color", "never"]), 2);
    check(
        &sb.run(&["--threshold", "0s", "-n", "--color", "always"]),
        2,
    );
    let (doc, _) = sb.run_json(&["--threshold", "0s", "--dry-run"]);
    let mut argv = vec![format!("{name} \u{1b}[31mtitle\u{7}")];
    argv.extend(HOSTILE.iter().map(|s| s.to_string()));
    if exact_argv_backend() {
        assert_eq!(entry(&doc, pid).unwrap()["argv"], serde_json::json!(argv));
        assert_eq!(entry(&doc, pid).unwrap()["command"], argv.join(" "));
    }
    check(&sb.run(&["--threshold", "0s", "--color", "never"]), 2);
    assert!(sb.exits_within(pid, EXIT));

    if is_root() {
        // A failure line on stderr shows the command too. (argv[0] is the plain name
        // here: one with white space in it is decided by /proc/PID/exe, which an ordinary
        // user cannot read for root's process, so that one is not matched at all.)
        let mut cmd = orphan_command(sleeper());
        cmd.arg0(&name).args(HOSTILE);
        let pid = sb.spawn_launched(cmd);
        let mut cmd = sb.reaper();
        cmd.args(["--threshold", "0s", "--all-users", "--color", "never"])
            .uid(65534);
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains(&format!("(PID {pid}, ")),
            "{}",
            stderr(&out)
        );
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        check(&out, 1);
        assert!(sb.alive(pid));
    } else {
        skip("the failure-line part: needs root to run the reaper as nobody");
    }
}
