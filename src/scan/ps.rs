//! The portable backend: one `ps` per scan (macOS, the BSDs; `PATINA_REAP_BACKEND=ps`
//! on Linux).
//!
//! The columns below, one keyword per `-o`, are understood by macOS, FreeBSD and procps
//! `ps` alike. Each keyword ends in `=` so no header is printed, `-ww` keeps command
//! lines whole, and `args` comes last because it may hold spaces. A line that cannot be
//! read is left out with its reason ([`Scan::left_out`]); only output with no readable
//! line fails the scan. Output is capped at [`STDOUT_CAP`]. `ps` runs with a controlled environment (C locale,
//! UTC, no `COLUMNS`, `COMMAND_MODE=unix2003`) and is killed if it takes longer than
//! [`PS_TIMEOUT`].
//!
//! What `ps` cannot say exactly: the argument vector is only the space-joined `args`
//! text (with non-printable bytes replaced by `ps`), so [`Process::argv`] holds its
//! whitespace-separated words; only the first word of argv\[0\] decides the name, as with
//! `/proc`. The start time that identifies a process is `lstart` in UTC, as seconds
//! since the epoch, with one-second resolution, so a re-check also compares the `args`
//! text the scan saw; the age is `etime`.

use std::collections::HashMap;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use rustix::process::{Pid, Signal};

use super::{
    matching_name, program_name, role_of_no_parent, ParentRole, Process, Query, Scan, Source,
};
use crate::Error;

/// The columns of every scan and every re-check, one keyword per `-o`, read by one parser
/// ([`parse_lines`]): FreeBSD's `ps` ends the keyword list of
/// one `-o` at its first `=` (the rest is that column's header, bin/ps/ps.1), while
/// macOS, FreeBSD and procps all accept `-o k1= -o k2=`. `lstart` is five words
/// (`Mon Jan  2 15:04:05 2006`) or `-` (FreeBSD, a process not in memory); `args` comes
/// last because it may hold spaces. A re-check asks for the same columns as the scan so
/// that `args` reads the same in both: macOS pads fixed-width columns (`lstart` to 28
/// characters, `%-*s` in adv_cmds ps/print.c `lstarted()`, while `%c` prints 24), so
/// the text after any other column than `rss` (right-justified) would differ.
const PS_COLUMNS: [&str; 11] = [
    "pid=", "ppid=", "uid=", "pgid=", "tpgid=", "tty=", "stat=", "lstart=", "etime=", "rss=",
    "args=",
];
/// The columns that give the kernel's name of a few processes whose `args` does not.
const COMM_COLUMNS: [&str; 2] = ["pid=", "ucomm="];
/// How the scan is named in errors.
const SCAN_WHAT: &str = "ps -A";
/// A `ps` that has not finished by then is killed and the scan fails.
const PS_TIMEOUT: Duration = Duration::from_secs(5);
/// Where `ps` is looked for when `PATH` is unset or has none.
const FALLBACK_PS: [&str; 2] = ["/bin/ps", "/usr/bin/ps"];
/// At most this much of `ps`'s stderr is kept for an error message.
const STDERR_KEEP: usize = 4096;
/// A `ps` that prints more than this is stopped and the scan fails: far above any real
/// process table (100,000 processes with 600-byte command lines), and a bound on memory.
const STDOUT_CAP: usize = 64 << 20;

/// `-o k1= -o k2= ...` for these columns.
fn columns(list: &[&'static str]) -> Vec<&'static str> {
    list.iter().flat_map(|c| ["-o", c]).collect()
}

/// One line of `ps` output for [`PS_COLUMNS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row<'a> {
    pub(crate) pid: u32,
    pub(crate) ppid: u32,
    pub(crate) uid: u32,
    pub(crate) pgid: i32,
    pub(crate) tpgid: i32,
    pub(crate) tty: &'a [u8],
    pub(crate) stat: &'a [u8],
    /// `lstart` as seconds since the epoch (the child runs with `TZ=UTC0`).
    pub(crate) start: u64,
    pub(crate) etime_secs: u64,
    pub(crate) rss_kib: u64,
    /// The command line as `ps` shows it, after the one space that separates columns;
    /// it starts with white space when argv\[0\] is empty.
    pub(crate) args: &'a [u8],
}

impl Row<'_> {
    pub(crate) fn is_zombie(&self) -> bool {
        self.stat.contains(&b'Z')
    }

    /// `?` (procps), `??` (macOS) and `-` (some BSDs) mean no controlling terminal.
    pub(crate) fn has_tty(&self) -> bool {
        !matches!(self.tty, b"" | b"?" | b"??" | b"-")
    }
}

/// Why a scan line was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadRow {
    /// Not even a pid and a parent pid: not a process line.
    NotARow,
    /// `lstart` or `etime` is `-` (FreeBSD: the process is not in memory): it cannot be
    /// identified, so it is never signalled.
    NoStartTime,
    /// Some column after the parent pid is malformed.
    Malformed(&'static str),
    /// The start time or age cannot be true ([`Clock::impossible`]): the row is not
    /// trusted to say how old the process is.
    ImpossibleAge(&'static str),
}

impl BadRow {
    fn describe(self) -> String {
        match self {
            Self::NotARow => "not a process line".into(),
            Self::NoStartTime => "ps shows no start time ('-'), so it cannot be identified".into(),
            Self::Malformed(column) => format!("its {column} column cannot be read"),
            Self::ImpossibleAge(why) => format!("its age cannot be true ({why})"),
        }
    }
}

/// The next whitespace-separated word of `rest`, advancing it.
fn word<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    let tail = &rest[start..];
    let len = tail
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(tail.len());
    *rest = &tail[len..];
    Some(&tail[..len])
}

fn number<T: std::str::FromStr>(field: &[u8]) -> Option<T> {
    let digits = field.strip_prefix(b"-").unwrap_or(field);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// A 32-bit id printed signed or unsigned, as its 32 bits: procps prints the group of
/// an exiting process as 4294967295 (-1 read unsigned); macOS prints uids with `%d`
/// (adv_cmds ps/keyword.c, `UIDFMT "d"`), so `nobody` is -2.
fn id32(field: &[u8]) -> Option<u32> {
    let value: i64 = number(field)?;
    u32::try_from(value)
        .ok()
        .or_else(|| i32::try_from(value).ok().map(|v| v as u32))
}

fn group_id(field: &[u8]) -> Option<i32> {
    id32(field).map(|v| v as i32)
}

/// Parse one scan line. Every column up to `args` must be there and well formed.
#[cfg(test)]
pub(crate) fn parse_row(line: &[u8]) -> Result<Row<'_>, BadRow> {
    let (pid, ppid, rest) = parse_pids(line).ok_or(BadRow::NotARow)?;
    parse_rest(pid, ppid, rest)
}

/// The pid and parent pid at the start of a scan line, and what follows them.
fn parse_pids(line: &[u8]) -> Option<(u32, u32, &[u8])> {
    let mut rest = line;
    let pid = number(word(&mut rest)?)?;
    let ppid = number(word(&mut rest)?)?;
    Some((pid, ppid, rest))
}

fn parse_rest(pid: u32, ppid: u32, mut rest: &[u8]) -> Result<Row<'_>, BadRow> {
    use BadRow::Malformed;
    let uid = word(&mut rest).and_then(id32).ok_or(Malformed("uid"))?;
    let pgid = word(&mut rest)
        .and_then(group_id)
        .ok_or(Malformed("pgid"))?;
    let tpgid = word(&mut rest)
        .and_then(group_id)
        .ok_or(Malformed("tpgid"))?;
    let tty = word(&mut rest).ok_or(Malformed("tty"))?;
    let stat = word(&mut rest).ok_or(Malformed("stat"))?;
    let start = parse_start(&mut rest)?;
    let etime_secs = match word(&mut rest).ok_or(Malformed("etime"))? {
        b"-" => return Err(BadRow::NoStartTime),
        text => parse_etime(text).ok_or(Malformed("etime"))?,
    };
    let rss_kib = word(&mut rest).and_then(number).ok_or(Malformed("rss"))?;
    Ok(Row {
        pid,
        ppid,
        uid,
        pgid,
        tpgid,
        tty,
        stat,
        start,
        etime_secs,
        rss_kib,
        args: args_column(rest),
    })
}

/// `lstart`, or why it cannot be read.
fn parse_start(rest: &mut &[u8]) -> Result<u64, BadRow> {
    let mut peek = *rest;
    if word(&mut peek) == Some(b"-") {
        return Err(BadRow::NoStartTime);
    }
    parse_lstart(rest).ok_or(BadRow::Malformed("lstart"))
}

/// The last column: what follows the single space that separates it from the one
/// before (every `ps` prints one space between columns), without trailing white space.
/// Leading white space is kept: it is an empty argv\[0\].
fn args_column(rest: &[u8]) -> &[u8] {
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let end = rest
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &rest[..end]
}

fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [first, tail @ ..] = s {
        if !first.is_ascii_whitespace() {
            break;
        }
        s = tail;
    }
    while let [head @ .., last] = s {
        if !last.is_ascii_whitespace() {
            break;
        }
        s = head;
    }
    s
}

