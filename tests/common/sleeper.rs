// A test process that does nothing until a signal ends it, whatever its argv. Built with
// rustc by the tests (no dependencies); behaviour is chosen by environment variables so
// that argv stays exactly what a test asks for:
//   SLEEPER_IGNORE_TERM=1  ignore SIGTERM (the disposition survives exec)
//   SLEEPER_COMM=NAME      set the kernel's comm with prctl(PR_SET_NAME) (Linux)
//   SLEEPER_EXIT=1         exit at once (to leave a zombie behind)
//   SLEEPER_FORK=1         fork a child that sleeps too, then keep sleeping
use std::ffi::CString;

extern "C" {
    fn signal(sig: i32, handler: usize) -> usize;
    fn pause() -> i32;
    fn fork() -> i32;
    #[cfg(target_os = "linux")]
    fn prctl(option: i32, arg2: *const i8, arg3: usize, arg4: usize, arg5: usize) -> i32;
}

fn main() {
    if std::env::var_os("SLEEPER_EXIT").is_some() {
        return;
    }
    if std::env::var_os("SLEEPER_IGNORE_TERM").is_some() {
        unsafe { signal(15, 1) };
    }
    #[cfg(target_os = "linux")]
    if let Some(comm) = std::env::var_os("SLEEPER_COMM") {
        use std::os::unix::ffi::OsStrExt;
        let c = CString::new(comm.as_bytes()).unwrap();
        unsafe { prctl(15, c.as_ptr(), 0, 0, 0) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = CString::new("");
    if std::env::var_os("SLEEPER_FORK").is_some() {
        unsafe { fork() };
    }
    loop {
        unsafe { pause() };
    }
}
