//! `NETLINK_SOCK_DIAG` for Unix sockets (linux/unix_diag.h), spoken with plain byte buffers:
//! every listening Unix socket with the path it was bound with and the file it is bound to.

use rustix::net::{
    netlink, recv, sendto, socket_with, sockopt, AddressFamily, RecvFlags, SendFlags, SocketFlags,
    SocketType,
};
use std::time::Instant;

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const AF_UNIX: u8 = 1;
/// `1 << TCP_LISTEN`: only listening sockets.
const LISTENING: u32 = 1 << 10;
const UDIAG_SHOW_NAME: u32 = 0x1;
const UDIAG_SHOW_VFS: u32 = 0x2;
const UDIAG_SHOW_UID: u32 = 0x40;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_VFS: u16 = 1;
const UNIX_DIAG_UID: u16 = 7;
const HEADER: usize = 16;
const MSG: usize = 16;

/// A listening socket, the file it is bound to and the path it was bound with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bound {
    pub(crate) socket: u64,
    /// (major, minor, inode) of the bound file; `None` for an abstract or
    /// unbound socket.
    pub(crate) file: Option<(u32, u32, u64)>,
    /// The path it was bound with.
    pub(crate) name: Option<Vec<u8>>,
    /// The uid that created it (Linux 5.3 and later; `None` before).
    pub(crate) uid: Option<u32>,
}

/// Every listening Unix socket; `None` if the kernel does not
/// answer (no `unix_diag`, a sandbox), within the deadline.
pub(crate) fn listening_files(deadline: Instant) -> Option<Vec<Bound>> {
    let fd = socket_with(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        Some(netlink::SOCK_DIAG),
    )
    .ok()?;
    let left = deadline.checked_duration_since(Instant::now())?;
    sockopt::set_socket_timeout(&fd, sockopt::Timeout::Recv, Some(left)).ok()?;
    sendto(
        &fd,
        &request(),
        SendFlags::empty(),
        &netlink::SocketAddrNetlink::new(0, 0),
    )
    .ok()?;
    let mut found = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let (_, n) = recv(&fd, &mut buf[..], RecvFlags::empty()).ok()?;
        if n == 0 || parse(&buf[..n.min(buf.len())], &mut found)? {
            return Some(found);
        }
    }
}