/// Parse `etime` (`[[dd-]hh:]mm:ss`) to seconds; anything else is `None`, never 0.
///
/// macOS prints an age of exactly one hour as `60:00` and of exactly one day as
/// `24:00:00` (adv_cmds ps/print.c, `get_etime`, tests `e > 60*60` and `e > 60*60*24`);
/// FreeBSD pads the days to three places (`  1-00:00:00`), which is one word anyway.
pub(crate) fn parse_etime(text: &[u8]) -> Option<u64> {
    let (days, clock) = match text.iter().position(|&b| b == b'-') {
        Some(i) => (Some(number::<u64>(&text[..i])?), &text[i + 1..]),
        None => (None, text),
    };
    if days.is_some_and(|_| text[0] == b'-') {
        return None;
    }
    let mut parts = [0u64; 3];
    let mut count = 0;
    for part in clock.split(|&b| b == b':') {
        if count == 3 || part.is_empty() || part.len() > 2 || part[0] == b'-' {
            return None;
        }
        parts[count] = number(part)?;
        count += 1;
    }
    let (h, m, s) = match count {
        2 if days.is_none() => (0, parts[0], parts[1]),
        3 => (parts[0], parts[1], parts[2]),
        _ => return None,
    };
    let whole_hour = m == 60 && s == 0 && count == 2;
    let whole_day = h == 24 && m == 0 && s == 0 && days.is_none();
    if (h > 23 && !whole_day) || (m > 59 && !whole_hour) || s > 59 {
        return None;
    }
    Some(days.unwrap_or(0) * 86_400 + h * 3600 + m * 60 + s)
}

const WEEKDAYS: [&[u8]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Parse the five words of `lstart` in the C locale (`Mon Jan  2 15:04:05 2006`), read
/// as UTC, to seconds since the epoch.
pub(crate) fn parse_lstart(rest: &mut &[u8]) -> Option<u64> {
    let weekday = word(rest)?;
    let month = word(rest)?;
    let day: u64 = number(word(rest)?)?;
    let clock = word(rest)?;
    let year: u64 = number(word(rest)?)?;
    if !WEEKDAYS.contains(&weekday) {
        return None;
    }
    let month = MONTHS.iter().position(|&m| m == month)? as u64 + 1;
    let mut hms = clock.split(|&b| b == b':');
    let mut next = || -> Option<u64> {
        let part = hms.next()?;
        (part.len() == 2).then_some(())?;
        number(part)
    };
    let (h, m, s) = (next()?, next()?, next()?);
    if hms.next().is_some() || h > 23 || m > 59 || s > 60 || !(1..=31).contains(&day) {
        return None;
    }
    // ps prints four-digit years; anything else is garbage (and would overflow below).
    if !(1970..=9999).contains(&year) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// Days from 1970-01-01 to the given date (proleptic Gregorian; year >= 1970).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The name `ps` shows for a process without an argument vector: procps prints a
/// zombie as `[name] <defunct>`, macOS before adv_cmds-199 `(name)` (ps/print.c,
/// `getproclline`, when the arguments cannot be read). Current macOS and FreeBSD print
/// only `<defunct>`; the name then comes from `ucomm` (see [`PsSource::comms`]).
pub(crate) fn zombie_name(args: &[u8]) -> &[u8] {
    let args = trim_ascii(args.strip_suffix(b"<defunct>").unwrap_or(args));
    match args {
        [b'[', inner @ .., b']'] | [b'(', inner @ .., b')'] => inner,
        _ => b"",
    }
}

/// FreeBSD appends ` (comm)` to the command line when the kernel's name differs from
/// the basename of argv\[0\] (bin/ps/fmt.c, `fmt_argv`); this is `args` without it.
fn without_comm_suffix<'a>(args: &'a [u8], comm: &[u8]) -> &'a [u8] {
    let first = args
        .split(u8::is_ascii_whitespace)
        .next()
        .unwrap_or_default();
    if comm.is_empty() || super::basename(first) == comm {
        return args;
    }
    let suffix = [b" (", comm, b")"].concat();
    args.strip_suffix(suffix.as_slice()).unwrap_or(args)
}

/// Whether a row that passes the uid and age filters needs the kernel's name (`ucomm`)
/// to be matched or shown: a zombie whose name `ps` does not show, an empty argv\[0\],
/// or a match whose command line may end in FreeBSD's ` (comm)`.
fn needs_comm(row: &Row<'_>, query: &Query<'_>) -> bool {
    if query.uid.is_some_and(|uid| uid != row.uid) {
        return false;
    }
    if row.is_zombie() {
        return zombie_name(row.args).is_empty();
    }
    match row.args.first() {
        None => false,
        Some(b) if b.is_ascii_whitespace() => true,
        Some(_) => row.args.ends_with(b")") && matching_name(query.names, row.args, b"").is_some(),
    }
}

/// Turn one scan row into a record if it matches `query`. `comm` is the kernel's name
/// where it was asked for ([`needs_comm`]).
fn candidate(row: &Row<'_>, query: &Query<'_>, comm: Option<&[u8]>) -> Option<Process> {
    if query.uid.is_some_and(|uid| uid != row.uid) {
        return None;
    }
    let zombie = row.is_zombie();
    let comm = comm.unwrap_or_default();
    let args = without_comm_suffix(row.args, comm);
    let name = if zombie {
        // The empty-argv rule of /proc: match the kernel's name instead.
        let shown = zombie_name(args);
        let name = if shown.is_empty() { comm } else { shown };
        if name.is_empty() {
            return None;
        }
        matching_name(query.names, b"", name)?
    } else if args.is_empty() {
        return None;
    } else if args[0].is_ascii_whitespace() {
        // An empty argv[0]: /proc matches such a process by its kernel name too.
        matching_name(query.names, b"", comm)?
    } else {
        matching_name(query.names, args, b"")?
    };
    let argv = if zombie {
        Vec::new()
    } else {
        args.split(u8::is_ascii_whitespace)
            .filter(|w| !w.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    };
    Some(Process {
        pid: row.pid,
        ppid: row.ppid,
        uid: row.uid,
        pgrp: row.pgid,
        tpgid: row.tpgid,
        has_tty: row.has_tty(),
        state: if zombie {
            b'Z'
        } else {
            row.stat.first().copied().unwrap_or(b'?')
        },
        start: row.start,
        age_secs: row.etime_secs,
        rss_bytes: row.rss_kib.saturating_mul(1024),
        name: name.clone(),
        argv,
        parent_name: None,
        parent_role: ParentRole::Unknown,
        replaced: false,
        // Young or old, every row is read: the age filter saves nothing here.
        comm_matches: true,
        sockets: Default::default(),
        // Not told by ps: a leader in state Z is taken as a zombie, and PID namespaces
        // are not seen.
        live_threads: false,
        other_namespace: false,
        ancestry_unknown: false,
    })
}

/// How far `etime` may differ from `lstart` against the clock: both are whole seconds
/// (truncated) and procps computes them from different clocks (boot time plus start
/// for `lstart`, uptime minus start for `etime`), so up to about two seconds.
const AGE_TOLERANCE_SECS: u64 = 3;

/// The clock around one `ps` run, against which its ages are checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    /// Seconds since the epoch just before `ps` started and just after it finished.
    pub(crate) before: u64,
    pub(crate) after: u64,
    /// Seconds since boot, suspend included, just after `ps` finished, where known
    /// exactly: `CLOCK_BOOTTIME` on Linux (what procps measures `etime` against). macOS
    /// and FreeBSD have no clock that is known to be time since boot including sleep
    /// without a sysctl, so there only the two other checks apply.
    pub(crate) uptime: Option<u64>,
}

impl Clock {
    fn epoch_secs() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn uptime() -> Option<u64> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
            u64::try_from(t.tv_sec).ok()
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        None
    }

    /// Why a row's age cannot be true, if it cannot: a start after now, an age above
    /// the machine's uptime, or an `etime` that disagrees with `lstart` and now by more
    /// than [`AGE_TOLERANCE_SECS`]. procps has been seen printing an `etime` of 4123168608
    /// seconds for a process that had just started; read as true, that makes a young
    /// process stale.
    pub(crate) fn impossible(&self, row: &Row<'_>) -> Option<&'static str> {
        let tol = AGE_TOLERANCE_SECS;
        if row.start > self.after.saturating_add(tol) {
            return Some("it starts after now");
        }
        if let Some(uptime) = self.uptime {
            let up = uptime.saturating_add(tol);
            // An lstart before boot with a matching etime is caught here too.
            if row.etime_secs > up {
                return Some("etime is more than the machine's uptime");
            }
        }
        let least = self.before.saturating_sub(row.start);
        let most = self.after.saturating_sub(row.start);
        if row.etime_secs.saturating_add(tol) < least || row.etime_secs > most.saturating_add(tol) {
            return Some("etime disagrees with lstart and the clock");
        }
        None
    }
}

