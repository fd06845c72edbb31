//! The `touch_kib` step: a task maps a fresh anonymous region, writes every
//! page and holds it until the task ends, so each task alive costs a known
//! amount of resident memory. The region comes from mmap, not the allocator:
//! glibc would keep a freed buffer for the next one (its mmap threshold grows
//! after the first free), so memory would not follow the tasks alive.

use anyhow::Context;

const PAGE: usize = 4096;

/// Pages written and still mapped; unmapped on drop.
pub struct Touched {
    ptr: *mut u64,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone; moving it between threads
// (an async task migrating between executor threads) is sound.
unsafe impl Send for Touched {}
unsafe impl Sync for Touched {}

/// The word written at the start of page `page` of task `idx`.
fn word(idx: u32, page: usize) -> u64 {
    super::cpu::mix64(((idx as u64) << 32) ^ page as u64 ^ 0x70C4)
}

impl Touched {
    /// Maps `kib` KiB and writes one word into each of its pages, which makes
    /// every page resident.
    pub fn new(idx: u32, kib: u64) -> anyhow::Result<Touched> {
        let len = (kib as usize * 1024).max(PAGE);
        // SAFETY: a private anonymous mapping touches no existing memory.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("mapping {kib} KiB for touch_kib"));
        }
        let touched = Touched {
            ptr: ptr.cast(),
            len,
        };
        for page in 0..touched.pages() {
            // SAFETY: each page start lies inside the mapping and is aligned.
            unsafe {
                touched
                    .ptr
                    .add(page * PAGE / 8)
                    .write_volatile(word(idx, page))
            };
        }
        Ok(touched)
    }

    fn pages(&self) -> usize {
        self.len / PAGE
    }

    /// Reads every page back: proves the pages were written and still held.
    pub fn checksum(&self) -> u64 {
        (0..self.pages()).fold(0, |acc, page| {
            // SAFETY: as in `new`.
            let w = unsafe { self.ptr.add(page * PAGE / 8).read_volatile() };
            super::combine(acc, w)
        })
    }
}

impl Drop for Touched {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// The checksum `Touched::checksum` gives for task `idx`, computed without
/// mapping anything.
pub fn expected(idx: u32, kib: u64) -> u64 {
    let pages = (kib as usize * 1024).max(PAGE) / PAGE;
    (0..pages).fold(0, |acc, page| super::combine(acc, word(idx, page)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touched_pages_are_resident_and_checksummed() {
        let before = crate::measure::current_rss();
        let t = Touched::new(3, 8 * 1024).unwrap();
        let during = crate::measure::current_rss();
        assert_eq!(t.checksum(), expected(3, 8 * 1024));
        assert_ne!(expected(3, 8), expected(4, 8));
        // 8 MiB written: RSS grows by most of it (other threads may free some).
        assert!(during >= before + 6 * 1024 * 1024, "{before} -> {during}");
        drop(t);
    }
}
