//! Locked memory for long-lived secrets.
//!
//! [`LockedBytes`] keeps a fixed-size secret in its own anonymous memory mapping that is
//! locked into RAM with `mlock` (so it is never written to swap) and excluded from core dumps
//! with `madvise(MADV_DONTDUMP)`, where the system allows both. Locking can fail, for example
//! when `RLIMIT_MEMLOCK` is exhausted; the secret is then still kept in its own mapping,
//! excluded from dumps if possible, and [`LockedBytes::is_locked`] says so. On drop the bytes
//! are zeroized, then unlocked and unmapped. Should the mapping itself fail, the secret is
//! kept in an ordinary zeroizing heap allocation instead (and reported as not locked), so
//! callers never have to fail for want of locked memory.

use std::fmt;
use std::ptr::NonNull;

use zeroize::Zeroize;

use super::error::CryptoError;

/// `N` secret bytes in a private, locked, non-dumpable mapping.
pub struct LockedBytes<const N: usize> {
    ptr: NonNull<u8>,
    map_len: usize,
    locked: bool,
    /// Whether the bytes live in the heap fallback rather than a mapping of their own.
    heap: bool,
}

// SAFETY: the mapping is owned exclusively by this value; access goes through `&self` /
// `&mut self`, so the usual borrow rules make sharing and sending it sound.
unsafe impl<const N: usize> Send for LockedBytes<N> {}
// SAFETY: see above; `&LockedBytes` only gives shared read access to the bytes.
unsafe impl<const N: usize> Sync for LockedBytes<N> {}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p).ok().filter(|&p| p > 0).unwrap_or(4096)
}

impl<const N: usize> LockedBytes<N> {
    /// A zero-filled secret in fresh locked memory (see the module notes for the fallback).
    pub fn new() -> LockedBytes<N> {
        Self::mapped().unwrap_or_else(|_| Self::heap())
    }

    /// The fallback: a leaked-on-purpose heap allocation reclaimed in `drop`.
    fn heap() -> LockedBytes<N> {
        let boxed: Box<[u8]> = vec![0u8; N.max(1)].into_boxed_slice();
        let len = boxed.len();
        let ptr = NonNull::new(Box::into_raw(boxed).cast::<u8>()).unwrap_or(NonNull::dangling());
        LockedBytes {
            ptr,
            map_len: len,
            locked: false,
            heap: true,
        }
    }

    fn mapped() -> Result<LockedBytes<N>, CryptoError> {
        let page = page_size();
        let map_len = N.max(1).div_ceil(page) * page;
        // SAFETY: an anonymous private mapping with no address hint; the result is checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(CryptoError::General("cannot map memory for a secret"));
        }
        let ptr = NonNull::new(p.cast::<u8>())
            .ok_or(CryptoError::General("cannot map memory for a secret"))?;
        // SAFETY: `p` is the start of a mapping of `map_len` bytes owned by this function.
        let locked = unsafe { libc::mlock(p, map_len) } == 0;
        // Best effort: not every kernel knows MADV_DONTDUMP.
        // SAFETY: as above; madvise only changes the mapping's dump flag.
        unsafe { libc::madvise(p, map_len, libc::MADV_DONTDUMP) };
        Ok(LockedBytes {
            ptr,
            map_len,
            locked,
            heap: false,
        })
    }

    /// A locked copy of `bytes`. The caller remains responsible for its own copy.
    pub fn from_bytes(bytes: &[u8; N]) -> LockedBytes<N> {
        let mut s = Self::new();
        s.as_bytes_mut().copy_from_slice(bytes);
        s
    }

    /// Whether `mlock` succeeded for this secret's memory.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8; N] {
        // SAFETY: the mapping holds at least N initialised (zero-filled or written) bytes,
        // is aligned to a page, and lives as long as `self`.
        unsafe { &*self.ptr.as_ptr().cast::<[u8; N]>() }
    }

    /// The secret bytes, writable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8; N] {
        // SAFETY: as in `as_bytes`, and `&mut self` makes the access exclusive.
        unsafe { &mut *self.ptr.as_ptr().cast::<[u8; N]>() }
    }
}

impl<const N: usize> Default for LockedBytes<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Drop for LockedBytes<N> {
    fn drop(&mut self) {
        // SAFETY: the whole mapping is owned by `self` and no reference to it outlives it.
        let all = unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.map_len) };
        all.zeroize();
        if self.heap {
            // SAFETY: `ptr`/`map_len` came from `Box::into_raw` of a boxed slice in `heap`.
            drop(unsafe {
                Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                    self.ptr.as_ptr(),
                    self.map_len,
                ))
            });
            return;
        }
        let p = self.ptr.as_ptr().cast::<libc::c_void>();
        // SAFETY: unlocking and unmapping exactly the mapping created in `new`.
        unsafe {
            if self.locked {
                libc::munlock(p, self.map_len);
            }
            libc::munmap(p, self.map_len);
        }
    }
}

impl<const N: usize> fmt::Debug for LockedBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LockedBytes<{N}>(locked: {})", self.locked)
    }
}

/// Bytes of memory this process has locked (`VmLck` of `/proc/self/status`), if readable.
pub fn locked_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_bytes_and_locks_them_where_allowed() {
        let mut s = LockedBytes::<32>::from_bytes(&[7; 32]);
        assert_eq!(s.as_bytes(), &[7; 32]);
        s.as_bytes_mut()[0] = 9;
        assert_eq!(s.as_bytes()[0], 9);
        assert_eq!(s.as_bytes().as_ptr() as usize % page_size(), 0);
        let h = LockedBytes::<32>::heap();
        assert!(!h.is_locked());
        assert_eq!(h.as_bytes(), &[0; 32]);
        assert!(!format!("{s:?}").contains('7'), "Debug shows no bytes");
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct passed.
        let ok = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } == 0;
        if ok && lim.rlim_cur >= 64 * 1024 {
            assert!(
                s.is_locked(),
                "mlock failed although RLIMIT_MEMLOCK allows it"
            );
        }
        if s.is_locked() {
            // Other tests may lock and unlock memory meanwhile; this page stays counted.
            let now = locked_memory_bytes().expect("VmLck in /proc/self/status");
            assert!(now >= 4096, "VmLck is {now} while a page is locked");
        }
        drop(s);
    }

    #[test]
    fn sizes_larger_than_a_page() {
        let s = LockedBytes::<5000>::new();
        assert!(s.as_bytes().iter().all(|&b| b == 0));
        assert_eq!(s.map_len % page_size(), 0);
        assert!(s.map_len >= 5000);
    }
}
