//! Operating-system calls outside PKCS#11, kept here with the crate's other unsafe code: the
//! three the served mode's server needs that std does not offer on this toolchain's
//! minimum version: the peer credentials of a Unix socket (`SO_PEERCRED`), the process's
//! effective uid, and a non-blocking exclusive `flock`; and the fork counter the module uses
//! to tell a forked child from the process that initialised it. Each is a thin wrapper that
//! checks the call's result.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Forks this process has gone through, counted in each child by a `pthread_atfork` handler.
static FORKS: AtomicU64 = AtomicU64::new(0);

extern "C" fn count_fork_in_child() {
    FORKS.fetch_add(1, Ordering::Relaxed);
}

/// A number that differs in a forked child from its value in the parent at the time of the
/// fork, read without a system call (unlike `getpid`, which glibc no longer caches). `None`
/// when the fork handler could not be registered; callers then compare process ids.
pub fn fork_generation() -> Option<u64> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = *REGISTERED.get_or_init(|| {
        // SAFETY: registers a handler that only increments an atomic, which is
        // async-signal-safe as a fork child handler must be. glibc links pthread_atfork from
        // libc_nonshared with this library's DSO handle, so the handler is unregistered if the
        // library is unloaded.
        unsafe { libc::pthread_atfork(None, None, Some(count_fork_in_child)) == 0 }
    });
    registered.then(|| FORKS.load(Ordering::Relaxed))
}

/// The effective uid of the process at the other end of a connected Unix socket.
pub fn peer_uid(sock: &impl AsRawFd) -> io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is a live, writable `ucred` and `len` holds its exact size, as
    // SO_PEERCRED requires; the kernel writes at most `len` bytes and updates `len`. The
    // descriptor is borrowed from an open socket for the duration of the call.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast::<libc::c_void>(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if len as usize != std::mem::size_of::<libc::ucred>() {
        return Err(io::Error::other("SO_PEERCRED returned a short credential"));
    }
    Ok(cred.uid)
}

/// The effective uid of this process.
pub fn own_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, touches no memory of ours and cannot fail.
    unsafe { libc::geteuid() }
}

/// Takes an exclusive lock on an open file without waiting. `Ok(false)`: another process holds
/// it. The lock lasts as long as the file stays open.
pub fn try_lock_exclusive(file: &std::fs::File) -> io::Result<bool> {
    // SAFETY: flock only reads its two integer arguments; the descriptor is borrowed from an
    // open file for the duration of the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_pair_peer_is_this_process_uid() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(peer_uid(&a).unwrap(), own_uid());
        assert_eq!(peer_uid(&b).unwrap(), own_uid());
    }

    #[test]
    fn peer_credentials_of_a_file_are_an_error() {
        let f = tempfile::tempfile().unwrap();
        assert!(peer_uid(&f).is_err());
    }

    #[test]
    fn a_forked_child_sees_a_new_fork_generation() {
        let before = fork_generation().expect("pthread_atfork");
        assert_eq!(fork_generation(), Some(before));
        // SAFETY (test): the child only reads an atomic and exits without unwinding.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let changed = fork_generation().is_some_and(|g| g != before);
            // SAFETY (test): _exit ends the child at once, without running the parent's
            // destructors or test harness.
            unsafe { libc::_exit(if changed { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY (test): waits for the child just forked, writing its status to a local.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the child saw the parent's fork generation"
        );
        assert_eq!(
            fork_generation(),
            Some(before),
            "the parent's generation changed"
        );
    }

    #[test]
    fn the_exclusive_lock_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = std::fs::File::create(&path).unwrap();
        let second = std::fs::File::open(&path).unwrap();
        assert!(try_lock_exclusive(&first).unwrap());
        assert!(!try_lock_exclusive(&second).unwrap());
        drop(first);
        assert!(try_lock_exclusive(&second).unwrap());
    }
}