/// A dump request for listening Unix sockets with their bound files.
pub(crate) fn request() -> Vec<u8> {
    let mut req = Vec::with_capacity(HEADER + 24);
    req.extend_from_slice(&((HEADER + 24) as u32).to_ne_bytes());
    req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    req.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel
    req.extend_from_slice(&[AF_UNIX, 0, 0, 0]); // family, protocol, padding
    req.extend_from_slice(&LISTENING.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes()); // any inode
    req.extend_from_slice(&(UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_UID).to_ne_bytes());
    req.extend_from_slice(&[0; 8]); // cookie
    req
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parse one datagram of answers into `found`: `Some(true)` at the end of the
/// dump, `None` on an error answer or malformed data.
pub(crate) fn parse(mut data: &[u8], found: &mut Vec<Bound>) -> Option<bool> {
    while data.len() >= HEADER {
        let len = u32_at(data, 0)? as usize;
        let kind = u16_at(data, 4)?;
        if len < HEADER || len > data.len() {
            return None;
        }
        match kind {
            NLMSG_DONE => return Some(true),
            NLMSG_ERROR => return None,
            _ => {}
        }
        let msg = &data[HEADER..len];
        let socket = u64::from(u32_at(msg, 4)?);
        let mut bound = Bound {
            socket,
            file: None,
            name: None,
            uid: None,
        };
        let mut attrs = msg.get(MSG..)?;
        while attrs.len() >= 4 {
            let alen = usize::from(u16_at(attrs, 0)?);
            let akind = u16_at(attrs, 2)?;
            if alen < 4 || alen > attrs.len() {
                return None;
            }
            if akind == UNIX_DIAG_UID && alen >= 8 {
                bound.uid = Some(u32_at(attrs, 4)?);
            }
            if akind == UNIX_DIAG_VFS && alen >= 12 {
                let ino = u64::from(u32_at(attrs, 4)?);
                // The kernel's own dev_t: major in the top 12 bits.
                let dev = u32_at(attrs, 8)?;
                bound.file = Some((dev >> 20, dev & 0xf_ffff, ino));
            }
            // A path name, NUL-terminated; an abstract name starts with NUL.
            if akind == UNIX_DIAG_NAME && alen > 4 && attrs[4] != 0 {
                let name = &attrs[4..alen];
                let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                bound.name = Some(name[..end].to_vec());
            }
            attrs = attrs.get((alen + 3) & !3..).unwrap_or_default();
        }
        found.push(bound);
        data = data.get((len + 3) & !3..).unwrap_or_default();
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One answer of `len` bytes: header, unix_diag_msg for `inode`, and a VFS
    /// attribute (inode 5 on device 8:1); the caller appends any further attributes.
    fn answer(len: u32, inode: u32) -> Vec<u8> {
        let mut msg = Vec::new();
        msg.extend_from_slice(&len.to_ne_bytes());
        msg.extend_from_slice(&20u16.to_ne_bytes());
        msg.extend_from_slice(&[0; 10]);
        msg.extend_from_slice(&[1, 1, 10, 0]);
        msg.extend_from_slice(&inode.to_ne_bytes());
        msg.extend_from_slice(&[0; 8]);
        msg.extend_from_slice(&12u16.to_ne_bytes());
        msg.extend_from_slice(&1u16.to_ne_bytes());
        msg.extend_from_slice(&5u32.to_ne_bytes());
        msg.extend_from_slice(&((8u32 << 20) | 1).to_ne_bytes());
        msg
    }

    #[test]
    fn diagnostic_answers_are_parsed_or_rejected() {
        let mut found = Vec::new();
        // One answer: header, unix_diag_msg (inode 77), a VFS attribute (inode 5 on
        // device 8:1), then DONE.
        let msg = answer(44, 77);
        let mut done = Vec::new();
        done.extend_from_slice(&20u32.to_ne_bytes());
        done.extend_from_slice(&3u16.to_ne_bytes());
        done.extend_from_slice(&[0; 14]);
        assert_eq!(parse(&msg, &mut found), Some(false));
        assert_eq!(
            found,
            [Bound {
                socket: 77,
                file: Some((8, 1, 5)),
                name: None,
                uid: None,
            }]
        );
        assert_eq!(parse(&[msg.clone(), done].concat(), &mut found), Some(true));
        // Lengths that run past the data are rejected, never read out of bounds.
        let mut bad = msg.clone();
        bad[0] = 200;
        assert_eq!(parse(&bad, &mut Vec::new()), None);
        let mut bad = msg;
        bad[32] = 200;
        assert_eq!(parse(&bad, &mut Vec::new()), None);
        assert_eq!(request().len(), 40);
        // A name attribute (NUL-terminated, padded to 4 bytes) after the VFS one.
        let mut named = answer(56, 78);
        named.extend_from_slice(&9u16.to_ne_bytes());
        named.extend_from_slice(&0u16.to_ne_bytes());
        named.extend_from_slice(b"/a/s\0\0\0\0");
        // The creator's uid (UNIX_DIAG_UID, 8 bytes).
        named.extend_from_slice(&8u16.to_ne_bytes());
        named.extend_from_slice(&7u16.to_ne_bytes());
        named.extend_from_slice(&1000u32.to_ne_bytes());
        named[0..4].copy_from_slice(&64u32.to_ne_bytes());
        let mut found = Vec::new();
        assert_eq!(parse(&named, &mut found), Some(false));
        assert_eq!(
            found,
            [Bound {
                socket: 78,
                file: Some((8, 1, 5)),
                name: Some(b"/a/s".to_vec()),
                uid: Some(1000),
            }]
        );
    }
}