/// A parsed scan: every row that could be read, every listed pid's parent, and the
/// lines left out with the reason.
#[derive(Debug, Default)]
struct Parsed<'a> {
    rows: Vec<Row<'a>>,
    parents: HashMap<u32, u32>,
    left_out: Vec<String>,
    /// Rows whose age cannot be true, with their `args` and the reason. Kept apart:
    /// procps reads the uptime once as it starts, so every process started during its
    /// run gets a negative `etime` printed wrapped (seen: 4123168608 s) and lands here
    /// on a busy machine; only those that could be a candidate are worth a note.
    impossible: Vec<(&'a [u8], String)>,
}

/// Parse a whole scan. A line that cannot be read is left out with its reason (its
/// parent is still recorded when its pid and parent pid can be read); only when no line
/// at all can be read is it an error. With a `clock`, a row whose age cannot be true
/// ([`Clock::impossible`]) is left out too.
fn parse_lines<'a>(out: &'a [u8], clock: Option<&Clock>) -> io::Result<Parsed<'a>> {
    let mut parsed = Parsed::default();
    let mut first_bad = None;
    for (n, line) in out.split(|&b| b == b'\n').enumerate() {
        if trim_ascii(line).is_empty() {
            continue;
        }
        let pids = parse_pids(line);
        let row = match pids {
            Some((pid, ppid, rest)) => {
                parsed.parents.insert(pid, ppid);
                parse_rest(pid, ppid, rest)
            }
            None => Err(BadRow::NotARow),
        };
        let row = row.and_then(|row| match clock.and_then(|c| c.impossible(&row)) {
            Some(why) => {
                let why = BadRow::ImpossibleAge(why);
                let note = format!("ps line {}, PID {}: {}", n + 1, row.pid, why.describe());
                parsed.impossible.push((row.args, note));
                Err(why)
            }
            None => Ok(row),
        });
        match row {
            Err(why @ BadRow::ImpossibleAge(_)) => {
                let shown: String = String::from_utf8_lossy(line).chars().take(200).collect();
                first_bad.get_or_insert((n + 1, crate::report::escape(&shown), why));
            }
            Ok(row) => parsed.rows.push(row),
            Err(why) => {
                let shown: String = String::from_utf8_lossy(line).chars().take(200).collect();
                let shown = crate::report::escape(&shown);
                first_bad.get_or_insert((n + 1, shown.clone(), why));
                parsed.left_out.push(match pids {
                    Some((pid, ..)) => format!("ps line {}, PID {pid}: {}", n + 1, why.describe()),
                    None => format!("ps line {} (\"{shown}\"): {}", n + 1, why.describe()),
                });
            }
        }
    }
    match first_bad {
        Some((n, shown, why)) if parsed.rows.is_empty() => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "unparseable output on line {n}: \"{shown}\" ({})",
                why.describe()
            ),
        )),
        _ => Ok(parsed),
    }
}

/// The program name a row shows: the basename of the first word of `args`, the name of
/// a zombie or argv-less process as `ps` shows it, or its kernel name where asked for.
fn shown_name(row: &Row<'_>, comm: Option<&[u8]>) -> Vec<u8> {
    if let Some(comm) = comm.filter(|c| !c.is_empty()) {
        return comm.to_vec();
    }
    let bracketed = zombie_name(row.args);
    if !bracketed.is_empty() {
        return bracketed.to_vec();
    }
    program_name(trim_ascii(row.args)).to_vec()
}

/// Turn parsed rows into the scan result; `comms` holds the kernel names of the rows
/// that needed one.
fn build_scan(parsed: &Parsed<'_>, query: &Query<'_>, comms: &HashMap<u32, Vec<u8>>) -> Scan {
    let mut scan = Scan::default();
    let mut names_by_pid = HashMap::with_capacity(parsed.rows.len());
    for row in &parsed.rows {
        let comm = comms.get(&row.pid).map(Vec::as_slice);
        names_by_pid.insert(row.pid, shown_name(row, comm));
        scan.processes.extend(candidate(row, query, comm));
    }
    // Each record's parent name from the parent's row (`/lib/systemd/systemd --user`
    // gives `systemd`); a parent not listed, or listed without a name, leaves it `None`
    // and its role unknown. `ps` gives no executable path: the user's service manager is
    // told by the words of its `args`. `ps` cannot tell a replaced executable.
    let args_by_pid: HashMap<u32, &[u8]> = parsed.rows.iter().map(|r| (r.pid, r.args)).collect();
    let mut no_parent = None;
    for p in &mut scan.processes {
        p.parent_name = names_by_pid
            .get(&p.ppid)
            .filter(|name| !name.is_empty())
            .map(|name| String::from_utf8_lossy(name).into_owned());
        p.parent_role = match p.ppid {
            0 => *no_parent.get_or_insert_with(role_of_no_parent),
            1 => ParentRole::Init,
            ppid => match (&p.parent_name, args_by_pid.get(&ppid)) {
                (Some(_), Some(args)) => {
                    let mut words = args
                        .split(u8::is_ascii_whitespace)
                        .filter(|w| !w.is_empty());
                    let program = words.next().unwrap_or_default();
                    ParentRole::of_live_parent(program, words)
                }
                _ => ParentRole::Unknown,
            },
        };
    }
    scan.left_out.clone_from(&parsed.left_out);
    // A row whose age cannot be true is named only when the name ps shows for it (its
    // program name, or a zombie's bracketed name) is wanted.
    scan.left_out.extend(
        parsed
            .impossible
            .iter()
            .filter(|(args, _)| {
                let shown = zombie_name(args);
                let shown = if shown.is_empty() {
                    program_name(trim_ascii(args))
                } else {
                    shown
                };
                query.names.iter().any(|n| n.as_bytes() == shown)
            })
            .map(|(_, note)| note.clone()),
    );
    scan
}

/// `pid` and its ancestors in `parents`, up to a pid whose parent is unknown or 0.
fn ancestors(parents: &HashMap<u32, u32>, pid: u32) -> Vec<u32> {
    let mut chain = vec![pid];
    while let Some(&ppid) = parents.get(&chain[chain.len() - 1]) {
        if ppid == 0 || chain.contains(&ppid) {
            break;
        }
        chain.push(ppid);
    }
    chain
}

/// The `ps` to run: the first `ps` on `PATH` (absolute entries only), else the usual
/// system locations.
fn find_ps() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("ps"))
        .chain(FALLBACK_PS.iter().map(PathBuf::from))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What one finished `ps` run printed.
struct PsOutput {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl PsOutput {
    /// The first line `ps` wrote to stderr, escaped, for an error message.
    fn complaint(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        crate::report::escape(first.trim())
    }
}

/// The `ps` process source.
#[derive(Debug)]
pub(crate) struct PsSource {
    ps: Option<PathBuf>,
    timeout: Duration,
    /// The command line each scanned process had, by (pid, start): a re-check compares
    /// it too, since `lstart` has one-second resolution.
    seen: Mutex<HashMap<(u32, u64), Vec<u8>>>,
    /// Set when whoever asked for the scan no longer waits for it: `ps` is then
    /// stopped and nothing more is read.
    abandoned: Arc<AtomicBool>,
}

impl PsSource {
    pub(crate) fn new() -> Self {
        Self {
            ps: find_ps(),
            timeout: PS_TIMEOUT,
            seen: Mutex::new(HashMap::new()),
            abandoned: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A source whose `ps` runs stop (and fail) once `abandoned` is set.
    pub(crate) fn abandonable(abandoned: Arc<AtomicBool>) -> Self {
        Self {
            abandoned,
            ..Self::new()
        }
    }

    /// Run `ps args`, bounded by the timeout; a hung `ps` (and anything it started) is
    /// killed.
    fn run(&self, args: &[&str]) -> io::Result<PsOutput> {
        let ps = self.ps.as_deref().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no ps found on PATH, at /bin/ps or at /usr/bin/ps",
            )
        })?;
        let mut child = Command::new(ps)
            .args(args)
            .env_clear()
            .env("LC_ALL", "C")
            .env("TZ", "UTC0")
            .env("COMMAND_MODE", "unix2003")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run {}: {e}", ps.display())))?;
        let deadline = Instant::now() + self.timeout;
        let result = collect(&mut child, deadline, &self.abandoned).and_then(|(stdout, stderr)| {
            match wait_until(&mut child, deadline) {
                Some(status) => Ok(PsOutput {
                    status: status?,
                    stdout,
                    stderr,
                }),
                None => Err(io::ErrorKind::TimedOut.into()),
            }
        });
        result.map_err(|e| {
            stop(&mut child);
            if e.kind() == io::ErrorKind::TimedOut && !self.abandoned.load(Ordering::Relaxed) {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{} did not finish within {}s and was killed",
                        ps.display(),
                        self.timeout.as_secs()
                    ),
                )
            } else {
                e
            }
        })
    }

    /// [`Self::run`], with the clock around it.
    fn run_timed(&self, args: &[&str]) -> (io::Result<PsOutput>, Clock) {
        let before = Clock::epoch_secs();
        let out = self.run(args);
        let after = Clock::epoch_secs().max(before);
        let uptime = Clock::uptime();
        (
            out,
            Clock {
                before,
                after,
                uptime,
            },
        )
    }

    /// Re-read `targets` in one `ps` run: for each, whether it is still that process
    /// (same start time and, if the scan saw it, same command line) and not a zombie.
    /// `None` when `ps` could not be run or said nothing usable.
    fn check(&self, targets: &[(u32, u64)]) -> Option<Vec<bool>> {
        if targets.is_empty() {
            return Some(Vec::new());
        }
        let mut pids: Vec<String> = targets.iter().map(|(pid, _)| pid.to_string()).collect();
        pids.dedup();
        let list = pids.join(",");
        let mut args = vec!["-ww"];
        args.extend(columns(&PS_COLUMNS));
        args.extend(["-p", &list]);
        let (out, clock) = self.run_timed(&args);
        let out = out.ok()?;
        // ps exits 1 when none of the pids exists, silently: that is an answer too.
        if !out.status.success() && !out.stderr.is_empty() {
            return None;
        }
        // The scan's parser: a line it cannot read leaves every target unknown, so none
        // is taken for gone or for the same process.
        let parsed = parse_lines(&out.stdout, Some(&clock)).ok()?;
        if !parsed.left_out.is_empty() || !parsed.impossible.is_empty() {
            return None;
        }
        let now: HashMap<u32, &Row<'_>> = parsed.rows.iter().map(|r| (r.pid, r)).collect();
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            targets
                .iter()
                .map(|&(pid, start)| match now.get(&pid) {
                    Some(row) if !row.is_zombie() && row.start == start => seen
                        .get(&(pid, start))
                        .is_none_or(|was| was.as_slice() == row.args),
                    _ => false,
                })
                .collect(),
        )
    }

    /// The kernel's name (`ucomm`) of each of `pids` that `ps` still lists.
    fn comms(&self, pids: &[u32]) -> io::Result<HashMap<u32, Vec<u8>>> {
        let list: Vec<String> = pids.iter().map(u32::to_string).collect();
        let list = list.join(",");
        let mut args = columns(&COMM_COLUMNS);
        args.extend(["-p", &list]);
        let out = self.run(&args)?;
        let mut comms = HashMap::new();
        for line in out.stdout.split(|&b| b == b'\n') {
            let mut rest = line;
            if let Some(pid) = word(&mut rest).and_then(number::<u32>) {
                comms.insert(pid, args_column(rest).to_vec());
            }
        }
        Ok(comms)
    }
}

