//! Memory per unit is the marginal cost: with every task holding a known
//! `touch_kib`, the slope of memory against units grows by that amount over
//! the model's own per-unit cost, measured in the same run with nothing
//! touched. The `process` model is left out: its units are alive together
//! only when spawning a worker takes less than a task, which a debug build
//! on a loaded 2-core machine does not promise (the pool's workers are all
//! alive before the batch starts). Tasks last 200 ms so that, with other
//! tests and builds loading both cores, the pool's eight tasks still hold their memory
//! at the same time (at 30 ms, and at 80 ms under a parallel build, they did not always).

use parabench::report::query::{MemoryMetric, memory_per_unit};
use parabench::results::RunReport;
use std::process::Command;

const TOUCH_KIB: f64 = 2048.0;

#[test]
fn touched_kib_per_unit_comes_out_of_the_slope() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = |name: &str, touch: u64| {
        format!(
            "[[scenario]]\nname = \"{name}\"\nworkload = \"io-sleep\"\ntask_ms = 200\ntasks = 8\n\
             workers = [2, 4, 8]\ntouch_kib = {touch}\n\
             models = [\"thread\", \"process-pool\", \"async\"]\n"
        )
    };
    let suite = format!(
        "[settings]\nrepetitions = 3\nwarmup = 0\n{}{}",
        scenario("own", 0),
        scenario("touched", TOUCH_KIB as u64)
    );
    std::fs::write(dir.path().join("suite.toml"), suite).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_parabench"))
        .args(["run", "suite.toml", "--out", "out", "--no-report"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: RunReport =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/results.json")).unwrap())
            .unwrap();
    for (model, metric) in [
        ("thread", MemoryMetric::Rss),
        ("async", MemoryMetric::Rss),
        ("process-pool", MemoryMetric::Pss),
    ] {
        let own = memory_per_unit(&report, "own", model).unwrap();
        let touched = memory_per_unit(&report, "touched", model).unwrap();
        assert_eq!((own.metric, touched.metric), (metric, metric), "{model}");
        // The model's own cost per unit is measured, not assumed small: a
        // process costs about a MiB of its own, a thread a few pages.
        let want = TOUCH_KIB * 1024.0 + own.per_unit.median;
        let got = touched.per_unit.median;
        assert!(
            (got - want).abs() <= 0.10 * want,
            "{model}: {:.0} KiB per unit, expected {:.0} KiB (2048 + own {:.0}); points {:?}",
            got / 1024.0,
            want / 1024.0,
            own.per_unit.median / 1024.0,
            touched.points
        );
        eprintln!(
            "{model}: own {:.0} KiB, touched {:.0} KiB per unit",
            own.per_unit.median / 1024.0,
            got / 1024.0
        );
        let i = touched.per_unit;
        assert!(i.low <= got && got <= i.high, "{model}: {i:?}");
    }
}
