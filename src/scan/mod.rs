//! Where processes come from: `/proc` on Linux, `ps` everywhere else.
//!
//! A backend turns the process table into plain [`Process`] records for the processes
//! whose program name matches; deciding what is stale is `select`'s job.

#[cfg(target_os = "linux")]
pub(crate) mod proc;
pub(crate) mod ps;

use std::io;

use crate::Error;

/// One process whose program name matched, as a backend saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Process {
    pub(crate) pid: u32,
    pub(crate) ppid: u32,
    /// Effective uid: the `Uid:` line of `/proc/PID/status` on Linux, the `uid` column
    /// of `ps`.
    pub(crate) uid: u32,
    pub(crate) pgrp: i32,
    /// Foreground process group of the controlling terminal, `<= 0` if none is visible.
    pub(crate) tpgid: i32,
    /// Whether the process has a controlling terminal (`tty_nr != 0`).
    pub(crate) has_tty: bool,
    /// One-letter state as `ps` and `/proc` print it (`R`, `S`, `D`, `Z`, ...).
    pub(crate) state: u8,
    /// Start time in the backend's own unit, used as the second half of the identity
    /// (pid, start) that guards against PID reuse.
    pub(crate) start: u64,
    pub(crate) age_secs: u64,
    pub(crate) rss_bytes: u64,
    /// The name it matched under.
    pub(crate) name: String,
    /// The argument vector; empty for zombies and kernel threads. Exact from `/proc`;
    /// from `ps` only the whitespace-separated words of its `args` text (approximate).
    pub(crate) argv: Vec<Vec<u8>>,
    /// The parent's program name (comm on Linux, from `args` on `ps`), for the report;
    /// `None` when the parent could not be read or lies outside this PID namespace.
    pub(crate) parent_name: Option<String>,
    /// What the parent is, as far as adopting orphans goes.
    pub(crate) parent_role: ParentRole,
    /// Its executable was replaced since it started. Only where the backend can tell
    /// exactly (`/proc`); elsewhere always false.
    pub(crate) replaced: bool,
    /// Its kernel name (comm) could be one of the names. Only such a process can be
    /// ended while young (superseded or replaced): one that matched by `argv[0]` alone
    /// (`exec -a`) is judged by its age, whatever the output asks to list.
    pub(crate) comm_matches: bool,
    /// What the socket lookup found; filled in by the engine, for processes whose
    /// verdict it can change.
    pub(crate) sockets: SocketFacts,
    /// Its main thread has exited (state `Z`) but other threads still run: a live
    /// process (Linux `/proc` only).
    pub(crate) live_threads: bool,
    /// In a PID namespace below ours (a container, a sandbox): more than one `NSpid:`
    /// entry (Linux `/proc` only).
    pub(crate) other_namespace: bool,
    /// The caller's ancestor chain could not be followed to its top, and this process
    /// may lie above the gap: it could be an ancestor.
    pub(crate) ancestry_unknown: bool,
}

/// What the socket lookup found for a process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SocketFacts {
    /// The daemon socket (its bound name) whose listener, the one connections to it
    /// reach in the process's own mount namespace, it holds.
    pub(crate) serving: Option<std::path::PathBuf>,
    /// The daemon socket it listens on through a file that is no longer at the path,
    /// which now leads to another live listener of the same user: nobody can reach it.
    pub(crate) superseded: Option<std::path::PathBuf>,
    /// Whether it holds a listening socket (Unix or TCP); `None` when not known.
    pub(crate) listens: Option<bool>,
    /// The daemon socket on which it holds a connection it accepted whose client is
    /// still there: somebody is using it.
    pub(crate) connected: Option<std::path::PathBuf>,
    /// Whether it serves a daemon socket (or is superseded on one) could not be told: a
    /// socket path that did not answer, descriptors that could not all be read in time,
    /// sockets known by their names only (no socket diagnostics, another network
    /// namespace).
    pub(crate) serving_unknown: bool,
}

