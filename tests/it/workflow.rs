//! `.github/workflows/bench.yml` stays valid YAML and in step with the CLI:
//! every `parabench` command in its `run:` steps names a real subcommand,
//! uses only flags that subcommand has, and parses with clap.

use clap::{CommandFactory, Parser};
use cli::Cli;

/// The binary's command line, compiled here too (the library has none).
#[allow(dead_code)]
#[path = "../../src/cli.rs"]
mod cli;
use yaml_rust2::{Yaml, YamlLoader};

fn workflow() -> Yaml {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/.github/workflows/bench.yml");
    let text = std::fs::read_to_string(path).unwrap();
    YamlLoader::load_from_str(&text)
        .unwrap()
        .into_iter()
        .next()
        .unwrap()
}

/// Every `run:` script of every step of every job.
fn run_scripts(doc: &Yaml) -> Vec<String> {
    let jobs = doc["jobs"].as_hash().expect("jobs is a mapping");
    jobs.values()
        .flat_map(|job| job["steps"].as_vec().expect("steps is a list"))
        .filter_map(|step| step["run"].as_str().map(str::to_owned))
        .collect()
}

/// Words that end a command in these scripts.
fn ends_command(word: &str) -> bool {
    matches!(word, "|" | "||" | "&&" | ";") || word.starts_with('>') || word.starts_with("2>")
}

/// Each `parabench ...` invocation as its argument list, the program first.
fn parabench_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut commands = Vec::new();
    for line in joined.lines() {
        let words: Vec<String> = line
            .split_whitespace()
            .map(|w| w.trim_matches(|c| c == '"' || c == '\'').to_owned())
            .collect();
        for (idx, word) in words.iter().enumerate() {
            if word == "parabench" || word.ends_with("/parabench") {
                let args = words[idx..]
                    .iter()
                    .take_while(|w| !ends_command(w))
                    .cloned()
                    .collect();
                commands.push(args);
            }
        }
    }
    commands
}

#[test]
fn every_parabench_command_in_the_workflow_matches_the_cli() {
    let doc = workflow();
    let cli = Cli::command();
    let mut subcommands_used = Vec::new();
    for script in run_scripts(&doc) {
        for args in parabench_commands(&script) {
            let name = args.get(1).expect("parabench without a subcommand");
            let sub = cli.find_subcommand(name).unwrap_or_else(|| {
                panic!("bench.yml runs `parabench {name}`, which does not exist")
            });
            for flag in args.iter().filter_map(|a| a.strip_prefix("--")) {
                let flag = flag.split('=').next().unwrap();
                assert!(
                    sub.get_arguments().any(|arg| arg.get_long() == Some(flag)),
                    "bench.yml passes --{flag} to `parabench {name}`, which has no such option"
                );
            }
            if let Err(err) = Cli::try_parse_from(&args) {
                panic!("bench.yml: `{}` does not parse: {err}", args.join(" "));
            }
            subcommands_used.push(name.clone());
        }
    }
    // The loop the workflow exists for; guards against a parser that finds nothing.
    for needed in ["run", "compare", "export"] {
        assert!(
            subcommands_used.iter().any(|s| s == needed),
            "bench.yml never runs `parabench {needed}`"
        );
    }
}

#[test]
fn comparison_failure_is_not_swallowed() {
    let scripts = run_scripts(&workflow());
    let compare = scripts
        .iter()
        .find(|s| s.contains("parabench compare"))
        .unwrap();
    // The step turns off errexit to publish the table, so it must re-raise the status.
    assert!(compare.contains("status=$?") && compare.contains("exit \"$status\""));
}

#[test]
fn command_parser_sees_through_continuations_and_redirects() {
    let commands = parabench_commands(
        "a && ./target/release/parabench compare x y \\\n  --format json > out.json",
    );
    assert_eq!(
        commands,
        vec![
            [
                "./target/release/parabench",
                "compare",
                "x",
                "y",
                "--format",
                "json"
            ]
            .map(String::from)
            .to_vec()
        ]
    );
}

#[test]
fn reports_are_published_whatever_the_comparison_concluded() {
    let doc = workflow();
    let steps = doc["jobs"]["bench"]["steps"].as_vec().unwrap();
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("bench.yml has no step {name:?}"))
    };
    for name in [
        "Publish the summary",
        "Flag a noisy runner",
        "Export for Bencher and CSV tools",
        "Upload the BMF file",
        "Upload the reports",
    ] {
        let condition = step(name)["if"].as_str().unwrap_or_default();
        assert!(
            condition.contains("always()"),
            "{name} runs only on success"
        );
    }
    let bmf = step("Upload the BMF file");
    assert_eq!(
        bmf["with"]["path"].as_str(),
        Some("reports/latest/bmf.json")
    );
    // A regression against other hardware is a notice, not a red build.
    let compare = step("Compare with the baseline")["run"].as_str().unwrap();
    assert!(
        compare.contains(r#""$status" -eq 3"#) && compare.contains("exit 0"),
        "exit 3 (other hardware) must end the step green: {compare}"
    );
}
