//! The echo server of the `io-models` workload, in a process of its own
//! (`parabench io-peer server`), so that its CPU is counted apart from the
//! client's and the harness's. It speaks `echo`'s protocol on a tokio
//! runtime with a worker thread per core (epoll underneath), with a listen
//! backlog of 4096 so that bursts of connects do not wait for SYN
//! retransmits. Delays are tokio timers (whole milliseconds), so that
//! thousands of delayed connections cost no thread each.
//!
//! Its stdin is the control channel: it writes its port as the first line
//! of stdout, answers each `usage` line with its CPU time and context
//! switches so far as one JSON line, and exits when stdin closes.

use crate::workload::echo;
use std::io::{BufRead, Write};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The server's own counters, as it reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ServerUsage {
    pub cpu_ns: u64,
    pub ctx_switches: u64,
}

pub fn serve() -> anyhow::Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind("127.0.0.1:0".parse().expect("a valid address"))?;
        socket.listen(4096)
    })?;
    let port = listener.local_addr()?.port();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{port}")?;
        out.flush()?;
    }
    runtime.spawn(accept_loop(listener));
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        if line?.trim() == "usage" {
            let u = crate::measure::self_usage();
            let reply = ServerUsage {
                cpu_ns: (u.user + u.sys).as_nanos() as u64,
                ctx_switches: u.ctx_voluntary + u.ctx_involuntary,
            };
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", serde_json::to_string(&reply)?)?;
            out.flush()?;
        }
    }
    // stdin closed: the harness is done (or gone).
    runtime.shutdown_background();
    Ok(())
}

async fn accept_loop(listener: tokio::net::TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // EMFILE and the like: let connections close before trying again.
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_one(stream));
    }
}

async fn serve_one(mut stream: tokio::net::TcpStream) -> std::io::Result<()> {
    let mut head = [0u8; echo::HEADER_LEN];
    let mut payload = Vec::new();
    loop {
        if stream.read_exact(&mut head).await.is_err() {
            return Ok(()); // the client closed (or reset) the connection
        }
        let (len, delay_us) = echo::parse_header(&head);
        if len > echo::MAX_PAYLOAD {
            return Ok(());
        }
        payload.resize(len as usize, 0);
        stream.read_exact(&mut payload).await?;
        if delay_us > 0 {
            tokio::time::sleep(std::time::Duration::from_micros(delay_us)).await;
        }
        stream.write_all(&payload).await?;
    }
}

/// `parabench io-peer server|client`.
pub fn serve_role(role: &str) -> anyhow::Result<()> {
    match role {
        "server" => serve(),
        "client" => super::client::serve(),
        other => anyhow::bail!("unknown io-peer role `{other}`: use server or client"),
    }
}
