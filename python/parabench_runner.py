"""parabench's CPython runner: the reference the emulated `+gil` models are judged by.

Reads one JSON request per line of stdin, runs each in this interpreter and
writes one JSON response line on stdout for each, until stdin ends; on failure
writes {"error": "..."} and exits with status 1. One runner serves one case's
repetitions, and keeps its pools from one to the next.
The Rust side (src/cpython.rs) embeds this file, owns the schema and documents
the fields. Standard library only; Python 3.8 or newer; tuned for Linux.
"""

import ctypes
import json
import math
import mmap
import os
import platform
import queue
import resource
import socket
import struct
import sys
import threading
import time
import traceback

MASK = 0xFFFF_FFFF_FFFF_FFFF
SEED = 0x9E37_79B9_7F4A_7C15
KERNELS = ("hash",)
MODELS = ("sequential", "thread", "thread-pool", "process", "process-pool", "asyncio", "greenlet", "gevent", "interpreter-pool")
# The request's `start_method` ("spawn", "fork" or "forkserver"); "fork", the
# Linux default up to 3.13, when it names none (3.14 moved the default to
# "forkserver"). The method used is in the response. Set by `import_for` with
# the process models.
START_METHOD = None
# `parent_mib`: memory this process holds while it starts workers, every page
# written. A "fork" child inherits it (copy-on-write); "spawn" and
# "forkserver" children do not.
_PARENT = None
PR_SET_PDEATHSIG = 1
# Generous bound on the warm-up barriers: a pool that cannot start its workers
# within it is broken, and the error beats a hang.
WARM_TIMEOUT_S = 60.0

# perf_counter is CLOCK_MONOTONIC on Linux, one clock for every process of the
# machine, so start and end times taken in workers compare with the parent's.
now = time.perf_counter


def hash_kernel(iters):
    """A 64-bit xorshift-multiply mix; the checksum proves the work was done."""
    x = SEED
    for i in range(iters):
        x = ((x ^ (x >> 29)) * 0xBF58_476D_1CE4_E5B9 + i) & MASK
    return x


def calibrate():
    """Iterations of the kernel per millisecond on one core, best of three."""
    iters = 1_000
    while True:
        start = now()
        hash_kernel(iters)
        if now() - start >= 0.02:
            break
        iters *= 2
    best = float("inf")
    for _ in range(3):
        start = now()
        hash_kernel(iters)
        best = min(best, now() - start)
    return iters / (best * 1e3)


def die_with_parent():
    """Workers die with the runner, which itself dies with the harness.

    A fork()ed worker holds copies of the pool's pipes, so it would otherwise
    wait forever once the runner is killed on a timeout.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # Not Linux: the harness's process-group kill still applies.


def kib_line(text, key):
    for line in text.splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return None


def peak_pss(pid="self"):
    """A live process's peak PSS in bytes: its PSS now plus what its RSS fell
    since its high-water mark (memory freed since the peak was private), as
    the harness's measure::ProcMemory::peak_pss. None where /proc lacks it."""
    try:
        with open("/proc/%s/smaps_rollup" % pid) as f:
            rollup = f.read()
        with open("/proc/%s/status" % pid) as f:
            status = f.read()
    except OSError:
        return None
    pss, rss, hwm = kib_line(rollup, "Pss:"), kib_line(rollup, "Rss:"), kib_line(status, "VmHWM:")
    if None in (pss, rss, hwm):
        return None
    return pss + max(0, hwm - rss)


# Per repetition: the peak PSS of the children alive at once, and of the runner
# sampled while they were alive (models without children leave both alone).
_MEMORY = {"children": [], "runner": None, "live": None}


def touch(kib):
    """`touch_kib`: a buffer of `kib` KiB with every page written, held by the
    caller for the rest of its task."""
    if not kib:
        return None
    buf = bytearray(kib * 1024)
    buf[::4096] = b"\x01" * len(range(0, len(buf), 4096))
    return buf


def parse_addr(addr):
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def echo_request(sock_spec):
    """The harness's echo protocol: a header (payload length u32 LE, server
    delay in us u64 LE), then the payload, which comes back alone."""
    n = sock_spec["message_bytes"]
    message = bytes(i & 0xFF for i in range(n))
    header = struct.pack("<IQ", n, sock_spec.get("server_delay_us", 0))
    return header + message, message


def socket_step(sock_spec, times):
    """Round trips on one connection; appends the time of each one after the
    untimed warm-up ones to `times`."""
    host, port = parse_addr(sock_spec["addr"])
    request, message = echo_request(sock_spec)
    n = len(message)
    buf = bytearray(n)
    view = memoryview(buf)
    untimed = sock_spec.get("warmup_round_trips", 0)
    with socket.create_connection((host, port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for round_idx in range(untimed + sock_spec["round_trips"]):
            sent = now()
            s.sendall(request)
            got = 0
            while got < n:
                k = s.recv_into(view[got:])
                if k == 0:
                    raise ConnectionError("echo server closed the connection")
                got += k
            if round_idx >= untimed:
                times.append(now() - sent)
            if buf != message:
                raise ValueError("echo server returned different bytes")


async def socket_step_async(sock_spec, times):
    host, port = parse_addr(sock_spec["addr"])
    request, message = echo_request(sock_spec)
    untimed = sock_spec.get("warmup_round_trips", 0)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for round_idx in range(untimed + sock_spec["round_trips"]):
            sent = now()
            writer.write(request)
            await writer.drain()
            back = await reader.readexactly(len(message))
            if round_idx >= untimed:
                times.append(now() - sent)
            if back != message:
                raise ValueError("echo server returned different bytes")
    finally:
        writer.close()
        await writer.wait_closed()


def file_step(file_spec, task_idx):
    size = file_spec["kib"] * 1024
    name = "parabench-%d-%d-%d.tmp" % (os.getpid(), threading.get_ident(), task_idx)
    path = os.path.join(file_spec["dir"], name)
    try:
        with open(path, "wb", buffering=0) as f:
            f.write(b"\xa5" * size)
            os.fsync(f.fileno())
        with open(path, "rb", buffering=0) as f:
            if len(f.read()) != size:
                raise ValueError("short read of %s" % path)
    finally:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


class Board:
    """The convoy's board, shared with the harness (src/workload/board.rs):
    an mmap'd file; byte 0 is "done", bytes 1..5 the CPU to pin to (u32 LE,
    0xFFFFFFFF for none), byte 5 + i "CPU task i runs". Reading or writing a
    byte of the mapping never releases the GIL."""

    FLAGS = 5
    NO_PIN = 0xFFFFFFFF

    def __init__(self, path):
        fd = os.open(path, os.O_RDWR)
        try:
            self.mem = mmap.mmap(fd, 0)
        finally:
            os.close(fd)

    def mark_running(self, slot):
        self.mem[Board.FLAGS + slot] = 1

    def running(self):
        return sum(1 for flag in self.mem[Board.FLAGS:] if flag)

    def pinned(self):
        """Pins the calling thread to the board's CPU, if it has one (as
        board.rs's `pin_this_thread`); returns the CPUs to give back, or None."""
        cpu = struct.unpack_from("<I", self.mem, 1)[0]
        if cpu == Board.NO_PIN:
            return None
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})
        return before

    @staticmethod
    def unpin(before):
        if before is not None:
            os.sched_setaffinity(0, before)

    def finish(self):
        self.mem[0] = 1

    def done(self):
        return self.mem[0] != 0


