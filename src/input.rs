//! Reading an input file with a bound: the one way parabench reads what a
//! user hands it (suite files, results files, baselines). Only a regular
//! file up to a stated size is read; a directory, a device, a FIFO or a
//! socket is refused before anything is read from it, so that `/dev/zero`
//! cannot fill memory and a FIFO cannot hang the command.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest suite (workload TOML) file read: 1 MiB, a thousand times the
/// size of the default suite.
pub const MAX_SUITE_BYTES: u64 = 1 << 20;

/// The largest results file read (also for baselines): 64 MiB. A full
/// default run writes well under 1 MiB; this leaves room for long sweeps
/// with many repetitions.
pub const MAX_RESULTS_BYTES: u64 = 64 << 20;

/// Why an input file could not be read; the caller names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("it does not exist")]
    NotFound,
    #[error("it is {kind}, not a regular file; pass a file")]
    NotRegular { kind: &'static str },
    #[error(
        "it is larger than {} ({size} bytes), the most parabench reads from such a file",
        size_text(*limit)
    )]
    TooLarge { size: u64, limit: u64 },
    #[error("it is not UTF-8 text")]
    NotText,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The whole file at `path` as text, if it is a regular file of at most
/// `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read(path, limit)?).map_err(|_| ReadError::NotText)
}

/// The whole file at `path`, if it is a regular file of at most `limit` bytes.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    // Looking before opening gives the clearest message; opening without
    // blocking and looking again at what was opened closes the gap in
    // between (a FIFO put there meanwhile would otherwise block `open`).
    check_kind(&std::fs::metadata(path).map_err(not_found)?)?;
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(not_found)?;
    let meta = file.metadata()?;
    check_kind(&meta)?;
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    // The file may grow while it is read: never take more than the limit.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// `64 MiB`, or bytes when the limit is not a whole number of MiB.
fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

fn not_found(err: std::io::Error) -> ReadError {
    if err.kind() == std::io::ErrorKind::NotFound {
        ReadError::NotFound
    } else {
        ReadError::Io(err)
    }
}

fn check_kind(meta: &std::fs::Metadata) -> Result<(), ReadError> {
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Err(ReadError::NotRegular { kind: what })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_regular_file_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        std::fs::write(&path, "name = \"x\"\n").unwrap();
        assert_eq!(read_text(&path, 100).unwrap(), "name = \"x\"\n");
        assert_eq!(read_text(&path, 11).unwrap().len(), 11);
    }

    #[test]
    fn refuses_what_is_not_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.json");
        std::fs::write(&big, vec![b' '; 2049]).unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let cases: [(&Path, &str); 5] = [
            (dir.path(), "it is a directory, not a regular file"),
            (Path::new("/dev/zero"), "it is a device"),
            (&fifo, "it is a FIFO"),
            (&big, "it is larger than 2048 bytes (2049 bytes)"),
            (&dir.path().join("missing"), "it does not exist"),
        ];
        for (path, want) in cases {
            let err = read(path, 2048).unwrap_err().to_string();
            assert!(err.starts_with(want), "{}: {err}", path.display());
        }
        std::fs::write(&big, b"\xff\xfe").unwrap();
        assert!(matches!(read_text(&big, 2048), Err(ReadError::NotText)));
    }
}
