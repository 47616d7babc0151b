//! Pure parsers of `ps` output: a scan line into a [`Row`], a whole scan into rows,
//! parents and the lines left out, rows into [`Process`] records, and a re-check into
//! answers. Nothing here runs `ps` or reads a clock; the sample output of each `ps` these
//! parsers read (procps, macOS, FreeBSD) is in their tests, `parse_tests.rs`.

use std::collections::HashMap;
use std::io;

use crate::scan::{
    basename, matching_name, program_name, role_of_no_parent, ParentRole, Process, Query, Scan,
};

/// The columns of every scan and every re-check, one keyword per `-o`, read by one parser
/// ([`parse_lines`]): FreeBSD's `ps` ends the keyword list of
/// one `-o` at its first `=` (the rest is that column's header, bin/ps/ps.1), while
/// macOS, FreeBSD and procps all accept `-o k1= -o k2=`. `lstart` is five words
/// (`Mon Jan  2 15:04:05 2006`) or `-` (FreeBSD, a process not in memory); `args` comes
/// last because it may hold spaces. A re-check asks for the same columns as the scan so
/// that `args` reads the same in both: macOS pads fixed-width columns (`lstart` to 28
/// characters, `%-*s` in adv_cmds ps/print.c `lstarted()`, while `%c` prints 24), so
/// the text after any other column than `rss` (right-justified) would differ.
pub(super) const PS_COLUMNS: [&str; 11] = [
    "pid=", "ppid=", "uid=", "pgid=", "tpgid=", "tty=", "stat=", "lstart=", "etime=", "rss=",
    "args=",
];
/// The columns that give the kernel's name of a few processes whose `args` does not.
pub(super) const COMM_COLUMNS: [&str; 2] = ["pid=", "ucomm="];

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

pub(super) fn trim_ascii(mut s: &[u8]) -> &[u8] {
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
/// only `<defunct>`; the name then comes from `ucomm`, asked for by the source.
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
    if comm.is_empty() || basename(first) == comm {
        return args;
    }
    let suffix = [b" (", comm, b")"].concat();
    args.strip_suffix(suffix.as_slice()).unwrap_or(args)
}

/// Whether a row that passes the uid and age filters needs the kernel's name (`ucomm`)
/// to be matched or shown: a zombie whose name `ps` does not show, an empty argv\[0\],
/// or a match whose command line may end in FreeBSD's ` (comm)`.
pub(super) fn needs_comm(row: &Row<'_>, query: &Query<'_>) -> bool {
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
        // ps shows no kernel name for most rows: any match may be ended while young.
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
pub(super) struct Parsed<'a> {
    pub(super) rows: Vec<Row<'a>>,
    pub(super) parents: HashMap<u32, u32>,
    pub(super) left_out: Vec<String>,
    /// Rows whose age cannot be true, with their `args` and the reason. Kept apart:
    /// procps reads the uptime once as it starts, so every process started during its
    /// run gets a negative `etime` printed wrapped (seen: 4123168608 s) and lands here
    /// on a busy machine; only those that could be a candidate are worth a note.
    pub(super) impossible: Vec<(&'a [u8], String)>,
}

/// Parse a whole scan. A line that cannot be read is left out with its reason (its
/// parent is still recorded when its pid and parent pid can be read); only when no line
/// at all can be read is it an error. With a `clock`, a row whose age cannot be true
/// ([`Clock::impossible`]) is left out too.
pub(super) fn parse_lines<'a>(out: &'a [u8], clock: Option<&Clock>) -> io::Result<Parsed<'a>> {
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
                first_bad.get_or_insert((n + 1, crate::text::escape(&shown), why));
            }
            Ok(row) => parsed.rows.push(row),
            Err(why) => {
                let shown: String = String::from_utf8_lossy(line).chars().take(200).collect();
                let shown = crate::text::escape(&shown);
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
pub(super) fn build_scan(
    parsed: &Parsed<'_>,
    query: &Query<'_>,
    comms: &HashMap<u32, Vec<u8>>,
) -> Scan {
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
pub(super) fn ancestors(parents: &HashMap<u32, u32>, pid: u32) -> Vec<u32> {
    let mut chain = vec![pid];
    while let Some(&ppid) = parents.get(&chain[chain.len() - 1]) {
        if ppid == 0 || chain.contains(&ppid) {
            break;
        }
        chain.push(ppid);
    }
    chain
}

/// The kernel's name of each pid in the output of a [`COMM_COLUMNS`] run.
pub(super) fn parse_comms(out: &[u8]) -> HashMap<u32, Vec<u8>> {
    let mut comms = HashMap::new();
    for line in out.split(|&b| b == b'\n') {
        let mut rest = line;
        if let Some(pid) = word(&mut rest).and_then(number::<u32>) {
            comms.insert(pid, args_column(rest).to_vec());
        }
    }
    comms
}

/// For each of `targets` (pid, start), whether a re-check's rows show it still: the same
/// start time and, if the scan saw it (`seen`), the same command line, and not a zombie.
/// `None` when a line of the re-check could not be read: that leaves every target
/// unknown, so none is taken for gone or for the same process.
pub(super) fn same_processes(
    parsed: &Parsed<'_>,
    targets: &[(u32, u64)],
    seen: &HashMap<(u32, u64), Vec<u8>>,
) -> Option<Vec<bool>> {
    if !parsed.left_out.is_empty() || !parsed.impossible.is_empty() {
        return None;
    }
    let now: HashMap<u32, &Row<'_>> = parsed.rows.iter().map(|r| (r.pid, r)).collect();
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

#[cfg(test)]
#[path = "parse_tests.rs"]
pub(super) mod tests;