BOARD_POLL_S = 0.0002


def spin_step(iters, board_spec, slot):
    """A convoy's CPU task: the same chunk of work again and again until the
    probe is done; says it runs after the first chunk. Returns one chunk's
    checksum, which every chunk must reproduce."""
    board = Board(board_spec["path"])
    before = board.pinned()
    try:
        limit = now() + board_spec["limit_s"]
        first = None
        while True:
            chunk = hash_kernel(iters)
            if first is None:
                first = chunk
                board.mark_running(slot)
            elif chunk != first:
                raise ValueError("convoy CPU task %d: a chunk gave a different checksum" % slot)
            if board.done():
                return first
            if now() > limit:
                raise RuntimeError("convoy CPU task %d: the probe did not finish in time" % slot)
    finally:
        Board.unpin(before)


def probe_step(sock_spec, board_spec, times):
    """A convoy's probe: waits (sleeping, so without the GIL) until every CPU
    task runs, makes its round trips, and marks the board done in any case."""
    board = Board(board_spec["path"])
    before = None
    try:
        before = board.pinned()
        limit = now() + board_spec["limit_s"]
        while board.running() < board_spec["cpu_tasks"]:
            if now() > limit:
                raise RuntimeError(
                    "convoy probe: %d of %d CPU tasks running" % (board.running(), board_spec["cpu_tasks"])
                )
            time.sleep(BOARD_POLL_S)
        socket_step(sock_spec, times)
    finally:
        board.finish()
        Board.unpin(before)


def task_steps(task, task_idx):
    """The steps of task `task_idx`: all of them, or in a convoy the CPU part
    for the first tasks and the IO part for the last (the probe)."""
    if not task["convoy"]:
        return task
    probe = task_idx == task["n_tasks"] - 1
    return dict(task, iters=0 if probe else task["iters"], socket=task["socket"] if probe else None)


def run_task(task, task_idx):
    """One task, steps in the harness's order: cpu, sleep, socket, file.

    Returns (task_idx, checksum, start, end, round-trip times).
    """
    task = task_steps(task, task_idx)
    start = now()
    if task["lock"]:
        # A lock unit's output rides where a task's round trips would.
        checksum, out = lock_unit(task["lock"], task_idx)
        return task_idx, checksum, start, now(), out
    if task["queue"]:
        checksum, out = queue_unit(task["queue"], task_idx)
        return task_idx, checksum, start, now(), out
    if task["event"]:
        checksum, out = event_unit(task["event"], task_idx)
        return task_idx, checksum, start, now(), out
    if task["timer"]:
        checksum, out = timer_unit(task["timer"])
        return task_idx, checksum, start, now(), out
    times = []
    held = touch(task["touch_kib"])
    if task["board"]:
        # A convoy: the CPU tasks spin until the probe (the last task) is done.
        if task["iters"]:
            checksum = spin_step(task["iters"], task["board"], task_idx)
        else:
            checksum = None
            probe_step(task["socket"], task["board"], times)
        return task_idx, checksum, start, now(), times
    checksum = hash_kernel(task["iters"]) if task["iters"] else None
    if task["sleep_s"] > 0:
        time.sleep(task["sleep_s"])
    if task["socket"]:
        socket_step(task["socket"], times)
    if task["file"]:
        file_step(task["file"], task_idx)
    del held
    return task_idx, checksum, start, now(), times


async def run_task_async(task, task_idx):
    """`run_task` for asyncio: the CPU part blocks the loop, as it would in
    real asyncio code; file IO goes to the loop's default thread pool
    (`run_in_executor`), since asyncio has no asynchronous files."""
    task = task_steps(task, task_idx)
    start = now()
    if task["lock"]:
        checksum, out = await lock_unit_async(task["lock"], task_idx)
        return task_idx, checksum, start, now(), out
    if task["queue"]:
        checksum, out = await queue_unit_async(task["queue"], task_idx)
        return task_idx, checksum, start, now(), out
    if task["event"]:
        checksum, out = await event_unit_async(task["event"], task_idx)
        return task_idx, checksum, start, now(), out
    if task["timer"]:
        checksum, out = await timer_unit_async(task["timer"])
        return task_idx, checksum, start, now(), out
    times = []
    held = touch(task["touch_kib"])
    if task["board"]:
        # A convoy's CPU task blocks the loop, as it would in asyncio code.
        if task["iters"]:
            return task_idx, spin_step(task["iters"], task["board"], task_idx), start, now(), times
        board = Board(task["board"]["path"])
        try:
            limit = now() + task["board"]["limit_s"]
            while board.running() < task["board"]["cpu_tasks"]:
                if now() > limit:
                    raise RuntimeError("convoy probe: the CPU tasks did not start")
                await asyncio.sleep(BOARD_POLL_S)
            await socket_step_async(task["socket"], times)
        finally:
            board.finish()
        return task_idx, None, start, now(), times
    checksum = hash_kernel(task["iters"]) if task["iters"] else None
    if task["sleep_s"] > 0:
        await asyncio.sleep(task["sleep_s"])
    if task["socket"]:
        await socket_step_async(task["socket"], times)
    if task["file"]:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, file_step, task["file"], task_idx)
    del held
    return task_idx, checksum, start, now(), times


# ---------------------------------------------------------------- lock ----
# The `lock` workload (src/workload/lock): units that each run `sections`
# critical sections on one shared counter, on the board the harness made
# (src/workload/lock/board.rs, same offsets). Each unit publishes its
# progress, the locks it holds and the one it waits for, so the harness can
# see a deadlock; the locks are Python's own (threading, multiprocessing,
# asyncio), made in `make_locks` before the units start.

LOCK_UNITS_AT = 128 + 64 * 3
LOCK_CELL = {"units": 0, "barrier": 1, "counter": 4}
LOCK_BUCKETS = 8 * 50 + 2
LOCK_POLL_S = 0.0001
LOCK_RENDEZVOUS_S = 1.0

# The locks of the current batch: {"locks": [L1, L2], "sem": ..., "book": ...}.
LOCKS = {}


class LockBoard:
    """The harness's lock board. Cells every unit writes alone (its
    progress, holds, waits, state) are plain stores; the shared counters
    (arrived, finished, ...) change under the batch's bookkeeping lock."""

    def __init__(self, path):
        fd = os.open(path, os.O_RDWR)
        try:
            self.mem = mmap.mmap(fd, 0)
        finally:
            os.close(fd)

    def get(self, cell):
        return struct.unpack_from("<Q", self.mem, cell * 8)[0]

    def put(self, cell, value):
        struct.pack_into("<Q", self.mem, cell * 8, value)

    def unit_get(self, unit, field):
        return struct.unpack_from("<Q", self.mem, LOCK_UNITS_AT + (unit * 4 + field) * 8)[0]

    def unit_put(self, unit, field, value):
        struct.pack_into("<Q", self.mem, LOCK_UNITS_AT + (unit * 4 + field) * 8, value)

    def bump(self, cell, by=1):
        """Adds `by` (maybe negative) to a shared counter under the
        bookkeeping lock; returns the new value."""
        with LOCKS["book"]:
            v = self.get(cell) + by
            self.put(cell, v)
            return v


