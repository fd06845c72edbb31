//! A queue over a pipe, framed as `multiprocessing.Connection` frames a
//! message: a 4-byte big-endian length, then that many bytes. A writer
//! killed in the middle of a put leaves a frame cut short; `get` reports
//! it as a broken queue once the writers are gone, instead of waiting for
//! bytes that will never come.

use super::sys;
use std::os::fd::RawFd;
use std::time::Instant;

/// Why `get` returned no message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError {
    /// The writers are gone in the middle of a frame: `got` of its
    /// `expected` bytes (the header's 4 when it was cut within the header).
    Broken {
        got: usize,
        expected: usize,
    },
    /// The writers are gone between frames: nothing more will come.
    Closed,
    /// The frame announces more than the reader accepts.
    TooLarge(usize),
    /// Nothing, or not all of a frame, came before the deadline.
    TimedOut,
    Io(String),
}

impl std::fmt::Display for GetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GetError::Broken { got, expected } => write!(
                f,
                "broken queue: a message cut short, {got} of {expected} bytes, and no writer left"
            ),
            GetError::Closed => f.write_str("the queue was closed"),
            GetError::TooLarge(n) => write!(f, "a message of {n} bytes is over the limit"),
            GetError::TimedOut => f.write_str("timed out waiting for a message"),
            GetError::Io(e) => write!(f, "reading the queue: {e}"),
        }
    }
}

/// Puts one message; blocks while the pipe is full.
pub fn put(fd: RawFd, message: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(message.len()).map_err(std::io::Error::other)?;
    sys::write_all(fd, &len.to_be_bytes())?;
    sys::write_all(fd, message)
}

/// Gets one message of at most `max` bytes, waiting until `deadline`.
pub fn get(fd: RawFd, max: usize, deadline: Instant) -> Result<Vec<u8>, GetError> {
    let read = |buf: &mut [u8]| {
        sys::read_full_until(fd, buf, deadline).map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut => GetError::TimedOut,
            _ => GetError::Io(e.to_string()),
        })
    };
    let mut header = [0u8; 4];
    match read(&mut header)? {
        0 => return Err(GetError::Closed),
        4 => {}
        got => return Err(GetError::Broken { got, expected: 4 }),
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > max {
        return Err(GetError::TooLarge(len));
    }
    let mut message = vec![0u8; len];
    match read(&mut message)? {
        got if got == len => Ok(message),
        got => Err(GetError::Broken { got, expected: len }),
    }
}

/// The bytes of a test message of `len` bytes, each depending on its place,
/// so that a message read back can be checked byte for byte.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn messages_round_trip_then_the_queue_closes() {
        let (r, w) = sys::pipe().unwrap();
        put(w.as_raw_fd(), &pattern(1000)).unwrap();
        put(w.as_raw_fd(), b"").unwrap();
        drop(w);
        assert_eq!(get(r.as_raw_fd(), 1 << 20, soon()).unwrap(), pattern(1000));
        assert_eq!(get(r.as_raw_fd(), 1 << 20, soon()).unwrap(), b"");
        assert_eq!(get(r.as_raw_fd(), 1 << 20, soon()), Err(GetError::Closed));
    }

    #[test]
    fn a_frame_cut_short_is_a_broken_queue() {
        let (r, w) = sys::pipe().unwrap();
        sys::write_all(w.as_raw_fd(), &100u32.to_be_bytes()).unwrap();
        sys::write_all(w.as_raw_fd(), &[1; 60]).unwrap();
        drop(w);
        assert_eq!(
            get(r.as_raw_fd(), 1 << 20, soon()),
            Err(GetError::Broken {
                got: 60,
                expected: 100
            })
        );
        let (r, w) = sys::pipe().unwrap();
        sys::write_all(w.as_raw_fd(), &[0, 0]).unwrap();
        drop(w);
        assert_eq!(
            get(r.as_raw_fd(), 1 << 20, soon()),
            Err(GetError::Broken {
                got: 2,
                expected: 4
            })
        );
    }

    #[test]
    fn a_live_writer_that_stops_mid_frame_times_out_and_big_frames_are_refused() {
        let (r, w) = sys::pipe().unwrap();
        sys::write_all(w.as_raw_fd(), &100u32.to_be_bytes()).unwrap();
        let t = Instant::now() + Duration::from_millis(20);
        assert_eq!(get(r.as_raw_fd(), 1 << 20, t), Err(GetError::TimedOut));
        let (r, w) = sys::pipe().unwrap();
        put(w.as_raw_fd(), &pattern(64)).unwrap();
        assert_eq!(get(r.as_raw_fd(), 10, soon()), Err(GetError::TooLarge(64)));
    }
}
