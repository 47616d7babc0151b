//! Unit tests of the `/proc` backend, on this process and children it starts.

use super::*;

#[test]
fn this_process_has_private_memory_less_than_its_resident_size() {
    let source = ProcSource::new();
    let private = source.private_bytes(std::process::id()).unwrap();
    let raw = std::fs::read("/proc/self/stat").unwrap();
    let rss = parse_stat(&raw).unwrap().rss_pages * source.page_size;
    assert!(private > 0 && private <= rss, "{private} vs {rss}");
}

#[test]
fn proc_paths_are_nul_terminated() {
    let p = ProcPath::for_pid(4_194_304, b"cmdline").unwrap();
    assert_eq!(p.as_cstr().to_bytes(), b"4194304/cmdline");
    assert_eq!(
        ProcPath::for_pid(0, b"stat").unwrap().as_cstr().to_bytes(),
        b"0/stat"
    );
}

#[test]
fn this_process_owns_its_proc() {
    check_proc_is_ours().unwrap();
}

#[test]
fn argv0_is_looked_up_where_the_process_sees_it() {
    use std::os::unix::ffi::OsStrExt;
    let proc_dir = ProcSource::open_proc().unwrap();
    let me = std::process::id().to_string();
    let exe = std::env::current_exe().unwrap();
    let exe = exe.as_os_str().as_bytes();
    assert_eq!(argv0_is_exe(&proc_dir, me.as_bytes(), exe), Some(true));
    // Relative to the working directory, through a symlink in a spaced directory.
    let dir = tempfile::Builder::new()
        .prefix("argv0 lookup")
        .tempdir()
        .unwrap();
    let link = dir.path().join("a tool");
    std::os::unix::fs::symlink(std::env::current_exe().unwrap(), &link).unwrap();
    assert_eq!(
        argv0_is_exe(&proc_dir, me.as_bytes(), link.as_os_str().as_bytes()),
        Some(true)
    );
    let cwd = std::env::current_dir().unwrap();
    let relative = pathdiff(&link, &cwd);
    assert_eq!(
        argv0_is_exe(&proc_dir, me.as_bytes(), &relative),
        Some(true)
    );
    // Another file, or none: not the executable.
    assert_eq!(
        argv0_is_exe(&proc_dir, me.as_bytes(), b"/bin/sh"),
        Some(false)
    );
    assert_eq!(
        argv0_is_exe(&proc_dir, me.as_bytes(), b"patina serve --test"),
        Some(false)
    );
    // No such process: cannot tell.
    assert_eq!(argv0_is_exe(&proc_dir, b"999999999", exe), None);
}

/// `path` relative to `base` (`../..` as needed).
fn pathdiff(path: &std::path::Path, base: &std::path::Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let common = path
        .components()
        .zip(base.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = std::path::PathBuf::new();
    for _ in base.components().skip(common) {
        out.push("..");
    }
    for c in path.components().skip(common) {
        out.push(c);
    }
    out.as_os_str().as_bytes().to_vec()
}

#[test]
fn a_socket_among_the_descriptors_is_found_and_none_is_told_only_of_a_whole_table() {
    use std::process::{Command, Stdio};
    let proc_dir = ProcSource::open_proc().unwrap();
    let mut buf = Vec::with_capacity(8 * 1024);
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let me = std::process::id().to_string();
    assert_eq!(holds_socket(&proc_dir, me.as_bytes(), &mut buf), Some(true));
    let sleep = ["/bin/sleep", "/usr/bin/sleep"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("sleep(1)");
    // Spawned with nothing but /dev/null, and with a socket for its stdin.
    let start = |stdin: Stdio| {
        Command::new(sleep)
            .arg("1000")
            .stdin(stdin)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut plain = start(Stdio::null());
    let mut holding = start(Stdio::from(OwnedFd::from(theirs)));
    let mut holds = |child: &std::process::Child| {
        holds_socket(&proc_dir, child.id().to_string().as_bytes(), &mut buf)
    };
    let seen = (holds(&plain), holds(&holding));
    for child in [&mut plain, &mut holding] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert_eq!(seen, (Some(false), Some(true)));
    // Gone: it cannot be told.
    assert_eq!(holds(&plain), None);
    drop(ours);
}

#[test]
fn reads_this_process_from_the_real_proc() {
    let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
    let src = ProcSource::new();
    let proc_dir = ProcSource::open_proc().unwrap();
    let mut buf = Vec::new();
    src.read_stat(&proc_dir, me, &mut buf).unwrap();
    let stat = parse_stat(&buf).unwrap();
    assert_eq!(stat.pid, me);
    assert!(src.is_same_live(me, stat.start_ticks).unwrap());
    assert!(!src.is_same_live(me, stat.start_ticks + 1).unwrap());
    assert!(!src.is_same_live(u32::MAX, 1).unwrap());
    let (chain, gap) = src.ancestors(&proc_dir, &mut buf);
    assert_eq!(gap, None, "{chain:?}");
    assert_eq!(chain[0], me);
    assert!(chain.len() >= 2, "{chain:?}");
}
