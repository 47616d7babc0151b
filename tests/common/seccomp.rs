//! Sandboxes and old kernels, made for real: a command run under a seccomp filter that
//! makes chosen system calls fail with a chosen errno (ENOSYS as a kernel without the
//! call says, EPERM as a container profile that predates it says).
//!
//! ```ignore
//! use rustix::io::Errno;
//! use crate::common::seccomp::{self, Call};
//!
//! // The reaper with pidfds refused, and no netlink socket (AF_UNIX still works).
//! let Some(mut cmd) = seccomp::command(
//!     &[(Call::PidfdOpen, Errno::PERM), (Call::PidfdSendSignal, Errno::PERM),
//!       (Call::NetlinkSocket, Errno::PERM)],
//!     reaper_bin(),
//! ) else {
//!     return; // skipped: printed why (not Linux on x86_64/aarch64, no seccomp)
//! };
//! cmd.args(["--name", &name, "--threshold", "0s"]);
//! // Or wrap a command already made (program, arguments, environment, directory):
//! let Some(mut cmd) = seccomp::wrap(&[(Call::Clone3, Errno::NOSYS)], &sb.reaper()) else {
//!     return;
//! };
//! ```
//!
//! The filter is installed (after `no_new_privs`) by a small program,
//! `tests/common/seccomp_exec.rs`, built with rustc into `target/tmp` like the sleeper,
//! which then execs the program; every child and exec of it inherits the filter. The
//! filter checks the audit arch: a call through a foreign ABI (i386, x32) kills the
//! process rather than slip past.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use rustix::io::Errno;

use super::{rustc_built, skip, stdout};

/// A system call the filter can make fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    PidfdOpen,
    PidfdSendSignal,
    Openat2,
    Clone3,
    /// socket(2) when its first argument is AF_NETLINK only: AF_UNIX and the other
    /// families still work.
    NetlinkSocket,
}

impl Call {
    /// Every call the filter knows.
    pub const ALL: [Call; 5] = [
        Call::PidfdOpen,
        Call::PidfdSendSignal,
        Call::Openat2,
        Call::Clone3,
        Call::NetlinkSocket,
    ];

    /// The helper's name for the call (also what `--probe` prints).
    pub fn name(self) -> &'static str {
        match self {
            Call::PidfdOpen => "pidfd_open",
            Call::PidfdSendSignal => "pidfd_send_signal",
            Call::Openat2 => "openat2",
            Call::Clone3 => "clone3",
            Call::NetlinkSocket => "socket-netlink",
        }
    }
}

/// The helper program, built once; or why the filter cannot be used here (printed as
/// `skipped: ...` by the caller).
pub fn helper() -> Result<&'static Path, &'static str> {
    static HELPER: OnceLock<Result<std::path::PathBuf, &'static str>> = OnceLock::new();
    HELPER
        .get_or_init(|| {
            if !cfg!(all(
                target_os = "linux",
                any(target_arch = "x86_64", target_arch = "aarch64")
            )) {
                return Err("seccomp filters are tested on Linux on x86_64 and aarch64 only");
            }
            let bin = rustc_built("seccomp-exec", include_str!("seccomp_exec.rs"));
            // A filter that refuses nothing: does this kernel install filters at all?
            let works = Command::new(&bin)
                .args(["--", "true"])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if works {
                Ok(bin)
            } else {
                Err("a seccomp filter cannot be installed here")
            }
        })
        .as_deref()
        .map_err(|why| *why)
}

/// A command that runs `program` under a filter making each of `fails`' calls fail
/// with its errno; add arguments, environment, `current_dir` as to any command
/// (`arg0` would name the helper, not `program`). `None`, with `skipped: ...` printed,
/// where no filter can be installed.
pub fn command(fails: &[(Call, Errno)], program: impl AsRef<OsStr>) -> Option<Command> {
    let helper = match helper() {
        Ok(helper) => helper,
        Err(why) => {
            skip(why);
            return None;
        }
    };
    let mut cmd = Command::new(helper);
    for (call, errno) in fails {
        cmd.arg(format!("{}={}", call.name(), errno.raw_os_error()));
    }
    cmd.arg("--").arg(program);
    Some(cmd)
}

/// `cmd` (its program, arguments, environment changes and directory) run under the
/// filter of [`command`]. What a `Command` does not tell back (`arg0`, `env_clear`, its
/// stdio, uid, process group) is not carried over: set those on the result.
pub fn wrap(fails: &[(Call, Errno)], cmd: &Command) -> Option<Command> {
    let mut wrapped = command(fails, cmd.get_program())?;
    wrapped.args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    Some(wrapped)
}

/// What each call gives in a process under the filter of `fails`: `(call, errno)` with
/// errno 0 where it worked (clone3 made with no arguments says EINVAL where the kernel
/// has it), and `("socket-unix", errno)` for socket(AF_UNIX, ...). `None` where skipped.
pub fn probe(fails: &[(Call, Errno)]) -> Option<Vec<(String, i32)>> {
    let helper = match helper() {
        Ok(helper) => helper,
        Err(why) => {
            skip(why);
            return None;
        }
    };
    let out = command(fails, helper)?.arg("--probe").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    Some(
        stdout(&out)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(call, errno)| (call.to_owned(), errno.parse().unwrap()))
            .collect(),
    )
}

/// The words that start a command under the filter of [`command`] in a shell script,
/// quoted (`'/…/seccomp-exec' 'pidfd_open=1' '--'`): put the program and its arguments
/// after them. `None`, with `skipped: ...` printed, where no filter can be installed.
pub fn shell_words(fails: &[(Call, Errno)]) -> Option<String> {
    let cmd = command(fails, "")?;
    let quote = |word: &OsStr| format!("'{}'", word.to_string_lossy().replace('\'', r"'\''"));
    let mut words = vec![quote(cmd.get_program())];
    // All but the empty program.
    let args: Vec<&OsStr> = cmd.get_args().collect();
    words.extend(args[..args.len() - 1].iter().map(|a| quote(a)));
    Some(words.join(" "))
}
