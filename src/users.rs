//! Users as the C library's user database knows them (NSS: `/etc/passwd`, and LDAP,
//! SSSD or systemd-homed where the system is set up for them), as `pgrep -u` looks
//! them up. The binary's only: the library never asks it (which socket a process serves
//! is told by the process itself), so patina's preflight never waits on a network
//! directory.

use nix::unistd::User;

/// The uid of the user called `name` (getpwnam_r); `None` when there is no such user.
pub(crate) fn uid_of_name(name: &str) -> nix::Result<Option<u32>> {
    Ok(User::from_name(name)?.map(|user| user.uid.as_raw()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_found_by_name_and_uid() {
        assert_eq!(uid_of_name("root"), Ok(Some(0)));
        assert_eq!(uid_of_name("no-such-user-patina-reap"), Ok(None));
        // A name the C library cannot even take (a NUL) is nobody.
        assert_eq!(uid_of_name("ro\0ot"), Ok(None));
    }
}
