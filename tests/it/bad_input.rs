//! The bad-input sweep: every key and flag at and beyond its limits (zero,
//! negative, huge, NaN, infinite, wrong type, empty, very long). Each must
//! end in exit 2 with a message naming the key or flag, before anything
//! runs, with no panic and no hang. The table is the documentation of what
//! was tried; CI runs it with the rest of `cargo test`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs parabench in `dir`, killing it if it outlives `limit`.
fn parabench(args: &[String], dir: &Path, limit: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("parabench starts");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code(), err);
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("parabench {args:?} hung for more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Checks one refusal: exit 2, the name in the message, no panic, nothing written.
fn assert_refused(args: &[String], name: &str, dir: &Path) {
    let (code, err) = parabench(args, dir, Duration::from_secs(30));
    let suite = std::fs::read_to_string(dir.join("suite.toml")).unwrap_or_default();
    // Messages on failure stay readable even for 5000-character values.
    let args: String = format!("{args:?} {suite}").chars().take(300).collect();
    let named = err.contains(name);
    // Control characters from the input come back escaped, never raw.
    let raw = err.chars().find(|&c| c.is_control() && c != '\n');
    let err: String = err.chars().take(1000).collect();
    assert_eq!(code, Some(2), "{args} must be refused with exit 2: {err}");
    assert!(!err.contains("panicked"), "{args} panicked: {err}");
    assert!(named, "{args}: the message must name `{name}`: {err}");
    assert_eq!(raw, None, "{args}: a raw control character in {err:?}");
    assert!(!dir.join("out").exists(), "{args} ran");
}

const HUGE_INT: &str = "18446744073709551616";
const ABSURD: &[&str] = &[
    "1e300",
    "inf",
    "NaN",
    "-inf",
    "abc",
    "",
    "0x10",
    HUGE_INT,
    "\u{1b}[31m1",
    "1\r\u{7}",
    "\u{202e}1",
];

/// (flag, a workload that uses it, values beyond its range besides ABSURD).
const FLAGS: &[(&str, &str, &[&str])] = &[
    ("--workers", "cpu", &["0", "-1", "1000001", "1,0"]),
    ("--tasks", "cpu", &["0", "-1", "1000001", "4294967296"]),
    ("--cpu-threads", "convoy", &["-1", "1025"]),
    (
        "--task-ms",
        "cpu",
        &["0", "-1", "0.0000001", "3600001", "5e-324"],
    ),
    ("--kernel", "cpu", &["nope"]),
    ("--cpu-fraction", "mixed", &["-0.1", "1.5"]),
    ("--file-kib", "io-file", &["0", "-1", "1048577"]),
    ("--touch-kib", "cpu", &["-1", "16777217"]),
    ("--server-delay-ms", "io-socket", &["-1", "60001"]),
    ("--round-trips", "io-socket", &["0", "-1", "10000001"]),
    ("--repetitions", "cpu", &["0", "-1", "10001"]),
    ("--max-repetitions", "cpu", &["0", "10001"]),
    ("--point-budget", "cpu", &["-1", "86401"]),
    ("--warmup", "cpu", &["-1", "1001"]),
    ("--timeout", "cpu", &["0", "-1", "86401"]),
    ("--samples", "floor", &["0", "-1", "100001"]),
    ("--models", "cpu", &["nope", "thread+gil+gil", ","]),
    ("--start-method", "cpu", &["vfork", "spawn,nope", "Fork"]),
    ("--parent-mib", "cpu", &["-1", "16385", "1,-1"]),
    ("--only", "cpu", &["nothing"]),
];

#[test]
fn every_flag_beyond_its_range_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let long = "9".repeat(5000);
    let mut tried = 0;
    for &(flag, workload, beyond) in FLAGS {
        for value in beyond.iter().chain(ABSURD).copied().chain([long.as_str()]) {
            let args = vec![
                "run".to_owned(),
                "--workload".to_owned(),
                workload.to_owned(),
                format!("{flag}={value}"),
                "--out".to_owned(),
                "out".to_owned(),
            ];
            // Clap's own parse errors name the flag as `--flag <VALUE>`.
            assert_refused(&args, flag, dir.path());
            tried += 1;
        }
    }
    eprintln!("bad-input sweep: {tried} flag values refused");
    assert!(tried > 150, "the sweep shrank to {tried} inputs");
}

