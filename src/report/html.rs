//! `index.html`: one self-contained page (inline CSS, charts as inline SVG,
//! no scripts, no network) with the verdicts first, then each scenario's
//! charts and numbers, the machine record and the method. Every string that
//! comes from the results file is escaped.

use super::palette::{hex, model_colour};
use super::verdicts::{
    GIL_MAX_SPEEDUP, MIN_SAMPLES, NATIVE_THREADS_MIN_SHARE, Outcome, PROCESS_GAIN_CAP,
    PROCESS_GAIN_PER_EXTRA_CORE, THREADS_IO_MIN_SHARE, Verdict,
};
use super::{Section, query, table};
use crate::results::{RunReport, ScenarioInfo};
use std::fmt::Write;

/// Text safe inside HTML elements and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0; color: #222; background: #fafafa; line-height: 1.45; }
header, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 16px; }
h1 { margin-bottom: 4px; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 4px; margin-top: 40px; }
nav a { margin-right: 12px; }
.meta { color: #555; }
.warning { background: #fff3cd; border: 1px solid #e0c36a; padding: 8px 12px; }
.verdict { background: #fff; border: 1px solid #ddd; border-left: 6px solid #999; padding: 8px 16px; margin: 12px 0; }
.verdict h3 { margin: 4px 0; font-size: 1.1em; }
.verdict.holds { border-left-color: #2e7d32; }
.verdict.does-not-hold { border-left-color: #c62828; }
.verdict.inconclusive { border-left-color: #9e9e9e; }
.verdict.not-tested { border-left-color: #e0e0e0; color: #666; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 0.85em; margin-right: 6px; background: #757575; }
.badge.holds { background: #2e7d32; }
.badge.does-not-hold { background: #c62828; }
figure.chart { margin: 16px 0; background: #fff; border: 1px solid #ddd; padding: 8px; }
figure.chart svg { width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: 0.9em; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; background: #fff; font-size: 0.88em; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
th { background: #f0f0f0; }
tr.failed td { background: #fdecea; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
";

/// The whole page.
pub(super) fn render(report: &RunReport, verdicts: &[Verdict], sections: &[Section]) -> String {
    let mut page = String::new();
    let machine = &report.machine;
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <title>parabench report: {} ({})</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n\
         <h1>parabench report</h1>\n<p class=\"meta\">{}, {} logical cores · run started {} · parabench {}{}</p>\n",
        escape(&machine.cpu_brand),
        escape(&report.harness.started_at),
        escape(&machine.cpu_brand),
        machine.logical_cores,
        escape(&report.harness.started_at),
        escape(&report.harness.version),
        report
            .harness
            .git_commit
            .as_deref()
            .map(|commit| format!(" ({})", escape(commit)))
            .unwrap_or_default(),
    );
    if report.interrupted {
        page.push_str(
            "<p class=\"warning\">This run was interrupted: some cases were never measured.</p>\n",
        );
    }
    render_noise(&mut page, report);
    page.push_str("<nav><a href=\"#verdicts\">Verdicts</a>");
    if !report.floor.is_empty() {
        page.push_str("<a href=\"#floor\">OS floor</a>");
    }
    if !report.granularity.is_empty() {
        page.push_str("<a href=\"#metg\">METG</a>");
    }
    for section in sections {
        let _ = write!(
            page,
            "<a href=\"#scenario-{}\">{}</a>",
            section.slug,
            escape(&section.scenario.name)
        );
    }
    page.push_str(
        "<a href=\"#machine\">Machine</a><a href=\"#method\">Method</a>\
         <a href=\"results.json\">results.json</a></nav>\n</header>\n<main>\n",
    );
    render_verdicts(&mut page, report, verdicts);
    render_fidelity(&mut page, report);
    page.push_str(&super::granularity::html(report));
    page.push_str(&super::floor::html(report));
    for section in sections {
        render_section(&mut page, report, section);
    }
    render_machine(&mut page, report);
    render_method(&mut page, report);
    page.push_str(
        "</main>\n<footer>\n<p class=\"meta\">Every number above comes from \
         <a href=\"results.json\">results.json</a>; regenerate this page with \
         <code>parabench report results.json</code>.</p>\n</footer>\n</body>\n</html>\n",
    );
    page
}

fn outcome_class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Holds => "holds",
        Outcome::DoesNotHold => "does-not-hold",
        Outcome::Inconclusive => "inconclusive",
        Outcome::NotTested => "not-tested",
    }
}

fn render_verdicts(page: &mut String, report: &RunReport, verdicts: &[Verdict]) {
    page.push_str("<section id=\"verdicts\">\n<h2>Verdicts</h2>\n");
    for notice in super::verdicts::notices(report) {
        let _ = writeln!(page, "<p class=\"meta\">{}</p>", escape(&notice));
    }
    for verdict in verdicts {
        let class = outcome_class(verdict.outcome);
        let _ = write!(
            page,
            "<article class=\"verdict {class}\">\n<h3><span class=\"badge {class}\">{}</span>{}{}</h3>\n",
            verdict.outcome.label(),
            escape(&verdict.title()),
            verdict
                .scenario
                .as_deref()
                .map(|s| format!(" <span class=\"meta\">on {}</span>", escape(s)))
                .unwrap_or_default()
        );
        if !verdict.test.is_empty() {
            let _ = writeln!(page, "<p>Test: {}</p>", escape(&verdict.test));
        }
        if !verdict.checks.is_empty() {
            page.push_str("<ul>\n");
            for check in &verdict.checks {
                let _ = writeln!(
                    page,
                    "<li><span class=\"badge {}\">{}</span>{}</li>",
                    outcome_class(check.outcome),
                    check.outcome.label(),
                    escape(&check.text)
                );
            }
            page.push_str("</ul>\n");
        }
        if let Some(note) = &verdict.note {
            let _ = writeln!(page, "<p class=\"meta\">{}</p>", escape(note));
        }
        if !verdict.cases.is_empty() {
            page.push_str("<details><summary>Cases this rests on</summary><ul>\n");
            for case in &verdict.cases {
                let _ = writeln!(page, "<li>{}</li>", escape(case));
            }
            page.push_str("</ul></details>\n");
        }
        page.push_str("</article>\n");
    }
    page.push_str("</section>\n");
}

/// The emulated GIL judged against real CPython, when both ran.
fn render_fidelity(page: &mut String, report: &RunReport) {
    let rows = table::fidelity_rows(report);
    if rows.is_empty() {
        return;
    }
    page.push_str(
        "<section id=\"fidelity\">\n<h2>GIL emulation against real CPython</h2>\n\
         <p>Each emulated <code>+gil</code> case beside the CPython case of the same point, \
         measured in this run; each speedup is against its own sequential baseline, and at convoy points both probes' round-trip distributions stand side by side (see the README, \"The convoy effect\", for the rules).</p>\n<table>\n<tr>",
    );
    for name in table::FIDELITY_HEADER {
        let _ = write!(page, "<th>{name}</th>");
    }
    page.push_str("</tr>\n");
    for row in rows {
        page.push_str("<tr>");
        for cell in row {
            let _ = write!(page, "<td>{}</td>", escape(&cell));
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n</section>\n");
}

fn render_section(page: &mut String, report: &RunReport, section: &Section) {
    let scenario = section.scenario;
    if scenario.workload == super::granularity::WORKLOAD {
        super::granularity::html_section(page, report, section);
        return;
    }
    if scenario.workload == super::lifecycle::WORKLOAD {
        let _ = write!(
            page,
            "<section class=\"scenario\" id=\"scenario-{}\">\n<h2>{}</h2>\n<p>{}</p>\n",
            section.slug,
            escape(&scenario.name),
            escape(&scenario.description),
        );
        super::lifecycle::html(page, report, scenario);
        page.push_str("</section>\n");
        return;
    }
    let stems: Vec<&str> = section.charts.iter().map(|c| c.stem.as_str()).collect();
    let _ = write!(
        page,
        "<section class=\"scenario\" id=\"scenario-{}\" data-charts=\"{}\">\n<h2>{}</h2>\n<p>{}</p>\n\
         <p class=\"meta\">Workload {}, {} · models: {}</p>\n",
        section.slug,
        stems.join(" "),
        escape(&scenario.name),
        escape(&scenario.description),
        escape(&scenario.workload),
        if scenario.cpu_bound {
            "CPU-bound"
        } else {
            "not CPU-bound"
        },
        escape(&scenario.models.join(", ")),
    );
    if let Some(note) = table::baseline_note(scenario) {
        let _ = writeln!(page, "<p class=\"meta\">{}</p>", escape(note));
    }
    for chart in &section.charts {
        let _ = writeln!(page, "{}", chart.figure());
    }
    if scenario.workload == super::io_models::WORKLOAD {
        super::io_models::html(page, report, scenario);
        page.push_str("</section>\n");
        return;
    }
    let cases = query::scenario_cases(report, &scenario.name);
    page.push_str("<div class=\"table-wrap\"><table>\n<thead><tr>");
    for heading in table::HEADER {
        let _ = write!(page, "<th>{}</th>", escape(heading));
    }
    page.push_str("</tr></thead>\n<tbody>\n");
    for row in table::rows(report, &cases) {
        page.push_str(if row.ok {
            "<tr>"
        } else {
            "<tr class=\"failed\">"
        });
        for (idx, cell) in row.cells.iter().enumerate() {
            match idx {
                0 => {
                    let _ = write!(
                        page,
                        "<td><span class=\"swatch\" style=\"background:{}\"></span>{}</td>",
                        hex(model_colour(&row.model)),
                        escape(cell)
                    );
                }
                1 | 2 | 4..=10 => {
                    let _ = write!(page, "<td class=\"num\">{}</td>", escape(cell));
                }
                _ => {
                    let _ = write!(page, "<td>{}</td>", escape(cell));
                }
            }
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody></table></div>\n");
    render_memory_table(page, report, scenario);
    page.push_str("</section>\n");
}

/// Memory per unit: each model's slope across its sweep, or why it has none.
fn render_memory_table(page: &mut String, report: &RunReport, scenario: &ScenarioInfo) {
    let rows = table::memory_rows(report, scenario);
    if rows.is_empty() {
        return;
    }
    page.push_str("<div class=\"table-wrap\"><table class=\"memory\">\n<thead><tr>");
    for heading in table::MEMORY_HEADER {
        let _ = write!(page, "<th>{}</th>", escape(heading));
    }
    page.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        page.push_str("<tr>");
        for (idx, cell) in row.iter().enumerate() {
            let class = if matches!(idx, 1 | 4) {
                " class=\"num\""
            } else {
                ""
            };
            let _ = write!(page, "<td{class}>{}</td>", escape(cell));
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody></table></div>\n");
}

/// The SVG element alone: an XML declaration is not allowed inside HTML.
pub(super) fn inline_svg(svg: &str) -> &str {
    svg.find("<svg").map_or(svg, |start| &svg[start..])
}

/// The signs that the machine was noisy (`noise`), where a reader starts.
fn render_noise(page: &mut String, report: &RunReport) {
    let warnings = super::noise::warnings(report);
    if warnings.is_empty() {
        return;
    }
    page.push_str(
        "<div class=\"warning\" id=\"noise\"><strong>The machine was noisy during this run; \
         read small differences with care.</strong>\n<ul>\n",
    );
    for warning in &warnings {
        let _ = writeln!(page, "<li>{}</li>", escape(&warning.text));
    }
    page.push_str("</ul></div>\n");
}

fn render_machine(page: &mut String, report: &RunReport) {
    let m = &report.machine;
    let h = &report.harness;
    let s = &report.settings;
    let mut rows: Vec<(&str, String)> = vec![
        ("CPU", m.cpu_brand.clone()),
        ("Logical cores", m.logical_cores.to_string()),
        (
            "Physical cores",
            m.physical_cores.map_or("unknown".into(), |n| n.to_string()),
        ),
        ("Memory", table::bytes(m.memory_bytes)),
        ("OS", m.os.clone()),
        ("Kernel", m.kernel.clone()),
        (
            "Host",
            m.hostname.clone().unwrap_or_else(|| "unknown".into()),
        ),
        ("parabench", h.version.clone()),
        (
            "Commit",
            h.git_commit.clone().unwrap_or_else(|| "unknown".into()),
        ),
        ("Started", h.started_at.clone()),
        ("Command line", h.command_line.join(" ")),
        ("Suites", s.sources.join(", ")),
        (
            "Repetitions",
            format!("{} measured, {} warm-up", s.repetitions, s.warmup),
        ),
        ("Quick mode", if s.quick { "yes" } else { "no" }.into()),
        ("Case timeout", table::seconds(s.case_timeout_s)),
    ];
    for (kernel, rate) in &report.calibration.kernels {
        rows.push((
            "Kernel speed",
            format!(
                "{kernel}: {} iterations/ms on one core",
                table::significant(*rate)
            ),
        ));
    }
    for floor in &report.calibration.timer_floor {
        rows.push((
            "Timer floor",
            format!(
                "a {} sleep takes {}",
                table::millis(floor.nominal_ms),
                table::millis(floor.measured_ms)
            ),
        ));
    }
    rows.extend(table::environment_rows(&report.environment));
    page.push_str("<section id=\"machine\">\n<h2>Machine</h2>\n<table>\n");
    for (name, value) in rows {
        let _ = writeln!(page, "<tr><th>{name}</th><td>{}</td></tr>", escape(&value));
    }
    page.push_str("</table>\n</section>\n");
}

fn render_method(page: &mut String, report: &RunReport) {
    let s = &report.settings;
    let _ = write!(
        page,
        "<section id=\"method\">\n<h2>Method</h2>\n\
<p>Each case runs {warmup} unmeasured warm-up batch(es), then at least {min_reps} measured batches (up to {reps} here). \
The cases of one point (same work, every model and worker count) run in interleaved rounds, each round in a rotated order, \
so drift hits every model alike. A point gets more rounds while a verdict that rests on its cases is undecided (its \
interval straddles the threshold, or it rests on fewer than {min_samples} rounds), until it is decided, the point's time \
budget is spent or the most repetitions allowed are reached; each case shows how many repetitions it took. \
A batch submits every task and waits for the last result; its wall time excludes pool and runtime start-up, which is \
measured apart. Tables and charts show the median of the repetitions with its 95% confidence interval as \
<em>median [low, high]</em> (order statistics, no assumption about the distribution); \
CPU time, memory and context switches are medians over repetitions.</p>\n\
<p><strong>Speedup</strong> = baseline wall / model wall for the same workload, tasks and size, the baseline being \
<code>sequential</code> for native and <code>+gil</code> models and <code>cpython-sequential</code> for <code>cpython-*</code>. \
Two cases of one point are compared round by round: the ratio is the median of the per-round ratios, with its interval. \
<strong>Efficiency</strong> = speedup / ideal speedup. The <strong>ideal speedup</strong> is computed by the runner: \
for CPU-bound work, min(workers, tasks, logical cores); for IO-bound work, the concurrency bound min(workers, tasks) \
corrected by the measured timer floor (a sleep never ends before its floor, see Machine).</p>\n\
<p>Charts hold every dimension but one fixed: the most measured combination (ties go to the most tasks), and each \
model at its most workers where one case per model is shown. \
Failed cases appear in the tables with their status and never in charts.</p>\n\
<p><strong>Memory per unit</strong> is the marginal cost of one more thread, process or task alive: the \
Theil–Sen slope of each repetition's memory against its units, min(workers, tasks), across the model's sweep of \
workers for the same work (the median of the slopes between every two points with different units), with Sen's \
rank-based 95% interval from Kendall's S, corrected for tied units. A peak divided by a unit count would charge \
the harness's own memory to the units; a model with a single unit count therefore has no figure. Memory is the \
harness's peak RSS (VmHWM, reset per repetition) plus, for process models, each child's peak PSS summed over \
the children alive at once: PSS divides a shared page among its sharers, where RSS counts it in every process. \
A child is sampled (<code>/proc/PID/smaps_rollup</code>) alive just before it is told to finish; its peak is \
that PSS plus what its RSS has fallen since its high-water mark (memory freed since the peak is private). The \
kernel updates that mark from approximate per-CPU counters, so a child's peak can read a few dozen pages low. \
Results without PSS fall back to RSS, and say so.</p>\n\
<p><strong>The emulated GIL</strong> (<code>+gil</code> models) follows CPython 3.2+'s new GIL: one lock that a \
thread must hold to compute; a waiting thread asks the holder to drop it after the switch interval (5 ms \
in CPython by default) and the holder is forced to switch at its next check; a task releases the GIL while it waits on IO, as \
CPython does around blocking calls. Processes each have their own GIL, so <code>process-pool+gil</code> \
computes in parallel. <code>cpython-*</code> models run the same tasks in a real CPython interpreter.</p>\n\
<p><strong>Verdicts</strong> are computed from the numbers, never written by hand, each on the comparison its claim \
makes and only on the scenarios it speaks of: once on the emulated GIL and native models, and once on real CPython \
when <code>cpython-*</code> models ran. A verdict holds when the whole interval is past its threshold, does not hold \
when the whole interval falls short, and is inconclusive when the interval straddles the threshold, rests on fewer \
than {min_samples} paired repetitions, or a needed case is missing (the verdict names it). On a machine with one \
logical core no claim about scaling is made. Thresholds:</p>\n<ul>\n\
<li>Processes for compute: with workers ≥ logical cores, the process pool beats GIL threads by at least \
1 + {gain} × (min(cores, workers) − 1), capped at {cap}× (1.5× on 2 cores: half the gain of perfect scaling).</li>\n\
<li>The GIL serializes compute: GIL threads with 2 or more workers have a speedup of at most {gil}×. Not judged on \
scenarios whose CPU work releases the GIL.</li>\n\
<li>Threads for IO: at the most workers measured, threads (the faster of one thread per task and the thread pool), \
with and without the GIL, reach at least {io_share} of the speedup of the best model on the same IO-bound work; \
and threads cost less memory per unit and less start-up per worker than processes, both slopes across the sweep \
whose intervals do not overlap.</li>\n\
<li>Without a GIL, threads compute in parallel too: thread, thread-pool and rayon each reach at least {native} \
of the process speedup at the most workers measured.</li>\n\
<li>A GIL-releasing extension lets threads compute in parallel: on scenarios whose CPU work releases the GIL, GIL \
threads with workers ≥ logical cores beat sequential by the same margin processes must.</li>\n</ul>\n\
</section>\n",
        warmup = s.warmup,
        reps = s.repetitions,
        min_reps = s.min_repetitions,
        min_samples = MIN_SAMPLES,
        gain = PROCESS_GAIN_PER_EXTRA_CORE,
        cap = PROCESS_GAIN_CAP,
        io_share = table::percent(THREADS_IO_MIN_SHARE),
        native = table::percent(NATIVE_THREADS_MIN_SHARE),
        gil = GIL_MAX_SPEEDUP,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::render;
    use crate::report::tests::sample;

    fn page(report: &RunReport) -> String {
        let artifacts = render(report).unwrap();
        String::from_utf8(artifacts.into_iter().next().unwrap().bytes).unwrap()
    }

    #[test]
    fn fidelity_section_appears_only_with_pairs_and_is_escaped() {
        assert!(!page(&sample()).contains("id=\"fidelity\""));
        let html = page(&crate::report::tests::with_fidelity("<b>x</b>"));
        assert!(html.contains("GIL emulation against real CPython"));
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;") && !html.contains("<b>x</b>"));
        // 0.66 is outside the 25% tolerance.
        assert!(html.contains("<td>ratio 0.66</td><td>no</td>"), "{html}");
    }

    #[test]
    fn page_has_every_section_and_one_svg_per_chart() {
        let report = sample();
        let html = page(&report);
        let verdicts_at = html.find("id=\"verdicts\"").unwrap();
        for scenario in &report.scenarios {
            let at = html
                .find(&format!("<h2>{}</h2>", scenario.name))
                .unwrap_or_else(|| panic!("no section for {}", scenario.name));
            assert!(at > verdicts_at, "verdicts come first");
            assert!(html.contains(&escape(&scenario.description)));
        }
        let charts = html.matches("data-chart=\"").count();
        assert!(charts >= 10, "{charts} charts");
        assert_eq!(html.matches("<svg").count(), charts);
        assert!(!html.contains("<?xml"));
        for needle in [
            "id=\"machine\"",
            "id=\"method\"",
            "href=\"results.json\"",
            "AMD EPYC 7B13",
        ] {
            assert!(html.contains(needle), "{needle}");
        }
        // No network and no scripts: nothing is fetched when the page opens.
        for forbidden in ["<script", "src=\"http", "href=\"http", "@import", "url("] {
            assert!(!html.contains(forbidden), "{forbidden}");
        }
        // The failed case is in its table, with its status.
        assert!(html.contains("<tr class=\"failed\">"));
        assert!(html.contains("spawn failed: Resource temporarily unavailable"));
    }

    #[test]
    fn strings_from_the_file_are_escaped_in_html_and_svg() {
        let mut report = sample();
        let evil = "<script>alert(1)</script>";
        for scenario in report.scenarios.iter_mut().filter(|s| s.name == "cpu-hash") {
            scenario.name = evil.into();
            scenario.description = format!("desc {evil}");
        }
        for case in report.cases.iter_mut().filter(|c| c.scenario == "cpu-hash") {
            case.scenario = evil.into();
        }
        report.machine.cpu_brand = "Evil \"CPU\" <b>".into();
        let html = page(&report);
        assert!(!html.contains("<script"), "a script tag got through");
        assert!(!html.contains("<b>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        let artifacts = render(&report).unwrap();
        let svg = artifacts
            .iter()
            .find(|a| a.name == "script-alert-1-script-speedup.svg")
            .unwrap();
        let svg = std::str::from_utf8(&svg.bytes).unwrap();
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;: speedup vs workers"));
        assert!(!svg.contains("<script"));
        assert!(svg.contains("Evil &quot;CPU&quot; &lt;b&gt;"));
    }
}
