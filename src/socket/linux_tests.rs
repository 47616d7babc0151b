use super::*;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;

fn skip(why: &str) {
    // Straight to stderr, past libtest's capture: shown by a plain `cargo test`.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}

fn me() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn root_fd() -> OwnedFd {
    fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap()
}

/// A child (`sleep`) that holds a copy of each of `fds`.
fn holder_of(fds: &[&dyn rustix::fd::AsFd]) -> std::process::Child {
    // dup() leaves the copy without FD_CLOEXEC: the child inherits it.
    let copies: Vec<OwnedFd> = fds.iter().map(|fd| rustix::io::dup(fd).unwrap()).collect();
    let child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    drop(copies);
    child
}

fn candidate(pid: u32) -> Candidate {
    Candidate {
        pid,
        uid: me(),
        replaced: false,
        young: false,
    }
}

#[test]
fn a_path_is_served_by_the_holder_of_the_listener_bound_to_the_file_there() {
    let deadline = || Instant::now() + super::super::BUDGET;
    if Diag::open(deadline()).is_none() {
        skip("no socket diagnostics (unix_diag) here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let daemons = Daemons::Paths(vec![path.clone()]);
    let first = std::os::unix::net::UnixListener::bind(&path).unwrap();
    // A client connected to the first listener, accepted.
    let client = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let (accepted, _) = first.accept().unwrap();
    // The child holds the first listener and the accepted connection (whoever called
    // listen(), the holder serves).
    let mut child = holder_of(&[&first, &accepted]);
    drop((first, accepted));
    let pid = child.id();
    let facts = &lookup(&daemons, &[candidate(pid)], deadline())[0];
    assert_eq!(facts.serving.as_ref(), Some(&path), "{facts:?}");
    assert_eq!(facts.connected.as_ref(), Some(&path), "{facts:?}");
    // Another listener bound at the path after the first one's file was removed: the
    // child is superseded, and still in use while the client is there.
    std::fs::remove_file(&path).unwrap();
    let second = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let facts = &lookup(&daemons, &[candidate(pid)], deadline())[0];
    assert_eq!(facts.serving, None, "{facts:?}");
    assert_eq!(facts.superseded.as_ref(), Some(&path), "{facts:?}");
    assert_eq!(facts.connected.as_ref(), Some(&path), "{facts:?}");
    assert!(!facts.serving_unknown);
    drop(client);
    // A child forked by a test running beside this one may hold a copy of the client
    // until it execs (close-on-exec): the client is gone once that copy is too.
    let mut facts = lookup(&daemons, &[candidate(pid)], deadline()).remove(0);
    for _ in 0..200 {
        if facts.connected.is_none() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        facts = lookup(&daemons, &[candidate(pid)], deadline()).remove(0);
    }
    let facts = &facts;
    assert_eq!(facts.connected, None, "{facts:?}");
    assert_eq!(facts.superseded.as_ref(), Some(&path), "{facts:?}");
    // This process, holding the second, serves it.
    let me_now = candidate(std::process::id());
    let facts = &lookup(&daemons, &[me_now], deadline())[0];
    assert_eq!(facts.serving.as_ref(), Some(&path), "{facts:?}");
    // Once the file is gone, nobody serves and nobody is superseded; both listen.
    std::fs::remove_file(&path).unwrap();
    let facts = lookup(&daemons, &[candidate(pid), me_now], deadline());
    for f in &facts {
        assert_eq!((&f.serving, &f.superseded), (&None, &None), "{f:?}");
        assert_eq!(f.listens, Some(true));
    }
    assert!(matches!(
        resolve("/proc/self", path.as_os_str().as_bytes(), me()),
        Resolved::Absent
    ));
    let _ = child.kill();
    let _ = child.wait();
    drop(second);
}

#[test]
fn symlinks_are_followed_only_where_nobody_else_could_have_made_them() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let path = real.join("s.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let via_link = link.join("s.sock");
    let bytes = |p: &std::path::Path| p.as_os_str().as_bytes().to_vec();
    assert!(open_beneath(&root_fd(), &bytes(&path), me()).is_ok());
    // The caller's own symlink in the caller's own directory (mode 0700).
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(open_beneath(&root_fd(), &bytes(&via_link), me()).is_ok());
    // A directory others may write to: its symlinks could be anybody's.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(
        open_beneath(&root_fd(), &bytes(&via_link), me()).err(),
        Some(Errno::LOOP)
    );
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    // For another caller (root judging a user's path), a user's symlink is never
    // followed; the same path without one is.
    let other = me().wrapping_add(1);
    if me() == 0 {
        rustix::fs::chownat(
            CWD,
            &link,
            Some(rustix::process::Uid::from_raw(65534)),
            None,
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
        assert_eq!(
            open_beneath(&root_fd(), &bytes(&via_link), 0).err(),
            Some(Errno::LOOP)
        );
    }
    assert_eq!(
        open_beneath(&root_fd(), &bytes(&via_link), other).err(),
        Some(Errno::LOOP)
    );
    // `..` could leave the process's root: refused, as is a final symlink.
    let dotdot = [bytes(&real), b"/../real/s.sock".to_vec()].concat();
    assert_eq!(
        open_beneath(&root_fd(), &dotdot, me()).err(),
        Some(Errno::XDEV)
    );
    let missing = [bytes(&real), b"/none.sock".to_vec()].concat();
    assert_eq!(
        open_beneath(&root_fd(), &missing, me()).err(),
        Some(Errno::NOENT)
    );
}

#[test]
fn a_final_symlink_to_a_socket_elsewhere_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let target = dir.path().join("target.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&target).unwrap();
    let link = dir.path().join("serve.sock");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let name = link.as_os_str().as_bytes();
    assert!(matches!(
        resolve("/proc/self", name, me()),
        Resolved::Unknown
    ));
}

#[test]
fn descriptor_links_and_tcp_listeners_are_parsed() {
    assert_eq!(socket_inode(b"socket:[123]"), Some(123));
    assert_eq!(socket_inode(b"pipe:[123]"), None);
    assert_eq!(socket_inode(b"socket:[12"), None);
    assert_eq!(socket_inode(b"/dev/null"), None);
    // Recorded from Linux 6.x /proc/net/tcp: a listener, then an established one.
    let listen = b"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 424242 1 0000000000000000 100 0 0 10 0";
    assert_eq!(parse_tcp_listener(listen), Some(424_242));
    let established = b"   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 424243 1 0000000000000000 20 4 30 10 -1";
    assert_eq!(parse_tcp_listener(established), None);
    let header = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
    assert_eq!(parse_tcp_listener(header), None);
}

#[test]
fn a_listener_on_an_overlay_is_matched_by_inode_and_bound_name() {
    let path = b"/home/u/.patina/run/serve.sock".to_vec();
    // stat() through the overlay gives the upper layer's device; the diagnostics the
    // overlay's own, with the same inode.
    let file = (0, 40, 1234);
    let listener = |socket: u64, ino: u64, name: &[u8]| Sock {
        socket,
        state: LISTEN,
        file: Some((0, 77, ino)),
        name: Some(name.to_vec()),
        uid: None,
        peer: None,
        shutdown: None,
    };
    let live = listener(9, 1234, &path);
    let elsewhere = listener(7, 1234, b"/other/serve.sock");
    let old = listener(8, 999, &path);
    assert!(reaches(&live, file, &path));
    assert!(!reaches(&elsewhere, file, &path));
    assert!(!reaches(&old, file, &path));
}

#[test]
fn named_sockets_are_read_from_proc_net_unix_lines() {
    // Recorded from Linux 6.x.
    let listen = b"0000000000000000: 00000002 00000000 00010000 0001 01 123456 /home/u/.patina/run/serve.sock";
    assert_eq!(
        parse_unix_line(listen),
        Some((123_456, true, &b"/home/u/.patina/run/serve.sock"[..]))
    );
    let spaced = b"0000000000000000: 00000002 00000000 00010000 0001 01 7 /tmp/a b";
    assert_eq!(parse_unix_line(spaced), Some((7, true, &b"/tmp/a b"[..])));
    // A connection the listener accepted carries its name.
    let accepted = b"0000000000000000: 00000003 00000000 00000000 0001 03 123457 /home/u/.patina/run/serve.sock";
    assert_eq!(
        parse_unix_line(accepted),
        Some((123_457, false, &b"/home/u/.patina/run/serve.sock"[..]))
    );
    let abstract_name =
        b"0000000000000000: 00000002 00000000 00010000 0001 01 8 @/home/u/.patina/run/serve.sock";
    assert_eq!(parse_unix_line(abstract_name), None);
    let unnamed = b"0000000000000000: 00000002 00000000 00010000 0001 01 99";
    assert_eq!(parse_unix_line(unnamed), None);
    let header = b"Num       RefCount Protocol Flags    Type St Inode Path";
    assert_eq!(parse_unix_line(header), None);
    assert_eq!(parse_unix_line(b""), None);
    let table = NameTable::parse(&[&listen[..], b"\n", accepted, b"\n", abstract_name].concat());
    assert_eq!(table.listeners.len(), 1);
    assert_eq!(table.connected.len(), 1);
    assert!(table.daemon_named(&Daemons::Default));
}
