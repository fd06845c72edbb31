//! Reading a `results.json` back: the one place that turns a path into a
//! `RunReport`, for `compare`, `export`, `history` and `run --baseline`.
//! Every failure names the file and says how to fix it. Files are read
//! through `input`, so a results file is a regular file of at most
//! `input::MAX_RESULTS_BYTES`.

use crate::input::{self, ReadError};
use crate::results::{RunReport, SCHEMA_VERSION};
use std::path::{Path, PathBuf};

/// Why a results file could not be used; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("results file {} does not exist; check the path, or create it with `parabench run`", path.display())]
    NotFound { path: PathBuf },
    #[error("cannot read results file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: ReadError,
    },
    #[error(
        "results file {} ends before the JSON is complete (line {line}, column {column}); \
         the run that wrote it was probably cut short: run `parabench run` again",
        path.display()
    )]
    Truncated {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    #[error("{} is not valid JSON; pass a results.json written by `parabench run`", path.display())]
    NotJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} has no schema_version, so it is not a parabench results file; pass a results.json written by `parabench run`", path.display())]
    NoSchemaVersion { path: PathBuf },
    #[error(
        "{} uses results schema version {found} but this parabench reads version {SCHEMA_VERSION}; \
         run the suite again with this parabench, or read it with the parabench that wrote it ({writer})",
        path.display()
    )]
    SchemaVersion {
        path: PathBuf,
        found: u64,
        writer: String,
    },
    #[error("{} does not match results schema version {SCHEMA_VERSION}; it was edited by hand or written by a broken build: run `parabench run` again", path.display())]
    Schema {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Reads and checks one results file.
pub fn load_report(path: &Path) -> Result<RunReport, LoadError> {
    let text = input::read_text(path, input::MAX_RESULTS_BYTES).map_err(|source| match source {
        ReadError::NotFound => LoadError::NotFound {
            path: path.to_owned(),
        },
        source => LoadError::Read {
            path: path.to_owned(),
            source,
        },
    })?;
    parse_report(&text, path)
}

/// Parses the text of a results file; `path` only names it in errors.
pub fn parse_report(text: &str, path: &Path) -> Result<RunReport, LoadError> {
    // Parse loosely first, so that a file from another schema version is
    // reported as such rather than as whichever field moved.
    let value: serde_json::Value = serde_json::from_str(text).map_err(|source| {
        if source.is_eof() {
            LoadError::Truncated {
                path: path.to_owned(),
                line: source.line(),
                column: source.column(),
            }
        } else {
            LoadError::NotJson {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    let found = value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| LoadError::NoSchemaVersion {
            path: path.to_owned(),
        })?;
    if found != u64::from(SCHEMA_VERSION) {
        let writer = value
            .pointer("/harness/version")
            .and_then(serde_json::Value::as_str)
            .map_or_else(|| "unknown version".to_owned(), |v| format!("version {v}"));
        return Err(LoadError::SchemaVersion {
            path: path.to_owned(),
            found,
            writer,
        });
    }
    // Deserializing from the text again, not from `value`, keeps line and
    // column in the error message.
    serde_json::from_str(text).map_err(|source| LoadError::Schema {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> &'static Path {
        Path::new("x/results.json")
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = load_report(Path::new("/nonexistent/parabench/results.json")).unwrap_err();
        assert!(matches!(err, LoadError::NotFound { .. }));
        assert!(
            err.to_string()
                .contains("/nonexistent/parabench/results.json")
        );
    }

    #[test]
    fn directories_and_devices_are_refused_by_name() {
        for (path, kind) in [("/dev/zero", "a device"), ("/tmp", "a directory")] {
            let err = load_report(Path::new(path)).unwrap_err();
            assert!(matches!(err, LoadError::Read { .. }), "{err:?}");
            let chain = format!("{:#}", anyhow::Error::from(err));
            assert!(chain.contains(path) && chain.contains(kind), "{chain}");
        }
    }

    #[test]
    fn truncated_json_is_reported_as_cut_short() {
        let err = parse_report(r#"{"schema_version": 1, "harness": {"#, path()).unwrap_err();
        assert!(matches!(err, LoadError::Truncated { .. }), "{err:?}");
        assert!(err.to_string().contains("x/results.json"));
    }

    #[test]
    fn other_schema_version_is_named_with_its_writer() {
        let text = r#"{"schema_version": 99, "harness": {"version": "9.9.9"}}"#;
        let err = parse_report(text, path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("version 99") && msg.contains("9.9.9"), "{msg}");
    }

    #[test]
    fn json_without_version_is_not_a_results_file() {
        let err = parse_report(r#"{"name": "x"}"#, path()).unwrap_err();
        assert!(matches!(err, LoadError::NoSchemaVersion { .. }));
    }

    #[test]
    fn right_version_wrong_shape_is_a_schema_error() {
        let err = parse_report(r#"{"schema_version": 1}"#, path()).unwrap_err();
        assert!(matches!(err, LoadError::Schema { .. }), "{err:?}");
    }
}
