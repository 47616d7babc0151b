//! Pure parsers of `/proc` text (`stat`, `status`, `cmdline`, `smaps_rollup`) and the
//! name matching that needs no more than what was read: nothing here opens a file. The
//! recorded lines these parsers read are in their tests.

use crate::scan::{basename, matching_name, program_name};

/// `PF_KTHREAD` in the flags field: kernel threads are never candidates.
pub(crate) const PF_KTHREAD: u64 = 0x0020_0000;

/// The fields of `/proc/PID/stat` this tool uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat<'a> {
    pub(crate) pid: u32,
    pub(crate) comm: &'a [u8],
    pub(crate) state: u8,
    pub(crate) ppid: u32,
    pub(crate) pgrp: i32,
    pub(crate) tty_nr: i32,
    pub(crate) tpgid: i32,
    pub(crate) flags: u64,
    /// Field 20: threads in the process.
    pub(crate) num_threads: u64,
    /// Field 22: start time after boot, in clock ticks.
    pub(crate) start_ticks: u64,
    /// Field 24: resident set size, in pages.
    pub(crate) rss_pages: u64,
}

/// Parse one `/proc/PID/stat` line. The comm field may hold spaces and `)`, so it runs
/// from the first `(` to the last `)`.
pub(crate) fn parse_stat(line: &[u8]) -> Option<Stat<'_>> {
    let open = line.iter().position(|&b| b == b'(')?;
    let close = match line[open..].iter().position(|&b| b == b')') {
        // The usual line: no `)` after the first one, which `contains` (memchr) checks
        // faster than a byte-by-byte search from the end.
        Some(i) if !line[open + i + 1..].contains(&b')') => open + i,
        _ => line.iter().rposition(|&b| b == b')')?,
    };
    if close < open {
        return None;
    }
    let pid = parse_num(line[..open].strip_suffix(b" ")?)?;
    let comm = &line[open + 1..close];
    let mut fields = Fields(Some(line[close + 1..].strip_prefix(b" ")?));
    let state = match fields.next()? {
        [s] => *s,
        _ => return None,
    };
    let ppid = parse_num(fields.next()?)?;
    let pgrp = parse_signed(fields.next()?)?;
    let _session = fields.next()?;
    let tty_nr = parse_signed(fields.next()?)?;
    let tpgid = parse_signed(fields.next()?)?;
    let flags = parse_num(fields.next()?)?;
    // minflt cminflt majflt cmajflt utime stime cutime cstime priority nice
    for _ in 0..10 {
        fields.next()?;
    }
    let num_threads = parse_signed::<i64>(fields.next()?)?.max(0) as u64;
    let _itrealvalue = fields.next()?;
    let start_ticks = parse_num(fields.next()?)?;
    let _vsize = fields.next()?;
    let rss_pages = parse_signed::<i64>(fields.next()?)?.max(0) as u64;
    Some(Stat {
        pid,
        comm,
        state,
        ppid,
        pgrp,
        tty_nr,
        tpgid,
        flags,
        num_threads,
        start_ticks,
        rss_pages,
    })
}

impl Stat<'_> {
    /// A leader whose main thread exited while other threads run shows `Z` with more
    /// than one thread: it is alive.
    pub(crate) fn live_threads(&self) -> bool {
        self.state == b'Z' && self.num_threads > 1
    }

    /// Exited (a zombie or dead), as opposed to running, stopped or sleeping.
    pub(crate) fn has_exited(&self) -> bool {
        matches!(self.state, b'Z' | b'X') && !self.live_threads()
    }
}

/// The facts of `/proc/PID/status` this tool uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Status {
    /// The second field of `Uid:`. The owner of `/proc/PID` is not it: the kernel shows
    /// the files of a non-dumpable process and of a zombie as root's.
    pub(crate) euid: u32,
    /// Entries on the `NSpid:` line: more than one for a process in a PID namespace below
    /// that of `/proc` (1 where the kernel has no such line).
    pub(crate) pid_levels: usize,
}

