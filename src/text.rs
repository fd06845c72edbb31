//! Untrusted text made safe for where it goes. Names come from suite files,
//! results files and git; this module is the one place that escapes them for
//! a terminal, for Markdown and for CSV, bounds their length, and turns them
//! into file-name slugs. HTML and SVG escaping stays with their renderers.
//! Pure: strings in, strings out.

use std::collections::HashSet;
use std::fmt::Write;

/// The longest scenario name a suite may use, in characters. Names appear in
/// table cells, headings, chart titles and (as slugs) file names; 200 is far
/// beyond any name a person would type and keeps every line readable.
pub const MAX_NAME_CHARS: usize = 200;

/// The longest slug, in characters, before its hash suffix. Chart files are
/// named `<slug>-<hash>-<chart>.png`; with this cap a file name stays well
/// under the 255 bytes that Linux and macOS allow, and a history case key
/// (`scenario/model/workers=N/tasks=N/...`) usually keeps all of its parts.
pub const MAX_SLUG_CHARS: usize = 120;

/// Why a name was refused; the caller names the key and the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("is {n_chars} characters long; names may have at most {MAX_NAME_CHARS}")]
    TooLong { n_chars: usize },
    #[error("contains the control character {escaped}; names are printed, so they may not")]
    Control { escaped: String },
}

/// Refuses a name longer than `MAX_NAME_CHARS` or holding a control
/// character (which would reach terminals and files only escaped anyway).
pub fn check_name(name: &str) -> Result<(), NameError> {
    let n_chars = name.chars().count();
    if n_chars > MAX_NAME_CHARS {
        return Err(NameError::TooLong { n_chars });
    }
    match name.chars().find(|&c| is_hazard(c)) {
        Some(c) => Err(NameError::Control {
            escaped: escape_char(c),
        }),
        None => Ok(()),
    }
}

/// Characters that a terminal, an editor or a spreadsheet may act on rather
/// than show: C0 and C1 controls and DEL (escape sequences start with them),
/// the line and paragraph separators, and the bidirectional overrides that
/// can make text read differently from what it holds ("Trojan Source").
fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'
                ..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// A hazard as visible text: `\n`, `\r`, `\t`, `\0`, else `\u{1b}`.
fn escape_char(c: char) -> String {
    match c {
        '\n' => "\\n".into(),
        '\r' => "\\r".into(),
        '\t' => "\\t".into(),
        '\0' => "\\0".into(),
        c => format!("\\u{{{:x}}}", u32::from(c)),
    }
}

