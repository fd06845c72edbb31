//! The lifecycle section of the page and the summary: each state with what
//! was expected, what was observed, the counts and timings, what /proc
//! showed at each step (page only), and what was left behind. Pure.

use crate::results::{LifecycleResult, LifecycleState, RunReport, ScenarioInfo};
use std::fmt::Write;

/// The workload id of a lifecycle scenario in results.json.
pub(super) const WORKLOAD: &str = "lifecycle";

const HEADER: [&str; 6] = [
    "State",
    "Expected",
    "Observed",
    "Seen",
    "Counts",
    "Timings (ms)",
];
const EVENT_HEADER: [&str; 7] = ["at ms", "role", "pid", "ppid", "state", "is_alive", "what"];

/// The result of `scenario`'s run, when it ran.
fn result_of<'a>(report: &'a RunReport, scenario: &ScenarioInfo) -> Option<&'a LifecycleResult> {
    report
        .lifecycle
        .iter()
        .find(|l| l.scenario == scenario.name)
}

/// One line on the run: its demo, its status and what was left behind.
fn headline(l: &LifecycleResult) -> String {
    format!(
        "Demo process {} (harness {}), {:.0} ms in all · status: {} · left behind: {} zombie(s), {} stray process(es)",
        l.demo_pid,
        l.harness_pid,
        l.wall_s * 1e3,
        l.status,
        l.zombies_left,
        l.strays_left
    )
}

fn cells(s: &LifecycleState) -> [String; 6] {
    let counts = s
        .counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut timings: Vec<String> = s
        .timings_ms
        .iter()
        .map(|(k, v)| format!("{k} {v:.3}"))
        .collect();
    timings.push(format!("step {:.1}", s.step_ms));
    [
        s.state.clone(),
        s.expected.clone(),
        s.observed.clone(),
        if s.seen { "yes" } else { "no" }.into(),
        counts,
        timings.join(", "),
    ]
}

/// The section's Markdown, after its `## name` heading and description.
pub(super) fn markdown(report: &RunReport, scenario: &ScenarioInfo) -> String {
    use crate::text::markdown as escape;
    let Some(l) = result_of(report, scenario) else {
        return "Not run.\n".into();
    };
    let mut md = format!("{}\n\n", escape(&headline(l)));
    let _ = writeln!(md, "| {} |", HEADER.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(HEADER.len()));
    for state in &l.states {
        let row: Vec<String> = cells(state).iter().map(|c| escape(c)).collect();
        let _ = writeln!(md, "| {} |", row.join(" | "));
    }
    md
}

/// The section's HTML body, after its heading and description.
pub(super) fn html(page: &mut String, report: &RunReport, scenario: &ScenarioInfo) {
    use super::html::escape;
    let Some(l) = result_of(report, scenario) else {
        page.push_str("<p class=\"meta\">Not run.</p>\n");
        return;
    };
    let _ = writeln!(page, "<p class=\"meta\">{}</p>", escape(&headline(l)));
    page.push_str("<div class=\"table-wrap\"><table class=\"lifecycle\">\n<thead><tr>");
    for heading in HEADER {
        let _ = write!(page, "<th>{heading}</th>");
    }
    page.push_str("</tr></thead>\n<tbody>\n");
    for state in &l.states {
        page.push_str(if state.seen {
            "<tr>"
        } else {
            "<tr class=\"failed\">"
        });
        for cell in cells(state) {
            let _ = write!(page, "<td>{}</td>", escape(&cell));
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody></table></div>\n");
    for state in l.states.iter().filter(|s| !s.events.is_empty()) {
        let _ = write!(
            page,
            "<details><summary>{}: what /proc showed</summary>\n<table>\n<tr>",
            escape(&state.state)
        );
        for heading in EVENT_HEADER {
            let _ = write!(page, "<th>{heading}</th>");
        }
        page.push_str("</tr>\n");
        for e in &state.events {
            let _ = writeln!(
                page,
                "<tr><td class=\"num\">{:.3}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.at_ms,
                escape(&e.role),
                e.pid,
                e.ppid.map_or("gone".into(), |p| p.to_string()),
                escape(e.proc_state.as_deref().unwrap_or("gone")),
                e.is_alive,
                escape(&e.what)
            );
        }
        page.push_str("</table></details>\n");
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::results::{CaseStatus, LifecycleEvent};

    /// A report whose only scenario is a lifecycle run: one state seen, one
    /// not, and hostile text in the observed line.
    pub(crate) fn with_lifecycle() -> RunReport {
        let mut report = crate::report::tests::sample();
        report.scenarios.push(ScenarioInfo {
            name: "lifecycle".into(),
            description: "each state of a process's life".into(),
            workload: WORKLOAD.into(),
            cpu_bound: false,
            releases_gil: false,
            baseline_estimated: false,
            models: Vec::new(),
        });
        let state = |id: &str, seen: bool, observed: &str| LifecycleState {
            state: id.into(),
            expected: format!("{id} as the note says"),
            observed: observed.into(),
            seen,
            step_ms: 2.5,
            counts: [("reaped".to_owned(), 1)].into(),
            timings_ms: [("waitpid_ms".to_owned(), 0.054)].into(),
            events: vec![LifecycleEvent {
                at_ms: 0.5,
                role: "child".into(),
                what: "exited, not yet waited for".into(),
                pid: 4243,
                ppid: Some(4242),
                proc_state: Some("Z".into()),
                is_alive: false,
            }],
        };
        report.lifecycle.push(LifecycleResult {
            scenario: "lifecycle".into(),
            status: CaseStatus::Failed("not seen as expected: orphan".into()),
            harness_pid: 4200,
            demo_pid: 4242,
            marker: "PARABENCH_LIFECYCLE=4200-0".into(),
            wall_s: 0.2,
            states: vec![
                state("zombie", true, "state Z"),
                state("orphan", false, "<script>x</script> | pipe"),
            ],
            zombies_left: 0,
            strays_left: 1,
        });
        report
    }

    #[test]
    fn markdown_has_a_row_per_state_and_the_leftovers() {
        let report = with_lifecycle();
        let scenario = report.scenarios.last().unwrap();
        let md = markdown(&report, scenario);
        assert!(
            md.contains("left behind: 0 zombie(s), 1 stray process(es)"),
            "{md}"
        );
        assert!(md.contains("| zombie | zombie as the note says | state Z | yes | reaped 1 | waitpid\\_ms 0.054, step 2.5 |"), "{md}");
        assert_eq!(md.lines().filter(|l| l.starts_with("| orphan")).count(), 1);
        crate::text::hostile::assert_inert_markdown(&md);
        let mut other = scenario.clone();
        other.name = "never-ran".into();
        assert_eq!(markdown(&report, &other), "Not run.\n");
    }

    #[test]
    fn html_escapes_and_marks_states_not_seen() {
        let report = with_lifecycle();
        let mut page = String::new();
        html(&mut page, &report, report.scenarios.last().unwrap());
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert_eq!(page.matches("<tr class=\"failed\">").count(), 1);
        assert_eq!(page.matches("what /proc showed").count(), 2);
        assert!(
            page.contains(
                "<td class=\"num\">4243</td><td class=\"num\">4242</td><td>Z</td><td>false</td>"
            ),
            "{page}"
        );
    }
}
