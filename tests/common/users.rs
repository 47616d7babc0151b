//! Other users, for the tests that run as root: they exist only in a private copy of
//! /etc/passwd, bind-mounted in a private mount namespace where the reaper runs, never
//! on the machine. Their processes are started with their uid and gid.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{in_private_mounts, orphan_command, skip, stderr, Sandbox};

/// A user that only a private /etc/passwd knows: his name and his uid (and gid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    pub name: &'static str,
    pub uid: u32,
}

pub const ALICE: User = User {
    name: "alice",
    uid: 4242,
};
pub const BOB: User = User {
    name: "bob",
    uid: 4243,
};
pub const CAROL: User = User {
    name: "carol",
    uid: 4244,
};

/// /etc/passwd with `users` added, each with the home given.
pub fn passwd_with(users: &[(User, &Path)]) -> String {
    let mut text = std::fs::read_to_string("/etc/passwd").unwrap();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    for (user, home) in users {
        text.push_str(&format!(
            "{name}:x:{uid}:{uid}:{name}:{home}:/bin/sh\n",
            name = user.name,
            uid = user.uid,
            home = home.display()
        ));
    }
    text
}

/// `home/below` made with its parents, `home` and everything below it that leads there
/// belonging to `user`.
pub fn user_dir(user: User, home: &Path, below: &str) -> PathBuf {
    let path = home.join(below);
    std::fs::create_dir_all(&path).unwrap();
    let mut p = path.clone();
    loop {
        std::os::unix::fs::chown(&p, Some(user.uid), Some(user.uid)).unwrap();
        if p == home || !p.pop() {
            break;
        }
    }
    path
}

/// `program` (argv[0] its path) as `user`, an orphan, with `args` and `env`.
pub fn spawn_as(
    sb: &mut Sandbox,
    user: User,
    program: &Path,
    args: &[&str],
    env: &[(&str, &Path)],
) -> u32 {
    let mut cmd = orphan_command(program);
    cmd.args(args).uid(user.uid).gid(user.uid);
    for (key, value) in env {
        cmd.env(key, value);
    }
    sb.spawn_launched(cmd)
}

/// `cmd` (its program, arguments, environment changes and directory) run as `user`,
/// through setpriv(1) (root only): to be wrapped further, where `uid()` would apply to
/// the outermost program.
pub fn setpriv_as(user: User, cmd: &Command) -> Command {
    let mut wrapped = Command::new(super::which("setpriv"));
    wrapped
        .arg(format!("--reuid={}", user.uid))
        .arg(format!("--regid={}", user.uid))
        .arg("--clear-groups")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    super::carry_environment(cmd, &mut wrapped);
    wrapped
}

/// Run `cmd` (its program, arguments and environment) as root in a private mount
/// namespace whose /etc/passwd is `passwd`, with the sandbox's temporary directory.
/// `None` (with the reason printed) where that cannot be done.
pub fn with_passwd(sb: &Sandbox, passwd: &str, cmd: &Command) -> Option<Output> {
    let mut run =
        in_private_mounts(r#"mount --bind "$1" /etc/passwd || exit 99; shift; exec "$@""#)?;
    let file = sb.dir.path().join("passwd");
    std::fs::write(&file, passwd).unwrap();
    run.arg(&file).arg(cmd.get_program()).args(cmd.get_args());
    super::carry_environment(cmd, &mut run);
    sb.private_tmp(&mut run);
    let out = run.output().unwrap();
    if out.status.code() == Some(99) {
        skip("cannot bind-mount over /etc/passwd here");
        return None;
    }
    Some(out)
}

/// The reaper with the sandbox's name, `--json` and `args`, run as [`with_passwd`]
/// runs it, under `wrap` (a seccomp filter, say) if given; its JSON.
pub fn reaper_with_passwd(
    sb: &Sandbox,
    passwd: &str,
    wrap: Option<Command>,
    args: &[&str],
) -> Option<serde_json::Value> {
    let mut cmd = wrap.unwrap_or_else(|| Command::new(super::reaper_bin()));
    cmd.args(["--name", &sb.name, "--json"])
        .args(args)
        .env_remove("PATINA_REAP_THRESHOLD");
    let out = with_passwd(sb, passwd, &cmd)?;
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        stderr(&out)
    );
    Some(serde_json::from_slice(&out.stdout).expect("JSON"))
}

/// The reaper with `args`, as root with `passwd`: its JSON.
pub fn run_with_passwd(sb: &Sandbox, passwd: &str, args: &[&str]) -> Option<serde_json::Value> {
    reaper_with_passwd(sb, passwd, None, args)
}

/// A directory `root-only` under `dir` that only its owner (root, in the tests that use
/// it) may enter: where a system service's socket lives.
pub fn root_only_dir(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let private = dir.join("root-only");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    private
}
