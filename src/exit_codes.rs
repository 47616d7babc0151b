//! Exit statuses: scripts depend on them.

/// How `patina-reap` exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitCode {
    /// Done, including when nothing was stale.
    Success,
    /// A stale process could not be reaped, or the process table could not be read.
    Failure,
    /// Bad arguments or environment; nothing was signalled.
    Usage,
    /// The report could not be written to stdout (a full disk, an I/O error, a closed
    /// stdout), though every stale process was reaped. Not a closed pipe: a reader that
    /// stops reading (`| head -1`) has what it asked for, so the run ends quietly with
    /// the status it would have had, like rg and fd (pgrep and ps die of SIGPIPE, 141 in
    /// a shell, which would hide whether a reap failed). Never 1, which says a reap
    /// failed.
    Output,
    /// SIGINT (Ctrl-C) arrived while the tool was waiting or reaping.
    Interrupted,
    /// SIGTERM arrived while the tool was waiting or reaping.
    Terminated,
}

impl From<ExitCode> for i32 {
    fn from(code: ExitCode) -> Self {
        match code {
            ExitCode::Success => 0,
            ExitCode::Failure => 1,
            ExitCode::Usage => 2,
            ExitCode::Output => 3,
            ExitCode::Interrupted => 130,
            ExitCode::Terminated => 143,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        Self::from(i32::from(code) as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_the_documented_numbers() {
        assert_eq!(i32::from(ExitCode::Success), 0);
        assert_eq!(i32::from(ExitCode::Failure), 1);
        assert_eq!(i32::from(ExitCode::Usage), 2);
        assert_eq!(i32::from(ExitCode::Output), 3);
        // 128 + SIGINT, as shells report a command ended by Ctrl-C.
        assert_eq!(i32::from(ExitCode::Interrupted), 130);
        // 128 + SIGTERM, likewise.
        assert_eq!(i32::from(ExitCode::Terminated), 143);
    }

    #[test]
    fn usage_matches_clap() {
        // clap exits with 2 on its own usage errors; ours must agree.
        use clap::CommandFactory;
        let err = crate::cli::Cli::command()
            .try_get_matches_from(["patina-reap", "--no-such-flag"])
            .unwrap_err();
        assert_eq!(err.exit_code(), i32::from(ExitCode::Usage));
    }
}
