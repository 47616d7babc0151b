//! `NETLINK_SOCK_DIAG` for Unix sockets (linux/unix_diag.h), spoken with plain byte
//! buffers: what the kernel records of a Unix socket (its state, the path it was bound
//! with, the file it is bound to, its creator, its peer), asked of given sockets by
//! inode, or of every listener at once.

use rustix::fd::OwnedFd;
use rustix::net::{
    netlink, recv, sendto, socket_with, sockopt, AddressFamily, RecvFlags, SendFlags, SocketFlags,
    SocketType,
};
use std::collections::HashMap;
use std::time::Instant;

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const AF_UNIX: u8 = 1;
/// `TCP_LISTEN` and `TCP_ESTABLISHED`, as Unix sockets use them.
pub(crate) const LISTEN: u8 = 10;
pub(crate) const ESTABLISHED: u8 = 1;
const UDIAG_SHOW_NAME: u32 = 0x1;
const UDIAG_SHOW_VFS: u32 = 0x2;
const UDIAG_SHOW_PEER: u32 = 0x4;
const UDIAG_SHOW_UID: u32 = 0x40;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_VFS: u16 = 1;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_SHUTDOWN: u16 = 6;
const UNIX_DIAG_UID: u16 = 7;
/// `INET_DIAG_NOCOOKIE`: a request by inode alone.
const NO_COOKIE: u32 = u32::MAX;
/// `SHUTDOWN_MASK`: both directions shut, as the kernel leaves a connected socket
/// whose peer was closed.
const SHUT_BOTH: u8 = 3;
const HEADER: usize = 16;
const MSG: usize = 16;
const REQUEST: usize = HEADER + 24;
/// Requests by inode sent at once: their answers fit the default receive buffer.
const BATCH: usize = 32;

/// What the kernel records of one Unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sock {
    pub(crate) socket: u64,
    /// `LISTEN`, `ESTABLISHED`, or another state.
    pub(crate) state: u8,
    /// (major, minor, inode) of the file it is bound to: for a connection a listener
    /// accepted, the listener's. `None` for an abstract or unbound socket.
    pub(crate) file: Option<(u32, u32, u64)>,
    /// The path it was bound with (for an accepted connection, its listener's).
    pub(crate) name: Option<Vec<u8>>,
    /// The uid that created it (Linux 5.3 and later; `None` before).
    pub(crate) uid: Option<u32>,
    /// The inode of its peer; 0 once the peer was closed.
    pub(crate) peer: Option<u64>,
    /// Which of its directions are shut.
    pub(crate) shutdown: Option<u8>,
}

impl Sock {
    /// A connection with a live peer at its other end: neither side has been closed.
    pub(crate) fn has_live_peer(&self) -> bool {
        self.state == ESTABLISHED
            && self.peer.is_some_and(|p| p != 0)
            && self.shutdown != Some(SHUT_BOTH)
    }
}

/// A conversation with the kernel's socket diagnostics, all of it by `deadline`.
pub(crate) struct Diag {
    fd: OwnedFd,
    deadline: Instant,
    /// A Unix socket of our own that the kernel must know, asked about with the others:
    /// without `unix_diag` (a module not loaded) every request fails as one for a
    /// socket that does not exist would.
    probe: (OwnedFd, u64),
}

