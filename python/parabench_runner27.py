"""parabench's Python 2.7 runner: real Python 2's tick-based GIL, the
reference of the legacy-GIL emulation (`gil = "legacy"`).

Speaks python/parabench_runner.py's protocol (one JSON request on stdin, one
JSON response on stdout; on failure {"error": "..."} and status 1) for the
two models Python 2 is compared on: `sequential` and `thread`, with CPU
(the `hash` kernel, calibrated here) and sleep steps. The Rust side
(src/cpython/legacy.rs) refuses everything else before it starts this file,
and this file refuses it again. Python 2.7 syntax, standard library only.
"""

import ctypes
import json
import platform
import resource
import sys
import threading
import time
import traceback

MASK = 0xFFFFFFFFFFFFFFFF
SEED = 0x9E3779B97F4A7C15
MULT = 0xBF58476D1CE4E5B9
MODELS = ("sequential", "thread")


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _monotonic():
    """CLOCK_MONOTONIC (Python 2 has no perf_counter), else wall time."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        clock_gettime = libc.clock_gettime
    except (OSError, AttributeError):
        return time.time
    ts = _Timespec()
    ref = ctypes.byref(ts)

    def read():
        clock_gettime(1, ref)
        return ts.tv_sec + ts.tv_nsec * 1e-9

    return read


now = _monotonic()


def hash_kernel(iters):
    """The same xorshift-multiply mix as the Python 3 runner."""
    x = SEED
    for i in xrange(iters):
        x = ((x ^ (x >> 29)) * MULT + i) & MASK
    return x


def calibrate():
    """Iterations of the kernel per millisecond on one core, best of three."""
    iters = 1000
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


def kib_line(text, key):
    for line in text.splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return None


def peak_pss():
    try:
        with open("/proc/self/smaps_rollup") as f:
            rollup = f.read()
        with open("/proc/self/status") as f:
            status = f.read()
    except (IOError, OSError):
        return None
    pss, rss, hwm = kib_line(rollup, "Pss:"), kib_line(rollup, "Rss:"), kib_line(status, "VmHWM:")
    if None in (pss, rss, hwm):
        return None
    return pss + max(0, hwm - rss)


def run_task(task, task_idx):
    start = now()
    checksum = hash_kernel(task["iters"]) if task["iters"] else None
    if task["sleep_s"] > 0:
        time.sleep(task["sleep_s"])
    return task_idx, checksum, start, now()


def model_sequential(task, workers, n_tasks):
    t0 = now()
    results = [run_task(task, i) + (now(),) for i in range(n_tasks)]
    return t0, now(), results


def model_thread(task, workers, n_tasks):
    slots = threading.Semaphore(workers)
    results = [None] * n_tasks
    errors = []

    def body(i):
        try:
            results[i] = run_task(task, i) + (now(),)
        except BaseException as e:
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
    return t0, t1, results


MODEL_FNS = {"sequential": model_sequential, "thread": model_thread}


def ms(seconds):
    return seconds * 1e3


def measure_repetition(fn, task, workers, n_tasks, expected):
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    t0, t1, results = fn(task, workers, n_tasks)
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    if len([r for r in results if r is not None]) != n_tasks:
        raise RuntimeError("not every task returned")
    results.sort(key=lambda r: r[0])
    for idx, checksum, _, _, _ in results:
        if checksum != expected:
            raise RuntimeError("checksum mismatch in task %d: %r, expected %r" % (idx, checksum, expected))

    def delta(field):
        return getattr(self1, field) - getattr(self0, field)

    return {
        "wall_s": t1 - t0,
        "startup_s": None,
        "cpu_user_s": delta("ru_utime"),
        "cpu_sys_s": delta("ru_stime"),
        "children_cpu_s": 0.0,
        "peak_rss_bytes": self1.ru_maxrss * 1024,
        "children_peak_rss_bytes": 0,
        "peak_pss_bytes": peak_pss(),
        "ctx_voluntary": int(delta("ru_nvcsw")),
        "ctx_involuntary": int(delta("ru_nivcsw")),
        "task_latency_ms": [ms(done - t0) for _, _, _, _, done in results],
        "queue_wait_ms": [ms(start - t0) for _, _, start, _, _ in results],
        "task_run_ms": [ms(end - start) for _, _, start, end, _ in results],
        "round_trips_ms": [],
    }


def validate(req):
    if req.get("model") not in MODELS:
        raise ValueError("model %r does not run in Python 2; only %s do" % (req.get("model"), ", ".join(MODELS)))
    for key in ("workers", "tasks", "repetitions"):
        if not isinstance(req.get(key), int) or req[key] < 1:
            raise ValueError("%s must be a positive integer" % key)
    if not isinstance(req.get("warmup", 0), int) or req.get("warmup", 0) < 0:
        raise ValueError("warmup must be a non-negative integer")
    task = req.get("task") or {}
    if task.get("cpu_ms", 0) > 0 and task.get("kernel", "hash") != "hash":
        raise ValueError("unknown kernel %r, expected hash" % task.get("kernel"))
    for key in ("socket", "file"):
        if task.get(key):
            raise ValueError("the %s step does not run in Python 2" % key)
    if task.get("touch_kib"):
        raise ValueError("touch_kib does not run in Python 2")
    for key in ("convoy", "board", "lock", "queue", "event", "timer", "start_method"):
        if req.get(key):
            raise ValueError("%s does not run in Python 2" % key)


def answer(req):
    validate(req)
    spec = req.get("task") or {}
    calibration = None
    iters = 0
    if spec.get("cpu_ms", 0) > 0:
        per_ms = spec.get("iters_per_ms") or calibrate()
        iters = max(1, int(round(spec["cpu_ms"] * per_ms)))
        calibration = {"kernel": "hash", "iters_per_ms": per_ms, "iters_per_task": iters}
    task = {"iters": iters, "sleep_s": spec.get("sleep_ms", 0) / 1e3}
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
        "start_method": None,
        # Python 2 switches threads every `check_interval` ticks, not on a
        # timer: it has no switch interval, and the harness's is not applied.
        "switch_interval_s": 0.0,
        "check_interval": sys.getcheckinterval(),
        "calibration": calibration,
        "checksum_ok": True,
        "repetitions": reps,
    }


def main():
    """One JSON request per line of stdin, one JSON line back for each, as
    the main runner's protocol; after an error it answers that and exits."""
    for line in iter(sys.stdin.readline, ""):
        if not line.strip():
            continue
        try:
            response = answer(json.loads(line))
        except BaseException as e:
            traceback.print_exc()
            sys.stdout.write(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}) + "\n")
            sys.stdout.flush()
            sys.exit(1)
        sys.stdout.write(json.dumps(response) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