#[test]
fn start_method_keys_without_a_process_model_are_refused_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    for flag in [["--start-method", "fork"], ["--parent-mib", "8"]] {
        let mut args: Vec<String> = ["run", "--workload", "cpu", "--models", "thread,async"]
            .map(str::to_owned)
            .to_vec();
        args.extend(flag.map(str::to_owned));
        args.extend(["--out".to_owned(), "out".to_owned()]);
        assert_refused(&args, flag[0], dir.path());
    }
    for key in ["start_method = \"fork\"", "parent_mib = 8"] {
        let text = format!(
            "[[scenario]]\nname = \"s\"\nworkload = \"cpu\"\nmodels = [\"thread\"]\n{key}\n"
        );
        std::fs::write(dir.path().join("suite.toml"), &text).unwrap();
        let args: Vec<String> = ["run", "suite.toml", "--out", "out"]
            .map(str::to_owned)
            .to_vec();
        let name = key.split(' ').next().unwrap();
        assert_refused(&args, "suite.toml:5:", dir.path());
        assert_refused(&args, &format!("`{name}`"), dir.path());
    }
}

#[test]
fn a_flag_no_scenario_uses_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value, workload) in [
        ("--file-kib", "4", "cpu"),
        ("--cpu-threads", "1", "cpu"),
        ("--round-trips", "4", "io-sleep"),
        ("--cpu-fraction", "0.5", "io-file"),
        ("--task-ms", "1", "io-socket"),
        ("--workers", "2", "convoy"),
        ("--samples", "5", "cpu"),
        ("--workers", "2", "floor"),
        ("--models", "thread", "floor"),
        ("--parent-mib", "8", "convoy"),
    ] {
        let args: Vec<String> = ["run", "--workload", workload, flag, value, "--out", "out"]
            .map(str::to_owned)
            .to_vec();
        assert_refused(&args, flag, dir.path());
    }
}

/// (key, workload, bad values as TOML). Integer keys also get floats and
/// strings; every key gets an empty list or string where it makes sense.
const KEYS: &[(&str, &str, &[&str])] = &[
    (
        "workers",
        "cpu",
        &["0", "-1", "1000001", "[]", "[1, 0]", "1.5"],
    ),
    (
        "tasks",
        "cpu",
        &["0", "-1", "1000001", "[]", "9223372036854775807"],
    ),
    ("cpu_threads", "convoy", &["-1", "1025", "[]"]),
    ("task_ms", "cpu", &["0", "-1", "0.0000001", "3600001", "[]"]),
    ("kernel", "cpu", &["\"nope\"", "\"\"", "1"]),
    ("cpu_fraction", "mixed", &["-0.1", "1.5"]),
    ("server_delay_ms", "io-socket", &["-1", "60001"]),
    ("round_trips", "io-socket", &["0", "-1", "10000001"]),
    ("message_bytes", "io-socket", &["0", "-1", "1048577"]),
    ("file_kib", "io-file", &["0", "-1", "1048577"]),
    ("touch_kib", "cpu", &["-1", "16777217"]),
    ("switch_interval_us", "cpu", &["0", "-1", "10000001"]),
    ("check_interval", "cpu", &["0", "-1", "1000000001"]),
    ("repetitions", "cpu", &["0", "-1", "10001"]),
    ("warmup", "cpu", &["-1", "1001"]),
    ("samples", "floor", &["0", "-1", "100001", "[]", "1.5"]),
    ("samples", "cpu", &["5"]),
    ("tasks", "floor", &["2"]),
    ("models", "floor", &["[\"thread\"]"]),
    (
        "measure",
        "coroutine",
        &["\"nope\"", "[]", "[\"create\", \"x\"]", "1"],
    ),
    ("measure", "cpu", &["\"create\""]),
    (
        "units",
        "coroutine",
        &["0", "1", "4097", "[]", "[2, 0]", "1.5"],
    ),
    ("units", "io-sleep", &["[2, 4]"]),
    ("models", "coroutine", &["[\"greenlet\"]"]),
    ("tasks", "coroutine", &["2"]),
    ("gil", "cpu", &["\"nope\"", "\"\"", "true"]),
    ("releases_gil", "cpu", &["1", "\"yes\""]),
    (
        "models",
        "cpu",
        &["[]", "[\"nope\"]", "\"thread\"", "[\"process:fork\"]"],
    ),
    (
        "start_method",
        "cpu",
        &["\"vfork\"", "\"\"", "[]", "[\"fork\", 2]", "true"],
    ),
    (
        "parent_mib",
        "cpu",
        &["-1", "16385", "[]", "1.5", "[0, -1]"],
    ),
    ("name", "cpu", &["\"\"", "\"   \"", "1"]),
    ("workload", "cpu", &["\"nope\"", "\"\"", "1"]),
    ("primitive", "lock", &["\"nope\"", "\"\"", "1"]),
    ("deadlock", "lock", &["\"nope\"", "\"\"", "1"]),
    ("depth", "lock", &["0", "-1", "65", "1.5"]),
    ("permits", "lock", &["0", "-1", "1025"]),
    ("sections", "lock", &["0", "-1", "10000001"]),
    ("hold_us", "lock", &["-1", "1000001"]),
    ("outside_us", "lock", &["-1", "1000001"]),
    ("producers", "queue", &["0", "-1", "1025"]),
    ("consumers", "queue", &["0", "-1", "1025"]),
    ("capacity", "queue", &["0", "-1", "1000001"]),
    ("item_bytes", "queue", &["-1", "16777217"]),
    ("items", "queue", &["0", "-1", "100000001"]),
    ("semantics", "queue", &["\"nope\"", "\"\"", "1"]),
    ("daemon", "queue", &["1", "\"yes\""]),
    ("rounds", "event", &["0", "-1", "100001", "1.5"]),
    (
        "timers",
        "timer",
        &["0", "-1", "10001", "[]", "[10, 0]", "1.5"],
    ),
    ("delay_ms", "timer", &["0", "-1", "0.05", "60001"]),
    ("metg_efficiency", "granularity", &["0", "-1", "1.5"]),
    (
        "metg_tasks",
        "granularity",
        &["\"nope\"", "[]", "1", "[\"cpu\", 2]"],
    ),
    ("metg_min_us", "granularity", &["0", "-1", "0.5", "4000"]),
    ("metg_step", "granularity", &["0", "1", "101"]),
    ("metg_bisections", "granularity", &["-1", "21", "1.5"]),
    ("metg_budget_s", "granularity", &["0", "-1", "3601"]),
    ("metg_step", "cpu", &["2"]),
    ("touch_kib", "granularity", &["4"]),
    ("workers", "granularity", &["[1, 2]", "257"]),
];