impl Diag {
    /// `None` where the kernel does not offer them (no `unix_diag`, a sandbox that
    /// refuses netlink).
    pub(crate) fn open(deadline: Instant) -> Option<Self> {
        let fd = socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            Some(netlink::SOCK_DIAG),
        )
        .ok()?;
        let probe = socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .ok()?;
        let inode = rustix::fs::fstat(&probe).ok()?.st_ino;
        Some(Self {
            fd,
            deadline,
            probe: (probe, inode),
        })
    }

    fn send(&self, request: &[u8]) -> Option<()> {
        let left = self.deadline.checked_duration_since(Instant::now())?;
        sockopt::set_socket_timeout(&self.fd, sockopt::Timeout::Recv, Some(left)).ok()?;
        sendto(
            &self.fd,
            request,
            SendFlags::empty(),
            &netlink::SocketAddrNetlink::new(0, 0),
        )
        .ok()?;
        Some(())
    }

    /// Receive answers, handing each to `each`, until it says that was the last
    /// (`Some(true)`). `None` on an error, malformed data or the deadline.
    fn receive(&self, mut each: impl FnMut(Answer) -> Option<bool>) -> Option<()> {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let (_, n) = recv(&self.fd, &mut buf[..], RecvFlags::empty()).ok()?;
            if n == 0 {
                return None;
            }
            if parse(&buf[..n.min(buf.len())], &mut each)? {
                return Some(());
            }
        }
    }

    /// What the kernel records of each of `sockets` that is a Unix socket of this
    /// network namespace; the others (another kind, another namespace, closed since)
    /// are not in the map. Its cost grows with the sockets asked about, not with the
    /// machine's. `None` if the kernel did not answer in time, or does not know Unix
    /// sockets at all.
    pub(crate) fn by_inode(&self, sockets: &[u64]) -> Option<HashMap<u64, Sock>> {
        let probe = self.probe.1;
        let asked: Vec<u64> = std::iter::once(probe)
            .chain(sockets.iter().copied())
            .collect();
        let mut found = HashMap::new();
        for batch in asked.chunks(BATCH) {
            let mut request = Vec::with_capacity(REQUEST * batch.len());
            for (seq, &socket) in batch.iter().enumerate() {
                // Inodes are 32 bits in the diagnostics: a larger one is nobody's.
                let Ok(ino) = u32::try_from(socket) else {
                    continue;
                };
                request.extend(exact_request(seq as u32, ino));
            }
            let asked = request.len() / REQUEST;
            if asked == 0 {
                continue;
            }
            self.send(&request)?;
            let mut answered = 0;
            self.receive(|answer| {
                answered += 1;
                if let Answer::Sock(sock) = answer {
                    found.insert(sock.socket, sock);
                }
                Some(answered >= asked)
            })?;
        }
        found.remove(&probe).map(|_| found)
    }

    /// Hand every listening Unix socket of this network namespace to `each`, one at a
    /// time (nothing of the table is kept but what `each` keeps). `None` if the kernel
    /// did not answer to the end in time.
    pub(crate) fn each_listener(&self, mut each: impl FnMut(Sock)) -> Option<()> {
        self.send(&dump_request())?;
        self.receive(|answer| match answer {
            Answer::Sock(sock) => {
                each(sock);
                Some(false)
            }
            Answer::Done => Some(true),
            Answer::Error => None,
        })
    }
}

/// A request for one socket, by inode, numbered `seq`.
fn exact_request(seq: u32, ino: u32) -> Vec<u8> {
    request(
        NLM_F_REQUEST,
        seq,
        0,
        ino,
        UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_UID,
        NO_COOKIE,
    )
}

/// A dump request for every listening Unix socket with its bound file and creator.
pub(crate) fn dump_request() -> Vec<u8> {
    request(
        NLM_F_REQUEST | NLM_F_DUMP,
        1,
        1 << LISTEN,
        0,
        UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_UID,
        0,
    )
}