def make_locks(model, primitive, permits):
    """The batch's locks, of the model's kind. With fork, children inherit
    them (multiprocessing locks are shared semaphores)."""
    if model == "asyncio":
        return  # made inside the event loop, in `model_asyncio`'s main
    if model == "process":
        ctx = multiprocessing.get_context(START_METHOD)
        lock, rlock, sem = ctx.Lock, ctx.RLock, ctx.Semaphore
    else:
        lock, rlock, sem = threading.Lock, threading.RLock, threading.Semaphore
    kind = rlock if primitive == "rlock" else lock
    LOCKS.update(locks=[kind(), kind()], sem=sem(permits), book=lock())


def make_async_locks(permits):
    LOCKS.update(
        locks=[asyncio.Lock(), asyncio.Lock()],
        sem=asyncio.Semaphore(permits),
        book=threading.Lock(),
    )


def lock_bucket(ns):
    if ns <= 0:
        return 0
    return min(int(math.log2(ns) * 8) + 1, LOCK_BUCKETS - 1)


def lock_order(spec, idx):
    if spec.get("deadlock") == "opposite-order":
        return [1, 0] if idx % 2 else [0, 1]
    return [0]


def lock_takes(spec):
    return 2 if spec.get("deadlock") == "reacquire" else max(1, spec["depth"])


class LockUnit:
    """What a unit of any model does on the board, around its own waits."""

    def __init__(self, spec, idx):
        self.spec = spec
        self.idx = idx
        self.board = LockBoard(spec["board"])
        self.held = [0, 0]  # how often this unit holds each lock (re-entry)
        self.waits = {}
        self.units = self.board.get(LOCK_CELL["units"])
        self.barrier = self.board.get(LOCK_CELL["barrier"])

    def arrive(self):
        self.board.unit_put(self.idx, 3, 1)
        self.board.bump(5)

    def all_arrived(self, limit):
        return self.board.get(5) >= self.barrier or now() >= limit

    def other_parity_holds_first(self, until):
        for j in range(self.units):
            if j % 2 == self.idx % 2:
                continue
            first = 1 if j % 2 else 0
            if self.board.unit_get(j, 1) & (1 << first) or self.board.unit_get(j, 3) == 2:
                return True
        return now() >= until

    def will_wait(self, which):
        """True when the unit must really wait (not an rlock re-entry)."""
        if self.held[which] and self.spec["primitive"] == "rlock":
            return False
        self.board.unit_put(self.idx, 2, which + 1)
        return True

    def took(self, which):
        if self.held[which] == 0:
            self.board.unit_put(self.idx, 2, 0)
            self.board.unit_put(self.idx, 1, self.board.unit_get(self.idx, 1) | (1 << which))
        self.held[which] += 1

    def giving(self, which):
        """Before a release: unpublish the lock when the last hold goes."""
        self.held[which] -= 1
        if self.held[which] == 0:
            self.board.unit_put(self.idx, 1, self.board.unit_get(self.idx, 1) & ~(1 << which))

    def record(self, seconds):
        b = lock_bucket(int(seconds * 1e9))
        self.waits[b] = self.waits.get(b, 0) + 1

    def progress(self, s):
        self.board.unit_put(self.idx, 0, s)

    def finish(self, start_ns, end_ns):
        out = {
            "sections": self.board.unit_get(self.idx, 0),
            "start_ns": start_ns,
            "end_ns": end_ns,
            "waits": sorted([b, n] for b, n in self.waits.items()),
        }
        with LOCKS["book"]:
            first = self.board.get(9) == 0
            self.board.put(9, 1)
        if first:
            out["at_first_finish"] = [self.board.unit_get(j, 0) for j in range(self.units)]
        self.board.unit_put(self.idx, 3, 2)
        if self.board.bump(6) == self.units:
            out["counter"] = self.board.get(LOCK_CELL["counter"])
            out["most_inside"] = self.board.get(8)
        return out


def lock_unit(spec, idx):
    """One unit, with blocking calls (sequential, threads, processes).
    Returns (checksum, lock output)."""
    unit = LockUnit(spec, idx)
    unit.arrive()
    limit = now() + spec["limit_s"]
    while not unit.all_arrived(limit):
        time.sleep(LOCK_POLL_S)
    board, locks, order = unit.board, LOCKS["locks"], lock_order(spec, idx)
    counter = LOCK_CELL["counter"]
    hold = outside = None
    start_ns = time.monotonic_ns()
    for s in range(spec["sections"]):
        t0 = now()
        if spec["primitive"] == "none":
            v = board.get(counter)
            hold = hash_kernel(spec["hold_iters"])
            board.put(counter, v + 1)
        elif spec["primitive"] == "semaphore":
            LOCKS["sem"].acquire()
            unit.record(now() - t0)
            inside = board.bump(7)
            with LOCKS["book"]:
                board.put(8, max(board.get(8), inside))
            hold = hash_kernel(spec["hold_iters"])
            board.bump(counter)
            board.bump(7, -1)
            LOCKS["sem"].release()
        else:
            waited = 0.0
            for k, which in enumerate(order):
                for _ in range(lock_takes(spec)):
                    if unit.will_wait(which):
                        t = now()
                        locks[which].acquire()
                        waited += now() - t
                    else:
                        locks[which].acquire()
                    unit.took(which)
                if k == 0 and len(order) > 1 and s == 0 and unit.barrier > 1:
                    until = now() + min(LOCK_RENDEZVOUS_S, spec["limit_s"])
                    while not unit.other_parity_holds_first(until):
                        time.sleep(LOCK_POLL_S)
            unit.record(waited)
            v = board.get(counter)
            hold = hash_kernel(spec["hold_iters"])
            board.put(counter, v + 1)
            for which in reversed(order):
                for _ in range(lock_takes(spec)):
                    unit.giving(which)
                    locks[which].release()
        outside = hash_kernel(spec["outside_iters"])
        unit.progress(s + 1)
    end_ns = time.monotonic_ns()
    return [hold, outside, spec["sections"]], unit.finish(start_ns, end_ns)


async def lock_unit_async(spec, idx):
    """One unit as an asyncio task: every wait an await, and an
    `await asyncio.sleep(0)` after each section, as a loop body that awaits
    something would."""
    unit = LockUnit(spec, idx)
    unit.arrive()
    limit = now() + spec["limit_s"]
    while not unit.all_arrived(limit):
        await asyncio.sleep(LOCK_POLL_S)
    board, locks, order = unit.board, LOCKS["locks"], lock_order(spec, idx)
    counter = LOCK_CELL["counter"]
    hold = outside = None
    start_ns = time.monotonic_ns()
    for s in range(spec["sections"]):
        t0 = now()
        if spec["primitive"] == "none":
            v = board.get(counter)
            hold = hash_kernel(spec["hold_iters"])
            board.put(counter, v + 1)
        elif spec["primitive"] == "semaphore":
            await LOCKS["sem"].acquire()
            unit.record(now() - t0)
            inside = board.bump(7)
            board.put(8, max(board.get(8), inside))
            hold = hash_kernel(spec["hold_iters"])
            board.bump(counter)
            board.bump(7, -1)
            LOCKS["sem"].release()
        else:
            waited = 0.0
            for k, which in enumerate(order):
                for _ in range(lock_takes(spec)):
                    unit.will_wait(which)
                    t = now()
                    await locks[which].acquire()
                    waited += now() - t
                    unit.took(which)
                if k == 0 and len(order) > 1 and s == 0 and unit.barrier > 1:
                    until = now() + min(LOCK_RENDEZVOUS_S, spec["limit_s"])
                    while not unit.other_parity_holds_first(until):
                        await asyncio.sleep(LOCK_POLL_S)
            unit.record(waited)
            v = board.get(counter)
            hold = hash_kernel(spec["hold_iters"])
            board.put(counter, v + 1)
            for which in reversed(order):
                for _ in range(lock_takes(spec)):
                    unit.giving(which)
                    locks[which].release()
        outside = hash_kernel(spec["outside_iters"])
        unit.progress(s + 1)
        await asyncio.sleep(0)
    end_ns = time.monotonic_ns()
    return [hold, outside, spec["sections"]], unit.finish(start_ns, end_ns)


