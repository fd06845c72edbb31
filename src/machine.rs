//! The machine record every result is tagged with (sysinfo), the harness
//! version and the git commit of the working directory when there is one.

use crate::results::Machine;
use std::path::Path;
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

pub fn record() -> Machine {
    let sys = System::new_with_specifics(
        RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing())
            .with_memory(MemoryRefreshKind::nothing().with_ram()),
    )
    .ok();
    let cpu_brand = sys
        .as_ref()
        .and_then(|s| s.cpus().first().map(|c| c.brand().trim().to_owned()))
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "unknown CPU".into());
    Machine {
        cpu_brand,
        logical_cores: crate::model::num_cpus(),
        physical_cores: System::physical_core_count().ok(),
        memory_bytes: sys.as_ref().map_or(0, |s| s.total_memory()),
        os: System::long_os_version()
            .or_else(|_| System::name())
            .unwrap_or_else(|_| std::env::consts::OS.into()),
        kernel: System::kernel_version().unwrap_or_else(|_| "unknown".into()),
        hostname: System::host_name().ok(),
    }
}

/// Memory the OS says is available now, in bytes (0 when unknown).
pub fn available_memory() -> u64 {
    System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()),
    )
    .map_or(0, |s| s.available_memory())
}

/// The commit checked out in the current directory or a parent, read from
/// `.git` directly (no child process to wait on). In a linked worktree
/// `.git` is a file naming the worktree's own git directory, whose refs
/// live in the main repository's (`commondir`).
pub fn git_commit() -> Option<String> {
    let mut dir = std::env::current_dir().ok()?;
    loop {
        let git = dir.join(".git");
        if git.is_dir() {
            return commit_in(&git, &git);
        }
        if git.is_file() {
            let pointer = std::fs::read_to_string(&git).ok()?;
            let own = dir.join(pointer.trim().strip_prefix("gitdir:")?.trim());
            let common = match std::fs::read_to_string(own.join("commondir")) {
                Ok(rel) => own.join(rel.trim()),
                Err(_) => own.clone(),
            };
            return commit_in(&own, &common);
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// HEAD of git directory `own`, its branch resolved in `common`.
fn commit_in(own: &Path, common: &Path) -> Option<String> {
    let head = std::fs::read_to_string(own.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(reference) = head.strip_prefix("ref: ") else {
        return Some(head.to_owned());
    };
    for refs in [own, common] {
        if let Ok(hash) = std::fs::read_to_string(refs.join(reference)) {
            return Some(hash.trim().to_owned());
        }
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
    packed
        .lines()
        .find_map(|l| l.strip_suffix(reference).map(|h| h.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_record_describes_this_machine() {
        let m = super::record();
        assert!(m.logical_cores >= 1);
        assert!(m.memory_bytes > 0);
        assert!(!m.kernel.is_empty());
    }

    /// The tests run in the crate's directory, a git checkout or worktree
    /// (when it is one at all).
    #[test]
    fn the_commit_is_found_in_a_checkout_or_a_worktree() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        if root.join(".git").exists() {
            let commit = super::git_commit().unwrap();
            assert_eq!(commit.len(), 40, "{commit}");
        }
    }
}