/// Parse `/proc/PID/status`; `None` without a well-formed `Uid:` line.
pub(crate) fn parse_status(text: &[u8]) -> Option<Status> {
    let mut euid = None;
    let mut pid_levels = 1;
    for line in text.split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(b"Uid:") {
            let mut ids = rest
                .split(|&b| b == b'\t' || b == b' ')
                .filter(|w| !w.is_empty());
            let (Some(_real), Some(effective)) = (ids.next(), ids.next()) else {
                return None;
            };
            euid = Some(parse_num(effective)?);
        } else if let Some(rest) = line.strip_prefix(b"NSpid:") {
            pid_levels = rest
                .split(|&b| b == b'\t' || b == b' ')
                .filter(|w| !w.is_empty())
                .count();
        }
    }
    Some(Status {
        euid: euid?,
        pid_levels,
    })
}

/// The fields of a line split at single spaces, as `split(|&b| b == b' ')` yields them,
/// in one plain loop: this parse runs for every process on the machine.
struct Fields<'a>(Option<&'a [u8]>);

impl<'a> Fields<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.0?;
        let mut end = 0;
        while end < rest.len() && rest[end] != b' ' {
            end += 1;
        }
        self.0 = rest.get(end + 1..);
        Some(&rest[..end])
    }
}

/// A non-empty run of ASCII digits that fits `T`; no sign, no spaces.
pub(super) fn parse_num<T: TryFrom<u64>>(field: &[u8]) -> Option<T> {
    if field.is_empty() {
        return None;
    }
    let mut n = 0u64;
    for &b in field {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    T::try_from(n).ok()
}

/// [`parse_num`] with an optional leading `-`.
fn parse_signed<T: TryFrom<i128>>(field: &[u8]) -> Option<T> {
    let (negative, digits) = match field.strip_prefix(b"-") {
        Some(digits) => (true, digits),
        None => (false, field),
    };
    let n = i128::from(parse_num::<u64>(digits)?);
    T::try_from(if negative { -n } else { n }).ok()
}

/// Whether a command-line prefix holds the end of argv[0], so that the program name can
/// be decided from it (an argv[0] with white space may be compared with the
/// executable's path whole).
pub(crate) fn argv0_ends(peek: &[u8]) -> bool {
    peek.contains(&0)
}

/// Whether a kernel name (`comm`, cut to 15 bytes) could be one of `names`.
pub(super) fn comm_may_match(names: &[String], comm: &[u8]) -> bool {
    const TASK_COMM_MAX: usize = 15;
    names.iter().any(|n| {
        let n = n.as_bytes();
        n == comm || (comm.len() == TASK_COMM_MAX && n.starts_with(comm))
    })
}

/// The program name of a process whose argv[0] may hold white space, decided with its
/// executable's path (`/proc/PID/exe`) where that is needed and known.
///
/// argv[0] that names the executable is one path (`/Applications/Patina Tools/patina`
/// gives `patina`, `/opt/patina tools/indexer` gives `indexer`): its text is the
/// executable's path, or else `same_file` says the whole argv[0] resolves to the
/// executable (a symlink such as `/opt/patina tools/indexer` to another program: still
/// `indexer`). Otherwise its first word is the name (`exec -a "patina serve --test"`).
/// When that cannot be told (unreadable executable, a lookup that failed or took too
/// long), a name counts only if both readings give it: anything else could be the wrong
/// process. `same_file` is asked only when the text does not decide.
fn program_name_with_exe<'a>(
    argv0: &'a [u8],
    exe: Option<&[u8]>,
    same_file: impl FnOnce() -> Option<bool>,
) -> Option<&'a [u8]> {
    let first_word = program_name(argv0);
    if !argv0.iter().any(u8::is_ascii_whitespace) {
        return Some(first_word);
    }
    let whole = basename(argv0);
    if first_word == whole {
        return Some(whole);
    }
    match exe {
        Some(exe) if exe == argv0 || exe.strip_suffix(b" (deleted)") == Some(argv0) => Some(whole),
        Some(_) => match same_file() {
            Some(true) => Some(whole),
            Some(false) => Some(first_word),
            None => None,
        },
        None => None,
    }
}

