//! Runs `io-models` scenarios: starts the echo server in a process of its
//! own (`parabench io-peer server`), then for each number of connections,
//! ascending, runs every IO model's client in a fresh child (`io-peer
//! client`) once per round, in a rotated order, reading the server's CPU
//! before and after each client run. Every child is tied to the harness
//! (`die_with_harness`), every read and wait has a deadline, and both are
//! reaped with wait4; the client's rusage gives its peak memory.

use crate::measure::{die_with_harness, reap};
use crate::plan::Scenario;
use crate::results::CaseStatus;
use crate::results::io_models::{IoModelRep, IoModelResult};
use crate::workload::io_models::server::ServerUsage;
use crate::workload::io_models::{ClientJob, ClientOutput, IoModel, expected_checksum};
use anyhow::{Context, anyhow, bail};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long the server may take to start, answer or stop.
const SERVER_WAIT: Duration = Duration::from_secs(10);

/// Reads lines from a child's stdout, each read bounded by a deadline and
/// Ctrl-C (polled every 100 ms).
struct Lines {
    out: ChildStdout,
    buf: Vec<u8>,
}

impl Lines {
    fn read(&mut self, deadline: Instant, cancel: &AtomicBool) -> anyhow::Result<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Ok(String::from_utf8_lossy(&line).trim().to_owned());
            }
            let now = Instant::now();
            if now >= deadline {
                bail!("timed out");
            }
            if cancel.load(Ordering::Relaxed) {
                bail!("interrupted");
            }
            let wait = deadline.duration_since(now).min(Duration::from_millis(100));
            if poll_in(self.out.as_raw_fd(), wait)? {
                let mut chunk = [0u8; 4096];
                // SAFETY: `chunk` is a writable buffer of that length.
                let n = unsafe {
                    libc::read(self.out.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len())
                };
                match n {
                    0 => bail!("it exited"),
                    n if n < 0 => {
                        let e = std::io::Error::last_os_error();
                        if e.kind() != std::io::ErrorKind::Interrupted {
                            return Err(e.into());
                        }
                    }
                    n => self.buf.extend_from_slice(&chunk[..n as usize]),
                }
            }
        }
    }
}

fn poll_in(fd: RawFd, wait: Duration) -> std::io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd.
    let n = unsafe { libc::poll(&mut p, 1, wait.as_millis() as i32) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        return if e.kind() == std::io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(n > 0)
}

/// A child of the harness with piped stdin and stdout.
struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines,
}

