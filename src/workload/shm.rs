//! Shared memory the coordination workloads meet on: a file in the run's
//! scratch directory mapped `MAP_SHARED` by every unit, thread or process,
//! and by the harness; u64 cells read and written as atomics, and POSIX
//! semaphores (`sem_t`, what `multiprocessing.Lock` is) placed in it for
//! units that are processes.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// In-process objects that every unit of one batch shares (its locks, its
/// queue), found by the batch's board path: the units that are threads of
/// the harness meet on the same object. An entry dies with its last user,
/// and every batch has a board of its own.
pub struct ByPath<T>(Mutex<Vec<(PathBuf, Weak<T>)>>);

impl<T> Default for ByPath<T> {
    fn default() -> ByPath<T> {
        ByPath::new()
    }
}

impl<T> ByPath<T> {
    pub const fn new() -> ByPath<T> {
        ByPath(Mutex::new(Vec::new()))
    }

    /// The live object of `path`, or a fresh one from `make`.
    pub fn get_or_make(&self, path: &Path, make: impl FnOnce() -> T) -> Arc<T> {
        let mut entries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(_, weak)| weak.strong_count() > 0);
        if let Some(found) = entries
            .iter()
            .find(|(p, _)| p == path)
            .and_then(|(_, weak)| weak.upgrade())
        {
            return found;
        }
        let fresh = Arc::new(make());
        entries.push((path.to_owned(), Arc::downgrade(&fresh)));
        fresh
    }
}

/// One shared mapping of a file.
#[derive(Debug)]
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// Every access goes through atomics or the semaphores' own calls.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

/// Bytes per semaphore slot (a glibc `sem_t` is 32).
pub const SEM_SLOT: usize = 64;

impl Mapping {
    /// Replaces any file at `path` with a zeroed one of `len` bytes, mapped.
    pub fn create(path: &Path, len: usize, what: &str) -> anyhow::Result<Mapping> {
        let _ = std::fs::remove_file(path);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .with_context(|| format!("creating the {what} {}", path.display()))?;
        file.set_len(len as u64)?;
        Mapping::map(&file, path, what)
    }

    /// Maps the file at `path`, which must hold at least `min_len` bytes.
    pub fn open(path: &Path, min_len: usize, what: &str) -> anyhow::Result<Mapping> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .with_context(|| format!("opening the {what} {}", path.display()))?;
        let m = Mapping::map(&file, path, what)?;
        anyhow::ensure!(
            m.len >= min_len,
            "the {what} {} is {} bytes, shorter than its {min_len}-byte header",
            path.display(),
            m.len
        );
        Ok(m)
    }

    fn map(file: &std::fs::File, path: &Path, what: &str) -> anyhow::Result<Mapping> {
        use std::os::fd::AsRawFd;
        let len = file.metadata()?.len() as usize;
        anyhow::ensure!(len > 0, "the {what} {} is empty", path.display());
        // SAFETY: a fresh shared mapping of a file we hold open; the mapping
        // outlives the descriptor and is unmapped once, in Drop.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("mapping the {what} {}", path.display()));
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The byte at `offset`, as an atomic.
    pub fn byte(&self, offset: usize) -> &AtomicU8 {
        assert!(
            offset < self.len,
            "shared byte {offset} out of {}",
            self.len
        );
        // SAFETY: in bounds of a live mapping; AtomicU8 has u8's layout.
        unsafe { AtomicU8::from_ptr(self.ptr.add(offset)) }
    }

    /// The u64 cell at byte `offset` (8-byte aligned).
    pub fn at(&self, offset: usize) -> &AtomicU64 {
        assert!(
            offset.is_multiple_of(8) && offset + 8 <= self.len,
            "shared cell at {offset} out of {}",
            self.len
        );
        // SAFETY: in bounds of a live mapping and 8-byte aligned (the
        // mapping is page-aligned); AtomicU64 has u64's layout.
        unsafe { AtomicU64::from_ptr(self.ptr.add(offset).cast()) }
    }

    /// The semaphore in the slot at byte `offset`.
    pub fn sem(&self, offset: usize) -> Sem {
        assert!(
            std::mem::size_of::<libc::sem_t>() <= SEM_SLOT && offset + SEM_SLOT <= self.len,
            "semaphore slot at {offset} out of {}",
            self.len
        );
        // SAFETY: within the mapping, checked above.
        Sem(unsafe { self.ptr.add(offset).cast() })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, unmapped exactly once. Its
        // semaphores need no sem_destroy on Linux, where it does nothing.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// A process-shared POSIX semaphore inside a live [`Mapping`]; use it only
/// while the mapping lives.
#[derive(Debug, Clone, Copy)]
pub struct Sem(*mut libc::sem_t);

// A semaphore is made to be used from many threads and processes.
unsafe impl Send for Sem {}
unsafe impl Sync for Sem {}

impl Sem {
    /// Initialises it for every process that maps the file, to `value`.
    pub fn init(&self, value: u32) -> anyhow::Result<()> {
        // SAFETY: a slot of a live shared mapping, large enough; pshared=1.
        if unsafe { libc::sem_init(self.0, 1, value) } != 0 {
            return Err(std::io::Error::last_os_error())
                .context("initialising a process-shared semaphore");
        }
        Ok(())
    }

    pub fn try_wait(&self) -> bool {
        loop {
            // SAFETY: an initialised semaphore in a live mapping.
            if unsafe { libc::sem_trywait(self.0) } == 0 {
                return true;
            }
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return false;
            }
        }
    }

    /// Waits with no deadline: a unit that waits for ever on a deadlock is
    /// ended from outside (a contained child).
    pub fn wait(&self) -> std::io::Result<()> {
        loop {
            // SAFETY: as in `try_wait`.
            if unsafe { libc::sem_wait(self.0) } == 0 {
                return Ok(());
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// Waits until `until`; false when it passed first.
    pub fn wait_until(&self, until: Instant) -> std::io::Result<bool> {
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: clock_gettime writes the struct we pass.
            unsafe {
                libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts);
            }
            let at = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32) + left;
            let abs = libc::timespec {
                tv_sec: at.as_secs() as libc::time_t,
                tv_nsec: at.subsec_nanos() as libc::c_long,
            };
            // SAFETY: as in `try_wait`; `abs` lives for the call.
            if unsafe { libc::sem_timedwait(self.0, &abs) } == 0 {
                return Ok(true);
            }
            let err = std::io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ETIMEDOUT) => return Ok(false),
                _ => return Err(err),
            }
        }
    }

    pub fn post(&self) {
        // SAFETY: as in `try_wait`.
        unsafe {
            libc::sem_post(self.0);
        }
    }
}

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of the
/// machine (Python's `time.monotonic_ns`).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the struct we pass.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_semaphore_counts_and_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let m = Mapping::create(&dir.path().join("shm"), 4096, "test board").unwrap();
        let sem = m.sem(64);
        sem.init(1).unwrap();
        assert!(sem.try_wait() && !sem.try_wait());
        let t = Instant::now();
        assert!(!sem.wait_until(t + Duration::from_millis(20)).unwrap());
        assert!(t.elapsed() >= Duration::from_millis(15));
        sem.post();
        assert!(
            sem.wait_until(Instant::now() + Duration::from_secs(5))
                .unwrap()
        );
        let other = Mapping::open(&dir.path().join("shm"), 128, "test board").unwrap();
        other.at(8).store(7, std::sync::atomic::Ordering::Release);
        assert_eq!(m.at(8).load(std::sync::atomic::Ordering::Acquire), 7);
        assert!(Mapping::open(&dir.path().join("shm"), 1 << 20, "test board").is_err());
    }
}
