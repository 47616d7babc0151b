//! Sandboxes and old kernels: the system calls the reaper relies on refused by a
//! seccomp filter (tests/common/seccomp.rs), with ENOSYS as a kernel without them says
//! and EPERM as a container profile that predates them says.

use rustix::io::Errno;

use crate::common::seccomp::{self, Call};
use crate::common::*;

/// EINVAL: what clone3 with no arguments says where nothing refuses it.
const EINVAL: i32 = 22;

#[test]
fn the_seccomp_filter_makes_each_chosen_call_fail_with_the_chosen_errno_and_no_other() {
    let Some(free) = seccomp::probe(&[]) else {
        return;
    };
    let as_is = |name: &str| free.iter().find(|(c, _)| c == name).unwrap().1;
    assert_eq!(as_is("socket-unix"), 0, "{free:?}");
    assert_eq!(as_is("socket-netlink"), 0, "{free:?}");
    // A kernel that has the call: it works (clone3: its check of the arguments answers).
    for call in [Call::PidfdOpen, Call::PidfdSendSignal, Call::Openat2] {
        let errno = as_is(call.name());
        assert!(
            errno == 0 || errno == Errno::NOSYS.raw_os_error(),
            "{free:?}"
        );
    }
    assert!(
        [EINVAL, Errno::NOSYS.raw_os_error()].contains(&as_is("clone3")),
        "{free:?}"
    );
    for errno in [Errno::PERM, Errno::NOSYS] {
        for call in Call::ALL {
            let got = seccomp::probe(&[(call, errno)]).unwrap();
            for (name, result) in &got {
                let expected = if name == call.name() {
                    errno.raw_os_error()
                } else {
                    as_is(name)
                };
                // pidfd_send_signal is given no pidfd where pidfd_open is refused.
                if call == Call::PidfdOpen && name == "pidfd_send_signal" {
                    assert_eq!(*result, Errno::BADF.raw_os_error(), "{got:?}");
                    continue;
                }
                assert_eq!(
                    *result, expected,
                    "{name} under {call:?}={errno:?}: {got:?}"
                );
            }
        }
    }
}

#[test]
fn the_seccomp_filter_holds_in_the_children_of_the_program_it_runs() {
    let Some(mut cmd) = seccomp::command(&[(Call::NetlinkSocket, Errno::PERM)], "sh") else {
        return;
    };
    let helper = seccomp::helper().unwrap();
    // A child of the shell, not exec'd in its place.
    let script = format!("'{}' --probe; true", helper.display());
    let out = cmd.args(["-c", &script]).output().unwrap();
    let text = stdout(&out);
    assert!(text.contains("socket-netlink=1\n"), "{text}");
    assert!(text.contains("socket-unix=0\n"), "{text}");
}