/// What a process's parent is. Only an adopter says nothing about a live session: a
/// process whose parent is anything else was started by something still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParentRole {
    /// PID 1 of this PID namespace, whatever its program (init, systemd, tini, or a
    /// shell that is PID 1 of a container): orphans are reparented to it.
    Init,
    /// The user's service manager, `systemd --user` (its executable is systemd's and it
    /// was started with `--user`), which adopts the orphans of its session as a child
    /// subreaper.
    ServiceManager,
    /// No parent at all: ppid 0 in the initial PID namespace (or where there are no PID
    /// namespaces), which only the first process has.
    Kernel,
    /// ppid 0 in a PID namespace below the initial one: the parent lives outside the
    /// namespace (`docker exec`, `nsenter`) and is alive, or the kernel would have
    /// reparented the process to PID 1.
    // Only Linux has PID namespaces.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Outside,
    /// A live parent that is none of the above: an editor, a shell, an agent host, a
    /// relay (WSL's per-session `init` is a child of PID 1, not PID 1).
    Other,
    /// The parent could not be read; taken to be alive and not an adopter.
    Unknown,
}

impl ParentRole {
    /// Whether having this parent says nothing about a live session.
    pub(crate) fn adopts_orphans(self) -> bool {
        matches!(self, Self::Init | Self::ServiceManager | Self::Kernel)
    }

    /// The role of a parent that is neither PID 1 nor absent, from its executable's path
    /// (where known; the first word of `argv[0]` elsewhere) and its arguments: systemd's
    /// binary (`…/lib/systemd/systemd`, as Debian, Fedora, Arch and NixOS install it)
    /// run with `--user`.
    pub(crate) fn of_live_parent<'a>(
        program: &[u8],
        mut args: impl Iterator<Item = &'a [u8]>,
    ) -> Self {
        if program.ends_with(b"/lib/systemd/systemd") && args.any(|a| a == b"--user") {
            Self::ServiceManager
        } else {
            Self::Other
        }
    }
}

/// The role of parent pid 0, the same for every process of one scan: no parent in the
/// initial PID namespace, a live one outside ours anywhere else. Where the namespace
/// cannot be told, outside (the process is kept).
pub(crate) fn role_of_no_parent() -> ParentRole {
    if crate::sys::in_initial_pid_namespace() {
        ParentRole::Kernel
    } else {
        ParentRole::Outside
    }
}

impl Process {
    pub(crate) fn is_zombie(&self) -> bool {
        self.state == b'Z' && !self.live_threads
    }
}

/// What the caller wants from a scan.
#[derive(Debug, Clone)]
pub(crate) struct Query<'a> {
    pub(crate) names: &'a [String],
    /// Only processes with this effective uid; `None` for all users.
    pub(crate) uid: Option<u32>,
    /// Processes younger than this many seconds may be left out (their command line is
    /// then never read) when their kernel name cannot be one of the names: they cannot
    /// be stale (see [`Process::comm_matches`]). 0 keeps every match.
    // Only the /proc backend reads less for it.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) min_age_secs: u64,
}

/// The result of one scan.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Matched processes, in the order the backend listed them.
    pub(crate) processes: Vec<Process>,
    /// This process and every ancestor up the ppid chain.
    pub(crate) ancestors: Vec<u32>,
    /// Processes the backend listed but could not read, each with the reason; they are
    /// neither reported nor signalled.
    pub(crate) left_out: Vec<String>,
    /// The least time, in seconds, until a young process that was left unread (its
    /// kernel name cannot be one of the names, so only its age could make it a
    /// candidate) is old enough to be read; `None` when none was left unread.
    pub(crate) unread_young_secs: Option<u64>,
}

