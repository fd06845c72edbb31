//! `parent_mib`: memory the parent program holds while it starts workers,
//! every page written, so that what a fork copies (page tables, and pages
//! once written) grows with it as it does in a large Python program.
//! Small pages on purpose: a Python heap is not made of huge pages, and a
//! huge page would make a fork of the same size look 512 times cheaper.

use std::io;

/// An anonymous private mapping of `mib` MiB, touched; unmapped on drop.
pub struct Ballast {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is owned by the value and only read or written through it.
unsafe impl Send for Ballast {}

impl Ballast {
    /// Maps and touches `mib` MiB; `None` for 0.
    pub fn new(mib: u64) -> io::Result<Option<Ballast>> {
        if mib == 0 {
            return Ok(None);
        }
        let len = usize::try_from(mib)
            .ok()
            .and_then(|m| m.checked_mul(1 << 20))
            .ok_or_else(|| io::Error::other(format!("{mib} MiB does not fit in memory")))?;
        // SAFETY: a fresh anonymous mapping; nothing else refers to it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ballast = Ballast { ptr, len };
        // SAFETY: advice on our own mapping; refused advice changes nothing.
        unsafe {
            libc::madvise(ptr, len, libc::MADV_NOHUGEPAGE);
        }
        let page = page_size();
        let base = ptr.cast::<u8>();
        let mut offset = 0;
        while offset < len {
            // SAFETY: `offset < len`, inside the mapping we own. Each page
            // gets its own value so that no page is the shared zero page.
            unsafe { base.add(offset).write_volatile((offset / page) as u8 | 1) };
            offset += page;
        }
        Ok(Some(ballast))
    }

    pub fn bytes(&self) -> usize {
        self.len
    }

    /// Bytes of the mapping in memory now (mincore).
    #[cfg(test)]
    pub fn resident(&self) -> usize {
        let page = page_size();
        let mut pages = vec![0u8; self.len.div_ceil(page)];
        // SAFETY: `pages` has one byte per page of our mapping.
        let r = unsafe { libc::mincore(self.ptr, self.len, pages.as_mut_ptr()) };
        if r != 0 {
            return 0;
        }
        pages.iter().filter(|&&p| p & 1 == 1).count() * page
    }
}

impl Drop for Ballast {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `new` and is dropped once.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf reads a constant.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).unwrap_or(4096).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ballast_is_resident_while_held() {
        assert!(Ballast::new(0).unwrap().is_none());
        let b = Ballast::new(16).unwrap().expect("16 MiB");
        assert_eq!(b.bytes(), 16 << 20);
        assert_eq!(b.resident(), 16 << 20, "every page touched");
    }
}