# --------------------------------------------------------------- queue ----
# The `queue` workload (src/workload/queue): `producers` tasks put `items`
# items through one bounded queue to `consumers` tasks: queue.Queue between
# threads, multiprocessing.Queue / JoinableQueue between processes (a pipe
# and a feeder thread per producer; items are pickled), asyncio.Queue in an
# event loop. Every item is (seq, put time, payload); consumers sum a hash
# of what they got, and the harness checks the sum and the count. The board
# (src/workload/queue/board.rs) holds the shared counters.

QUEUE = {}
QUEUE_DAEMON_POLL_S = 0.01
Q_PRODUCERS_DONE, Q_DONE, Q_PUTTING_DONE = 5, 7, 8


def mix64(x):
    x = ((x ^ (x >> 30)) * 0xBF58_476D_1CE4_E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D0_49BB_1331_11EB) & MASK
    return x ^ (x >> 31)


def item_hash(seq):
    return mix64(seq ^ 0x5155_4555_4500_0000)


def combine(acc, part):
    """workload::combine: mix64(acc ^ rotate_left(part, 17))."""
    rotated = ((part << 17) | (part >> 47)) & MASK
    return mix64(acc ^ rotated)


def make_queue(model, spec):
    """The batch's queue, of the model's kind, and a bookkeeping lock."""
    joinable = spec["semantics"] == "joinable"
    if model == "asyncio":
        return  # made inside the event loop
    if model == "process":
        ctx = multiprocessing.get_context(START_METHOD)
        kind = ctx.JoinableQueue if joinable else ctx.Queue
        QUEUE.update(q=kind(spec["capacity"]), book=ctx.Lock())
    else:
        QUEUE.update(q=queue.Queue(spec["capacity"]), book=threading.Lock())


def make_async_queue(spec):
    QUEUE.update(q=asyncio.Queue(spec["capacity"]), book=threading.Lock())


def queue_bump(board, cell):
    with QUEUE["book"]:
        v = board.get(cell) + 1
        board.put(cell, v)
        return v


def queue_flush(q):
    """A process producer's feeder writes everything before it counts as done."""
    if hasattr(q, "join_thread"):
        q.close()
        q.join_thread()


def consumed(out, waits, got, spec):
    """Accounts for one item a consumer got (sync and asyncio alike): checks
    it whole, records its put-to-get latency, adds it to the count and sum."""
    at = time.monotonic_ns()
    seq, put_ns, payload = got
    if len(payload) != spec["item_bytes"] or (payload and payload[0] != seq & 0xFF):
        raise ValueError("item %d arrived damaged" % seq)
    b = lock_bucket(at - put_ns)
    waits[b] = waits.get(b, 0) + 1
    out["items"] += 1
    out["sum"] = (out["sum"] + item_hash(seq)) & MASK
    out["end_ns"] = at

def queue_unit(spec, idx):
    """One producer or consumer, with blocking calls. Returns (checksum, output)."""
    board = LockBoard(spec["board"])
    q, producers = QUEUE["q"], spec["producers"]
    joinable = spec["semantics"] == "joinable"
    out = {"producer": idx < producers, "items": 0, "sum": 0, "start_ns": time.monotonic_ns(), "end_ns": 0}
    if out["producer"]:
        for seq in range(idx, spec["items"], producers):
            q.put((seq, time.monotonic_ns(), bytes([seq & 0xFF]) * spec["item_bytes"]))
            out["items"] += 1
            out["sum"] = (out["sum"] + item_hash(seq)) & MASK
        last = queue_bump(board, Q_PUTTING_DONE) == producers
        if last and not spec["daemon"]:
            # Every other producer's items are in the queue before the sentinels.
            limit = now() + spec["limit_s"]
            while board.get(Q_PRODUCERS_DONE) < producers - 1 and now() < limit:
                time.sleep(0.0001)
            for _ in range(spec["consumers"]):
                q.put(None)
        if joinable:
            # join() returns whenever nothing put is unfinished, which can
            # happen before another producer has put its items: the main
            # work is over once every producer has put all and a join
            # after that returns.
            limit = now() + spec["limit_s"]
            while board.get(Q_PUTTING_DONE) < producers and now() < limit:
                q.join()
                time.sleep(0.0001)
            q.join()
            board.put(Q_DONE, 1)
        queue_flush(q)
        queue_bump(board, Q_PRODUCERS_DONE)
        out["end_ns"] = time.monotonic_ns()
        return combine(out["items"], out["sum"]), out
    waits = {}
    while True:
        if spec["daemon"]:
            try:
                got = q.get(timeout=QUEUE_DAEMON_POLL_S)
            except queue.Empty:
                if board.get(Q_DONE):
                    break
                continue
        else:
            got = q.get()
        if got is None:
            if joinable:
                q.task_done()  # a sentinel counts as put
            break
        consumed(out, waits, got, spec)
        if joinable:
            q.task_done()
    out["latency"] = sorted([b, n] for b, n in waits.items())
    return QUEUE_CONSUMER_CHECKSUM, out


async def queue_unit_async(spec, idx):
    """`queue_unit` on asyncio.Queue."""
    board = LockBoard(spec["board"])
    q, producers = QUEUE["q"], spec["producers"]
    joinable = spec["semantics"] == "joinable"
    out = {"producer": idx < producers, "items": 0, "sum": 0, "start_ns": time.monotonic_ns(), "end_ns": 0}
    if out["producer"]:
        for seq in range(idx, spec["items"], producers):
            await q.put((seq, time.monotonic_ns(), bytes([seq & 0xFF]) * spec["item_bytes"]))
            out["items"] += 1
            out["sum"] = (out["sum"] + item_hash(seq)) & MASK
        if queue_bump(board, Q_PRODUCERS_DONE) == producers and not spec["daemon"]:
            for _ in range(spec["consumers"]):
                await q.put(None)
        if joinable:
            # As in `queue_unit`: the main work is over once every producer
            # has put all its items and a join after that returns.
            limit = now() + spec["limit_s"]
            while board.get(Q_PRODUCERS_DONE) < producers and now() < limit:
                await q.join()
                await asyncio.sleep(0.0001)
            await q.join()
            board.put(Q_DONE, 1)
        out["end_ns"] = time.monotonic_ns()
        return combine(out["items"], out["sum"]), out
    waits = {}
    while True:
        if spec["daemon"] and q.empty():
            try:
                got = await asyncio.wait_for(q.get(), QUEUE_DAEMON_POLL_S)
            except asyncio.TimeoutError:
                if board.get(Q_DONE):
                    break
                continue
        else:
            got = await q.get()
        if got is None:
            if joinable:
                q.task_done()  # a sentinel counts as put
            break
        consumed(out, waits, got, spec)
        if joinable:
            q.task_done()
    out["latency"] = sorted([b, n] for b, n in waits.items())
    return QUEUE_CONSUMER_CHECKSUM, out


