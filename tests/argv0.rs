//! An argv[0] with white space: one path when it names the executable, even through a
//! symlink, else its first word (Linux: decided with `/proc/PID/exe`).

use std::path::Path;

use crate::common::*;

/// A symlink at `dir/file` to the test sleeper (another program, under its own path).
fn symlink_to_sleeper(dir: &Path, file: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let link = dir.join(file);
    std::os::unix::fs::symlink(sleeper(), &link).unwrap();
    link
}

/// `/opt/NAME tools/indexer`, a symlink to another program, is `indexer`: its first
/// word's basename is NAME, but the whole argv[0] resolves to the executable. Before,
/// only an argv[0] equal to the executable's path counted as one path, so this one was
/// matched (and reaped) as NAME. `/opt/other tools/NAME` through a symlink is NAME.
#[cfg(target_os = "linux")]
#[test]
fn an_argv0_that_resolves_to_the_executable_through_a_symlink_is_one_path() {
    let mut sb = Sandbox::new();
    let name = sb.name.clone();
    let tools = sb.dir.path().join(format!("{name} tools"));
    let indexer = symlink_to_sleeper(&tools, "indexer");
    let absolute = sb.spawn_orphan(&indexer, &indexer, |cmd| {
        cmd.arg("1000");
    });
    // The same argv[0] relative to the process's working directory.
    let relative_argv0 = format!("{name} tools/indexer");
    let cwd = sb.dir.path().to_owned();
    let relative = sb.spawn_orphan(&indexer, &relative_argv0, |cmd| {
        cmd.arg("1000").current_dir(&cwd);
    });
    let ours = symlink_to_sleeper(&sb.dir.path().join("other tools"), &name);
    let named = sb.spawn_orphan(&ours, &ours, |cmd| {
        cmd.arg("1000");
    });
    // A title, not a path (exec -a): its first word.
    let title = sb.spawn_with_argv0(&format!("{name} serve --test"), &["1000"]);
    for pid in [absolute, relative] {
        assert!(argv0_of(pid).is_some_and(|a| a.contains(&b' ')), "{pid}");
    }

    // The /proc backend: ps shows only the space-joined command line, so it cannot
    // tell where argv[0] ends.
    let out = sb
        .reaper()
        .env("PATINA_REAP_BACKEND", "proc")
        .args(["--threshold", "0s", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome(&doc, absolute), "absent", "{doc}");
    assert_eq!(outcome(&doc, relative), "absent", "{doc}");
    assert_eq!(outcome(&doc, named), "terminated", "{doc}");
    assert_eq!(outcome(&doc, title), "terminated", "{doc}");
    assert!(
        sb.alive(absolute) && sb.alive(relative),
        "an indexer was signalled"
    );
    assert!(sb.exits_within(named, std::time::Duration::from_secs(5)));
    assert!(sb.exits_within(title, std::time::Duration::from_secs(5)));
}
