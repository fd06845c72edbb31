//! Two process-shared pthread mutexes in one shared anonymous mapping, as
//! `multiprocessing.Lock` would be if it were a mutex: a robust one
//! (`PTHREAD_MUTEX_ROBUST`), whose next locker learns that its owner died
//! (`EOWNERDEAD`) and can recover it, and a plain one, which a dead owner
//! leaves locked for ever. Forked children share the mapping.

use std::io;
use std::time::{Duration, Instant};

/// Which of the two mutexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Robust,
    Plain,
}

/// What a timed lock returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
    /// Taken.
    Acquired,
    /// Taken, but its owner died holding it: the data it guards may be
    /// half-changed. `consistent` makes it usable again.
    OwnerDead,
    /// Still held at the deadline.
    TimedOut,
    /// Any other error number.
    Error(i32),
}

pub struct SharedMutexes {
    base: *mut libc::pthread_mutex_t,
    len: usize,
}

impl SharedMutexes {
    /// Maps the two mutexes (shared with every child forked afterwards) and
    /// initialises them: both process-shared, one robust.
    pub fn new() -> io::Result<SharedMutexes> {
        let len = 2 * std::mem::size_of::<libc::pthread_mutex_t>();
        // SAFETY: a fresh anonymous shared mapping; no existing memory is touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let out = SharedMutexes {
            base: base.cast(),
            len,
        };
        for kind in [Kind::Robust, Kind::Plain] {
            // SAFETY: the attribute lives on this stack frame and is
            // destroyed after use; the mutex lies in our mapping.
            unsafe {
                let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
                check(libc::pthread_mutexattr_init(&mut attr))?;
                let mut r =
                    libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED);
                if r == 0 && kind == Kind::Robust {
                    r = libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST);
                }
                if r == 0 {
                    r = libc::pthread_mutex_init(out.ptr(kind), &attr);
                }
                libc::pthread_mutexattr_destroy(&mut attr);
                check(r)?;
            }
        }
        Ok(out)
    }

    fn ptr(&self, kind: Kind) -> *mut libc::pthread_mutex_t {
        let idx = match kind {
            Kind::Robust => 0,
            Kind::Plain => 1,
        };
        // SAFETY: both mutexes lie inside the mapping.
        unsafe { self.base.add(idx) }
    }

    /// Locks `kind`, waiting until `timeout` has passed at most.
    pub fn lock(&self, kind: Kind, timeout: Duration) -> Locked {
        // pthread_mutex_timedlock takes an absolute CLOCK_REALTIME time.
        let at = std::time::SystemTime::now() + timeout;
        let since = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let abs = libc::timespec {
            tv_sec: since.as_secs() as libc::time_t,
            tv_nsec: since.subsec_nanos() as libc::c_long,
        };
        // SAFETY: the mutex was initialised in `new`; abs is a valid timespec.
        match unsafe { libc::pthread_mutex_timedlock(self.ptr(kind), &abs) } {
            0 => Locked::Acquired,
            libc::EOWNERDEAD => Locked::OwnerDead,
            libc::ETIMEDOUT => Locked::TimedOut,
            e => Locked::Error(e),
        }
    }

    /// Tries once: 0 when taken, `EBUSY` while another holds it.
    pub fn try_lock(&self, kind: Kind) -> i32 {
        // SAFETY: the mutex was initialised in `new`.
        unsafe { libc::pthread_mutex_trylock(self.ptr(kind)) }
    }

    /// Marks a robust mutex taken with `OwnerDead` usable again.
    pub fn consistent(&self, kind: Kind) -> i32 {
        // SAFETY: the mutex was initialised in `new`.
        unsafe { libc::pthread_mutex_consistent(self.ptr(kind)) }
    }

    pub fn unlock(&self, kind: Kind) -> i32 {
        // SAFETY: the mutex was initialised in `new`.
        unsafe { libc::pthread_mutex_unlock(self.ptr(kind)) }
    }
}

impl Drop for SharedMutexes {
    /// Unmaps the memory. The mutexes are not destroyed: destroying one a
    /// dead owner still holds is undefined, and nothing waits on them once
    /// every child is reaped.
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and no reference into it outlives self.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}

fn check(r: i32) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(r))
    }
}

/// Milliseconds a lock took to answer.
pub fn timed(f: impl FnOnce() -> Locked) -> (Locked, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread that dies holding the lock stands in for a process here:
    /// the robust list is per thread, and the test binary must not fork.
    #[test]
    fn a_dead_owner_gives_eownerdead_on_the_robust_mutex_only() {
        let m = SharedMutexes::new().unwrap();
        let addr = &m as *const SharedMutexes as usize;
        std::thread::spawn(move || {
            // SAFETY: `m` outlives this thread, which is joined below.
            let m = unsafe { &*(addr as *const SharedMutexes) };
            assert_eq!(
                m.lock(Kind::Robust, Duration::from_secs(5)),
                Locked::Acquired
            );
            assert_eq!(
                m.lock(Kind::Plain, Duration::from_secs(5)),
                Locked::Acquired
            );
            // Ends holding both.
        })
        .join()
        .unwrap();
        assert_eq!(m.try_lock(Kind::Robust), libc::EOWNERDEAD);
        assert_eq!(m.consistent(Kind::Robust), 0);
        assert_eq!(m.unlock(Kind::Robust), 0);
        assert_eq!(
            m.lock(Kind::Robust, Duration::from_secs(5)),
            Locked::Acquired
        );
        assert_eq!(m.unlock(Kind::Robust), 0);
        let (plain, ms) = timed(|| m.lock(Kind::Plain, Duration::from_millis(20)));
        assert_eq!(plain, Locked::TimedOut);
        assert!(ms >= 19.0, "{ms}");
    }
}