/// Mark the processes that could be hidden ancestors. `gap` is the start time of the
/// topmost ancestor that could be read when the chain stopped short of its top (an
/// unreadable parent); `None` when it was followed all the way. Every ancestor above
/// the gap started no later than that one, so a process that started strictly later
/// cannot be one.
pub(crate) fn mark_unknown_ancestry(scan: &mut Scan, gap: Option<u64>) {
    let Some(gap) = gap else {
        return;
    };
    for p in &mut scan.processes {
        p.ancestry_unknown = p.start <= gap && !scan.ancestors.contains(&p.pid);
    }
}

/// A process source. Both backends implement it with the same meaning.
pub(crate) trait Source {
    /// List the processes matching `query`.
    fn scan(&self, query: &Query<'_>) -> Result<Scan, Error>;

    /// Is `pid` still the process that started at `start`, and not yet exited (zombies
    /// count as exited)? Called right before signalling it. `Err` when that cannot be
    /// told (out of file descriptors, `ps` failed): such a process is neither signalled
    /// nor reported gone.
    fn is_same_live(&self, pid: u32, start: u64) -> io::Result<bool>;

    /// [`Source::is_same_live`] for many processes at once, as close together in time
    /// as the backend can make it (`ps`: one run for all).
    fn are_same_live(&self, targets: &[(u32, u64)]) -> Vec<io::Result<bool>> {
        targets
            .iter()
            .map(|&(pid, start)| self.is_same_live(pid, start))
            .collect()
    }

    /// A cheap check while waiting for `pid` to exit; may be less exact than
    /// [`Source::is_same_live`] but never reports a live process as exited.
    fn has_exited(&self, pid: u32, start: u64) -> bool {
        matches!(self.is_same_live(pid, start), Ok(false))
    }

    /// Of `targets` (pid, start) that [`Source::has_exited`] still reports running,
    /// which really are (a zombie has exited)? An exact check, made now and then during a
    /// wait rather than on every poll; a process that cannot be checked counts as running.
    fn still_running(&self, targets: &[(u32, u64)]) -> Vec<bool> {
        targets
            .iter()
            .map(|&(pid, start)| !matches!(self.is_same_live(pid, start), Ok(false)))
            .collect()
    }

    /// The memory ending `pid` would free (its private pages), where the backend can
    /// tell; `None` elsewhere (the resident size then stands in). Asked only for
    /// processes about to be reaped, before the first signal.
    fn private_bytes(&self, _pid: u32) -> Option<u64> {
        None
    }

    /// Whether signals may go through pidfds (Linux only).
    #[cfg(target_os = "linux")]
    fn supports_pidfd(&self) -> bool {
        false
    }
}

/// Which backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    #[cfg(target_os = "linux")]
    Proc,
    Ps,
}

impl Backend {
    /// The backend named by `PATINA_REAP_BACKEND`, or the platform default.
    pub(crate) fn from_env() -> Result<Self, Error> {
        match std::env::var_os("PATINA_REAP_BACKEND") {
            None => Ok(Self::default()),
            Some(v) if v.is_empty() => Ok(Self::default()),
            Some(v) => match v.to_str() {
                #[cfg(target_os = "linux")]
                Some("proc") => Ok(Self::Proc),
                Some("ps") => Ok(Self::Ps),
                _ => Err(Error::UnknownBackend(v.to_string_lossy().into_owned())),
            },
        }
    }

    pub(crate) fn source(self) -> Box<dyn Source + Send> {
        match self {
            #[cfg(target_os = "linux")]
            Self::Proc => Box::new(proc::ProcSource::new()),
            Self::Ps => Box::new(ps::PsSource::new()),
        }
    }

