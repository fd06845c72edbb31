//! The loopback echo server that `io-socket` tasks talk to. parabench starts
//! it itself on 127.0.0.1 (an ephemeral port) for the runs that need it.
//!
//! Protocol, per round trip: the client sends a 12-byte header (payload length
//! u32 LE, server-side delay in µs u64 LE) and the payload; the server waits
//! the delay (without blocking other connections) and sends the payload back.

use anyhow::Context;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::thread::JoinHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const HEADER_LEN: usize = 12;

/// Encodes the header of one request.
pub fn header(len: u32, delay_us: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(&len.to_le_bytes());
    h[4..].copy_from_slice(&delay_us.to_le_bytes());
    h
}

pub(crate) fn parse_header(h: &[u8; HEADER_LEN]) -> (u32, u64) {
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let mut d = [0u8; 8];
    d.copy_from_slice(&h[4..]);
    (len, u64::from_le_bytes(d))
}

/// Largest payload the server accepts, so a confused client cannot make it
/// allocate without bound.
pub(crate) const MAX_PAYLOAD: u32 = 16 << 20;

/// A running echo server; it stops when dropped.
pub struct EchoServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Connections that may wait to be accepted at once.
const LISTEN_BACKLOG: libc::c_int = 4096;

impl EchoServer {
    /// Starts the server on its own thread with a current-thread runtime, so
    /// it needs no core of its own while idle and serves any number of
    /// connections concurrently.
    pub fn start() -> anyhow::Result<EchoServer> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("binding the loopback echo server on 127.0.0.1")?;
        listener.set_nonblocking(true)?;
        // std listens with a backlog of 128: more clients connecting at once
        // overflow it, and a dropped SYN is retried only after a second.
        // Listening again on Linux sets the backlog (capped by somaxconn).
        // SAFETY: listen on a descriptor this listener owns.
        if unsafe { libc::listen(listener.as_raw_fd(), LISTEN_BACKLOG) } != 0 {
            return Err(std::io::Error::last_os_error())
                .context("raising the echo server's listen backlog");
        }
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            // The delays sleep on the blocking pool: no timer slack there
            // (the kernel adds 50 µs to every sleep by default).
            .on_thread_start(|| {
                // SAFETY: prctl with integer arguments only.
                unsafe {
                    libc::prctl(libc::PR_SET_TIMERSLACK, 1, 0, 0, 0);
                }
            })
            .build()
            .context("starting the echo server's runtime")?;
        let thread = std::thread::Builder::new()
            .name("echo-server".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = accept_loop(listener) => {}
                        _ = stop_rx => {}
                    }
                });
            })
            .context("spawning the echo server thread")?;
        Ok(EchoServer {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(listener: tokio::net::TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream));
    }
}

async fn serve(mut stream: tokio::net::TcpStream) -> std::io::Result<()> {
    let mut head = [0u8; HEADER_LEN];
    let mut payload = Vec::new();
    loop {
        if stream.read_exact(&mut head).await.is_err() {
            return Ok(()); // the client closed the connection
        }
        let (len, delay_us) = parse_header(&head);
        if len > MAX_PAYLOAD {
            return Ok(());
        }
        payload.resize(len as usize, 0);
        stream.read_exact(&mut payload).await?;
        if delay_us > 0 {
            // tokio's timer counts whole milliseconds (200 µs would take
            // 1-2 ms); a blocking-pool thread's nanosleep is as precise as
            // the machine's timer, and delays still overlap across
            // connections.
            let delay = std::time::Duration::from_micros(delay_us);
            tokio::task::spawn_blocking(move || std::thread::sleep(delay)).await?;
        }
        stream.write_all(&payload).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn echoes_what_it_gets() {
        let server = EchoServer::start().unwrap();
        let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
        for round in 0..3u8 {
            let payload = vec![round; 100];
            s.write_all(&header(100, 10)).unwrap();
            s.write_all(&payload).unwrap();
            let mut back = vec![0; 100];
            s.read_exact(&mut back).unwrap();
            assert_eq!(back, payload);
        }
    }

    #[test]
    fn header_round_trips() {
        assert_eq!(parse_header(&header(77, 123_456)), (77, 123_456));
    }
}