/// Read the child's stdout and stderr to their end, or fail at `deadline`.
fn collect(
    child: &mut Child,
    deadline: Instant,
    abandoned: &AtomicBool,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    while stdout.is_some() || stderr.is_some() {
        if abandoned.load(Ordering::Relaxed) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the scan was abandoned by its caller",
            ));
        }
        // Woken at least every 100 ms to see whether the caller still waits.
        let left = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        if Instant::now() >= deadline {
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        let timeout = rustix::time::Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let (out_ready, err_ready) = {
            let mut fds = Vec::with_capacity(2);
            if let Some(s) = &stdout {
                fds.push(PollFd::new(s, PollFlags::IN));
            }
            if let Some(s) = &stderr {
                fds.push(PollFd::new(s, PollFlags::IN));
            }
            match poll(&mut fds, Some(&timeout)) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
            let out_ready = stdout.is_some() && ready[0];
            let err_ready = stderr.is_some() && ready[usize::from(stdout.is_some())];
            (out_ready, err_ready)
        };
        if out_ready && !read_some(&mut stdout, &mut chunk, &mut out, STDOUT_CAP + 1)? {
            stdout = None;
        }
        if out.len() > STDOUT_CAP {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "ps printed more than {} MiB, far more than any process table; stopped reading",
                    STDOUT_CAP >> 20
                ),
            ));
        }
        if err_ready && !read_some(&mut stderr, &mut chunk, &mut err, STDERR_KEEP)? {
            stderr = None;
        }
    }
    Ok((out, err))
}

/// One read from a pipe that poll said is ready, keeping at most `keep` bytes in `buf`;
/// false at end of file.
fn read_some(
    pipe: &mut Option<impl Read>,
    chunk: &mut [u8],
    buf: &mut Vec<u8>,
    keep: usize,
) -> io::Result<bool> {
    let Some(pipe) = pipe else {
        return Ok(false);
    };
    match pipe.read(chunk) {
        Ok(0) => Ok(false),
        Ok(n) => {
            let room = keep.saturating_sub(buf.len()).min(n);
            buf.extend_from_slice(&chunk[..room]);
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
        Err(e) => Err(e),
    }
}

/// Wait for the child to exit, polling, until `deadline`; `None` if it has not.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<io::Result<ExitStatus>> {
    let mut pause = Duration::from_micros(200);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(Ok(status)),
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Kill the child's process group (it leads one) and collect the child if it goes
/// quickly.
fn stop(child: &mut Child) {
    if let Some(pid) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process_group(pid, Signal::KILL);
    }
    let _ = child.kill();
    let _ = wait_until(child, Instant::now() + Duration::from_secs(1));
}

impl Source for PsSource {
    fn scan(&self, query: &Query<'_>) -> Result<Scan, Error> {
        let fail = |message: String| Error::scan(SCAN_WHAT, io::Error::other(message));
        let mut args = vec!["-A", "-ww"];
        args.extend(columns(&PS_COLUMNS));
        let (out, clock) = self.run_timed(&args);
        let out = out.map_err(|e| Error::scan(SCAN_WHAT, e))?;
        if !out.status.success() {
            let complaint = out.complaint();
            return Err(fail(if complaint.is_empty() {
                format!("ps failed ({})", out.status)
            } else {
                format!("ps failed ({}): {complaint}", out.status)
            }));
        }
        let parsed =
            parse_lines(&out.stdout, Some(&clock)).map_err(|e| Error::scan(SCAN_WHAT, e))?;
        let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
        // Without this process in the list, the pids cannot be trusted to be ours.
        if !parsed.parents.contains_key(&me) {
            return Err(fail(format!(
                "ps did not list this process (PID {me}); its output cannot be used"
            )));
        }
        // Rare rows need the kernel's name: one more ps run, for them only.
        let wanted: Vec<u32> = parsed
            .rows
            .iter()
            .filter(|row| needs_comm(row, query))
            .map(|row| row.pid)
            .collect();
        let mut left_out = Vec::new();
        let comms = if wanted.is_empty() {
            HashMap::new()
        } else {
            // Without them those rows cannot match: they are left out, not guessed.
            self.comms(&wanted).unwrap_or_else(|e| {
                left_out.push(format!(
                    "cannot read the kernel names of PIDs {wanted:?}: {e}"
                ));
                HashMap::new()
            })
        };
        let mut scan = build_scan(&parsed, query, &comms);
        scan.left_out.extend(left_out);
        scan.ancestors = ancestors(&parsed.parents, me);
        // The chain stops at a parent ps did not list (hidepid): with no start times of
        // ancestors at hand, every other process could be above that gap.
        // PID 1 is the top of this namespace: nothing lies above it, listed or not.
        let top = scan.ancestors[scan.ancestors.len() - 1];
        let hidden = top > 1 && !parsed.parents.contains_key(&top);
        super::mark_unknown_ancestry(&mut scan, hidden.then_some(u64::MAX));
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        for row in &parsed.rows {
            if scan.processes.iter().any(|p| p.pid == row.pid) {
                seen.insert((row.pid, row.start), row.args.to_vec());
            }
        }
        Ok(scan)
    }

    fn are_same_live(&self, targets: &[(u32, u64)]) -> Vec<io::Result<bool>> {
        match self.check(targets) {
            Some(same) => same.into_iter().map(Ok).collect(),
            None => targets
                .iter()
                .map(|_| Err(io::Error::other("ps could not check the process again")))
                .collect(),
        }
    }

    fn is_same_live(&self, pid: u32, start: u64) -> io::Result<bool> {
        match self.check(&[(pid, start)]) {
            Some(same) => Ok(same.first() == Some(&true)),
            None => Err(io::Error::other("ps could not check the process again")),
        }
    }