/// [`matching_name`], deciding an argv[0] with white space by [`program_name_with_exe`];
/// `exe` (`None` when it cannot be read) and `same_file` (whether the whole argv[0]
/// resolves to the executable; `None` when that cannot be told) are asked for only
/// then, and only when one of the two readings is one of `names`.
pub(super) fn matching_name_by_exe<'n>(
    names: &'n [String],
    cmdline: &[u8],
    comm: &[u8],
    exe: impl FnOnce() -> Option<Vec<u8>>,
    same_file: impl FnOnce(&[u8]) -> Option<bool>,
) -> Option<&'n String> {
    let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or_default();
    if argv0.is_empty() || !argv0.iter().any(u8::is_ascii_whitespace) {
        return matching_name(names, cmdline, comm);
    }
    let wanted = |name: &[u8]| names.iter().any(|n| n.as_bytes() == name);
    if !wanted(program_name(argv0)) && !wanted(basename(argv0)) {
        return None;
    }
    let exe = exe();
    let program = program_name_with_exe(argv0, exe.as_deref(), || same_file(argv0))?;
    names.iter().find(|n| n.as_bytes() == program)
}

/// Split a raw NUL-separated command line into argv.
pub(super) fn split_cmdline(raw: &[u8]) -> Vec<Vec<u8>> {
    let trimmed = raw.strip_suffix(&[0]).unwrap_or(raw);
    if trimmed.is_empty() {
        return Vec::new();
    }
    trimmed.split(|&b| b == 0).map(<[u8]>::to_vec).collect()
}

