// Runs a program under a seccomp filter that makes chosen system calls fail with a
// chosen errno, as a sandbox or an old kernel would. Built with rustc by the tests (no
// dependencies; Linux on x86_64 or aarch64):
//
//   seccomp-exec [CALL=ERRNO]... -- PROGRAM [ARG]...
//       Set no_new_privs, install the filter and exec PROGRAM (found on PATH) with the
//       arguments and the environment as they are. CALL is one of pidfd_open,
//       pidfd_send_signal, openat2, clone3, or socket-netlink (socket(2) when its first
//       argument is AF_NETLINK: AF_UNIX and the others still work); ERRNO is a number
//       (1 is EPERM, 38 ENOSYS). The filter is inherited by every child and exec. A call
//       made through another system call ABI than the native one (i386 or x32 on
//       x86_64, arm32 on aarch64) kills the process: nothing slips past the filter.
//   seccomp-exec --probe
//       Make each call once and print CALL=ERRNO for each (0: it worked), and
//       socket-unix= for socket(AF_UNIX, SOCK_STREAM): what a filter it runs under does.
//
// Exit status 125 with a line on stderr: the filter could not be installed (a kernel
// without seccomp filters), or the arguments were wrong.

use std::os::unix::process::CommandExt;

extern "C" {
    fn prctl(option: i32, arg2: usize, arg3: usize, arg4: usize, arg5: usize) -> i32;
    fn syscall(number: i64, ...) -> i64;
    fn getpid() -> i32;
    fn close(fd: i32) -> i32;
}

/// `struct sock_filter`: one classic BPF instruction.
#[repr(C)]
#[derive(Clone, Copy)]
struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// `struct sock_fprog`.
#[repr(C)]
struct Program {
    len: u16,
    filter: *const Insn,
}

const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

// struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6].
const NR: u32 = 0;
const ARCH: u32 = 4;
/// The low 32 bits of args[0] (both architectures here are little-endian).
const ARG0_LOW: u32 = 16;

const PR_SET_NO_NEW_PRIVS: i32 = 38;
const PR_SET_SECCOMP: i32 = 22;
const SECCOMP_MODE_FILTER: usize = 2;

const AF_UNIX: i64 = 1;
const AF_NETLINK: i64 = 16;

/// The native ABI: its audit arch, the numbers of the calls, and the lowest number
/// that is not a native call (x32's bit on x86_64).
struct Abi {
    audit_arch: u32,
    pidfd_open: u32,
    pidfd_send_signal: u32,
    openat2: u32,
    clone3: u32,
    socket: u32,
    foreign_from: Option<u32>,
}

#[cfg(target_arch = "x86_64")]
const ABI: Option<Abi> = Some(Abi {
    audit_arch: 0xC000_003E, // AUDIT_ARCH_X86_64
    pidfd_open: 434,
    pidfd_send_signal: 424,
    openat2: 437,
    clone3: 435,
    socket: 41,
    foreign_from: Some(0x4000_0000), // __X32_SYSCALL_BIT
});

#[cfg(target_arch = "aarch64")]
const ABI: Option<Abi> = Some(Abi {
    audit_arch: 0xC000_00B7, // AUDIT_ARCH_AARCH64
    pidfd_open: 434,
    pidfd_send_signal: 424,
    openat2: 437,
    clone3: 435,
    socket: 198,
    foreign_from: None,
});

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const ABI: Option<Abi> = None;

fn fail(why: &str) -> ! {
    eprintln!("seccomp-exec: {why}");
    std::process::exit(125)
}

/// The filter: the calls in `rules` fail with their errno, socket(AF_NETLINK, ...)
/// with `netlink`'s, a foreign ABI kills, everything else is allowed.
fn filter(abi: &Abi, rules: &[(u32, u32)], netlink: Option<u32>) -> Vec<Insn> {
    let insn = |code, jt, jf, k| Insn { code, jt, jf, k };
    let mut f = vec![
        insn(LD_W_ABS, 0, 0, ARCH),
        insn(JEQ_K, 1, 0, abi.audit_arch),
        insn(RET_K, 0, 0, RET_KILL_PROCESS),
        insn(LD_W_ABS, 0, 0, NR),
    ];
    if let Some(from) = abi.foreign_from {
        f.push(insn(JGE_K, 0, 1, from));
        f.push(insn(RET_K, 0, 0, RET_KILL_PROCESS));
    }
    for &(nr, errno) in rules {
        f.push(insn(JEQ_K, 0, 1, nr));
        f.push(insn(RET_K, 0, 0, RET_ERRNO | errno));
    }
    // Last, since it loads the argument over the call's number.
    if let Some(errno) = netlink {
        f.push(insn(JEQ_K, 0, 3, abi.socket));
        f.push(insn(LD_W_ABS, 0, 0, ARG0_LOW));
        f.push(insn(JEQ_K, 0, 1, AF_NETLINK as u32));
        f.push(insn(RET_K, 0, 0, RET_ERRNO | errno));
    }
    f.push(insn(RET_K, 0, 0, RET_ALLOW));
    f
}