    /// kill(pid, 0): no subprocess. A zombie still counts as running here;
    /// [`Source::still_running`] tells them apart now and then during a wait.
    fn has_exited(&self, pid: u32, _start: u64) -> bool {
        let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
            return true;
        };
        rustix::process::test_kill_process(pid) == Err(Errno::SRCH)
    }

    fn still_running(&self, targets: &[(u32, u64)]) -> Vec<bool> {
        // If ps cannot tell, none is confirmed gone.
        self.check(targets)
            .unwrap_or_else(|| vec![true; targets.len()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-written from the documented formats of macOS ps(1) for PS_COLUMNS: tty `??`
    // without a terminal, tpgid 0 without one, zombies shown as `(name)`, raw bytes.
    const MACOS: &[u8] = b"\
    1     0     0     1     0 ??       Ss   Mon Mar  4 09:12:01 2024 12-03:04:05  14032 /sbin/launchd
  612     1   501   612     0 ??       S    Tue Mar  5 08:00:00 2024 1-00:00:00 1258291 /usr/local/bin/patina serve --port 8080
  700   690   501   700   700 ttys001  S+   Wed Mar 13 10:00:00 2024    12:34   3120 /Users/me/.cargo/bin/patina chat
  812   700   501   700   700 ttys001  Z+   Wed Mar 13 10:05:00 2024    07:34      0 (patina)
  820     1   501   820     0 ??       S    Wed Mar 13 10:06:00 2024    06:34   2048 /Applications/My App.app/Contents/MacOS/patina --flag
  830     1   501   830     0 ??       S    Wed Mar 13 10:06:01 2024    06:33   2048 patina caf\xc3\xa9 \xff\xfe
  840     1   502   840     0 ??       S    Wed Mar 13 10:06:02 2024    06:32   2048 /usr/bin/vim /Users/me/src/patina/main.rs
";

    // Hand-written from procps-ng ps(1) for PS_COLUMNS: tty `?`, tpgid -1, zombies as
    // `[name] <defunct>`, kernel threads in brackets, non-printables as `?`.
    const PROCPS: &[u8] = b"\
    1     0     0     1    -1 ?        Ss   Thu Nov 26 15:49:23 2026 3-01:02:03 12444 /sbin/init splash
    2     0     0     0    -1 ?        S    Thu Nov 26 15:49:23 2026 3-01:02:03     0 [kthreadd]
 4242  4100  1000  4242  4242 pts/0    S+   Sun Nov 29 16:00:00 2026       05:06  2048 /usr/local/bin/patina serve --port 8080
 4300  4242  1000  4242  4242 pts/0    Z+   Sun Nov 29 16:00:01 2026       05:05     0 [patina] <defunct>
 4310     1  1000  4310    -1 ?        Sl   Sun Nov 29 15:00:00 2026    01:05:06 99999 patina serve --name caf\xc3\xa9 ??[31m
 4100     1  1000  4100  4242 pts/0    Ss   Sun Nov 29 15:59:00 2026       06:06  5000 -bash
";

    // macOS (adv_cmds-237, apple-oss-distributions/adv_cmds) for COLUMNS, built
    // from the formats in its sources: ps/keyword.c prints uid, pid, ppid, pgid and
    // tpgid with `%d` (so `nobody` is -2); ps/print.c prints lstart with strftime `%c`
    // (C locale: `Tue Mar  5 08:00:00 2024`), etime in `get_etime` as `%02ld:%02ld`
    // while e <= 3600 (so exactly one hour is `60:00`), `%02ld:%02ld:%02ld` while
    // e <= 86400 (exactly a day is `24:00:00`), `%02ld-...` up to 100 days and
    // `%ld-...` beyond; a zombie's args is `<defunct>` (`getproclline`, since
    // adv_cmds-199); args go through strvis(VIS_TAB | VIS_NL | VIS_NOSLASH), so `café`
    // is `cafM-CM-)`; and an empty argv[0] is skipped with the NULs after exec_path.
    const MACOS_CURRENT: &[u8] = b"\
    1     0     0     1     0 ??       Ss   Mon Mar  4 09:12:01 2024 123-03:04:05  14032 /sbin/launchd
  400     1    -2   400     0 ??       Ss   Mon Mar  4 09:12:30 2024 09-00:00:00   2100 /usr/sbin/distnoted agent
  612     1   501   612     0 ??       S    Tue Mar  5 08:00:00 2024 24:00:00 1258291 /usr/local/bin/patina serve --port 8080
  613     1   501   613     0 ??       S    Wed Mar  6 07:00:00 2024    60:00   3000 patina index
  614     1   501   614     0 ??       S    Wed Mar  6 07:00:01 2024    59:59   3000 patina cafM-CM-) --tab^Ix
  700   690   501   700   700 ttys001  S+   Wed Mar  6 07:30:00 2024    30:01   3120 /Users/me/.cargo/bin/patina chat
  812   700   501   700   700 ttys001  Z+   Wed Mar  6 07:40:00 2024    20:01      0 <defunct>
  813   700   501   700   700 ttys001  Z+   Wed Mar  6 07:40:01 2024    20:00      0 <defunct>
  814   700   501   700   700 ttys001  S+   Wed Mar  6 07:40:02 2024 01-00:00:01   2048  patina --edit notes
";

    // macOS before adv_cmds-199: a zombie's (or any process whose arguments cannot be
    // read) args is `(p_comm)` (ps/print.c, `getproclline`, the ERROR_A path).
    const MACOS_BEFORE_199: &[u8] = b"\
    1     0     0     1     0 ??       Ss   Mon Mar  4 09:12:01 2024 12-03:04:05  14032 /sbin/launchd
  812   700   501   700   700 ttys001  Z+   Wed Mar 13 10:05:00 2024    07:34      0 (patina)
  815     1   501   815     0 ??       S    Wed Mar 13 10:05:01 2024    07:33      0 (patina)
";

    // FreeBSD (freebsd/freebsd-src, bin/ps) for PS_COLUMNS: bin/ps/print.c prints
    // `-` for lstart and etime of a process whose u-area is not valid (not in memory),
    // etime with `%3d-%02d:%02d:%02d` (days padded to three places), a terminal-less tty
    // as `-`, uids unsigned; bin/ps/ps.c gives a zombie the args `<defunct>`; and
    // bin/ps/fmt.c prints a process without argv as `[comm]` and appends ` (comm)`
    // when comm differs from basename(argv[0]).
    const FREEBSD: &[u8] = b"\
    0     0     0     0     0 -        DLs  Thu Nov 26 15:49:23 2026   3-01:02:03    368 [kernel]
    1     0     0     1     0 -        ILs  Thu Nov 26 15:49:23 2026   3-01:02:03   1284 /sbin/init
  950     1 65534   950     0 -        Ss   Thu Nov 26 15:50:00 2026   3-01:01:26   2000 /usr/sbin/nobodyd
 1200     1  1001  1200     0 -        SW   -                                 -      0 patina serve
 1201     1  1001  1201     0 -        S    Sun Nov 29 16:00:00 2026        05:06   2048 patina serve --port 8080 (sleep)
 1202     1  1001  1202     0 -        S    Sun Nov 29 16:00:00 2026        05:06   2048 /usr/local/bin/patina serve (a (b))
 1203  1201  1001  1201     0 -        Z    Sun Nov 29 16:00:01 2026        05:05      0 <defunct>
 1204     1  1001  1204     0 -        S    Sun Nov 29 16:00:02 2026     1-00:00:00   2048 [patina]
";

    fn rows(out: &[u8]) -> Vec<Row<'_>> {
        out.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                parse_row(l).unwrap_or_else(|e| panic!("{e:?}: {}", String::from_utf8_lossy(l)))
            })
            .collect()
    }

    /// A scan of recorded output, with the kernel names `comms` for the rows that need one.
    fn scan_with(out: &[u8], query: &Query<'_>, comms: &[(u32, &[u8])]) -> io::Result<Scan> {
        let parsed = parse_lines(out, None)?;
        let comms = comms.iter().map(|&(p, c)| (p, c.to_vec())).collect();
        let mut scan = build_scan(&parsed, query, &comms);
        scan.ancestors = parsed.parents.keys().copied().collect();
        Ok(scan)
    }

    /// The matched processes and every row's parent, as a scan of `out` finds them.
    fn parse_scan(out: &[u8], query: &Query<'_>) -> io::Result<(Vec<Process>, HashMap<u32, u32>)> {
        let parents = parse_lines(out, None)?.parents;
        Ok((scan_with(out, query, &[])?.processes, parents))
    }

    fn query(names: &[String]) -> Query<'_> {
        Query {
            names,
            uid: None,
            min_age_secs: 0,
        }
    }

    #[test]
    fn parses_macos_rows() {
        let r = rows(MACOS);
        assert_eq!(r.len(), 7);
        assert_eq!(r[0].etime_secs, 12 * 86_400 + 3 * 3600 + 4 * 60 + 5);
        assert!(!r[0].has_tty());
        assert_eq!(r[1].pid, 612);
        assert_eq!(r[1].uid, 501);
        assert_eq!(r[1].rss_kib, 1_258_291);
        assert_eq!(r[1].etime_secs, 86_400);
        assert_eq!(r[1].args, b"/usr/local/bin/patina serve --port 8080");
        assert_eq!(r[2].tty, b"ttys001");
        assert!(r[2].has_tty());
        assert_eq!((r[2].pgid, r[2].tpgid), (700, 700));
        assert!(r[3].is_zombie());
        assert_eq!(zombie_name(r[3].args), b"patina");
        assert_eq!(r[5].args, b"patina caf\xc3\xa9 \xff\xfe");
        // 2024-03-04 09:12:01 UTC
        assert_eq!(r[0].start, 1_709_543_521);
    }

    #[test]
    fn parses_procps_rows() {
        let r = rows(PROCPS);
        assert_eq!(r.len(), 6);
        assert_eq!(r[0].tpgid, -1);
        assert!(!r[0].has_tty());
        assert_eq!(r[0].etime_secs, 3 * 86_400 + 3723);
        assert_eq!(r[2].tty, b"pts/0");
        assert_eq!(r[2].etime_secs, 306);
        assert_eq!(r[2].stat, b"S+");
        assert!(r[3].is_zombie());
        assert_eq!(zombie_name(r[3].args), b"patina");
        assert_eq!(r[4].etime_secs, 3906);
        assert_eq!(r[4].rss_kib, 99_999);
        // 2026-11-29 16:00:00 UTC
        assert_eq!(r[2].start, 1_795_968_000);
        assert_eq!(r[3].start, r[2].start + 1);
    }

    #[test]
    fn a_process_exiting_during_the_scan_still_parses() {
        // procps prints the group of an exiting process as -1 read unsigned.
        let line =
            b" 5150  4100  1000 4294967295 -1 ?  X+   Sun Nov 29 16:00:00 2026 00:01 0 [sleep]";
        let row = parse_row(line).unwrap();
        assert_eq!(row.pgid, -1);
        assert_eq!(row.stat, b"X+");
        assert_eq!(group_id(b"4294967296"), None);
        assert_eq!(group_id(b"-2147483649"), None);
    }

    #[test]
    fn only_exact_names_become_candidates_with_their_words_as_argv() {
        let names = vec!["patina".to_owned()];
        let (found, parents) = parse_scan(MACOS, &query(&names)).unwrap();
        let pids: Vec<u32> = found.iter().map(|p| p.pid).collect();
        // 820's argv[0] is a path with a space: its first word is not `patina`.
        assert_eq!(pids, [612, 700, 812, 830]);
        assert_eq!(
            found[0].argv,
            [&b"/usr/local/bin/patina"[..], b"serve", b"--port", b"8080"]
        );
        assert_eq!(found[0].rss_bytes, 1_258_291 * 1024);
        assert_eq!(found[0].age_secs, 86_400);
        assert!(!found[0].has_tty);
        assert!(found[1].has_tty);
        assert_eq!(found[2].state, b'Z');
        assert!(found[2].argv.is_empty());
        assert_eq!(found[3].argv[1], b"caf\xc3\xa9");
        assert_eq!(parents[&812], 700);

        let (found, _) = parse_scan(PROCPS, &query(&names)).unwrap();
        let pids: Vec<u32> = found.iter().map(|p| p.pid).collect();
        assert_eq!(pids, [4242, 4300, 4310]);
        assert!(found[1].is_zombie());
        assert!(found[1].argv.is_empty());
        assert_eq!(found[2].argv.len(), 5);
    }

    #[test]
    fn the_uid_filter_applies_and_young_rows_are_kept() {
        let names = vec!["patina".to_owned(), "vim".to_owned()];
        // Reading every row costs nothing more here: young ones are kept for the
        // verdict, which may end a young superseded daemon.
        let q = Query {
            names: &names,
            uid: Some(501),
            min_age_secs: 3600,
        };
        let (found, _) = parse_scan(MACOS, &q).unwrap();
        let pids: Vec<u32> = found.iter().map(|p| p.pid).collect();
        assert_eq!(pids, [612, 700, 812, 830]);
        let q = Query {
            names: &names,
            uid: Some(502),
            min_age_secs: 0,
        };
        let (found, _) = parse_scan(MACOS, &q).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "vim");
    }

    #[test]
    fn kernel_threads_and_bracketed_names_do_not_match_by_name() {
        let names = vec!["kthreadd".to_owned()];
        let (found, _) = parse_scan(PROCPS, &query(&names)).unwrap();
        assert!(found.is_empty());
    }

    #[test]
    fn ancestors_follow_ppid_from_the_given_pid() {
        let names = vec![];
        let (_, parents) = parse_scan(PROCPS, &query(&names)).unwrap();
        assert_eq!(ancestors(&parents, 4300), [4300, 4242, 4100, 1]);
        assert_eq!(ancestors(&parents, 2), [2]);
        assert_eq!(ancestors(&parents, 77), [77]);
        let looped = HashMap::from([(5, 6), (6, 5)]);
        assert_eq!(ancestors(&looped, 5), [5, 6]);
    }

    #[test]
    fn etime_parses_every_documented_form() {
        assert_eq!(parse_etime(b"00:00"), Some(0));
        assert_eq!(parse_etime(b"00:05"), Some(5));
        assert_eq!(parse_etime(b"05:06"), Some(306));
        assert_eq!(parse_etime(b"01:02:03"), Some(3723));
        assert_eq!(parse_etime(b"1-00:00:00"), Some(86_400));
        assert_eq!(parse_etime(b"123-23:59:59"), Some(123 * 86_400 + 86_399));
    }

    #[test]
    fn etime_garbage_is_rejected_not_zero() {
        for bad in [
            &b""[..],
            b"garbage",
            b"5",
            b":",
            b"00:",
            b":00",
            b"1-05:06",
            b"-05:06",
            b"1--01:02:03",
            b"1-",
            b"01:02:03:04",
            b"00:60",
            b"60:01",
            b"61:00",
            b"24:00:01",
            b"24:01:00",
            b"25:00:00",
            b"1-24:00:00",
            b"123:00",
            b"0a:00",
            b"+1:00",
            b"-1:00",
            b"01:-2",
        ] {
            assert_eq!(parse_etime(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn lstart_is_read_as_utc_seconds() {
        let mut s: &[u8] = b"Thu Jan  1 00:00:00 1970";
        assert_eq!(parse_lstart(&mut s), Some(0));
        let mut s: &[u8] = b"Tue Feb 29 12:00:00 2000 rest";
        assert_eq!(parse_lstart(&mut s), Some(951_825_600));
        assert_eq!(s, b" rest");
        for bad in [
            &b"Thu Jan  1 00:00 1970"[..],
            b"Thu Jan 32 00:00:00 1970",
            b"Thu Foo  1 00:00:00 1970",
            b"jeu. janv. 1 00:00:00 1970",
            b"Thu Jan  1 24:00:00 1970",
            b"Thu Jan  1 00:00:00",
        ] {
            let mut s = bad;
            assert_eq!(
                parse_lstart(&mut s),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn truncated_or_garbled_rows_fail_the_scan() {
        assert_eq!(
            parse_row(b"  4242  4100  1000"),
            Err(BadRow::Malformed("pgid"))
        );
        assert_eq!(
            parse_row(b" 4242 4100 1000 4242 -1 ? S Sun Nov 29 16:00:00 2026 xx:yy 2048 patina"),
            Err(BadRow::Malformed("etime"))
        );
        assert_eq!(
            parse_row(b"PID PPID UID PGID TPGID TT STAT STARTED ELAPSED RSS COMMAND"),
            Err(BadRow::NotARow)
        );
        // Only output with no readable row at all fails the scan.
        let err = parse_lines(b"this is not ps output\n  PID COMMAND\n", None).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(err.to_string().contains("this is not ps output"), "{err}");
    }

    /// A re-check reads what the scan read: macOS pads `lstart` to 28 characters and
    /// `stat` to 4 (adv_cmds ps/print.c `lstarted()`, `state()`), so `args` must follow
    /// a right-justified column in every run, as `rss` is, or it gains leading spaces.
    #[test]
    fn scan_and_check_read_the_same_args_from_padded_macos_columns() {
        let line = b"  501   300   501   501    0 ??       S    Sun Nov 29 16:00:00 2026          01:02:03   1234 /usr/local/bin/patina serve";
        let row = parse_row(line).unwrap();
        assert_eq!(row.start, 1_795_968_000);
        assert_eq!(row.args, b"/usr/local/bin/patina serve");
        let parsed = parse_lines(line, None).unwrap();
        assert_eq!(parsed.rows, [row]);
        assert!(PS_COLUMNS.last() == Some(&"args=") && PS_COLUMNS[PS_COLUMNS.len() - 2] == "rss=");
    }

    /// Recorded rows against a clock: 2026-11-29 16:00:00 UTC is 1_795_968_000.
    #[test]
    fn rows_whose_age_cannot_be_true_are_left_out_never_stale() {
        let now = 1_795_968_000 + 3600;
        let clock = Clock {
            before: now,
            after: now + 1,
            uptime: Some(10 * 86_400),
        };
        let lines: &[&[u8]] = &[
            // Started an hour ago, etime an hour: true.
            b" 4242     1   501  4242     0 ??       S    Sun Nov 29 16:00:00 2026          01:00:00   1234 patina serve",
            // The procps case: a young process with etime 4123168608 s (47721 days).
            b" 4243     1   501  4243     0 ??       S    Sun Nov 29 16:59:59 2026   47721-20:36:48   1234 patina serve",
            // Starts tomorrow.
            b" 4244     1   501  4244     0 ??       S    Mon Nov 30 17:00:00 2026            00:00   1234 patina serve",
            // lstart and etime agree, but on a machine up ten days, 30 days old.
            b" 4245     1   501  4245     0 ??       S    Fri Oct 30 17:00:00 2026      30-00:00:00   1234 patina serve",
            // etime a day older than lstart says.
            b" 4246     1   501  4246     0 ??       S    Sun Nov 29 16:00:00 2026       1-01:00:00   1234 patina serve",
            // Within the tolerance: one second off either way.
            b" 4247     1   501  4247     0 ??       S    Sun Nov 29 16:00:00 2026          59:59   1234 patina serve",
            b" 4248     1   501  4248     0 ??       S    Sun Nov 29 16:00:00 2026       01:00:02   1234 patina serve",
        ];
        let out = lines.join(&b"\n"[..]);
        let parsed = parse_lines(&out, Some(&clock)).unwrap();
        let kept: Vec<u32> = parsed.rows.iter().map(|r| r.pid).collect();
        assert_eq!(kept, [4242, 4247, 4248]);
        assert!(parsed.left_out.is_empty(), "{:?}", parsed.left_out);
        let why: Vec<&str> = parsed.impossible.iter().map(|(_, n)| n.as_str()).collect();
        let why = why.join("\n");
        for (pid, reason) in [
            (4243, "more than the machine's uptime"),
            (4244, "starts after now"),
            (4245, "more than the machine's uptime"),
            (4246, "disagrees with lstart"),
        ] {
            assert!(
                why.contains(&format!("PID {pid}: its age cannot be true")) && why.contains(reason),
                "{why}"
            );
        }
        // Without a known uptime (macOS, FreeBSD) the consistent 30-day row is read as
        // true, and the others are still left out.
        let clock = Clock {
            uptime: None,
            ..clock
        };
        let parsed = parse_lines(&out, Some(&clock)).unwrap();
        let kept: Vec<u32> = parsed.rows.iter().map(|r| r.pid).collect();
        assert_eq!(kept, [4242, 4245, 4247, 4248]);
        // Those rows never become candidates, whatever the threshold.
        let names = vec!["patina".to_string()];
        let scan = build_scan(&parsed, &query(&names), &HashMap::new());
        let pids: Vec<u32> = scan.processes.iter().map(|p| p.pid).collect();
        assert_eq!(pids, [4242, 4245, 4247, 4248]);
        // Each is named under --verbose when its name is wanted, and not otherwise (procps
        // prints a wrapped etime for every process started during its run).
        assert_eq!(scan.left_out.len(), 3, "{:?}", scan.left_out);
        let names = vec!["other".to_string()];
        let scan = build_scan(&parsed, &query(&names), &HashMap::new());
        assert!(scan.left_out.is_empty(), "{:?}", scan.left_out);
    }

    #[test]
    fn this_machine_s_clock_reads_this_process_as_possible() {
        let src = PsSource::new();
        if src.ps.is_none() {
            eprintln!("skipped: no ps on this system");
            return;
        }
        let me = std::process::id().to_string();
        let mut args = vec!["-ww"];
        args.extend(columns(&PS_COLUMNS));
        args.extend(["-p", &me]);
        let (out, clock) = src.run_timed(&args);
        let out = out.unwrap();
        let row = parse_row(trim_ascii(&out.stdout)).unwrap();
        assert_eq!(clock.impossible(&row), None, "{row:?} {clock:?}");
        assert_eq!(clock.uptime.is_some(), cfg!(target_os = "linux"));
    }

    #[test]
    fn zombie_names_come_from_brackets_or_parentheses() {
        assert_eq!(zombie_name(b"[patina] <defunct>"), b"patina");
        assert_eq!(zombie_name(b"(patina)"), b"patina");
        assert_eq!(zombie_name(b"<defunct>"), b"");
        assert_eq!(zombie_name(b"patina serve"), b"");
    }

    #[test]
    fn macos_rows_parse_at_every_boundary_the_sources_print() {
        let r = rows(MACOS_CURRENT);
        assert_eq!(r.len(), 9);
        assert_eq!(r[0].etime_secs, 123 * 86_400 + 3 * 3600 + 4 * 60 + 5);
        // -2 (nobody) as its 32 bits.
        assert_eq!(r[1].uid, 4_294_967_294);
        assert_eq!(r[1].etime_secs, 9 * 86_400);
        assert_eq!(r[2].etime_secs, 86_400);
        assert_eq!(r[3].etime_secs, 3600);
        assert_eq!(r[4].etime_secs, 3599);
        assert_eq!(r[8].etime_secs, 86_401);
        assert!(r[6].is_zombie());
        assert_eq!(r[6].args, b"<defunct>");
        assert_eq!(r[8].args, b" patina --edit notes");
        assert_eq!(id32(b"-2147483648"), Some(0x8000_0000));
        assert_eq!(id32(b"-2147483649"), None);
        assert_eq!(id32(b"4294967296"), None);
    }

    #[test]
    fn a_defunct_zombie_is_named_by_its_kernel_name() {
        let names = vec!["patina".to_owned()];
        let q = query(&names);
        // 812 and 813 print only `<defunct>`, and the empty argv[0] of 814 needs a name.
        let rows = parse_lines(MACOS_CURRENT, None).unwrap().rows;
        let wanted: Vec<u32> = rows
            .iter()
            .filter(|r| needs_comm(r, &q))
            .map(|r| r.pid)
            .collect();
        assert_eq!(wanted, [812, 813, 814]);
        let scan = scan_with(
            MACOS_CURRENT,
            &q,
            &[(812, b"patina"), (813, b"sleep"), (814, b"sleeper")],
        )
        .unwrap();
        let pids: Vec<u32> = scan.processes.iter().map(|p| p.pid).collect();
        assert_eq!(pids, [612, 613, 614, 700, 812]);
        let zombie = &scan.processes[4];
        assert!(zombie.is_zombie());
        assert!(zombie.argv.is_empty());
        // The parent of every matched process is known by name.
        assert_eq!(zombie.parent_name.as_deref(), Some("patina"));
        assert_eq!(scan.processes[0].parent_name.as_deref(), Some("launchd"));
        // Without the kernel names nothing is guessed: the zombies are not listed.
        let scan = scan_with(MACOS_CURRENT, &q, &[]).unwrap();
        assert_eq!(scan.processes.len(), 4);
    }

    #[test]
    fn an_empty_argv0_matches_by_kernel_name_only_as_with_proc() {
        let names = vec!["patina".to_owned()];
        let q = query(&names);
        let line = MACOS_CURRENT.split(|&b| b == b'\n').nth(8).unwrap();
        let row = parse_row(line).unwrap();
        // argv ["", "patina", "--edit", "notes"]: `patina` is an argument, not the program.
        assert_eq!(candidate(&row, &q, Some(b"sleeper")), None);
        assert_eq!(candidate(&row, &q, None), None);
        let found = candidate(&row, &q, Some(b"patina")).unwrap();
        assert_eq!(found.argv, [&b"patina"[..], b"--edit", b"notes"]);
    }

    #[test]
    fn strvis_escaped_arguments_keep_ascii_names_matching() {
        let names = vec!["patina".to_owned()];
        let scan = scan_with(MACOS_CURRENT, &query(&names), &[]).unwrap();
        let p = scan.processes.iter().find(|p| p.pid == 614).unwrap();
        assert_eq!(p.name, "patina");
        assert_eq!(p.argv, [&b"patina"[..], b"cafM-CM-)", b"--tab^Ix"]);
    }

    #[test]
    fn macos_before_199_names_zombies_in_parentheses() {
        let names = vec!["patina".to_owned()];
        let scan = scan_with(MACOS_BEFORE_199, &query(&names), &[]).unwrap();
        let pids: Vec<u32> = scan.processes.iter().map(|p| p.pid).collect();
        // 815 is alive with unreadable arguments: `(patina)` is not an argv[0].
        assert_eq!(pids, [812]);
        assert!(scan.processes[0].is_zombie());
    }

    #[test]
    fn freebsd_rows_without_a_start_time_are_left_out_with_a_reason() {
        let parsed = parse_lines(FREEBSD, None).unwrap();
        assert_eq!(parsed.rows.len(), 7);
        assert_eq!(parsed.left_out.len(), 1);
        assert!(
            parsed.left_out[0].contains("PID 1200") && parsed.left_out[0].contains("no start time"),
            "{:?}",
            parsed.left_out
        );
        // Its parent is still known, so the ancestor chain through it is complete.
        assert_eq!(parsed.parents[&1200], 1);
        assert_eq!(parsed.rows[2].uid, 65_534);
        assert_eq!(parsed.rows[6].etime_secs, 86_400);
        assert!(!parsed.rows[0].has_tty());
        assert_eq!(
            parse_row(b"1200 1 1001 1200 0 - S Sun Nov 29 16:00:00 2026 - 0 patina"),
            Err(BadRow::NoStartTime)
        );
    }

    #[test]
    fn freebsd_comm_suffix_and_brackets_are_not_arguments() {
        let names = vec!["patina".to_owned()];
        let q = query(&names);
        let rows = parse_lines(FREEBSD, None).unwrap().rows;
        let wanted: Vec<u32> = rows
            .iter()
            .filter(|r| needs_comm(r, &q))
            .map(|r| r.pid)
            .collect();
        assert_eq!(wanted, [1201, 1202, 1203]);
        let scan = scan_with(
            FREEBSD,
            &q,
            &[(1201, b"sleep"), (1202, b"patina"), (1203, b"patina")],
        )
        .unwrap();
        let pids: Vec<u32> = scan.processes.iter().map(|p| p.pid).collect();
        // 1204 `[patina]` has no argv (or an argv of `[patina]`): never matched.
        assert_eq!(pids, [1201, 1202, 1203]);
        assert_eq!(
            scan.processes[0].argv,
            [&b"patina"[..], b"serve", b"--port", b"8080"]
        );
        // comm equals basename(argv[0]): the parentheses are real arguments.
        assert_eq!(scan.processes[1].argv.last().unwrap(), b"(b))");
        assert!(scan.processes[2].is_zombie());
        assert_eq!(scan.left_out.len(), 1);
    }

    #[test]
    fn one_unreadable_row_no_longer_fails_the_scan() {
        let names = vec!["patina".to_owned()];
        let garbled = [PROCPS, b"this is not ps output\n 4400 1 1000 4400 -1 ? S Sun Nov 29 16:00:00 2026 xx 0 patina\n"].concat();
        let parsed = parse_lines(&garbled, None).unwrap();
        assert_eq!(parsed.rows.len(), 6);
        assert_eq!(parsed.left_out.len(), 2, "{:?}", parsed.left_out);
        assert!(
            parsed.left_out[0].contains("line 7"),
            "{:?}",
            parsed.left_out
        );
        assert!(parsed.left_out[1].contains("PID 4400") && parsed.left_out[1].contains("etime"));
        let (found, _) = parse_scan(&garbled, &query(&names)).unwrap();
        assert!(found.iter().all(|p| p.pid != 4400));
    }

    #[test]
    fn columns_are_one_keyword_per_option() {
        let args = columns(&PS_COLUMNS);
        assert_eq!(args.len(), 22);
        for pair in args.chunks(2) {
            assert_eq!(pair[0], "-o");
            assert!(pair[1].ends_with('=') && pair[1].matches('=').count() == 1);
        }
    }

    /// PID reuse within the second `lstart` shows: a process that exec()s keeps its
    /// pid and start time, so to `ps` it is exactly a new process under the scanned
    /// (pid, start second). Only its command line tells them apart.
    #[test]
    fn a_different_command_line_under_the_scanned_pid_and_second_is_not_signalled() {
        use std::io::Write;
        use std::sync::atomic::AtomicU32;
        let src = PsSource::new();
        if src.ps.is_none() {
            eprintln!("skipped: no ps on this system");
            return;
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "pu{:x}n{:x}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        // Scanned as `NAME -c ...`; after a line on stdin, the same pid is `sleep 1000`.
        let mut child = Command::new("/bin/sh")
            .arg0(&name)
            .args(["-c", "read _ && exec sleep 1000"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let names = vec![name];
        let scan = src.scan(&query(&names)).unwrap();
        let start = scan.processes.iter().find(|p| p.pid == pid).unwrap().start;
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = src.run(&["-o", "args=", "-p", &pid.to_string()]).unwrap();
            if String::from_utf8_lossy(&out.stdout).starts_with("sleep") {
                break;
            }
            assert!(Instant::now() < deadline, "never exec'd");
            std::thread::sleep(Duration::from_millis(5));
        }
        let fates = crate::reap::reap(
            &src,
            &[(pid, start)],
            &[false],
            crate::reap::Timing::with_grace(Duration::from_secs(1)),
            &crate::watch::Watch::default(),
        );
        let alive = matches!(child.try_wait(), Ok(None));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(fates, [crate::reap::Fate::Vanished]);
        assert!(alive, "the process now under the scanned pid was signalled");
    }

    /// A scan that its caller gave up on stops its `ps` at once, not at the timeout.
    #[test]
    fn an_abandoned_scan_stops_reading() {
        let dir = tempfile::tempdir().unwrap();
        let ps = dir.path().join("ps");
        let tmp = dir.path().join("ps.tmp");
        std::fs::write(&tmp, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, &ps).unwrap();
        let abandoned = Arc::new(AtomicBool::new(false));
        let src = PsSource {
            ps: Some(ps),
            ..PsSource::abandonable(Arc::clone(&abandoned))
        };
        let flag = Arc::clone(&abandoned);
        let giver_up = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            flag.store(true, Ordering::Relaxed);
        });
        let names = vec![];
        let err = src.scan(&query(&names)).unwrap_err().to_string();
        giver_up.join().unwrap();
        assert!(err.contains("abandoned"), "{err}");
    }

    #[test]
    fn reads_this_process_from_the_real_ps() {
        let src = PsSource::new();
        if src.ps.is_none() {
            eprintln!("skipped: no ps on this system");
            return;
        }
        let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
        let names = vec![];
        let scan = src.scan(&query(&names)).unwrap();
        assert_eq!(scan.ancestors[0], me);
        assert!(scan.ancestors.len() >= 2, "{:?}", scan.ancestors);
        let mut args = columns(&PS_COLUMNS);
        let me_text = me.to_string();
        args.extend(["-p", &me_text]);
        let out = src.run(&args).unwrap();
        let row = parse_row(trim_ascii(&out.stdout)).unwrap();
        let start = row.start;
        assert_eq!((row.pid, row.is_zombie()), (me, false));
        assert!(src.is_same_live(me, start).unwrap());
        assert!(!src.is_same_live(me, start + 1).unwrap());
        assert!(!src.has_exited(me, start));
        assert_eq!(src.still_running(&[(me, start), (me, 1)]), [true, false]);
    }
}

/// Property tests; `PROPTEST_CASES=100000 cargo test proptests` runs them longer.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// The inverse of `days_from_civil`: (year, month, day) of a day count from 1970.
    fn civil_from_days(days: u64) -> (u64, u64, u64) {
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + u64::from(month <= 2);
        (year, month, day)
    }

    /// `lstart` as ps prints it in the C locale, for seconds since the epoch.
    fn lstart(secs: u64) -> String {
        let days = secs / 86_400;
        let (y, mo, d) = civil_from_days(days);
        let weekday = WEEKDAYS[((days + 4) % 7) as usize]; // 1970-01-01 was a Thursday
        let month = MONTHS[mo as usize - 1];
        let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
        format!(
            "{} {} {d:>2} {h:02}:{m:02}:{s:02} {y}",
            String::from_utf8_lossy(weekday),
            String::from_utf8_lossy(month)
        )
    }

    /// `etime` as ps prints it.
    fn etime(secs: u64) -> String {
        let (d, h, m, s) = (
            secs / 86_400,
            secs % 86_400 / 3600,
            secs % 3600 / 60,
            secs % 60,
        );
        match (d, h) {
            (0, 0) => format!("{m:02}:{s:02}"),
            (0, _) => format!("{h:02}:{m:02}:{s:02}"),
            _ => format!("{d}-{h:02}:{m:02}:{s:02}"),
        }
    }

    proptest! {
        #[test]
        fn any_bytes_are_parsed_or_rejected_without_panic(raw in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_row(&raw);
            let _ = parse_etime(&raw);
            let _ = parse_lstart(&mut &raw[..]);
            let _ = zombie_name(&raw);
        }

        #[test]
        fn row_like_text_is_parsed_or_rejected_without_panic(
            words in prop::collection::vec("[0-9A-Za-z:+?/-]{0,12}", 0..18),
        ) {
            let line = words.join(" ");
            let _ = parse_row(line.as_bytes());
        }

        #[test]
        fn every_etime_parses_back(secs in 0u64..(100_000 * 86_400)) {
            prop_assert_eq!(parse_etime(etime(secs).as_bytes()), Some(secs));
        }

        #[test]
        fn any_date_in_lstart_form_is_parsed_or_rejected_without_panic(
            day in 0u64..40,
            (h, m, sec) in (0u64..100, 0u64..100, 0u64..100),
            year in prop_oneof![any::<u64>(), 1960u64..3000],
        ) {
            let text = format!("Thu Jan {day:>2} {h:02}:{m:02}:{sec:02} {year}");
            let _ = parse_lstart(&mut text.as_bytes());
        }

        #[test]
        fn every_lstart_parses_back(secs in 0u64..(200 * 365 * 86_400)) {
            let text = lstart(secs);
            let mut rest = text.as_bytes();
            prop_assert_eq!(parse_lstart(&mut rest), Some(secs), "{}", text);
            prop_assert!(rest.is_empty());
        }

        #[test]
        fn every_row_parses_back_to_its_columns(
            (pid, ppid, uid) in (any::<u32>(), any::<u32>(), any::<u32>()),
            (pgid, tpgid) in (0..i32::MAX, -1..i32::MAX),
            tty in "\\?|pts/[0-9]{1,3}|ttys[0-9]{3}",
            stat in "[RSDZTIXU][sl+<NL]{0,3}",
            start in 0u64..(100 * 365 * 86_400),
            age in 0u64..(1000 * 86_400),
            rss in any::<u32>(),
            args in "[ -~]{0,80}",
            pad in " {0,6}",
        ) {
            let line = format!(
                "{pad}{pid} {ppid} {uid} {pgid} {tpgid} {tty} {stat} {} {} {rss} {args}",
                lstart(start),
                etime(age)
            );
            let row = parse_row(line.as_bytes()).expect("a well-formed row");
            prop_assert_eq!((row.pid, row.ppid, row.uid), (pid, ppid, uid));
            prop_assert_eq!((row.pgid, row.tpgid), (pgid, tpgid));
            prop_assert_eq!(row.tty, tty.as_bytes());
            prop_assert_eq!(row.stat, stat.as_bytes());
            prop_assert_eq!(row.start, start);
            prop_assert_eq!(row.etime_secs, age);
            prop_assert_eq!(row.rss_kib, u64::from(rss));
            prop_assert_eq!(row.args, args.trim_end().as_bytes());
        }
    }
}