def queue_expected(spec, idx):
    """The checksum task `idx` must return (workload::queue::expected_part)."""
    if idx >= spec["producers"]:
        return QUEUE_CONSUMER_CHECKSUM
    n = total = 0
    for seq in range(idx, spec["items"], spec["producers"]):
        n += 1
        total = (total + item_hash(seq)) & MASK
    return combine(n, total)


QUEUE_CONSUMER_CHECKSUM = 0xC05EED


# Each model returns (startup_s or None, t0, t1, results); a result is
# (task_idx, checksum, start, end, done), `done` being when the submitter saw
# it. Every task counts as submitted at t0; the `workers` limit is its queue.


# The event and timer workloads (see src/workload/wake). An event batch's
# task 0 sets, the others wait: each round starts when every waiter has
# arrived (a semaphore the setter takes once per waiter), and the setter
# sets one of two events in turn, clearing the other first (every waiter has
# left it by then). A waiter measures from the setter's time to running
# again. A timer batch's one task arms every timer and records how late
# each callback ran past its due time (armed plus the delay).
WAKE = {}
# Threads and processes may count themselves arrived a moment before they
# sleep in wait(): the setter lets them get there (as the Rust setter of a
# futex event does). asyncio needs none: the setter runs only once every
# waiter awaits.
EVENT_SETTLE_S = 200e-6
# A thread per timer only sleeps and reads the clock.
TIMER_STACK = 256 * 1024


class Cell:
    """The setter's last set() time, for threads and asyncio tasks."""

    value = 0


def make_event(model):
    if model == "asyncio":
        return  # made inside the event loop
    if model == "process":
        ctx = multiprocessing.get_context(START_METHOD)
        WAKE.update(
            events=[ctx.Event(), ctx.Event()],
            arrived=ctx.Semaphore(0),
            set_ns=ctx.RawValue("Q", 0),
        )
    else:
        WAKE.update(events=[threading.Event(), threading.Event()], arrived=threading.Semaphore(0), set_ns=Cell())


def make_async_event():
    WAKE.update(events=[asyncio.Event(), asyncio.Event()], arrived=asyncio.Semaphore(0), set_ns=Cell())


def wake_histogram(lateness_ns):
    counts = {}
    for ns in lateness_ns:
        b = lock_bucket(ns)
        counts[b] = counts.get(b, 0) + 1
    return [[b, counts[b]] for b in sorted(counts)]


def event_unit(spec, idx):
    limit = now() + spec["limit_s"]
    events, arrived, set_ns = WAKE["events"], WAKE["arrived"], WAKE["set_ns"]
    if idx == 0:
        for r in range(spec["rounds"]):
            for _ in range(spec["waiters"]):
                if not arrived.acquire(timeout=max(0.0, limit - now())):
                    raise RuntimeError("the event's setter waited past the case timeout in round %d" % r)
            time.sleep(EVENT_SETTLE_S)
            events[(r + 1) % 2].clear()
            set_ns.value = time.monotonic_ns()
            events[r % 2].set()
        return spec["rounds"], {"setter": True, "wakes": spec["rounds"], "late": []}
    late = []
    for r in range(spec["rounds"]):
        arrived.release()
        if not events[r % 2].wait(max(0.0, limit - now())):
            raise RuntimeError("the event's waiter %d waited past the case timeout in round %d" % (idx, r))
        late.append(time.monotonic_ns() - set_ns.value)
    return len(late), {"setter": False, "wakes": len(late), "late": wake_histogram(late)}


async def event_unit_async(spec, idx):
    limit = now() + spec["limit_s"]
    events, arrived, set_ns = WAKE["events"], WAKE["arrived"], WAKE["set_ns"]
    if idx == 0:
        for r in range(spec["rounds"]):
            for _ in range(spec["waiters"]):
                await asyncio.wait_for(arrived.acquire(), max(0.0, limit - now()))
            events[(r + 1) % 2].clear()
            set_ns.value = time.monotonic_ns()
            events[r % 2].set()
        return spec["rounds"], {"setter": True, "wakes": spec["rounds"], "late": []}
    late = []
    for r in range(spec["rounds"]):
        arrived.release()
        await asyncio.wait_for(events[r % 2].wait(), max(0.0, limit - now()))
        late.append(time.monotonic_ns() - set_ns.value)
    return len(late), {"setter": False, "wakes": len(late), "late": wake_histogram(late)}


def timer_unit(spec):
    """A threading.Timer per timer, as many as asked, armed one after another."""
    delay = spec["delay_ms"] / 1e3
    delay_ns = round(spec["delay_ms"] * 1e6)
    limit = now() + spec["limit_s"]
    late = []
    timers = []
    before = threading.stack_size(TIMER_STACK)
    try:
        for _ in range(spec["timers"]):
            due = time.monotonic_ns() + delay_ns
            t = threading.Timer(delay, lambda due=due: late.append(time.monotonic_ns() - due))
            t.start()
            timers.append(t)
    finally:
        threading.stack_size(before)
        for t in timers:
            t.join(max(0.0, limit - now()))
    return len(late), {"setter": False, "wakes": len(late), "late": wake_histogram(late)}


async def timer_unit_async(spec):
    """loop.call_later per timer: asyncio's heap of timer handles."""
    loop = asyncio.get_running_loop()
    delay = spec["delay_ms"] / 1e3
    delay_ns = round(spec["delay_ms"] * 1e6)
    late = []
    done = loop.create_future()

    def fire(due):
        late.append(time.monotonic_ns() - due)
        if len(late) == spec["timers"] and not done.done():
            done.set_result(None)

    for _ in range(spec["timers"]):
        loop.call_later(delay, fire, time.monotonic_ns() + delay_ns)
    await asyncio.wait_for(done, spec["limit_s"])
    return len(late), {"setter": False, "wakes": len(late), "late": wake_histogram(late)}


def model_sequential(task, workers, n_tasks):
    t0 = now()
    results = [run_task(task, i) + (now(),) for i in range(n_tasks)]
    return None, t0, now(), results


