//! Which matched processes are stale and which are protected: a pure function of the
//! scanned records and the rules, with no system calls.

use crate::scan::Process;

/// Why a matched process is kept; in the JSON, its kebab-case name (`unknown-serving`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SkipReason {
    /// The reaper itself or one of its ancestors.
    Ancestor,
    /// PID 1 of our PID namespace: when it ends, the kernel kills every process of the
    /// namespace (a container whose init is `patina serve`, the caller included).
    Init,
    /// The reaper's ancestors could not all be read (hidepid, an unreadable parent), and
    /// this process may be one of the hidden ones.
    UnknownAncestry,
    /// In a PID namespace below ours (a container, a sandbox): its own reaper's.
    Namespace,
    /// Already exited; only its parent can clear it.
    Zombie,
    /// Younger than the threshold.
    Young,
    /// In the foreground process group of a live terminal: somebody's active session.
    Foreground,
    /// Its parent is alive and is not an adopter: the session that started it is open.
    Attached,
    /// It holds the listener of a daemon socket and runs the executable it started with.
    Serving,
    /// It holds a connection on a daemon socket whose client is still there.
    Connected,
    /// Whether it serves a daemon socket could not be told in time or safely: it may.
    UnknownServing,
}

impl SkipReason {
    /// Every reason, in the order the rules apply.
    pub const ALL: [Self; 11] = [
        Self::Ancestor,
        Self::Init,
        Self::UnknownAncestry,
        Self::Namespace,
        Self::Zombie,
        Self::Young,
        Self::Foreground,
        Self::Attached,
        Self::Serving,
        Self::Connected,
        Self::UnknownServing,
    ];
}

/// The verdict on one matched process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Stale,
    Keep(SkipReason),
}

/// What made a stale process stale; in the JSON, its kebab-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Trigger {
    /// At least the threshold old.
    Age,
    /// It listens on a socket and its executable was replaced since it started (an
    /// upgrade), whatever its age.
    Replaced,
    /// It listens on a daemon socket through a file that is gone, while the path leads
    /// to another live listener of its user: unreachable, whatever its age.
    Superseded,
}

impl Trigger {
    /// Every trigger.
    pub const ALL: [Self; 3] = [Self::Age, Self::Replaced, Self::Superseded];

    /// Whether it is ended with SIGKILL at once, no SIGTERM first: a superseded daemon
    /// cannot be reached, and its graceful shutdown removes the files it once bound,
    /// which now are its successor's.
    pub fn kills_at_once(self) -> bool {
        self == Self::Superseded
    }
}

/// Decide one process. When several rules apply the first of ancestor, init,
/// unknown-ancestry, namespace, zombie, young, foreground, attached, serving,
/// connected, unknown-serving is the reason. A listener whose executable was replaced,
/// and one superseded on a daemon socket, are eligible whatever their age; a replaced
/// process is not protected as serving, but one in use (connected) or one whose socket
/// could not be judged (it may be superseded, whose SIGTERM would remove its
/// successor's files) is kept whatever its executable.
pub(crate) fn verdict(process: &Process, threshold_secs: u64, ancestors: &[u32]) -> Verdict {
    if let Some(why) = kept_whatever_its_age(process, ancestors) {
        Verdict::Keep(why)
    } else if process.age_secs < threshold_secs && early_trigger(process).is_none() {
        Verdict::Keep(SkipReason::Young)
    } else if is_foreground(process) {
        Verdict::Keep(SkipReason::Foreground)
    } else if !process.parent_role.adopts_orphans() {
        Verdict::Keep(SkipReason::Attached)
    } else if process.sockets.serving.is_some() && !process.replaced {
        Verdict::Keep(SkipReason::Serving)
    } else if process.sockets.connected.is_some() {
        Verdict::Keep(SkipReason::Connected)
    } else if process.sockets.serving_unknown {
        Verdict::Keep(SkipReason::UnknownServing)
    } else {
        Verdict::Stale
    }
}

/// The reasons that rank before the age: ancestor, init, unknown-ancestry, namespace,
/// zombie.
fn kept_whatever_its_age(process: &Process, ancestors: &[u32]) -> Option<SkipReason> {
    if ancestors.contains(&process.pid) {
        Some(SkipReason::Ancestor)
    } else if process.pid == 1 {
        Some(SkipReason::Init)
    } else if process.ancestry_unknown {
        Some(SkipReason::UnknownAncestry)
    } else if process.other_namespace {
        Some(SkipReason::Namespace)
    } else if process.is_zombie() {
        Some(SkipReason::Zombie)
    } else {
        None
    }
}

/// Whether the socket lookup can change this process's verdict or its reason, decided
/// before the lookup from the facts of the scan alone: no reason that ranks before the
/// age keeps it, and either it is young and could be ended early (or else be kept for
/// a reason that ranks after the age), or it is old and nothing but serving can keep it.
pub(crate) fn sockets_matter(process: &Process, threshold_secs: u64, ancestors: &[u32]) -> bool {
    if kept_whatever_its_age(process, ancestors).is_some() {
        false
    } else if process.age_secs < threshold_secs {
        process.comm_matches
    } else {
        !is_foreground(process) && process.parent_role.adopts_orphans()
    }
}

