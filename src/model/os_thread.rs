//! A bare OS thread for the `thread` model: `pthread_create` with a 2 MiB
//! stack (std's default), joined with `pthread_timedjoin_np` under a
//! deadline. The model stands for the OS's thread, and std::thread adds a
//! cost of its own to each: a signal stack per thread for its stack-overflow
//! message (mmap, mprotect, munmap; each munmap in a multi-threaded process
//! is a TLB shoot-down on the other core, slow on the VMs), a name, and its
//! own join packet. Measured here, std's spawn + join cost 1.7-1.9x a bare
//! pthread_create + join, and the signal stack alone 1.5x.
//!
//! What std gives up is its message on a stack overflow: such a thread still
//! dies of SIGSEGV at its guard page (glibc puts one under every stack).

use std::ffi::c_void;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant, SystemTime};

/// Each thread's stack: std's default for a spawned thread.
const STACK_BYTES: usize = 2 << 20;

type Body = Box<dyn FnOnce() + Send>;

/// A started thread. Dropped without a join, it is detached.
pub struct OsThread {
    id: libc::pthread_t,
    joined: bool,
}

/// Starts `f` on a new OS thread. A panic in `f` ends the thread only (it
/// does not unwind into C): `f` reports its own outcome.
pub fn spawn(f: impl FnOnce() + Send + 'static) -> std::io::Result<OsThread> {
    let body: Box<Body> = Box::new(Box::new(f));
    let arg = Box::into_raw(body).cast::<c_void>();
    // SAFETY: the attribute is initialised before use and destroyed after;
    // `arg` passes to the new thread, which takes ownership of it, or is
    // taken back here when no thread was created.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        let mut r = libc::pthread_attr_init(&mut attr);
        if r == 0 {
            r = libc::pthread_attr_setstacksize(&mut attr, STACK_BYTES);
        }
        let mut id: libc::pthread_t = 0;
        if r == 0 {
            r = libc::pthread_create(&mut id, &attr, trampoline, arg);
        }
        libc::pthread_attr_destroy(&mut attr);
        if r != 0 {
            drop(Box::from_raw(arg.cast::<Body>()));
            return Err(std::io::Error::from_raw_os_error(r));
        }
        Ok(OsThread { id, joined: false })
    }
}

extern "C" fn trampoline(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `spawn` passes a `Box<Body>` leaked for this thread alone.
    let body = unsafe { Box::from_raw(arg.cast::<Body>()) };
    // The panic hook has printed the message; the payload is dropped here.
    let _ = std::panic::catch_unwind(AssertUnwindSafe(body));
    std::ptr::null_mut()
}

impl OsThread {
    /// Waits for the thread to end until `deadline`. Gives the thread back
    /// if it is still running then (drop it to detach it).
    pub fn join_until(mut self, deadline: Instant) -> Result<(), OsThread> {
        // pthread_timedjoin_np takes an absolute CLOCK_REALTIME time.
        let left = deadline.saturating_duration_since(Instant::now());
        let until = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            + left;
        let ts = libc::timespec {
            tv_sec: until.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
            tv_nsec: until.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `id` is a joinable thread this handle owns (not joined or
        // detached yet); a null result pointer is allowed.
        let r = unsafe { libc::pthread_timedjoin_np(self.id, std::ptr::null_mut(), &ts) };
        if r == 0 {
            self.joined = true;
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl Drop for OsThread {
    fn drop(&mut self) {
        if !self.joined {
            // SAFETY: `id` is a thread this handle owns, neither joined nor
            // detached before.
            unsafe {
                libc::pthread_detach(self.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn runs_the_closure_and_joins() {
        let (tx, rx) = mpsc::channel();
        let t = spawn(move || tx.send(std::thread::current().id()).unwrap()).unwrap();
        let id = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_ne!(id, std::thread::current().id(), "ran on another thread");
        assert!(
            t.join_until(Instant::now() + Duration::from_secs(10))
                .is_ok()
        );
    }

    #[test]
    fn a_join_gives_up_at_its_deadline_and_a_panic_stays_in_its_thread() {
        let (tx, rx) = mpsc::channel::<()>();
        // Ends when `tx` is dropped, after the first join has given up.
        let t = spawn(move || {
            let _ = rx.recv_timeout(Duration::from_secs(10));
            panic!("a task's panic ends its thread only");
        })
        .unwrap();
        let started = Instant::now();
        let t = t
            .join_until(Instant::now() + Duration::from_millis(20))
            .expect_err("the thread is still waiting");
        assert!(started.elapsed() >= Duration::from_millis(15));
        drop(tx);
        assert!(
            t.join_until(Instant::now() + Duration::from_secs(10))
                .is_ok()
        );
    }
}