def model_thread(task, workers, n_tasks):
    slots = threading.Semaphore(workers)
    results = [None] * n_tasks
    errors = []

    def body(i):
        try:
            results[i] = run_task(task, i) + (now(),)
        except BaseException as e:  # Reported by the parent after join.
            errors.append(e)
        finally:
            slots.release()

    t0 = now()
    threads = []
    for i in range(n_tasks):
        slots.acquire()
        t = threading.Thread(target=body, args=(i,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    t1 = now()
    if errors:
        raise errors[0]
    return None, t0, t1, results


def collect(futures):
    return [f.result() + (now(),) for f in concurrent.futures.as_completed(futures)]


# A session's pools, started by its first request and kept for the next:
# (kind, workers, start method) -> executor.
_POOLS = {}


def close_pools():
    """Shuts every pool down; joining the workers lets RUSAGE_CHILDREN count them."""
    for pool in _POOLS.values():
        pool.shutdown(wait=True)
    _POOLS.clear()


def kept_pool(key, fresh):
    """The pool kept under `key`, unless `fresh` asks for a new one (the old
    one is shut down)."""
    pool = _POOLS.get(key)
    if pool is not None and fresh:
        del _POOLS[key]
        pool.shutdown(wait=True)
        pool = None
    return pool


def thread_pool(workers, fresh):
    """The session's thread pool, and its start-up when this call started it
    (None when an earlier request of the session did)."""
    key = ("thread", workers)
    pool = kept_pool(key, fresh)
    if pool is not None:
        return pool, None
    start = now()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
    # The pool starts threads on demand; a barrier makes it start all of them.
    barrier = threading.Barrier(workers)
    for f in [pool.submit(barrier.wait, WARM_TIMEOUT_S) for _ in range(workers)]:
        f.result()
    _POOLS[key] = pool
    return pool, now() - start


def model_thread_pool(task, workers, n_tasks):
    pool, startup = thread_pool(workers, task["fresh_pool"])
    t0 = now()
    results = collect([pool.submit(run_task, task, i) for i in range(n_tasks)])
    return startup, t0, now(), results


_WORKER_BARRIER = None


def pool_worker_init(barrier, switch_interval_s):
    global _WORKER_BARRIER
    die_with_parent()
    sys.setswitchinterval(switch_interval_s)
    _WORKER_BARRIER = barrier


def pool_worker_warm():
    _WORKER_BARRIER.wait(WARM_TIMEOUT_S)


def ready_start_method():
    """Starts the fork server before the clock, as the harness does: Python
    starts it once, at the first process, and keeps it for the run."""
    if START_METHOD == "forkserver":
        import multiprocessing.forkserver

        multiprocessing.forkserver.ensure_running()


def process_pool(workers, fresh):
    """The session's process pool, and its start-up when this call started
    it (None when an earlier request of the session did): every worker
    running, not merely forked."""
    key = ("process", workers, START_METHOD)
    pool = kept_pool(key, fresh)
    if pool is not None:
        return pool, None
    ctx = multiprocessing.get_context(START_METHOD)
    ready_start_method()
    start = now()
    barrier = ctx.Barrier(workers)
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=pool_worker_init,
        initargs=(barrier, sys.getswitchinterval()),
    )
    _POOLS[key] = pool
    for f in [pool.submit(pool_worker_warm) for _ in range(workers)]:
        f.result()
    return pool, now() - start


def pool_worker_usage():
    """A worker's own usage so far; the barrier makes every worker answer
    exactly one of a round of `workers` calls."""
    _WORKER_BARRIER.wait(WARM_TIMEOUT_S)
    u = resource.getrusage(resource.RUSAGE_SELF)
    return (u.ru_utime, u.ru_stime, u.ru_nvcsw, u.ru_nivcsw, u.ru_maxrss)


def pool_usage(pool, workers):
    """The summed usage of the pool's live workers (which RUSAGE_CHILDREN
    counts only once they are joined), and the largest one's peak RSS."""
    each = [f.result() for f in [pool.submit(pool_worker_usage) for _ in range(workers)]]
    return [sum(u[i] for u in each) for i in range(4)] + [max(u[4] for u in each)]


def model_process_pool(task, workers, n_tasks):
    pool, startup = process_pool(workers, task["fresh_pool"])
    before = pool_usage(pool, workers)
    t0 = now()
    results = collect([pool.submit(run_task, task, i) for i in range(n_tasks)])
    t1 = now()
    # Every worker is alive and idle: sample them with the runner.
    _MEMORY["children"] = [peak_pss(pid) for pid in list(pool._processes)]
    _MEMORY["runner"] = peak_pss()
    after = pool_usage(pool, workers)
    _MEMORY["live"] = [a - b for a, b in zip(after[:4], before[:4])] + [after[4]]
    return startup, t0, t1, results


def process_task_main(conn, task, task_idx, shared=None):
    die_with_parent()
    if shared:
        # The batch's multiprocessing locks and queue: inherited under fork,
        # pickled as Process arguments under spawn and forkserver.
        LOCKS.update(shared["locks"])
        QUEUE.update(shared["queue"])
        WAKE.update(shared["wake"])
    try:
        result = run_task(task, task_idx)
        # The child's own peak PSS, sampled alive, travels with its result.
        conn.send(("ok",) + result + (peak_pss(),))
    except BaseException as e:
        conn.send(("error", "task %d: %r" % (task_idx, e)))
    finally:
        conn.close()


def model_process(task, workers, n_tasks):
    ctx = multiprocessing.get_context(START_METHOD)
    ready_start_method()
    results = []
    running = {}  # reader -> (process, task_idx)
    next_idx = 0
    t0 = now()
    try:
        while len(results) < n_tasks:
            while len(running) < workers and next_idx < n_tasks:
                reader, writer = ctx.Pipe(duplex=False)
                shared = {"locks": dict(LOCKS), "queue": dict(QUEUE), "wake": dict(WAKE)}
                p = ctx.Process(target=process_task_main, args=(writer, task, next_idx, shared))
                p.start()
                # Only the child may hold the write end, so its death reads as EOF.
                writer.close()
                running[reader] = (p, next_idx)
                next_idx += 1
            for reader in multiprocessing.connection.wait(list(running)):
                p, idx = running.pop(reader)
                try:
                    msg = reader.recv()
                except EOFError:
                    p.join()
                    raise RuntimeError("task %d: process exited with code %s" % (idx, p.exitcode))
                done = now()
                reader.close()
                p.join()
                if msg[0] != "ok":
                    raise RuntimeError(msg[1])
                if _MEMORY["runner"] is None:
                    # The runner while its first children are still alive.
                    _MEMORY["runner"] = peak_pss()
                _MEMORY["children"].append(msg[-1])
                results.append(tuple(msg[1:-1]) + (done,))
        return None, t0, now(), results
    finally:
        for p, _ in running.values():
            p.kill()
            p.join()


def model_asyncio(task, workers, n_tasks):
    start = now()

    async def main():
        started = now()
        if task["lock"]:
            make_async_locks(task["lock"]["permits"])
        if task["queue"]:
            make_async_queue(task["queue"])
        if task["event"]:
            make_async_event()
        slots = asyncio.Semaphore(workers)
        results = []

        async def one(i):
            async with slots:
                r = await run_task_async(task, i)
            results.append(r + (now(),))

        t0 = now()
        await asyncio.gather(*(one(i) for i in range(n_tasks)))
        return started, t0, now(), results

    started, t0, t1, results = asyncio.run(main())
    return started - start, t0, t1, results


def model_greenlet(task, workers, n_tasks):
    """One greenlet per task on this thread: the main greenlet switches into
    each, and each runs to its end, since plain greenlet switches only where
    code says so (the pure-Python kernel has no switch) and IO blocks the
    thread. `workers` therefore changes nothing."""
    t0 = now()
    results = [greenlet.greenlet(lambda i=i: run_task(task, i) + (now(),)).switch() for i in range(n_tasks)]
    return None, t0, now(), results


def model_gevent(task, workers, n_tasks):
    """gevent greenlets in a Pool(workers): socket and time are
    monkey-patched (in `import_for`), so sleeps and socket calls switch to
    the hub when they would block; file IO blocks, as it does under gevent."""
    start = now()
    # The hub and its loop start on first use: start-up, as asyncio.run's
    # loop is for model_asyncio, not part of the batch.
    gevent.sleep(0)
    pool = gevent.pool.Pool(workers)
    started = now()
    results = []

    def one(i):
        results.append(run_task(task, i) + (now(),))

    t0 = now()
    jobs = [pool.spawn(one, i) for i in range(n_tasks)]
    gevent.joinall(jobs, raise_error=True)
    return started - start, t0, now(), results


# A task in a worker interpreter of InterpreterPoolExecutor. Its code travels
# as text, run there by `eval` (a builtin, which pickles by name), because a
# function of this script's __main__ cannot be unpickled in another
# interpreter. The same kernel as `hash_kernel`; CPU and sleep steps only.
_SUB_TASK = """
import time
def _task(iters, sleep_s, idx):
    start = time.perf_counter()
    x = %d
    for i in range(iters):
        x = ((x ^ (x >> 29)) * 0xBF58_476D_1CE4_E5B9 + i) & %d
    if sleep_s > 0:
        time.sleep(sleep_s)
    return (idx, x if iters else None, start, time.perf_counter(), [])
""" % (SEED, MASK)


def sub_task(iters, sleep_s, idx):
    return "(exec(%r, (g := {})), g['_task'](%d, %r, %d))[1]" % (_SUB_TASK, iters, sleep_s, idx)


def model_interpreter_pool(task, workers, n_tasks):
    """concurrent.futures.InterpreterPoolExecutor (3.14+): one interpreter,
    and one GIL, per worker thread. Untested where no 3.14 is installed."""
    s0 = now()
    with concurrent.futures.InterpreterPoolExecutor(max_workers=workers) as pool:
        # Warm-up: one call per worker, so that the interpreters are
        # created before the clock starts (the pool starts them lazily).
        list(pool.map(eval, ["0"] * workers, [{}] * workers))
        startup = now() - s0
        t0 = now()
        futures = [pool.submit(eval, sub_task(task["iters"], task["sleep_s"], i), {}) for i in range(n_tasks)]
        results = [tuple(f.result()) + (now(),) for f in concurrent.futures.as_completed(futures)]
        t1 = now()
    return startup, t0, t1, results


MODEL_FNS = {
    "sequential": model_sequential,
    "thread": model_thread,
    "thread-pool": model_thread_pool,
    "process": model_process,
    "process-pool": model_process_pool,
    "asyncio": model_asyncio,
    "greenlet": model_greenlet,
    "gevent": model_gevent,
    "interpreter-pool": model_interpreter_pool,
}


def ms(seconds):
    return seconds * 1e3


def measure_repetition(fn, task, workers, n_tasks, expected):
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    _MEMORY["children"], _MEMORY["runner"], _MEMORY["live"] = [], None, None
    startup, t0, t1, results = fn(task, workers, n_tasks)
    # A kept pool's workers, alive: (utime, stime, nvcsw, nivcsw) over the
    # repetition, and the largest one's peak RSS in KiB.
    live = _MEMORY["live"] or [0.0, 0.0, 0, 0, 0]
    live_fields = {"ru_utime": 0, "ru_stime": 1, "ru_nvcsw": 2, "ru_nivcsw": 3}
    children = sorted(_MEMORY["children"], key=lambda v: -1 if v is None else v, reverse=True)
    runner = _MEMORY["runner"] if _MEMORY["runner"] is not None else peak_pss()
    if runner is None or None in children:
        pss = None
    else:
        # At most `workers` children are alive at once.
        pss = runner + sum(children[:workers])
    # Children count only once waited for: every model has joined its own.
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if len(results) != n_tasks:
        raise RuntimeError("%d of %d tasks returned" % (len(results), n_tasks))
    results.sort(key=lambda r: r[0])
    for idx, checksum, _, _, _, _ in results:
        if task["lock"]:
            want = task["lock"]["expected"]
        elif task["queue"]:
            want = queue_expected(task["queue"], idx)
        elif task["event"]:
            want = task["event"]["rounds"]
        elif task["timer"]:
            want = task["timer"]["timers"]
        else:
            want = expected if task_steps(task, idx)["iters"] else None
        if checksum != want:
            raise RuntimeError("checksum mismatch in task %d: %r, expected %r" % (idx, checksum, want))

    def delta(field):
        return (
            (getattr(self1, field) - getattr(self0, field))
            + (getattr(child1, field) - getattr(child0, field))
            + live[live_fields[field]]
        )

    return {
        "wall_s": t1 - t0,
        "startup_s": startup,
        # CPU of the runner and its children over the whole repetition,
        # a pool's start included when this repetition started it.
        "cpu_user_s": delta("ru_utime"),
        "cpu_sys_s": delta("ru_stime"),
        "children_cpu_s": (child1.ru_utime - child0.ru_utime) + (child1.ru_stime - child0.ru_stime) + live[0] + live[1],
        # High-water marks, not deltas; Linux reports KiB. The children's is
        # the largest single child, not a sum.
        "peak_rss_bytes": self1.ru_maxrss * 1024,
        "children_peak_rss_bytes": max(child1.ru_maxrss, live[4]) * 1024,
        "peak_pss_bytes": pss,
        "ctx_voluntary": int(delta("ru_nvcsw")),
        "ctx_involuntary": int(delta("ru_nivcsw")),
        "task_latency_ms": [ms(done - t0) for _, _, _, _, _, done in results],
        "queue_wait_ms": [ms(start - t0) for _, _, start, _, _, _ in results],
        "task_run_ms": [ms(end - start) for _, _, start, end, _, _ in results],
        # The last task's round trips: in a convoy, what the IO thread saw.
        "round_trips_ms": [ms(t) for t in results[-1][4]] if results and not (task["lock"] or task["queue"] or task["event"] or task["timer"]) else [],
        # Lock units: each one's sections, waits and board readings.
        "lock_units": [r[4] for r in results] if task["lock"] else [],
        # Queue units: each one's items, hash sum and latencies.
        "queue_units": [r[4] for r in results] if task["queue"] else [],
        # Event and timer units: each one's wake-ups and lateness.
        "wake_units": [r[4] for r in results] if (task["event"] or task["timer"]) else [],
    }


_IMPORTED = set()


def import_for(model, start_method=None):
    """Imports the modules `model` needs, and only those, once per runner:
    every cpython-* case starts an interpreter of its own, and asyncio alone
    costs 40 ms of start-up that a thread model would pay for nothing."""
    global asyncio, concurrent, multiprocessing, START_METHOD, greenlet, gevent
    if (model, start_method) in _IMPORTED:
        return
    _IMPORTED.add((model, start_method))
    if model == "asyncio":
        import asyncio
    if model == "greenlet":
        import greenlet
    if model == "gevent":
        # Patched after the runner's own imports: it looks `socket.*` and
        # `time.sleep` up at each call, so the patched ones are used.
        import gevent
        import gevent.monkey
        import gevent.pool

        gevent.monkey.patch_socket()
        gevent.monkey.patch_time()
    if model in ("thread-pool", "process-pool", "interpreter-pool"):
        import concurrent.futures
    if model in ("process", "process-pool"):
        import multiprocessing
        import multiprocessing.connection

        available = multiprocessing.get_all_start_methods()
        if start_method is not None and start_method not in available:
            raise ValueError(
                "start method %r is not available here, only %s" % (start_method, ", ".join(available))
            )
        START_METHOD = start_method or ("fork" if "fork" in available else None)


def validate(req):
    if req.get("model") not in MODELS:
        raise ValueError("unknown model %r, expected one of %s" % (req.get("model"), ", ".join(MODELS)))
    for key in ("workers", "tasks", "repetitions"):
        if not isinstance(req.get(key), int) or req[key] < 1:
            raise ValueError("%s must be a positive integer" % key)
    if not isinstance(req.get("warmup", 0), int) or req.get("warmup", 0) < 0:
        raise ValueError("warmup must be a non-negative integer")
    if not isinstance(req.get("parent_mib", 0), int) or req.get("parent_mib", 0) < 0:
        raise ValueError("parent_mib must be a non-negative integer")
    task = req.get("task") or {}
    if task.get("cpu_ms", 0) > 0 and task.get("kernel", "hash") not in KERNELS:
        raise ValueError("unknown kernel %r, expected one of %s" % (task.get("kernel"), ", ".join(KERNELS)))
    if req["model"] in ("process", "process-pool") and START_METHOD is None:
        raise ValueError("multiprocessing has no start method to use on this platform")
    lock = req.get("lock")
    if lock:
        if req["model"] in ("thread-pool", "process-pool", "greenlet", "gevent"):
            raise ValueError("the lock workload does not run under %s" % req["model"])
        if lock.get("primitive") not in ("mutex", "rlock", "semaphore", "none"):
            raise ValueError("unknown primitive %r" % lock.get("primitive"))
        if lock["primitive"] == "rlock" and req["model"] == "asyncio":
            raise ValueError("asyncio has no RLock")
    if req["model"] == "interpreter-pool":
        if not hasattr(concurrent.futures, "InterpreterPoolExecutor"):
            raise ValueError("interpreter-pool needs Python 3.14 or newer (concurrent.futures.InterpreterPoolExecutor)")
        busy = [k for k in ("lock", "queue", "event", "timer", "board", "convoy") if req.get(k)]
        busy += [k for k in ("socket", "file", "touch_kib") if task.get(k)]
        if busy:
            raise ValueError("interpreter-pool runs CPU and sleep tasks only, not %s" % ", ".join(busy))
    if req.get("queue") and req["model"] in ("sequential", "thread-pool", "process-pool", "greenlet", "gevent"):
        raise ValueError("the queue workload does not run under %s" % req["model"])
    if req.get("event") and req["model"] not in ("thread", "process", "asyncio"):
        raise ValueError("the event workload does not run under %s" % req["model"])
    if req.get("timer") and req["model"] not in ("thread", "asyncio"):
        raise ValueError("the timer workload does not run under %s" % req["model"])


def test_hang():
    """Test hook (PARABENCH_TEST_HANG=1): a runner and a child that never end."""
    pid = os.fork()
    if pid == 0:
        while True:
            time.sleep(60)
    sys.stderr.write("hanging: runner %d child %d\n" % (os.getpid(), pid))
    sys.stderr.flush()
    while True:
        time.sleep(60)


def answer(req):
    """Runs one request. A session's requests are one case's repetitions:
    the same model, workers, start method, parent size and switch interval,
    so the imports, the parent's memory and the pools are set up by the
    first and kept for the next."""
    import_for(req.get("model"), req.get("start_method"))
    validate(req)
    global _PARENT
    if _PARENT is None:
        _PARENT = touch(req.get("parent_mib", 0) * 1024)
    if req.get("switch_interval_s"):
        sys.setswitchinterval(req["switch_interval_s"])
    spec = req.get("task") or {}
    calibration = None
    iters = 0
    lock = req.get("lock")
    lock_us = (lock["hold_us"] + lock["outside_us"]) if lock else 0
    if spec.get("cpu_ms", 0) > 0 or lock_us > 0:
        # The harness passes the speed measured by its first call, so that
        # every call of a run does the same work.
        per_ms = spec.get("iters_per_ms") or calibrate()
        iters = max(1, round(spec.get("cpu_ms", 0) * per_ms)) if spec.get("cpu_ms", 0) > 0 else 0
        calibration = {"kernel": spec.get("kernel", "hash"), "iters_per_ms": per_ms, "iters_per_task": iters}
    if lock:
        per_ms = calibration["iters_per_ms"] if calibration else 0
        lock = dict(
            lock,
            hold_iters=round(lock["hold_us"] / 1e3 * per_ms),
            outside_iters=round(lock["outside_us"] / 1e3 * per_ms),
        )
        lock["expected"] = [hash_kernel(lock["hold_iters"]), hash_kernel(lock["outside_iters"]), lock["sections"]]
        make_locks(req["model"], lock["primitive"], lock["permits"])
    if req.get("queue"):
        make_queue(req["model"], req["queue"])
    if req.get("event"):
        make_event(req["model"])
    task = {
        "iters": iters,
        "sleep_s": spec.get("sleep_ms", 0) / 1e3,
        "socket": spec.get("socket"),
        "file": spec.get("file"),
        "touch_kib": spec.get("touch_kib", 0),
        "convoy": bool(req.get("convoy")),
        "board": req.get("board"),
        "n_tasks": req["tasks"],
        "lock": lock,
        "queue": req.get("queue"),
        "event": req.get("event"),
        "timer": req.get("timer"),
        "fresh_pool": bool(req.get("fresh_pool")),
    }
    # Every model must reproduce the sequential result of the same work.
    expected = hash_kernel(iters) if iters else None
    fn = MODEL_FNS[req["model"]]
    reps = []
    for rep in range(req.get("warmup", 0) + req["repetitions"]):
        r = measure_repetition(fn, task, req["workers"], req["tasks"], expected)
        if rep >= req.get("warmup", 0):
            reps.append(r)
    return {
        "python_version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "model": req["model"],
        "start_method": START_METHOD if req["model"] in ("process", "process-pool") else None,
        "switch_interval_s": sys.getswitchinterval(),
        "calibration": calibration,
        "checksum_ok": True,
        "repetitions": reps,
    }


def main():
    """One JSON request per line of stdin, one JSON line back for each, until
    stdin ends; then the pools are shut down (their workers joined) and the
    runner exits. After an error it answers that and exits."""
    for line in sys.stdin:
        if not line.strip():
            continue
        if os.environ.get("PARABENCH_TEST_HANG") == "1":
            test_hang()
        try:
            response = answer(json.loads(line))
        except BaseException as e:
            traceback.print_exc()
            sys.stdout.write(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}) + "\n")
            sys.stdout.flush()
            sys.exit(1)
        sys.stdout.write(json.dumps(response) + "\n")
        sys.stdout.flush()
    close_pools()


if __name__ == "__main__":
    main()