    /// A source that stops reading once `abandoned` is set (the preflight's scan that
    /// ran out of time); `/proc` scans are bounded without it.
    pub(crate) fn abandonable_source(
        self,
        abandoned: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Box<dyn Source + Send> {
        match self {
            #[cfg(target_os = "linux")]
            Self::Proc => Box::new(proc::ProcSource::new()),
            Self::Ps => Box::new(ps::PsSource::abandonable(abandoned)),
        }
    }
}

impl Default for Backend {
    fn default() -> Self {
        #[cfg(target_os = "linux")]
        return Self::Proc;
        #[cfg(not(target_os = "linux"))]
        return Self::Ps;
    }
}

/// The program name of a process: the basename of the first word of `argv[0]`.
///
/// `/usr/local/bin/patina serve` and an `exec -a "patina serve --test"` both give `patina`.
pub(crate) fn program_name(argv0: &[u8]) -> &[u8] {
    let first = argv0
        .split(|b| b.is_ascii_whitespace())
        .next()
        .unwrap_or_default();
    basename(first)
}

pub(crate) fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Which of `names` this process answers to, given its first command-line chunk (NUL
/// separated, possibly truncated) and its kernel name (`comm`, at most 15 bytes).
///
/// An empty command line (kernel threads, zombies) falls back to `comm`.
pub(crate) fn matching_name<'n>(
    names: &'n [String],
    cmdline: &[u8],
    comm: &[u8],
) -> Option<&'n String> {
    let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or_default();
    if argv0.is_empty() {
        return names.iter().find(|n| n.as_bytes() == comm);
    }
    let program = program_name(argv0);
    names.iter().find(|n| n.as_bytes() == program)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn program_name_is_the_basename_of_the_first_word() {
        assert_eq!(program_name(b"/usr/local/bin/patina"), b"patina");
        assert_eq!(program_name(b"patina serve --test"), b"patina");
        assert_eq!(program_name(b"/usr/bin/patina serve"), b"patina");
        assert_eq!(program_name(b"patina-index"), b"patina-index");
        assert_eq!(program_name(b"/tmp/some dir/patina"), b"some");
        assert_eq!(program_name(b""), b"");
        assert_eq!(program_name(b"/"), b"");
    }

    #[test]
    fn only_exact_program_names_match() {
        let n = names(&["patina"]);
        let m = |cmd: &[u8]| matching_name(&n, cmd, b"whatever").is_some();
        assert!(m(b"/usr/local/bin/patina\0serve\0"));
        assert!(m(b"patina serve --test\0"));
        assert!(m(b"patina"));
        assert!(!m(b"vim\0/home/u/src/patina/src/main.rs\0"));
        assert!(!m(b"tail\0-f\0/var/log/patina/serve.log\0"));
        assert!(!m(
            b"cargo\0run\0--manifest-path\0/home/u/patina/Cargo.toml\0"
        ));
        assert!(!m(b"patina-index\0"));
        assert!(!m(b"patinad\0"));
        assert!(!m(b"sh\0-c\0sleep 1; patina serve\0"));
        assert!(!m(b"Patina\0"));
        assert!(!m(b"/opt/patina/bin/serve\0"));
    }

    #[test]
    fn empty_cmdline_falls_back_to_comm() {
        let n = names(&["patina", "other"]);
        assert_eq!(matching_name(&n, b"", b"patina"), Some(&n[0]));
        assert_eq!(matching_name(&n, b"", b"other"), Some(&n[1]));
        assert_eq!(matching_name(&n, b"", b"patina-x"), None);
        assert_eq!(matching_name(&n, b"sleep\0", b"patina"), None);
    }
}