impl Peer {
    fn spawn(role: &str) -> anyhow::Result<Peer> {
        let exe = crate::model::worker_exe().context("finding the harness binary")?;
        let mut cmd = Command::new(exe);
        cmd.args(["io-peer", role])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // Its own process group: a Ctrl-C at the terminal reaches the
        // harness only, which then ends the peers itself (and saves).
        die_with_harness(&mut cmd, true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting the io-peer {role}"))?;
        let stdin = child.stdin.take();
        let out = child.stdout.take().expect("stdout is piped");
        Ok(Peer {
            child,
            stdin,
            lines: Lines {
                out,
                buf: Vec::new(),
            },
        })
    }

    fn send(&mut self, line: &str) -> anyhow::Result<()> {
        let stdin = self.stdin.as_mut().ok_or_else(|| anyhow!("stdin closed"))?;
        stdin.write_all(line.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()?;
        Ok(())
    }

    /// Closes stdin (the peer's cue to end), waits for it until `deadline`,
    /// kills it past that, and reaps it; returns its peak RSS.
    fn finish(mut self, deadline: Instant) -> anyhow::Result<u64> {
        drop(self.stdin.take());
        let pid = self.child.id();
        loop {
            // SAFETY: waitid with WNOWAIT only looks; the reap is below.
            let exited = unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                libc::waitid(
                    libc::P_PID,
                    pid,
                    &mut info,
                    libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
                ) == 0
                    && info.si_pid() != 0
            };
            if exited {
                break;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let (exit, usage) = reap(pid)?;
        if exit != crate::measure::Exit::Code(0) {
            bail!("the io-peer ended with {exit}");
        }
        Ok(usage.max_rss_bytes)
    }
}

impl Peer {
    /// Ends the peer now (a deadline passed, or Ctrl-C) and reaps it.
    fn kill(mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = reap(self.child.id());
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Only reached on an error path (`finish` consumes it otherwise):
        // kill and reap, so no child is left.
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = reap(self.child.id());
        }
    }
}

struct Server {
    peer: Peer,
    addr: std::net::SocketAddr,
}

impl Server {
    fn start(cancel: &AtomicBool) -> anyhow::Result<Server> {
        let mut peer = Peer::spawn("server")?;
        let port: u16 = peer
            .lines
            .read(Instant::now() + SERVER_WAIT, cancel)
            .context("reading the echo server's port")?
            .parse()
            .context("the echo server's port")?;
        Ok(Server {
            peer,
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }

    fn usage(&mut self, cancel: &AtomicBool) -> anyhow::Result<ServerUsage> {
        self.peer.send("usage")?;
        let line = self
            .peer
            .lines
            .read(Instant::now() + SERVER_WAIT, cancel)
            .context("reading the echo server's CPU")?;
        Ok(serde_json::from_str(&line)?)
    }
}

/// What one client run gives: its output, its peak RSS, and the server's
/// counters when the exchange started and ended.
type ClientRun = (ClientOutput, u64, ServerUsage, ServerUsage);

/// One client run: once the client says it is connected, the server's
/// counters are read and it is told to go; they are read again after its
/// reply, so that the server's figures cover the exchange alone.
fn client_run(
    job: &ClientJob,
    server: &mut Server,
    timeout: Duration,
    cancel: &AtomicBool,
) -> anyhow::Result<ClientRun> {
    let mut peer = Peer::spawn("client")?;
    // The client gives up at `limit_ms`; this deadline only catches a
    // client that hangs anyway.
    let deadline = Instant::now() + timeout + Duration::from_secs(2);
    let mut exchange = || -> anyhow::Result<(String, ServerUsage, ServerUsage)> {
        peer.send(&serde_json::to_string(job)?)?;
        let first = peer.lines.read(deadline, cancel)?;
        if first != "ready" {
            // An error before the exchange (a refused connect).
            return Ok((first, ServerUsage::default(), ServerUsage::default()));
        }
        let before = server.usage(cancel)?;
        peer.send("go")?;
        let line = peer.lines.read(deadline, cancel)?;
        Ok((line, before, server.usage(cancel)?))
    };
    let (line, before, after) = match exchange() {
        Ok(x) => x,
        Err(e) => {
            peer.kill();
            return Err(e);
        }
    };
    let rss = peer.finish(Instant::now() + SERVER_WAIT);
    let reply: serde_json::Value = serde_json::from_str(&line)?;
    if let Some(e) = reply.get("error") {
        bail!("{}", e.as_str().unwrap_or("the client failed"));
    }
    let out: ClientOutput = serde_json::from_value(reply["ok"].clone())?;
    Ok((out, rss?, before, after))
}

fn rep_of(out: &ClientOutput, server: (ServerUsage, ServerUsage), rss: u64) -> IoModelRep {
    let requests = out.requests.max(1) as f64;
    let wall = out.wall_ns as f64 / 1e9;
    IoModelRep {
        throughput_rps: if wall > 0.0 {
            out.requests as f64 / wall
        } else {
            0.0
        },
        p50_us: out.p50_ns as f64 / 1e3,
        p99_us: out.p99_ns as f64 / 1e3,
        max_us: out.max_ns as f64 / 1e3,
        wall_s: wall,
        connect_s: out.connect_ns as f64 / 1e9,
        client_cpu_us_per_request: out.cpu_ns as f64 / 1e3 / requests,
        server_cpu_us_per_request: server.1.cpu_ns.saturating_sub(server.0.cpu_ns) as f64
            / 1e3
            / requests,
        client_cpu_share: if wall > 0.0 {
            out.cpu_ns as f64 / 1e9 / wall
        } else {
            0.0
        },
        ctx_switches_per_request: (out.ctx_voluntary + out.ctx_involuntary) as f64 / requests,
        server_ctx_switches_per_request: server.1.ctx_switches.saturating_sub(server.0.ctx_switches)
            as f64
            / requests,
        client_peak_rss_bytes: rss as f64,
    }
}

fn nofile() -> (u64, u64) {
    crate::limits::raise_nofile();
    // SAFETY: getrlimit writes only the struct we pass.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        (r.rlim_cur, r.rlim_max)
    }
}

/// Runs one io-models scenario; `save` gets each (model, connections)
/// result as soon as its connections are done. Spawn from the long-lived
/// runner thread (the children's parent-death signal follows it).
pub fn run(
    s: &Scenario,
    timeout: Duration,
    cancel: &AtomicBool,
    save: &mut dyn FnMut(IoModelResult),
) {
    let (nofile_soft, nofile_hard) = nofile();
    let io = &s.io_models;
    let result = |model: IoModel, connections: usize, status: CaseStatus| IoModelResult {
        scenario: s.name.clone(),
        io_model: model.id(),
        connections,
        threads: model.threads(connections),
        round_trips: s.round_trips,
        message_bytes: s.message_bytes,
        server_delay_ms: s.server_delay_ms,
        think_ms: io.think_ms,
        status,
        nofile_soft,
        nofile_hard,
        repetitions: Vec::new(),
        median: None,
    };
    let mut server = match Server::start(cancel) {
        Ok(server) => server,
        Err(e) => {
            for &c in &io.connections {
                for &m in &io.models {
                    save(result(
                        m,
                        c,
                        CaseStatus::Failed(format!("the echo server: {e:#}")),
                    ));
                }
            }
            return;
        }
    };
    let uring = crate::workload::io_models::uring_available();
    let rounds = (s.warmup + s.repetitions) as usize;
    for &connections in &io.connections {
        let mut results: Vec<IoModelResult> = io
            .models
            .iter()
            .map(|&m| match (&uring, m) {
                (Err(why), IoModel::Async) => {
                    result(m, connections, CaseStatus::Skipped(why.clone()))
                }
                _ => result(m, connections, CaseStatus::Ok),
            })
            .collect();
        let addr = server.addr;
        let job = |m: IoModel| ClientJob {
            model: m.id(),
            addr,
            connections: connections as u32,
            round_trips: s.round_trips,
            message_bytes: s.message_bytes,
            server_delay_us: (s.server_delay_ms * 1e3).round() as u64,
            think_us: (io.think_ms * 1e3).round() as u64,
            limit_ms: timeout.as_millis().saturating_sub(1000).max(1000) as u64,
        };
        let expected = expected_checksum(connections as u32, s.round_trips, s.message_bytes);
        let mut stopped = false;
        'rounds: for round in 0..rounds {
            let n = results.len();
            for k in 0..n {
                // Rotate the order each round, so drift hits every model.
                let i = (k + round) % n;
                if results[i].status != CaseStatus::Ok {
                    continue;
                }
                if cancel.load(Ordering::Relaxed) {
                    stopped = true;
                    break 'rounds;
                }
                let model = io.models[i];
                let run = client_run(&job(model), &mut server, timeout, cancel);
                let r = &mut results[i];
                match run {
                    Ok((out, ..)) if out.skipped.is_some() => {
                        r.status = CaseStatus::Skipped(out.skipped.unwrap_or_default());
                    }
                    Ok((out, ..)) if out.checksum != expected => {
                        r.status = CaseStatus::Failed(format!(
                            "checksum mismatch: the echoed bytes fold to {:#x}, expected {expected:#x}",
                            out.checksum
                        ));
                    }
                    Ok((out, rss, b, a)) => {
                        if round >= s.warmup as usize {
                            r.repetitions.push(rep_of(&out, (b, a), rss));
                        }
                    }
                    Err(e) => {
                        r.status = if cancel.load(Ordering::Relaxed) {
                            CaseStatus::Interrupted
                        } else {
                            CaseStatus::Failed(format!("{e:#}"))
                        };
                    }
                }
            }
        }
        // Ctrl-C saves what was measured: the repetitions done, or
        // `interrupted` for a model that had none.
        for mut r in results.drain(..) {
            if stopped && r.status == CaseStatus::Ok && r.repetitions.is_empty() {
                r.status = CaseStatus::Interrupted;
            }
            r.median = crate::report::io_models::median_rep(&r.repetitions);
            save(r);
        }
        if stopped {
            break;
        }
    }
    let _ = server.peer.finish(Instant::now() + SERVER_WAIT);
}