/// `[settings]` keys and values beyond their ranges.
const SETTINGS: &[(&str, &[&str])] = &[
    ("repetitions", &["0", "-1", "0.5", "10001"]),
    ("max_repetitions", &["0", "-1", "0.5", "10001"]),
    ("warmup", &["-1", "0.5", "1001"]),
    ("timeout_s", &["0", "-1", "0.0001", "86401"]),
    ("point_budget_s", &["-1", "86401"]),
];

const KEY_ABSURD: &[&str] = &[
    // Raw control characters in the file (TOML refuses them in strings;
    // the error quotes the line, which must come back escaped).
    "\"\u{1b}[31mred\"",
    "1\u{7}",
    "nan",
    "inf",
    "-inf",
    "1e300",
    "\"text\"",
    "9999999999999999999999",
];

#[test]
fn every_key_beyond_its_range_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut tried = 0;
    for &(key, workload, beyond) in KEYS {
        for value in beyond.iter().chain(KEY_ABSURD) {
            if key == "name" && *value == "\"text\"" {
                continue; // a good name
            }
            let name_line = if key == "name" { "" } else { "name = \"s\"\n" };
            let workload_line = if key == "workload" {
                String::new()
            } else {
                format!("workload = \"{workload}\"\n")
            };
            let text = format!("[[scenario]]\n{name_line}{workload_line}{key} = {value}\n");
            std::fs::write(dir.path().join("suite.toml"), &text).unwrap();
            let args: Vec<String> = ["run", "suite.toml", "--out", "out"]
                .map(str::to_owned)
                .to_vec();
            assert_refused(&args, &format!("`{key}`"), dir.path());
            tried += 1;
        }
    }
    for &(key, beyond) in SETTINGS {
        for value in beyond.iter().chain(KEY_ABSURD) {
            let text = format!(
                "[settings]\n{key} = {value}\n[[scenario]]\nname = \"s\"\nworkload = \"cpu\"\n"
            );
            std::fs::write(dir.path().join("suite.toml"), &text).unwrap();
            let args: Vec<String> = ["run", "suite.toml", "--out", "out"]
                .map(str::to_owned)
                .to_vec();
            assert_refused(&args, key, dir.path());
            tried += 1;
        }
    }
    eprintln!("bad-input sweep: {tried} suite values refused");
    assert!(tried > 150, "the sweep shrank to {tried} inputs");
}

#[test]
fn output_and_baseline_flags_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-file"), "x").unwrap();
    let long = "b".repeat(5000);
    let rows: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--out", "/dev/null"], "--out"),
        (vec!["--out", "a-file"], "--out"),
        (vec!["--save-baseline", ""], "--save-baseline"),
        (vec!["--save-baseline", "../escape"], "--save-baseline"),
        (vec!["--save-baseline", "a/b"], "--save-baseline"),
        (vec!["--save-baseline", "\u{1b}[31mred"], "--save-baseline"),
        (vec!["--save-baseline", &long], "--save-baseline"),
        (vec!["--baseline", "/dev/zero"], "/dev/zero"),
        (vec!["--baseline", "."], "cannot read results file"),
        (vec!["--baseline", "no-such-baseline"], "no-such-baseline"),
    ];
    for (flags, name) in rows {
        let mut args: Vec<String> = ["run", "--workload", "cpu", "--task-ms", "1", "--tasks", "1"]
            .map(str::to_owned)
            .to_vec();
        args.extend(flags.iter().map(|s| s.to_string()));
        if !flags.contains(&"--out") {
            args.extend(["--out".to_owned(), "out".to_owned()]);
        }
        let (code, err) = parabench(&args, dir.path(), Duration::from_secs(30));
        let named = err.contains(name);
        let raw_escape = err.contains('\u{1b}');
        // Messages on failure stay readable even for 5000-character values.
        let args: String = format!("{args:?}").chars().take(300).collect();
        let err: String = err.chars().take(1000).collect();
        assert_eq!(code, Some(2), "{args} must be refused with exit 2: {err}");
        assert!(!err.contains("panicked"), "{args} panicked: {err}");
        assert!(!raw_escape, "{args}: raw escape in {err:?}");
        assert!(named, "{args}: the message must name `{name}`: {err}");
        assert!(!dir.path().join("out").exists(), "{args} ran");
    }
}

