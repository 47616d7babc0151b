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
        .map(|l| parse_row(l).unwrap_or_else(|e| panic!("{e:?}: {}", String::from_utf8_lossy(l))))
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

/// Every process answering to `names`, whatever its owner and age.
pub(in crate::scan::ps) fn query(names: &[String]) -> Query<'_> {
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
    let line = b" 5150  4100  1000 4294967295 -1 ?  X+   Sun Nov 29 16:00:00 2026 00:01 0 [sleep]";
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
    let garbled = [
        PROCPS,
        b"this is not ps output\n 4400 1 1000 4400 -1 ? S Sun Nov 29 16:00:00 2026 xx 0 patina\n",
    ]
    .concat();
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

/// Property tests; `PROPTEST_CASES=100000 cargo test proptests` runs them longer.
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