fn request(flags: u16, seq: u32, states: u32, ino: u32, show: u32, cookie: u32) -> Vec<u8> {
    let mut req = Vec::with_capacity(REQUEST);
    req.extend_from_slice(&(REQUEST as u32).to_ne_bytes());
    req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend_from_slice(&flags.to_ne_bytes());
    req.extend_from_slice(&seq.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel
    req.extend_from_slice(&[AF_UNIX, 0, 0, 0]); // family, protocol, padding
    req.extend_from_slice(&states.to_ne_bytes());
    req.extend_from_slice(&ino.to_ne_bytes());
    req.extend_from_slice(&show.to_ne_bytes());
    req.extend_from_slice(&cookie.to_ne_bytes());
    req.extend_from_slice(&cookie.to_ne_bytes());
    req
}

/// One answer of the kernel's.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    Sock(Sock),
    /// An error for one request (for one asked by inode: no such Unix socket here).
    Error,
    /// The end of a dump.
    Done,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parse one datagram of answers, handing each to `each` until it says that was the
/// last (`Some(true)`, returned); `None` on malformed data or when `each` gives up.
pub(crate) fn parse(
    mut data: &[u8],
    each: &mut impl FnMut(Answer) -> Option<bool>,
) -> Option<bool> {
    while data.len() >= HEADER {
        let len = u32_at(data, 0)? as usize;
        let kind = u16_at(data, 4)?;
        if len < HEADER || len > data.len() {
            return None;
        }
        let answer = match kind {
            NLMSG_DONE => Answer::Done,
            NLMSG_ERROR => Answer::Error,
            _ => Answer::Sock(parse_sock(&data[HEADER..len])?),
        };
        if each(answer)? {
            return Some(true);
        }
        data = data.get((len + 3) & !3..).unwrap_or_default();
    }
    Some(false)
}

/// One `unix_diag_msg` and its attributes.
fn parse_sock(msg: &[u8]) -> Option<Sock> {
    let mut sock = Sock {
        socket: u64::from(u32_at(msg, 4)?),
        state: *msg.get(2)?,
        file: None,
        name: None,
        uid: None,
        peer: None,
        shutdown: None,
    };
    let mut attrs = msg.get(MSG..)?;
    while attrs.len() >= 4 {
        let alen = usize::from(u16_at(attrs, 0)?);
        let akind = u16_at(attrs, 2)?;
        if alen < 4 || alen > attrs.len() {
            return None;
        }
        match akind {
            UNIX_DIAG_UID if alen >= 8 => sock.uid = Some(u32_at(attrs, 4)?),
            UNIX_DIAG_PEER if alen >= 8 => sock.peer = Some(u64::from(u32_at(attrs, 4)?)),
            UNIX_DIAG_SHUTDOWN if alen >= 5 => sock.shutdown = Some(attrs[4]),
            UNIX_DIAG_VFS if alen >= 12 => {
                let ino = u64::from(u32_at(attrs, 4)?);
                // The kernel's own dev_t: major in the top 12 bits.
                let dev = u32_at(attrs, 8)?;
                sock.file = Some((dev >> 20, dev & 0xf_ffff, ino));
            }
            // A path name, NUL-terminated; an abstract name starts with NUL.
            UNIX_DIAG_NAME if alen > 4 && attrs[4] != 0 => {
                let name = &attrs[4..alen];
                let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                sock.name = Some(name[..end].to_vec());
            }
            _ => {}
        }
        attrs = attrs.get((alen + 3) & !3..).unwrap_or_default();
    }
    Some(sock)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One answer of `len` bytes: header, unix_diag_msg for `inode` in `state`, and a
    /// VFS attribute (inode 5 on device 8:1); the caller appends any further
    /// attributes.
    fn answer(len: u32, inode: u32, state: u8) -> Vec<u8> {
        let mut msg = Vec::new();
        msg.extend_from_slice(&len.to_ne_bytes());
        msg.extend_from_slice(&20u16.to_ne_bytes());
        msg.extend_from_slice(&[0; 10]);
        msg.extend_from_slice(&[1, 1, state, 0]);
        msg.extend_from_slice(&inode.to_ne_bytes());
        msg.extend_from_slice(&[0; 8]);
        msg.extend_from_slice(&12u16.to_ne_bytes());
        msg.extend_from_slice(&1u16.to_ne_bytes());
        msg.extend_from_slice(&5u32.to_ne_bytes());
        msg.extend_from_slice(&((8u32 << 20) | 1).to_ne_bytes());
        msg
    }

    fn all(data: &[u8]) -> Option<Vec<Answer>> {
        let mut found = Vec::new();
        parse(data, &mut |a| {
            found.push(a);
            Some(false)
        })?;
        Some(found)
    }

    fn sock(socket: u64, state: u8) -> Sock {
        Sock {
            socket,
            state,
            file: Some((8, 1, 5)),
            name: None,
            uid: None,
            peer: None,
            shutdown: None,
        }
    }

    #[test]
    fn diagnostic_answers_are_parsed_or_rejected() {
        let msg = answer(44, 77, LISTEN);
        let mut done = Vec::new();
        done.extend_from_slice(&20u32.to_ne_bytes());
        done.extend_from_slice(&3u16.to_ne_bytes());
        done.extend_from_slice(&[0; 14]);
        assert_eq!(all(&msg), Some(vec![Answer::Sock(sock(77, LISTEN))]));
        assert_eq!(
            all(&[msg.clone(), done].concat()),
            Some(vec![Answer::Sock(sock(77, LISTEN)), Answer::Done])
        );
        // Lengths that run past the data are rejected, never read out of bounds.
        let mut bad = msg.clone();
        bad[0] = 200;
        assert_eq!(all(&bad), None);
        let mut bad = msg;
        bad[32] = 200;
        assert_eq!(all(&bad), None);
        assert_eq!(dump_request().len(), REQUEST);
        assert_eq!(exact_request(3, 9).len(), REQUEST);
        // A name attribute (NUL-terminated, padded to 4 bytes) after the VFS one, the
        // creator's uid (UNIX_DIAG_UID), the peer and the shutdown state.
        let mut named = answer(0, 78, ESTABLISHED);
        named.extend_from_slice(&9u16.to_ne_bytes());
        named.extend_from_slice(&0u16.to_ne_bytes());
        named.extend_from_slice(b"/a/s\0\0\0\0");
        named.extend_from_slice(&8u16.to_ne_bytes());
        named.extend_from_slice(&7u16.to_ne_bytes());
        named.extend_from_slice(&1000u32.to_ne_bytes());
        named.extend_from_slice(&8u16.to_ne_bytes());
        named.extend_from_slice(&2u16.to_ne_bytes());
        named.extend_from_slice(&79u32.to_ne_bytes());
        named.extend_from_slice(&5u16.to_ne_bytes());
        named.extend_from_slice(&6u16.to_ne_bytes());
        named.extend_from_slice(&[0, 0, 0, 0]);
        let len = named.len() as u32;
        named[0..4].copy_from_slice(&len.to_ne_bytes());
        let expected = Sock {
            name: Some(b"/a/s".to_vec()),
            uid: Some(1000),
            peer: Some(79),
            shutdown: Some(0),
            ..sock(78, ESTABLISHED)
        };
        assert!(expected.has_live_peer());
        assert_eq!(all(&named), Some(vec![Answer::Sock(expected.clone())]));
        // A peer closed: its inode reads 0, or both directions are shut.
        assert!(!Sock {
            peer: Some(0),
            ..expected.clone()
        }
        .has_live_peer());
        assert!(!Sock {
            shutdown: Some(SHUT_BOTH),
            ..expected.clone()
        }
        .has_live_peer());
        assert!(!Sock {
            state: LISTEN,
            ..expected
        }
        .has_live_peer());
    }

    #[test]
    fn sockets_are_asked_about_by_inode() {
        let Some(diag) = Diag::open(Instant::now() + std::time::Duration::from_secs(5)) else {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"skipped: no socket diagnostics (unix_diag) here\n",
            );
            return;
        };
        use rustix::fd::AsFd;
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let ino = |s: &std::os::unix::net::UnixStream| rustix::fs::fstat(s.as_fd()).unwrap().st_ino;
        let (ia, ib) = (ino(&a), ino(&b));
        // A file is no socket: no answer for it, and no harm.
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        let other = rustix::fs::fstat(&file).unwrap().st_ino;
        let Some(found) = diag.by_inode(&[ia, other, ib]) else {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"skipped: the socket diagnostics do not answer by inode here\n",
            );
            return;
        };
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[&ia].peer, Some(ib));
        assert!(found[&ia].has_live_peer());
        drop(b);
        // A child forked by a test running beside this one may hold a copy of `b` until
        // it execs (close-on-exec): its peer is gone once that copy is too.
        let gone = (0..200).any(|_| {
            let found = diag.by_inode(&[ia]).unwrap();
            let live = found[&ia].has_live_peer();
            if live {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            !live
        });
        assert!(gone, "the peer still reads as live");
    }
}