/// `Private_Clean + Private_Dirty` of `/proc/PID/smaps_rollup`, in bytes: the memory
/// that ending the process frees. `None` unless both lines are there.
pub(crate) fn parse_private_bytes(raw: &[u8]) -> Option<u64> {
    let (mut clean, mut dirty) = (None, None);
    for line in raw.split(|&b| b == b'\n') {
        let slot = if let Some(rest) = line.strip_prefix(b"Private_Clean:") {
            (&mut clean, rest)
        } else if let Some(rest) = line.strip_prefix(b"Private_Dirty:") {
            (&mut dirty, rest)
        } else {
            continue;
        };
        let kib = slot.1.trim_ascii().strip_suffix(b"kB")?.trim_ascii();
        *slot.0 = Some(parse_num::<u64>(kib)?.checked_mul(1024)?);
    }
    clean?.checked_add(dirty?)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded from a Linux 6.x machine; `comm` set with prctl(PR_SET_NAME).
    const SLEEP: &[u8] = b"4242 (sleep) S 4100 4242 4100 34816 4242 4194304 97 0 0 0 0 0 0 0 20 0 1 0 123456 2273280 128 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
    const TRICKY: &[u8] = b"77 (a) b (c)) Z 1 77 77 0 -1 4194564 0 0 0 0 0 0 0 0 20 0 1 0 999 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
    const KTHREAD: &[u8] = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    // Recorded from /proc/PID/smaps_rollup of a `sleep` on Linux 6.x.
    const ROLLUP: &[u8] =
        b"5581e4a2c000-7ffd6b1f6000 ---p 00000000 00:00 0                          [rollup]
Rss:                 896 kB
Pss:                 134 kB
Pss_Dirty:            92 kB
Pss_Anon:             88 kB
Pss_File:             46 kB
Pss_Shmem:             0 kB
Shared_Clean:        804 kB
Shared_Dirty:          0 kB
Private_Clean:         4 kB
Private_Dirty:        88 kB
Referenced:          896 kB
Anonymous:            88 kB
KSM:                   0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:       0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
";

    #[test]
    fn private_memory_is_private_clean_plus_private_dirty() {
        assert_eq!(parse_private_bytes(ROLLUP), Some(92 * 1024));
        assert_eq!(parse_private_bytes(b""), None);
        assert_eq!(parse_private_bytes(b"Private_Clean: 4 kB\n"), None);
        assert_eq!(
            parse_private_bytes(b"Private_Clean: x kB\nPrivate_Dirty: 1 kB\n"),
            None
        );
        assert_eq!(
            parse_private_bytes(b"Private_Dirty: 99999999999999999999 kB\nPrivate_Clean: 1 kB\n"),
            None
        );
    }

    #[test]
    fn parses_a_plain_stat_line() {
        let s = parse_stat(SLEEP).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.comm, b"sleep");
        assert_eq!(s.state, b'S');
        assert_eq!(s.ppid, 4100);
        assert_eq!(s.pgrp, 4242);
        assert_eq!(s.tty_nr, 34816);
        assert_eq!(s.tpgid, 4242);
        assert_eq!(s.start_ticks, 123_456);
        assert_eq!(s.rss_pages, 128);
    }

    #[test]
    fn comm_may_hold_spaces_and_parentheses() {
        let s = parse_stat(TRICKY).unwrap();
        assert_eq!(s.comm, b"a) b (c)");
        assert_eq!(s.state, b'Z');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.tpgid, -1);
        assert_eq!(s.start_ticks, 999);
    }

    #[test]
    fn kernel_threads_carry_pf_kthread() {
        let s = parse_stat(KTHREAD).unwrap();
        assert_ne!(s.flags & PF_KTHREAD, 0);
        assert_eq!(parse_stat(SLEEP).unwrap().flags & PF_KTHREAD, 0);
    }

    #[test]
    fn truncated_or_garbled_lines_are_rejected() {
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"12 (x"), None);
        assert_eq!(parse_stat(b"12 (x) S 1 2 3"), None);
        assert_eq!(parse_stat(b"x) (y"), None);
        assert_eq!(parse_stat(&SLEEP[..SLEEP.len() / 2]), None);
        let bad_pid = [b"-5".as_slice(), &SLEEP[4..]].concat();
        assert_eq!(parse_stat(&bad_pid), None);
        let bad_state = String::from_utf8_lossy(SLEEP).replace(") S ", ") SS ");
        assert_eq!(parse_stat(bad_state.as_bytes()), None);
    }

    #[test]
    fn numbers_are_plain_digits_that_fit() {
        assert_eq!(parse_num::<u32>(b"4194304"), Some(4_194_304));
        assert_eq!(parse_num::<u32>(b"007"), Some(7));
        assert_eq!(parse_num::<u32>(b"4294967296"), None);
        assert_eq!(parse_num::<u64>(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_num::<u64>(b"18446744073709551616"), None);
        for bad in [&b""[..], b"+1", b"-1", b" 1", b"1 ", b"1x", b"\n"] {
            assert_eq!(parse_num::<u64>(bad), None, "{bad:?}");
        }
        assert_eq!(parse_signed::<i32>(b"-1"), Some(-1));
        assert_eq!(parse_signed::<i32>(b"-2147483648"), Some(i32::MIN));
        assert_eq!(parse_signed::<i32>(b"2147483648"), None);
        assert_eq!(parse_signed::<i64>(b"-0"), Some(0));
        for bad in [&b""[..], b"-", b"--1", b"+1", b"-x"] {
            assert_eq!(parse_signed::<i64>(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fields_split_like_split_on_single_spaces() {
        for line in [&b"a b  c "[..], b"", b" ", b"abc", SLEEP] {
            let mut fields = Fields(Some(line));
            let mut split = line.split(|&b| b == b' ');
            loop {
                let (a, b) = (fields.next(), split.next());
                assert_eq!(a, b, "{line:?}");
                if a.is_none() {
                    break;
                }
            }
        }
    }

    #[test]
    fn status_gives_the_effective_uid_and_pid_namespace_depth() {
        // Recorded from Linux 6.x: a setuid-like process (real 1000, effective 0) and a
        // process two PID namespaces deep.
        let status = b"Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t7684\nNgid:\t0\nPid:\t7684\nPPid:\t7000\nTracerPid:\t0\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\nFDSize:\t64\nGroups:\t\nNStgid:\t7684\t1\nNSpid:\t7684\t1\nNSpgid:\t7684\t1\nThreads:\t1\n";
        assert_eq!(
            parse_status(status),
            Some(Status {
                euid: 0,
                pid_levels: 2
            })
        );
        let plain = b"Name:\tx\nUid:\t65534\t65534\t65534\t65534\nNSpid:\t12\n";
        assert_eq!(
            parse_status(plain).map(|s| (s.euid, s.pid_levels)),
            Some((65534, 1))
        );
        let old_kernel = b"Name:\tx\nUid:\t5\t6\t7\t8\n";
        assert_eq!(
            parse_status(old_kernel).map(|s| (s.euid, s.pid_levels)),
            Some((6, 1))
        );
        for bad in [
            &b""[..],
            b"Uid:\t1000\n",
            b"Uid:\t1000\tx\t0\t0\n",
            b"Name:\tUid:\n",
        ] {
            assert_eq!(parse_status(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_zombie_leader_with_threads_is_alive() {
        let leader = String::from_utf8_lossy(TRICKY).replace(" 20 0 1 0 999", " 20 0 3 0 999");
        let s = parse_stat(leader.as_bytes()).unwrap();
        assert_eq!((s.state, s.num_threads), (b'Z', 3));
        assert!(s.live_threads() && !s.has_exited());
        let zombie = parse_stat(TRICKY).unwrap();
        assert!(!zombie.live_threads() && zombie.has_exited());
        assert_eq!(parse_stat(SLEEP).unwrap().num_threads, 1);
    }

    #[test]
    fn an_argv0_with_white_space_is_decided_with_the_executable() {
        // Texts alone: the lookup is never needed or says the path is not a file.
        fn whole<'a>(argv0: &'a [u8], exe: Option<&[u8]>) -> Option<&'a [u8]> {
            program_name_with_exe(argv0, exe, || Some(false))
        }
        // One path, as the executable says.
        assert_eq!(
            whole(
                b"/opt/patina tools/indexer",
                Some(b"/opt/patina tools/indexer")
            ),
            Some(&b"indexer"[..])
        );
        assert_eq!(
            whole(
                b"/Apps/Patina Tools/patina",
                Some(b"/Apps/Patina Tools/patina")
            ),
            Some(&b"patina"[..])
        );
        assert_eq!(
            whole(b"/opt/a b/patina", Some(b"/opt/a b/patina (deleted)")),
            Some(&b"patina"[..])
        );
        // A name plus a title (exec -a): the first word.
        assert_eq!(
            whole(b"patina serve --test", Some(b"/usr/bin/sleep")),
            Some(&b"patina"[..])
        );
        // No white space: the executable is not needed.
        assert_eq!(whole(b"/usr/bin/patina", None), Some(&b"patina"[..]));
        // Unknown executable: only a name both readings give.
        assert_eq!(whole(b"/opt/patina tools/indexer", None), None);
        assert_eq!(whole(b"patina serve --test", None), None);
        assert_eq!(
            whole(b"/opt/patina tools/patina", None),
            Some(&b"patina"[..])
        );
        // A symlink to another program: argv[0] resolves to the executable, so it is
        // one path and its own basename decides.
        let exe = Some(&b"/usr/lib/indexer-1.2/bin/indexer"[..]);
        let argv0 = b"/opt/patina tools/indexer";
        assert_eq!(
            program_name_with_exe(argv0, exe, || Some(true)),
            Some(&b"indexer"[..])
        );
        assert_eq!(
            program_name_with_exe(argv0, exe, || Some(false)),
            Some(&b"patina"[..])
        );
        // A lookup that cannot tell: neither reading is trusted.
        assert_eq!(program_name_with_exe(argv0, exe, || None), None);
        let exe = Some(&b"/usr/bin/patina"[..]);
        let argv0 = b"/Apps/Other Tools/patina";
        assert_eq!(
            program_name_with_exe(argv0, exe, || Some(true)),
            Some(&b"patina"[..])
        );
    }

    #[test]
    fn the_executable_is_read_only_for_an_argv0_with_white_space() {
        let n = vec!["patina".to_owned()];
        let never = || -> Option<Vec<u8>> { panic!("exe read") };
        let no_lookup = |_: &[u8]| -> Option<bool> { panic!("path looked up") };
        let not_a_file = |_: &[u8]| Some(false);
        let m = |cmdline: &[u8], exe: Option<&[u8]>, same: &dyn Fn(&[u8]) -> Option<bool>| {
            matching_name_by_exe(&n, cmdline, b"x", || exe.map(<[u8]>::to_vec), same).is_some()
        };
        assert!(
            matching_name_by_exe(&n, b"/usr/bin/patina\0serve\0", b"x", never, no_lookup).is_some()
        );
        assert!(matching_name_by_exe(&n, b"", b"patina", never, no_lookup).is_some());
        // Neither reading is a wanted name: nothing is read.
        assert!(
            matching_name_by_exe(&n, b"/opt/other tools/indexer\0", b"x", never, no_lookup)
                .is_none()
        );
        let exe = Some(&b"/opt/patina tools/indexer"[..]);
        assert!(!m(b"/opt/patina tools/indexer\0", exe, &no_lookup));
        let exe = Some(&b"/bin/sleep"[..]);
        assert!(m(b"patina serve\0", exe, &not_a_file));
        // The symlink case: only the lookup tells.
        assert!(!m(b"/opt/patina tools/indexer\0", exe, &|_| Some(true)));
        assert!(!m(b"/opt/patina tools/indexer\0", exe, &|_| None));
    }

    #[test]
    fn cmdline_splits_into_exact_argv() {
        assert_eq!(
            split_cmdline(b"a\0b c\0\0d\0"),
            vec![b"a".to_vec(), b"b c".to_vec(), b"".to_vec(), b"d".to_vec()]
        );
        assert_eq!(split_cmdline(b"no-nul"), vec![b"no-nul".to_vec()]);
        assert!(split_cmdline(b"").is_empty());
    }
}

/// Property tests; `PROPTEST_CASES=100000 cargo test proptests` runs them longer.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// The fields of one stat line, as the kernel would print them.
    #[derive(Debug, Clone)]
    struct Line {
        pid: u32,
        comm: Vec<u8>,
        state: u8,
        ppid: u32,
        pgrp: i32,
        session: i32,
        tty_nr: i32,
        tpgid: i32,
        flags: u32,
        middle: Vec<i64>,
        start: u64,
        vsize: u64,
        rss: i64,
        tail: Vec<u64>,
    }

    impl Line {
        /// The text, and the offset where the rss field starts.
        fn render(&self) -> (Vec<u8>, usize) {
            let mut out = format!("{} (", self.pid).into_bytes();
            out.extend_from_slice(&self.comm);
            out.extend_from_slice(b") ");
            out.push(self.state);
            let mut head = format!(
                " {} {} {} {} {} {}",
                self.ppid, self.pgrp, self.session, self.tty_nr, self.tpgid, self.flags
            );
            for n in &self.middle {
                head.push_str(&format!(" {n}"));
            }
            head.push_str(&format!(" {} {} ", self.start, self.vsize));
            out.extend_from_slice(head.as_bytes());
            let rss_at = out.len();
            out.extend_from_slice(self.rss.to_string().as_bytes());
            for n in &self.tail {
                out.extend_from_slice(format!(" {n}").as_bytes());
            }
            out.push(b'\n');
            (out, rss_at)
        }
    }

    fn line() -> impl Strategy<Value = Line> {
        (
            (
                any::<u32>(),
                // Any bytes but NUL, spaces, parentheses and newlines included; 64 is
                // the longest a kernel thread's name gets.
                prop::collection::vec(1u8..=255, 0..=64),
                prop::sample::select(b"RSDZTtXxKWPI".to_vec()),
                any::<u32>(),
                any::<i32>(),
                any::<i32>(),
                any::<i32>(),
                any::<i32>(),
            ),
            (
                any::<u32>(),
                prop::collection::vec(any::<i64>(), 12),
                any::<u64>(),
                any::<u64>(),
                any::<i64>(),
                // The kernel prints 52 fields: rss is never the last.
                prop::collection::vec(any::<u64>(), 1..30),
            ),
        )
            .prop_map(
                |(
                    (pid, comm, state, ppid, pgrp, session, tty_nr, tpgid),
                    (flags, middle, start, vsize, rss, tail),
                )| Line {
                    pid,
                    comm,
                    state,
                    ppid,
                    pgrp,
                    session,
                    tty_nr,
                    tpgid,
                    flags,
                    middle,
                    start,
                    vsize,
                    rss,
                    tail,
                },
            )
    }

    const SAMPLE: &[u8] = b"4242 (sleep) S 4100 4242 4100 34816 4242 4194304 97 0 0 0 0 0 0 0 20 0 1 0 123456 2273280 128 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    proptest! {
        #[test]
        fn any_bytes_are_parsed_or_rejected_without_panic(
            raw in prop::collection::vec(any::<u8>(), 0..600)
        ) {
            let _ = parse_stat(&raw);
        }

        #[test]
        fn a_damaged_real_line_is_parsed_or_rejected_without_panic(
            edits in prop::collection::vec((0..SAMPLE.len(), any::<u8>()), 1..8),
            cut in 0..=SAMPLE.len(),
        ) {
            let mut raw = SAMPLE.to_vec();
            for (at, byte) in edits {
                raw[at] = byte;
            }
            raw.truncate(cut);
            let _ = parse_stat(&raw);
        }

        #[test]
        fn every_kernel_line_parses_back_to_its_fields(line in line()) {
            let (raw, _) = line.render();
            let s = parse_stat(&raw).expect("a well-formed line");
            prop_assert_eq!(s.pid, line.pid);
            prop_assert_eq!(s.comm, &line.comm[..]);
            prop_assert_eq!(s.state, line.state);
            prop_assert_eq!(s.ppid, line.ppid);
            prop_assert_eq!(s.pgrp, line.pgrp);
            prop_assert_eq!(s.tty_nr, line.tty_nr);
            prop_assert_eq!(s.tpgid, line.tpgid);
            prop_assert_eq!(s.flags, u64::from(line.flags));
            prop_assert_eq!(s.start_ticks, line.start);
            prop_assert_eq!(s.rss_pages, line.rss.max(0) as u64);
        }

        #[test]
        fn a_line_cut_before_its_rss_field_is_rejected(line in line(), cut in any::<prop::sample::Index>()) {
            let (raw, rss_at) = line.render();
            let cut = cut.index(rss_at + 1);
            prop_assert_eq!(parse_stat(&raw[..cut]), None);
        }


        #[test]
        fn a_command_line_splits_back_into_its_argv(
            argv in prop::collection::vec(prop::collection::vec(1u8..=255, 0..40), 1..8),
            trailing_nul in any::<bool>(),
        ) {
            // `[""]` reads as no argv at all (a zombie's or kernel thread's).
            prop_assume!(argv.len() > 1 || !argv[0].is_empty());
            let mut raw: Vec<u8> = argv.iter().flat_map(|a| a.iter().copied().chain([0])).collect();
            // setproctitle-style command lines lose the final NUL (and so cannot end
            // in an empty argument).
            if !trailing_nul && !argv[argv.len() - 1].is_empty() {
                raw.pop();
            }
            prop_assert_eq!(split_cmdline(&raw), argv);
        }

        #[test]
        fn any_bytes_split_and_match_without_panic(
            raw in prop::collection::vec(any::<u8>(), 0..200),
            comm in prop::collection::vec(any::<u8>(), 0..16),
            names in prop::collection::vec("[a-zA-Z0-9._-][a-zA-Z0-9._+-]{0,14}", 1..4),
        ) {
            let argv = split_cmdline(&raw);
            prop_assert!(argv.iter().all(|a| !a.contains(&0)));
            let _ = matching_name(&names, &raw, &comm);
        }
    }
}