/// Property tests; `PROPTEST_CASES=100000 cargo test proptests` runs them longer.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// A program name as `--name` accepts it: no slash, no white space.
    fn name() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9._-][a-zA-Z0-9._+-]{0,14}"
    }

    /// One argument: any bytes but NUL.
    fn arg() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(1u8..=255, 0..40)
    }

    /// A byte that may be in the first word of a path component: no NUL, no slash, no
    /// white space.
    fn word_byte() -> impl Strategy<Value = u8> {
        let allowed: Vec<u8> = (1..=255u8)
            .filter(|b| *b != b'/' && !b.is_ascii_whitespace())
            .collect();
        prop::sample::select(allowed)
    }

    /// A directory prefix ending in `/`, with odd bytes in it.
    fn dir() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::collection::vec(word_byte(), 0..12), 0..5).prop_map(|parts| {
            let mut out = Vec::new();
            for p in parts {
                out.extend_from_slice(&p);
                out.push(b'/');
            }
            out
        })
    }

    fn cmdline(argv: &[Vec<u8>]) -> Vec<u8> {
        let mut raw = Vec::new();
        for a in argv {
            raw.extend_from_slice(a);
            raw.push(0);
        }
        raw
    }

    proptest! {
        #[test]
        fn a_program_name_is_a_plain_suffix_of_the_first_word(argv0 in prop::collection::vec(1u8..=255, 0..60)) {
            let p = program_name(&argv0);
            prop_assert!(!p.contains(&b'/'));
            prop_assert!(!p.iter().any(u8::is_ascii_whitespace));
            let first = argv0.split(u8::is_ascii_whitespace).next().unwrap_or_default();
            prop_assert!(first.ends_with(p));
        }

        #[test]
        fn the_name_matches_under_any_directory_title_and_arguments(
            name in name(),
            dir in dir(),
            title in prop::option::of((prop::sample::select(vec![b' ', b'\t']), arg())),
            args in prop::collection::vec(arg(), 0..5),
            comm in prop::collection::vec(any::<u8>(), 0..16),
        ) {
            let mut argv0 = dir;
            argv0.extend_from_slice(name.as_bytes());
            if let Some((sep, rest)) = title {
                argv0.push(sep);
                argv0.extend_from_slice(&rest);
            }
            let mut argv = vec![argv0];
            argv.extend(args);
            let names = [name];
            prop_assert_eq!(matching_name(&names, &cmdline(&argv), &comm), Some(&names[0]));
        }

        #[test]
        fn a_longer_or_shorter_program_name_never_matches(
            name in name(),
            dir in dir(),
            before in prop::collection::vec(word_byte(), 0..3),
            after in prop::collection::vec(word_byte(), 0..3),
            args in prop::collection::vec(arg(), 0..3),
            cut in 0usize..3,
        ) {
            prop_assume!(!before.is_empty() || !after.is_empty() || cut > 0);
            let core = &name.as_bytes()[..name.len().saturating_sub(cut)];
            prop_assume!(!core.is_empty() || !before.is_empty() || !after.is_empty());
            let mut argv0 = dir;
            argv0.extend_from_slice(&before);
            argv0.extend_from_slice(core);
            argv0.extend_from_slice(&after);
            prop_assume!(program_name(&argv0) != name.as_bytes());
            let mut argv = vec![argv0];
            argv.extend(args);
            // The kernel's name agreeing does not matter while argv is there.
            let names = [name.clone()];
            prop_assert_eq!(matching_name(&names, &cmdline(&argv), name.as_bytes()), None);
        }

        #[test]
        fn the_name_in_arguments_or_directories_never_matches(
            name in name(),
            program in prop::sample::select(vec!["vim", "/usr/bin/tail", "sh", "cargo", "/opt/x/bin/serve"]),
            args in prop::collection::vec(arg(), 0..3),
        ) {
            let n = name.as_bytes();
            let mut argv = vec![program.as_bytes().to_vec()];
            argv.extend(args);
            argv.push(n.to_vec());
            argv.push([b"/home/u/".as_slice(), n, b"/src/main.rs"].concat());
            argv.push([n, b" serve"].concat());
            let names = [name.clone()];
            prop_assert_eq!(matching_name(&names, &cmdline(&argv), n), None);
        }

        #[test]
        fn an_empty_command_line_matches_by_comm_only(
            name in name(),
            comm in prop::collection::vec(any::<u8>(), 0..16),
            raw in prop::sample::select(vec![b"".as_slice(), b"\0", b"\0\0\0"]),
        ) {
            let names = [name.clone()];
            let expected = (comm == name.as_bytes()).then_some(&names[0]);
            prop_assert_eq!(matching_name(&names, raw, &comm), expected);
            prop_assert_eq!(matching_name(&names, raw, name.as_bytes()), Some(&names[0]));
        }
    }
}
