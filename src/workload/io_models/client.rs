//! One client run, in the `io-peer client` child: opens every connection,
//! runs the exchange under one IO model and reports what it measured on its
//! side (its own CPU and context switches over the exchange; the harness
//! reads its peak memory from wait4). A child per run gives every run a
//! fresh process, so its peak memory is that run's alone.

use super::conn::{Conn, Exchange};
use super::{ClientJob, ClientOutput, IoModel};
use crate::measure::self_usage;
use std::io::{self, BufRead, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Opens `n` connections one after another (a burst of thousands of
/// concurrent connects would overflow the server's accept backlog and wait
/// for SYN retransmits), each with Nagle off and a reset on close, so that
/// no TIME_WAIT is left behind to exhaust the ephemeral ports.
pub fn connect(job: &ClientJob, ex: &Exchange, deadline: Instant) -> io::Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(job.connections as usize);
    for idx in 0..job.connections {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "opened {idx} of {} connections by the deadline",
                    job.connections
                ),
            ));
        }
        let s = TcpStream::connect(job.addr)
            .map_err(|e| io::Error::new(e.kind(), format!("connection {idx}: {e}")))?;
        s.set_nodelay(true)?;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt reads the struct we pass.
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&s),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
        conns.push(Conn::new(s, idx, ex));
    }
    Ok(conns)
}

/// Runs one job: connect, exchange, and the figures.
pub fn run(job: &ClientJob) -> io::Result<ClientOutput> {
    run_when(job, &mut || Ok(()))
}

/// `run`, calling `ready` once every connection is open and before the
/// exchange starts (the child tells the harness, which reads the server's
/// CPU then, so that the server's figures cover the exchange alone).
pub fn run_when(
    job: &ClientJob,
    ready: &mut dyn FnMut() -> io::Result<()>,
) -> io::Result<ClientOutput> {
    let model = IoModel::parse(&job.model)
        .ok_or_else(|| io::Error::other(format!("unknown IO model `{}`", job.model)))?;
    if model == IoModel::Async
        && let Err(why) = super::uring::available()
    {
        return Ok(ClientOutput {
            skipped: Some(why),
            ..ClientOutput::default()
        });
    }
    let ex = Exchange {
        round_trips: job.round_trips,
        message_bytes: job.message_bytes,
        server_delay_us: job.server_delay_us,
        think: Duration::from_micros(job.think_us),
    };
    let deadline = Instant::now() + Duration::from_millis(job.limit_ms);
    let t0 = Instant::now();
    let mut conns = connect(job, &ex, deadline)?;
    let connect_ns = t0.elapsed().as_nanos() as u64;
    if model != IoModel::Blocking {
        for c in &conns {
            c.stream.set_nonblocking(true)?;
        }
    }
    ready()?;
    let before = self_usage();
    let start = Instant::now();
    match model {
        IoModel::Blocking => conns = super::blocking::run(conns, &ex, deadline)?,
        IoModel::Nonblocking => super::nonblocking::run(&mut conns, &ex, deadline)?,
        IoModel::Multiplexed(m) => super::multiplexed::run(m, &mut conns, &ex, deadline)?,
        IoModel::Signal => super::signal::run(&mut conns, &ex, deadline)?,
        IoModel::Async => super::uring::run(&mut conns, &ex, deadline)?,
    }
    let wall_ns = start.elapsed().as_nanos() as u64;
    let used = self_usage().since(&before);
    conns.sort_by_key(|c| c.idx);
    let checksum = conns
        .iter()
        .fold(0, |acc, c| crate::workload::combine(acc, c.checksum));
    let mut lat: Vec<u64> = conns
        .iter()
        .flat_map(|c| c.latencies_ns.iter().copied())
        .collect();
    lat.sort_unstable();
    let at = |q: f64| -> u64 {
        if lat.is_empty() {
            return 0;
        }
        lat[((lat.len() - 1) as f64 * q).round() as usize]
    };
    Ok(ClientOutput {
        checksum,
        requests: lat.len() as u64,
        connect_ns,
        wall_ns,
        p50_ns: at(0.5),
        p99_ns: at(0.99),
        max_ns: at(1.0),
        cpu_ns: (used.user + used.sys).as_nanos() as u64,
        ctx_voluntary: used.ctx_voluntary,
        ctx_involuntary: used.ctx_involuntary,
        skipped: None,
    })
}