/// What makes a process stale whatever its age, if anything: superseded on a daemon
/// socket, or a listener (a daemon) whose executable was replaced. A replaced process
/// that does not listen (a forked `patina scrape forge --sync`) follows the age rule.
fn early_trigger(process: &Process) -> Option<Trigger> {
    if !process.comm_matches {
        None
    } else if process.sockets.superseded.is_some() {
        Some(Trigger::Superseded)
    } else if process.replaced && process.sockets.listens == Some(true) {
        Some(Trigger::Replaced)
    } else {
        None
    }
}

/// Why a stale process is stale.
pub(crate) fn trigger(process: &Process) -> Trigger {
    early_trigger(process).unwrap_or(Trigger::Age)
}

/// In the foreground process group of its terminal. A group and a foreground group that
/// both lie outside our PID namespace read as 0: they may be the same, so that counts as
/// foreground too.
fn is_foreground(process: &Process) -> bool {
    process.has_tty && process.tpgid >= 0 && process.tpgid == process.pgrp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::ParentRole;

    fn process(pid: u32, age_secs: u64) -> Process {
        Process {
            pid,
            ppid: 1,
            uid: 1000,
            pgrp: pid as i32,
            tpgid: -1,
            has_tty: false,
            state: b'S',
            start: 1,
            age_secs,
            rss_bytes: 0,
            name: "patina".into(),
            argv: vec![b"patina".to_vec(), b"serve".to_vec()],
            parent_name: Some("init".into()),
            parent_role: ParentRole::Init,
            replaced: false,
            comm_matches: true,
            sockets: Default::default(),
            live_threads: false,
            other_namespace: false,
            ancestry_unknown: false,
        }
    }

    const DAY: u64 = 86_400;

    #[test]
    fn old_enough_is_stale_and_the_threshold_is_inclusive() {
        assert_eq!(verdict(&process(10, DAY), DAY, &[]), Verdict::Stale);
        assert_eq!(verdict(&process(10, DAY + 1), DAY, &[]), Verdict::Stale);
        assert_eq!(
            verdict(&process(10, DAY - 1), DAY, &[]),
            Verdict::Keep(SkipReason::Young)
        );
        assert_eq!(verdict(&process(10, 0), 0, &[]), Verdict::Stale);
    }

    #[test]
    fn ancestors_are_kept_whatever_else_applies() {
        let mut p = process(10, 0);
        p.state = b'Z';
        p.has_tty = true;
        p.tpgid = 10;
        assert_eq!(
            verdict(&p, DAY, &[99, 10, 1]),
            Verdict::Keep(SkipReason::Ancestor)
        );
    }

    #[test]
    fn zombies_come_before_young_and_foreground() {
        let mut p = process(10, 0);
        p.state = b'Z';
        p.has_tty = true;
        p.tpgid = 10;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Zombie));
        p.age_secs = 2 * DAY;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Zombie));
    }

    #[test]
    fn young_comes_before_foreground() {
        let mut p = process(10, 5);
        p.has_tty = true;
        p.tpgid = 10;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Young));
        p.age_secs = DAY;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Foreground));
    }

    #[test]
    fn a_group_and_terminal_group_both_outside_our_namespace_count_as_foreground() {
        let mut p = process(10, DAY);
        p.has_tty = true;
        p.pgrp = 0;
        p.tpgid = 0;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Foreground));
        p.has_tty = false;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Stale);
    }

    #[test]
    fn unknown_ancestry_and_other_namespaces_are_kept_before_zombie_and_young() {
        let mut p = process(10, 0);
        p.state = b'Z';
        p.other_namespace = true;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Namespace));
        p.ancestry_unknown = true;
        assert_eq!(
            verdict(&p, DAY, &[]),
            Verdict::Keep(SkipReason::UnknownAncestry)
        );
        assert_eq!(verdict(&p, DAY, &[10]), Verdict::Keep(SkipReason::Ancestor));
    }

    #[test]
    fn a_zombie_leader_with_live_threads_is_not_a_zombie() {
        let mut p = process(10, DAY);
        p.state = b'Z';
        p.live_threads = true;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Stale);
    }

    #[test]
    fn background_or_terminal_less_processes_are_not_foreground() {
        let mut p = process(10, DAY);
        p.has_tty = true;
        p.tpgid = 11; // another group holds the terminal
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Stale);
        p.tpgid = 0; // the terminal's group is outside this PID namespace, ours is not
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Stale);
        p.has_tty = false;
        p.tpgid = 10;
        p.pgrp = 10;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Stale);
    }

    fn attached(mut p: Process, ppid: u32, role: ParentRole) -> Process {
        p.ppid = ppid;
        p.parent_role = role;
        p
    }

    #[test]
    fn a_live_parent_that_is_not_an_adopter_keeps_it_attached() {
        let old = process(10, 2 * DAY);
        for (ppid, role) in [
            (4321, ParentRole::Other),
            (4321, ParentRole::Unknown),
            // ppid 0 in a PID namespace below the initial one: a live parent outside
            (0, ParentRole::Outside),
        ] {
            assert_eq!(
                verdict(&attached(old.clone(), ppid, role), DAY, &[]),
                Verdict::Keep(SkipReason::Attached),
                "{role:?}"
            );
        }
        for (ppid, role) in [
            (1, ParentRole::Init),
            (0, ParentRole::Kernel),
            (900, ParentRole::ServiceManager),
        ] {
            assert_eq!(
                verdict(&attached(old.clone(), ppid, role), DAY, &[]),
                Verdict::Stale,
                "{role:?}"
            );
        }
    }

    #[test]
    fn pid_1_is_never_stale() {
        let mut p = process(1, 2 * DAY);
        p.ppid = 0;
        p.parent_role = ParentRole::Kernel;
        p.replaced = true;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Init));
        assert_eq!(verdict(&p, DAY, &[1]), Verdict::Keep(SkipReason::Ancestor));
    }

    #[test]
    fn only_systemds_binary_run_with_user_is_the_service_manager() {
        let role = |program: &[u8], args: &[&[u8]]| {
            ParentRole::of_live_parent(program, args.iter().copied())
        };
        let manager = ParentRole::ServiceManager;
        assert_eq!(
            role(
                b"/lib/systemd/systemd",
                &[b"/lib/systemd/systemd", b"--user"]
            ),
            manager
        );
        assert_eq!(
            role(b"/usr/lib/systemd/systemd", &[b"systemd", b"--user"]),
            manager
        );
        let nix = b"/nix/store/0a1b-systemd-256/lib/systemd/systemd";
        assert_eq!(role(nix, &[b"systemd", b"--user"]), manager);
        let other = ParentRole::Other;
        assert_eq!(role(b"/usr/lib/systemd/systemd", &[b"/sbin/init"]), other);
        assert_eq!(
            role(b"/home/u/bin/systemd", &[b"systemd", b"--user"]),
            other
        );
        assert_eq!(role(b"/init", &[b"/init"]), other);
        assert_eq!(role(b"/bin/bash", &[b"systemd", b"--user"]), other);
        assert_eq!(role(b"/lib/systemd/systemd-x", &[b"--user"]), other);
    }

    #[test]
    fn protections_apply_in_their_order() {
        // foreground before attached, attached before serving
        let mut p = attached(process(10, 2 * DAY), 4321, ParentRole::Other);
        p.sockets.serving = Some("/run/s.sock".into());
        p.has_tty = true;
        p.tpgid = 10;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Foreground));
        p.has_tty = false;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Attached));
        p = attached(p, 1, ParentRole::Init);
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Serving));
        p.sockets.serving = None;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Stale);
        assert_eq!(trigger(&p), Trigger::Age);
    }

    #[test]
    fn a_replaced_listener_is_stale_whatever_its_age_and_a_replaced_worker_follows_age() {
        let mut p = process(10, 5);
        p.replaced = true;
        // Not looked up yet, or not listening: the age rule.
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Young));
        assert!(sockets_matter(&p, DAY, &[]));
        p.sockets.listens = Some(false);
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Young));
        p.age_secs = DAY;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Stale);
        assert_eq!(trigger(&p), Trigger::Age);
        p.age_secs = 5;
        p.sockets.listens = Some(true);
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Stale);
        assert_eq!(trigger(&p), Trigger::Replaced);
        // replaced but serving: still stale (the old daemon after an upgrade)
        p.sockets.serving = Some("/run/s.sock".into());
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Stale);
        // replaced but attached, in the foreground or a zombie: kept
        let q = attached(p.clone(), 4321, ParentRole::Other);
        assert_eq!(verdict(&q, DAY, &[]), Verdict::Keep(SkipReason::Attached));
        p.state = b'Z';
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Zombie));
        // not replaced and young: young
        p.state = b'S';
        p.replaced = false;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Young));
    }

    #[test]
    fn a_superseded_listener_is_stale_whatever_its_age_but_not_when_attached() {
        let mut p = process(10, 5);
        p.sockets.superseded = Some("/run/s.sock".into());
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Stale);
        assert_eq!(trigger(&p), Trigger::Superseded);
        let q = attached(p.clone(), 4321, ParentRole::Other);
        assert_eq!(verdict(&q, DAY, &[]), Verdict::Keep(SkipReason::Attached));
    }

    #[test]
    fn a_lookup_that_could_not_tell_keeps_an_old_process_as_unknown_serving() {
        let mut p = process(10, 2 * DAY);
        p.sockets.serving_unknown = true;
        assert_eq!(
            verdict(&p, DAY, &[]),
            Verdict::Keep(SkipReason::UnknownServing)
        );
        // Serving, when it was found, says more.
        p.sockets.serving = Some("/run/s.sock".into());
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Serving));
        // Young stays young.
        p.age_secs = 5;
        assert_eq!(verdict(&p, DAY, &[]), Verdict::Keep(SkipReason::Young));
    }
}
