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

#[test]
fn a_name_is_judged_by_the_file_there_and_the_listener_a_connection_reaches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let name = path.as_os_str().as_bytes().to_vec();
    let first = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let deadline = Instant::now() + super::super::BUDGET;
    let Some(table) = listeners(deadline).filter(|t| t.exact) else {
        skip("no socket diagnostics (unix_diag) here");
        return;
    };
    let me_pid = std::process::id();
    let judged = judge(
        resolve(&format!("/proc/{me_pid}"), &name, me()),
        &name,
        &table,
        deadline,
    );
    assert_eq!(judged.reached.len(), 1, "{judged:?}");
    assert_eq!(judged.holder, Some(me_pid), "{judged:?}");
    assert_eq!(judged.owner, Some(me()));
    assert!(judged.superseded.is_empty());
    let first_socket = judged.reached[0];
    // The kernel names the creator of each socket (Linux 5.3 and later).
    let mine = table
        .bound
        .iter()
        .find(|b| b.socket == first_socket)
        .unwrap();
    assert!(mine.uid.is_none_or(|uid| uid == me()), "{mine:?}");
    // Another socket bound at the same name after the first one's file was removed:
    // only the new one is reached, and the first is superseded.
    std::fs::remove_file(&path).unwrap();
    let second = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let table = listeners(deadline).unwrap();
    let judged = judge(
        resolve(&format!("/proc/{me_pid}"), &name, me()),
        &name,
        &table,
        deadline,
    );
    assert_eq!(judged.reached.len(), 1, "{judged:?}");
    assert_ne!(judged.reached[0], first_socket);
    assert_eq!(judged.superseded, [first_socket], "{judged:?}");
    // By name alone (no diagnostics), both may be reached and none is superseded.
    let by_name = Table {
        bound: bound_by_name(&std::fs::read("/proc/net/unix").unwrap()),
        exact: false,
    };
    let judged = judge(
        resolve(&format!("/proc/{me_pid}"), &name, me()),
        &name,
        &by_name,
        deadline,
    );
    assert_eq!(judged.reached.len(), 2, "{judged:?}");
    assert!(judged.superseded.is_empty());
    // Once the file is gone, nobody is reached and nobody superseded.
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        resolve(&format!("/proc/{me_pid}"), &name, me()),
        Resolved::Absent
    ));
    drop((first, second));
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
fn a_final_symlink_to_a_socket_elsewhere_is_not_connected_to_for_another_user() {
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
    let live = Bound {
        socket: 9,
        file: Some((0, 77, 1234)),
        name: Some(path.clone()),
        uid: None,
    };
    let elsewhere = Bound {
        socket: 7,
        file: Some((0, 77, 1234)),
        name: Some(b"/other/serve.sock".to_vec()),
        uid: None,
    };
    let old = Bound {
        socket: 8,
        file: Some((0, 77, 999)),
        name: Some(path.clone()),
        uid: None,
    };
    assert!(reaches(&live, file, &path));
    assert!(!reaches(&elsewhere, file, &path));
    assert!(!reaches(&old, file, &path));
}

#[test]
fn listening_sockets_are_read_from_proc_net_unix_lines() {
    // Recorded from Linux 6.x.
    let listen = b"0000000000000000: 00000002 00000000 00010000 0001 01 123456 /home/u/.patina/run/serve.sock";
    assert_eq!(
        parse_listener(listen),
        Some((123_456, &b"/home/u/.patina/run/serve.sock"[..]))
    );
    let spaced = b"0000000000000000: 00000002 00000000 00010000 0001 01 7 /tmp/a b";
    assert_eq!(parse_listener(spaced), Some((7, &b"/tmp/a b"[..])));
    let connected = b"0000000000000000: 00000003 00000000 00000000 0001 03 123457 /home/u/.patina/run/serve.sock";
    assert_eq!(parse_listener(connected), None);
    let unnamed = b"0000000000000000: 00000002 00000000 00010000 0001 01 99";
    assert_eq!(parse_listener(unnamed), None);
    let header = b"Num       RefCount Protocol Flags    Type St Inode Path";
    assert_eq!(parse_listener(header), None);
    assert_eq!(parse_listener(b""), None);
}