fn install(f: &[Insn]) {
    let program = Program {
        len: u16::try_from(f.len()).unwrap(),
        filter: f.as_ptr(),
    };
    // no_new_privs first: without it an unprivileged process may not install a filter.
    if unsafe { prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        fail(&format!(
            "cannot set no_new_privs: {}",
            std::io::Error::last_os_error()
        ));
    }
    let pointer = &program as *const Program as usize;
    if unsafe { prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, pointer, 0, 0) } != 0 {
        fail(&format!(
            "cannot install a seccomp filter: {}",
            std::io::Error::last_os_error()
        ));
    }
}

/// The errno of a raw call's result (0 when it worked); closes a descriptor it made.
fn outcome(result: i64, gives_fd: bool) -> i32 {
    if result < 0 {
        return std::io::Error::last_os_error().raw_os_error().unwrap_or(-1);
    }
    if gives_fd {
        unsafe { close(result as i32) };
    }
    0
}

fn probe(abi: &Abi) {
    let n = |nr: u32| i64::from(nr);
    let pidfd = unsafe { syscall(n(abi.pidfd_open), i64::from(getpid()), 0i64) };
    let opened = outcome(pidfd, false);
    // Signal 0 to itself through the pidfd (an invalid descriptor where there is none:
    // EBADF unless the filter answers first).
    let sent = outcome(
        unsafe { syscall(n(abi.pidfd_send_signal), pidfd, 0i64, 0usize, 0i64) },
        false,
    );
    if pidfd >= 0 {
        unsafe { close(pidfd as i32) };
    }
    // struct open_how { u64 flags; u64 mode; u64 resolve; }: O_RDONLY | O_DIRECTORY.
    let how: [u64; 3] = [0o200000, 0, 0];
    let root = b"/\0";
    let openat2 = outcome(
        unsafe {
            syscall(
                n(abi.openat2),
                -100i64, // AT_FDCWD
                root.as_ptr(),
                how.as_ptr(),
                24usize,
            )
        },
        true,
    );
    // No arguments: EINVAL from a kernel that has clone3, before any process is made.
    let clone3 = outcome(unsafe { syscall(n(abi.clone3), 0usize, 0usize) }, false);
    // SOCK_RAW, NETLINK_SOCK_DIAG; SOCK_STREAM.
    let netlink = outcome(
        unsafe { syscall(n(abi.socket), AF_NETLINK, 3i64, 4i64) },
        true,
    );
    let unix = outcome(unsafe { syscall(n(abi.socket), AF_UNIX, 1i64, 0i64) }, true);
    println!("pidfd_open={opened}");
    println!("pidfd_send_signal={sent}");
    println!("openat2={openat2}");
    println!("clone3={clone3}");
    println!("socket-netlink={netlink}");
    println!("socket-unix={unix}");
}

fn main() {
    let Some(abi) = ABI else {
        fail("no syscall table for this architecture")
    };
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "--probe") {
        probe(&abi);
        return;
    }
    let Some(split) = args.iter().position(|a| a == "--") else {
        fail("usage: seccomp-exec [CALL=ERRNO]... -- PROGRAM [ARG]...")
    };
    let (specs, command) = (&args[..split], &args[split + 1..]);
    let Some((program, program_args)) = command.split_first() else {
        fail("no program to run")
    };
    let mut rules = Vec::new();
    let mut netlink = None;
    for spec in specs {
        let spec = spec.to_str().unwrap_or_default();
        let Some((call, errno)) = spec.split_once('=') else {
            fail(&format!("not CALL=ERRNO: {spec:?}"))
        };
        let Ok(errno) = errno.parse::<u32>() else {
            fail(&format!("not an errno number: {errno:?}"))
        };
        if errno == 0 || errno > 4095 {
            fail(&format!("not an errno number: {errno}"));
        }
        let nr = match call {
            "pidfd_open" => abi.pidfd_open,
            "pidfd_send_signal" => abi.pidfd_send_signal,
            "openat2" => abi.openat2,
            "clone3" => abi.clone3,
            "socket-netlink" => {
                netlink = Some(errno);
                continue;
            }
            _ => fail(&format!("no rule for the call {call:?}")),
        };
        rules.push((nr, errno));
    }
    install(&filter(&abi, &rules, netlink));
    let e = std::process::Command::new(program).args(program_args).exec();
    eprintln!("seccomp-exec: cannot run {}: {e}", program.to_string_lossy());
    std::process::exit(127)
}