/// Text for a terminal, lines kept: every hazard but `\n` is shown escaped,
/// so no escape sequence, carriage return or bell reaches the terminal.
/// For messages of several lines, such as an error with its snippet.
pub fn terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c != '\n' && is_hazard(c) {
            out.push_str(&escape_char(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// Text for one line of a terminal: like `terminal`, with `\n` escaped too,
/// so that a name cannot add rows to a table.
///
/// ```
/// use parabench::text::terminal_line;
/// assert_eq!(terminal_line("cpu\x1b[2Jscaling\nrow"), "cpu\\u{1b}[2Jscaling\\nrow");
/// ```
pub fn terminal_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_hazard(c) {
            out.push_str(&escape_char(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// Inline Markdown text (GitHub-flavoured) that renders as the characters it
/// holds, wherever it is put: a table cell, a heading, a paragraph, a list
/// item. Markup characters are backslash-escaped, `<`, `>` and `&` become
/// entities (no raw HTML), line breaks become spaces (a cell stays one cell),
/// other hazards are shown escaped, and what would start a block at the
/// beginning of a line (`-`, `+`, `=`, `1.`) is escaped too.
pub fn markdown(text: &str) -> String {
    let text = text.trim_start();
    let mut out = String::with_capacity(text.len() + 8);
    // Digits at the very start, which a `.` or `)` would make a list number.
    let mut in_leading_digits = true;
    for (idx, c) in text.chars().enumerate() {
        let starts_block = match c {
            '-' | '+' | '=' => idx == 0,
            '.' | ')' => in_leading_digits && idx > 0,
            _ => false,
        };
        in_leading_digits &= c.is_ascii_digit();
        match c {
            '\n' | '\r' | '\t' | '\u{2028}' | '\u{2029}' => out.push(' '),
            c if is_hazard(c) => out.push_str(&escape_char(c)),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '$' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if starts_block => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A Markdown code span for a table cell, for names that read better in a
/// fixed font (case keys, paths): the fence is longer than any run of
/// backticks inside, pipes are escaped as GitHub tables require even in code,
/// line breaks become spaces and other hazards are shown escaped. Empty text
/// gives an empty cell.
pub fn markdown_code(text: &str) -> String {
    let mut body = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' | '\u{2028}' | '\u{2029}' => body.push(' '),
            c if is_hazard(c) => body.push_str(&escape_char(c)),
            '|' => body.push_str("\\|"),
            c => body.push(c),
        }
    }
    if body.is_empty() {
        return body;
    }
    let longest_run = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    // One space on each side is stripped again by the reader; it keeps a
    // backtick at either end from merging with the fence.
    let pad = if body.starts_with(['`', ' ']) || body.ends_with(['`', ' ']) {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// A text cell for CSV, before RFC 4180 quoting. Hazards are shown escaped,
/// and a cell that a spreadsheet would run as a formula (it starts with `=`,
/// `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, as OWASP
/// advises for CSV injection. Only text cells go through here: numbers are
/// written as numbers, so a negative value stays a number.
///
/// ```
/// use parabench::text::csv_text;
/// assert_eq!(csv_text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
/// assert_eq!(csv_text("thread+gil"), "thread+gil");
/// ```
pub fn csv_text(text: &str) -> String {
    let escaped = terminal_line(text);
    if escaped.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{escaped}")
    } else {
        escaped
    }
}

/// JSON text with every hazard that serde leaves raw (DEL, C1 controls,
/// separators, bidi overrides; it escapes only C0) written as a `\uXXXX`
/// escape, so that printing the JSON cannot drive a terminal. The value is
/// unchanged: those characters occur only inside strings, where the escape
/// means the same character; the line feeds of pretty printing stay.
pub fn json(text: String) -> String {
    if !text.chars().any(|c| c != '\n' && is_hazard(c)) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c != '\n' && is_hazard(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// A file-name stem for `name`: lower-case ASCII letters and digits, other
/// runs of characters as one `-`, at most `MAX_SLUG_CHARS` long. A name cut
/// short gets `-` and a hash of the whole name, so that two long names that
/// share a beginning still differ; `Slugs` settles the remaining collisions.
pub fn slug(name: &str) -> String {
    let mut slug = String::new();
    let mut truncated = false;
    for c in name.chars() {
        if slug.len() >= MAX_SLUG_CHARS {
            truncated = true;
            break;
        }
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let trimmed = slug.trim_end_matches('-');
    let base = if trimmed.is_empty() {
        "unnamed"
    } else {
        trimmed
    };
    if truncated {
        format!("{base}-{}", short_hash(name))
    } else {
        base.to_owned()
    }
}

/// Eight hex digits of FNV-1a over the text: short, and the same in every
/// build and on every machine (std's hashers promise neither).
fn short_hash(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = String::with_capacity(8);
    let _ = write!(out, "{:08x}", (hash >> 32) as u32 ^ hash as u32);
    out
}

/// Hands out slugs that are unique within one report: the first name to
/// claim a slug gets it plain, a later, different name with the same slug
/// gets it with a hash of that name appended (and, should even that be
/// taken, a counter). Claiming the same name again returns its slug.
#[derive(Debug, Default)]
pub struct Slugs {
    taken: HashSet<String>,
    by_name: std::collections::HashMap<String, String>,
}

impl Slugs {
    pub fn new() -> Slugs {
        Slugs::default()
    }

    pub fn claim(&mut self, name: &str) -> String {
        if let Some(slug) = self.by_name.get(name) {
            return slug.clone();
        }
        let plain = slug(name);
        let hashed = format!("{plain}-{}", short_hash(name));
        let slug = [plain, hashed.clone()]
            .into_iter()
            .chain((2..).map(|n| format!("{hashed}-{n}")))
            .find(|candidate| !self.taken.contains(candidate))
            .expect("an unused suffix exists");
        self.taken.insert(slug.clone());
        self.by_name.insert(name.to_owned(), slug.clone());
        slug
    }
}

/// Hostile strings and checks shared by every writer's tests: each writer
/// renders these as names and asserts its output is inert.
#[cfg(test)]
pub(crate) mod hostile {
    /// Names an attacker (or an accident) could put in a suite or results file.
    pub(crate) fn names() -> Vec<String> {
        vec![
            "\x1b[31mred\x1b[0m".into(),
            "\x1b]0;title\x07".into(),
            "over\rwrite".into(),
            "nul\0byte".into(),
            "two\nlines".into(),
            "tab\there".into(),
            "`code` and ``more``".into(),
            "pipe|in|name".into(),
            "=cmd|' /C calc'!A0".into(),
            "+1".into(),
            "-2+3".into(),
            "@SUM(A1:A2)".into(),
            "*bold* _em_ [link](http://x) <b>html</b> &amp;".into(),
            "# heading".into(),
            "1. item".into(),
            "> quote".into(),
            "back\\slash\\|".into(),
            "\u{9b}31m c1 csi".into(),
            "rtl \u{202e}txt.exe".into(),
            "ünïcødé ✓ 名前".into(),
            "L".repeat(5000),
        ]
    }

    /// No character a terminal or editor would act on, line feeds aside.
    pub(crate) fn assert_no_hazard(output: &str) {
        if let Some((idx, c)) = output
            .char_indices()
            .find(|&(_, c)| c != '\n' && super::is_hazard(c))
        {
            let start = output[..idx]
                .char_indices()
                .rev()
                .nth(40)
                .map_or(0, |(i, _)| i);
            panic!(
                "raw {c:?} at byte {idx} in output, after: {:?}",
                &output[start..idx]
            );
        }
    }

    /// Whether the character at byte `idx` of `line` has a backslash before it.
    fn escaped(line: &str, idx: usize) -> bool {
        line[..idx].ends_with('\\')
    }

    /// Removes code spans (CommonMark: a run of n backticks up to the next
    /// run of exactly n), leaving what Markdown would parse as markup.
    fn outside_code(line: &str) -> String {
        let mut out = String::new();
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'`' && !escaped(line, i) {
                let run = bytes[i..].iter().take_while(|&&b| b == b'`').count();
                let fence = "`".repeat(run);
                let mut search = i + run;
                let mut close = None;
                while let Some(found) = line[search..].find(&fence) {
                    let at = search + found;
                    let len = bytes[at..].iter().take_while(|&&b| b == b'`').count();
                    if len == run {
                        close = Some(at);
                        break;
                    }
                    search = at + len;
                }
                match close {
                    Some(at) => {
                        out.push_str("CODE");
                        i = at + run;
                    }
                    // An unmatched run is literal text, and must have been escaped.
                    None => panic!("unmatched backtick run in {line:?}"),
                }
            } else {
                let c = line[i..].chars().next().unwrap();
                out.push(c);
                i += c.len_utf8();
            }
        }
        out
    }

    /// Markdown from a writer: no hazard; outside code spans every markup
    /// character is escaped (the writers' own `**bold**`, `<br>`, `![..](..)`
    /// links and table pipes aside); every table row has as many cells as
    /// its header.
    pub(crate) fn assert_inert_markdown(md: &str) {
        assert_no_hazard(md);
        let mut header_cells = None;
        for line in md.lines() {
            let text = outside_code(line);
            let plain = text.replace("<br>", " ").replace("**", "");
            let own_link = line.starts_with("![") || line.starts_with('[');
            for (idx, c) in plain.char_indices() {
                let markup = matches!(c, '`' | '*' | '_' | '<' | '~' | '$')
                    || (matches!(c, '[' | ']' | '!') && !own_link);
                assert!(
                    !markup || escaped(&plain, idx),
                    "unescaped {c:?} in Markdown line {line:?}"
                );
            }
            if line.starts_with('|') {
                let cells = line
                    .char_indices()
                    .filter(|&(idx, c)| c == '|' && !escaped(line, idx))
                    .count();
                match header_cells {
                    None => header_cells = Some(cells),
                    Some(n) => assert_eq!(cells, n, "a cell broke the table: {line:?}"),
                }
            } else {
                header_cells = None;
                if let Some(rest) = line.strip_prefix('#') {
                    // A heading is ours (`## `); a name may not add levels.
                    assert!(rest.trim_start_matches('#').starts_with(' '), "{line:?}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_capped_and_printable() {
        assert_eq!(check_name("cpu scaling (4 MiB) ✓"), Ok(()));
        assert_eq!(check_name(&"x".repeat(MAX_NAME_CHARS)), Ok(()));
        assert_eq!(
            check_name(&"é".repeat(MAX_NAME_CHARS + 1)),
            Err(NameError::TooLong {
                n_chars: MAX_NAME_CHARS + 1
            })
        );
        let err = check_name("a\x1b[2Jb").unwrap_err();
        assert_eq!(
            err.to_string(),
            "contains the control character \\u{1b}; names are printed, so they may not"
        );
    }

    #[test]
    fn terminal_text_shows_controls_escaped() {
        let cases = [
            ("plain ✓ 名前", "plain ✓ 名前"),
            ("\x1b[31mred", "\\u{1b}[31mred"),
            ("\x1b]0;title\x07", "\\u{1b}]0;title\\u{7}"),
            ("a\rb\0c\td", "a\\rb\\0c\\td"),
            ("\u{9b}2J", "\\u{9b}2J"),
            ("\u{7f}", "\\u{7f}"),
            ("x\u{202e}y", "x\\u{202e}y"),
        ];
        for (raw, want) in cases {
            assert_eq!(terminal_line(raw), want, "{raw:?}");
            assert_eq!(terminal(raw), want, "{raw:?}");
        }
        assert_eq!(terminal("line\nnext"), "line\nnext");
        assert_eq!(terminal_line("line\nnext"), "line\\nnext");
    }

    #[test]
    fn markdown_text_renders_as_written() {
        let cases = [
            ("cpu-scaling", "cpu-scaling"),
            ("a|b", "a\\|b"),
            ("`x`", "\\`x\\`"),
            ("*b* _e_", "\\*b\\* \\_e\\_"),
            ("[l](u)", "\\[l\\](u)"),
            ("![i](u)", "\\!\\[i\\](u)"),
            ("<script>&", "&lt;script&gt;&amp;"),
            ("# h", "\\# h"),
            ("> q", "&gt; q"),
            ("- item", "\\- item"),
            ("+1", "\\+1"),
            ("===", "\\==="),
            ("12. item", "12\\. item"),
            ("3) item", "3\\) item"),
            ("v1.2", "v1.2"),
            ("    indented", "indented"),
            ("two\nlines\r", "two lines "),
            ("\x1b[1m", "\\u{1b}\\[1m"),
            ("back\\slash", "back\\\\slash"),
            ("~~s~~ $x$", "\\~\\~s\\~\\~ \\$x\\$"),
        ];
        for (raw, want) in cases {
            assert_eq!(markdown(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn code_spans_hold_any_backticks() {
        let cases = [
            ("cpu/thread/workers=2", "`cpu/thread/workers=2`"),
            ("a`b", "``a`b``"),
            ("``x", "``` ``x ```"),
            ("x`", "`` x` ``"),
            ("a|b", "`a\\|b`"),
            ("a\nb\x1b", "`a b\\u{1b}`"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(markdown_code(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn csv_formulas_are_neutralised() {
        let cases = [
            ("threads", "threads"),
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "\\tx"),
            ("\r=1", "\\r=1"),
            ("a=1", "a=1"),
            ("nul\0", "nul\\0"),
        ];
        for (raw, want) in cases {
            assert_eq!(csv_text(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn json_keeps_its_value_and_loses_its_hazards() {
        for name in hostile::names() {
            let value = serde_json::json!({ "name": name, "list": [name] });
            let text = json(serde_json::to_string_pretty(&value).unwrap());
            hostile::assert_no_hazard(&text);
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&text).unwrap(),
                value
            );
        }
    }

    #[test]
    fn slugs_are_bounded_stable_and_unique() {
        assert_eq!(slug("CPU hash (4 MiB)"), "cpu-hash-4-mib");
        assert_eq!(slug("<script>alert(1)</script>"), "script-alert-1-script");
        assert_eq!(slug("ééé"), "unnamed");
        let long_a = format!("{}a", "n".repeat(5000));
        let long_b = format!("{}b", "n".repeat(5000));
        assert!(slug(&long_a).len() <= MAX_SLUG_CHARS + 9);
        assert_ne!(slug(&long_a), slug(&long_b));
        assert_eq!(slug(&long_a), slug(&long_a.clone()));
        // Stable across builds and machines: a fixed value.
        assert_eq!(short_hash("cpu"), "f91beed0");

        let mut slugs = Slugs::new();
        let first = slugs.claim("CPU hash");
        let second = slugs.claim("cpu-hash");
        let third = slugs.claim("cpu hash!");
        assert_eq!(first, "cpu-hash");
        assert_eq!(second, format!("cpu-hash-{}", short_hash("cpu-hash")));
        assert_ne!(third, first);
        assert_ne!(third, second);
        assert_eq!(slugs.claim("CPU hash"), first);
    }

    #[test]
    fn the_checks_catch_what_they_are_for() {
        use hostile::*;
        assert!(std::panic::catch_unwind(|| assert_no_hazard("a\x1bb")).is_err());
        assert!(
            std::panic::catch_unwind(|| assert_inert_markdown("| a |\n|---|\n| b | c |")).is_err()
        );
        assert!(std::panic::catch_unwind(|| assert_inert_markdown("x *y*")).is_err());
        assert!(std::panic::catch_unwind(|| assert_inert_markdown("`a``")).is_err());
        assert_inert_markdown("| a |\n|---|\n| `x\\|y` \\| |\n\n**ok** <br> ``a`b``");
        for name in names() {
            assert_inert_markdown(&format!("| h |\n|---|\n| {} |", markdown(&name)));
            assert_inert_markdown(&format!("| h |\n|---|\n| {} |", markdown_code(&name)));
            assert_inert_markdown(&format!("## {}", markdown(&name)));
            assert_no_hazard(&terminal_line(&name));
        }
    }
}