/// Coordination keys that are each in range but cannot work together (or
/// a key the workload does not take): each refused at the line of the key
/// named, before anything runs. Rows marked QUEUE, EVENT or TIMER are
/// scenarios of that workload, the rest lock scenarios.
#[test]
fn coordination_combinations_are_refused_at_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let rows: &[(&str, &str, usize)] = &[
        (
            "primitive = \"none\"\ndeadlock = \"reacquire\"",
            "deadlock",
            5,
        ),
        (
            "primitive = \"semaphore\"\ndeadlock = \"opposite-order\"",
            "deadlock",
            5,
        ),
        ("primitive = \"mutex\"\npermits = 2", "permits", 5),
        ("primitive = \"mutex\"\ndepth = 3", "depth", 5),
        ("workers = 1\ndeadlock = \"opposite-order\"", "workers", 4),
        ("models = [\"cpython-process-pool\"]", "models", 4),
        ("tasks = 8", "tasks", 4),
        ("QUEUE daemon = true", "daemon", 4),
        (
            "QUEUE semantics = \"joinable\"\ndaemon = true\nitem_bytes = 1048576\ncapacity = 2048",
            "capacity",
            7,
        ),
        ("QUEUE models = [\"sequential\"]", "models", 4),
        ("QUEUE workers = 4", "workers", 4),
        ("EVENT models = [\"sequential\"]", "models", 4),
        ("EVENT models = [\"cpython-thread-pool\"]", "models", 4),
        ("EVENT tasks = 4", "tasks", 4),
        ("EVENT timers = 10", "timers", 4),
        ("TIMER models = [\"thread+gil\"]", "models", 4),
        ("TIMER models = [\"process\"]", "models", 4),
        ("TIMER workers = 4", "workers", 4),
        ("TIMER rounds = 4", "rounds", 4),
    ];
    for &(body, key, line) in rows {
        let (workload, body) = [
            ("QUEUE ", "queue"),
            ("EVENT ", "event"),
            ("TIMER ", "timer"),
        ]
        .into_iter()
        .find_map(|(mark, w)| Some((w, body.strip_prefix(mark)?)))
        .unwrap_or(("lock", body));
        let text = format!("[[scenario]]\nname = \"s\"\nworkload = \"{workload}\"\n{body}\n");
        std::fs::write(dir.path().join("suite.toml"), &text).unwrap();
        let args: Vec<String> = ["run", "suite.toml", "--out", "out"]
            .map(str::to_owned)
            .to_vec();
        assert_refused(&args, &format!("suite.toml:{line}:"), dir.path());
        assert_refused(&args, &format!("key `{key}`"), dir.path());
    }
}

/// An interpreter that is not there, or too old, is refused before anything
/// runs: from the flag, naming it, and from `[settings]`, at its line.
#[test]
fn a_missing_interpreter_is_refused_naming_the_flag_or_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| -> Vec<String> {
        [
            "run",
            "--workload",
            "cpu",
            "--models",
            "cpython-thread",
            "--out",
            "out",
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
    };
    assert_refused(
        &run(&["--python", "python-that-is-not-here"]),
        "--python",
        dir.path(),
    );
    assert_refused(
        &run(&["--python", "/nonexistent/python3"]),
        "/nonexistent/python3",
        dir.path(),
    );
    assert_refused(&run(&["--python", ""]), "--python", dir.path());
    std::fs::write(
        dir.path().join("suite.toml"),
        "[settings]\npython = \"python-that-is-not-here\"\n[[scenario]]\nname = \"s\"\n\
         workload = \"cpu\"\nmodels = [\"cpython-thread\"]\n",
    )
    .unwrap();
    let args: Vec<String> = ["run", "suite.toml", "--out", "out"]
        .map(String::from)
        .to_vec();
    assert_refused(&args, "suite.toml:2:10: key `python`", dir.path());
}
