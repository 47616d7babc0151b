//! The floor of a `/proc` scan, against which the benchmarks measure the library: list
//! `/proc`, and for each process open, read once and close `/proc/PID/stat`, nothing
//! else. Linux only.

use std::io;

use rustix::fd::OwnedFd;
use rustix::fs::{self, Mode, OFlags, RawDir};
use rustix::io::Errno;

/// The floor of a `/proc` scan: list `/proc`, and for each process open, read once and
/// close `/proc/PID/stat`, nothing else. Returns how many stat files were read.
pub fn proc_floor() -> io::Result<usize> {
    let proc_dir: OwnedFd = fs::open(
        "/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut stat = [0u8; 1024];
    let mut path = [0u8; 32];
    let mut dir_buf = Vec::<u8>::with_capacity(32 * 1024);
    let mut dir = RawDir::new(&proc_dir, dir_buf.spare_capacity_mut());
    let mut read = 0;
    while let Some(entry) = dir.next() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name.is_empty() || !name.iter().all(u8::is_ascii_digit) || name.len() > 20 {
            continue;
        }
        let len = name.len() + b"/stat".len();
        path[..name.len()].copy_from_slice(name);
        path[name.len()..len].copy_from_slice(b"/stat");
        path[len] = 0;
        let Ok(cpath) = std::ffi::CStr::from_bytes_with_nul(&path[..=len]) else {
            continue;
        };
        let Ok(fd) = fs::openat(
            &proc_dir,
            cpath,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            continue;
        };
        match rustix::io::read(&fd, &mut stat) {
            Ok(n) if n > 0 => read += 1,
            Ok(_) | Err(Errno::SRCH) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(read)
}