/// `parabench io-peer client`: reads one `ClientJob` JSON line from stdin,
/// opens its connections, writes `ready` and waits for a `go` line, runs the
/// exchange and writes one JSON line, `{"ok": ClientOutput}` or
/// `{"error": "..."}`, to stdout.
pub fn serve() -> anyhow::Result<()> {
    let mut stdin = io::stdin().lock();
    let mut line = String::new();
    stdin.read_line(&mut line)?;
    // Once connected: `ready` out, and the exchange starts on `go`.
    let mut ready = || -> io::Result<()> {
        let mut out = io::stdout().lock();
        writeln!(out, "ready")?;
        out.flush()?;
        let mut go = String::new();
        stdin.read_line(&mut go)?;
        if go.trim() == "go" {
            Ok(())
        } else {
            Err(io::Error::other("the harness did not say go"))
        }
    };
    let reply = match serde_json::from_str::<ClientJob>(&line) {
        Ok(job) => match run_when(&job, &mut ready) {
            Ok(out) => serde_json::json!({ "ok": out }),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        },
        Err(e) => serde_json::json!({ "error": format!("bad job: {e}") }),
    };
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{reply}")?;
    stdout.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::echo::EchoServer;
    use crate::workload::io_models::{Multiplexer, expected_checksum};

    fn job(model: IoModel, addr: std::net::SocketAddr, think_us: u64) -> ClientJob {
        ClientJob {
            model: model.id(),
            addr,
            connections: 20,
            round_trips: 4,
            message_bytes: 300,
            server_delay_us: 200,
            think_us,
            limit_ms: 20_000,
        }
    }

    #[test]
    fn every_model_echoes_every_byte_of_every_connection() {
        let server = EchoServer::start().unwrap();
        let models = [
            IoModel::Blocking,
            IoModel::Nonblocking,
            IoModel::Multiplexed(Multiplexer::Epoll),
            IoModel::Multiplexed(Multiplexer::Poll),
            IoModel::Multiplexed(Multiplexer::Select),
            IoModel::Signal,
            IoModel::Async,
        ];
        for model in models {
            for think_us in [0, 500] {
                let out = run(&job(model, server.addr(), think_us)).unwrap();
                if let Some(why) = &out.skipped {
                    assert_eq!(model, IoModel::Async, "{why}");
                    continue;
                }
                assert_eq!(out.requests, 80, "{model:?}");
                assert_eq!(out.checksum, expected_checksum(20, 4, 300), "{model:?}");
                assert!(out.p50_ns <= out.p99_ns && out.p99_ns <= out.max_ns);
                // Every round trip waits for the server's 200 µs delay.
                assert!(out.p50_ns >= 200_000, "{model:?}: {}", out.p50_ns);
            }
        }
    }

    #[test]
    fn a_wrong_echo_breaks_the_checksum() {
        // Fewer rounds than expected give another checksum: it covers every
        // byte, so a model that skipped a round trip could not pass.
        assert_ne!(expected_checksum(20, 4, 300), expected_checksum(20, 3, 300));
        assert_ne!(expected_checksum(20, 4, 300), expected_checksum(19, 4, 300));
    }

    #[test]
    fn a_dead_server_is_an_error_not_a_hang() {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = run(&job(IoModel::Multiplexed(Multiplexer::Epoll), addr, 0)).unwrap_err();
        assert!(err.to_string().contains("connection 0"), "{err}");
    }
}
