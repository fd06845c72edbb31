//! The model registry: what the rest of the harness knows about each model
//! beyond how to run it (its family, interpreter, colour, baseline and real
//! CPython twin), in one exhaustive match per question, so that a new
//! `ModelKind` variant does not compile until it has its row here.
//! Results files name models as strings; `parse` is the one way back from
//! such a string to a model, for the report, `fidelity` and `compare`.

use super::{ModelId, ModelKind};

/// How a model runs its tasks, whatever the interpreter: the report groups
/// and labels models by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Sequential,
    Threads,
    ThreadPool,
    Processes,
    ProcessPool,
    WorkStealing,
    Async,
    EventLoop,
    /// Stackful coroutines on one thread (greenlet, gevent).
    Coroutines,
}

impl Family {
    /// Plural, as a chart row or a sentence names the family.
    pub fn label(self) -> &'static str {
        match self {
            Family::Sequential => "sequential",
            Family::Threads => "threads",
            Family::ThreadPool => "thread pools",
            Family::Processes => "processes",
            Family::ProcessPool => "process pools",
            Family::WorkStealing => "work-stealing pools",
            Family::Async => "async tasks",
            Family::EventLoop => "event loops",
            Family::Coroutines => "coroutines",
        }
    }
}

/// Which interpreter world a model belongs to: the harness's own Rust models
/// (native, or under the emulated GIL) or real CPython. Each world has its
/// own sequential baseline and its own verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interpreter {
    Rust,
    Cpython,
}

/// A colour as red, green and blue; the renderers turn it into theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// One model's row.
struct Entry {
    family: Family,
    interpreter: Interpreter,
    /// Hand-picked so that neighbours in a legend differ in hue or lightness.
    colour: Rgb,
    /// Under the emulated GIL (`+gil`), a darker shade of `colour`; `None`
    /// exactly when the kind does not accept the GIL (checked by a test).
    gil_colour: Option<Rgb>,
    /// The real-CPython model this one stands for under the emulated GIL.
    twin: Option<ModelKind>,
}

impl ModelKind {
    fn entry(self) -> Entry {
        use Family as F;
        use Interpreter::{Cpython, Rust};
        use ModelKind as K;
        let row = |family, interpreter, colour, gil_colour, twin| Entry {
            family,
            interpreter,
            colour,
            gil_colour,
            twin,
        };
        match self {
            K::Sequential => row(F::Sequential, Rust, Rgb(110, 110, 110), None, None),
            K::Thread => row(
                F::Threads,
                Rust,
                Rgb(31, 119, 180),
                Some(Rgb(12, 48, 110)),
                Some(K::CpythonThread),
            ),
            K::ThreadPool => row(
                F::ThreadPool,
                Rust,
                Rgb(23, 190, 207),
                Some(Rgb(0, 110, 120)),
                Some(K::CpythonThreadPool),
            ),
            K::Process => row(
                F::Processes,
                Rust,
                Rgb(255, 127, 14),
                Some(Rgb(150, 75, 0)),
                Some(K::CpythonProcess),
            ),
            K::ProcessPool => row(
                F::ProcessPool,
                Rust,
                Rgb(214, 39, 40),
                Some(Rgb(120, 16, 16)),
                Some(K::CpythonProcessPool),
            ),
            K::Rayon => row(F::WorkStealing, Rust, Rgb(44, 160, 44), None, None),
            // Under a GIL, tokio's threads take turns like asyncio's one loop.
            K::Async => row(
                F::Async,
                Rust,
                Rgb(148, 103, 189),
                Some(Rgb(80, 40, 130)),
                Some(K::CpythonAsyncio),
            ),
            K::AsyncSingle => row(F::EventLoop, Rust, Rgb(227, 119, 194), None, None),
            K::Greenlet => row(
                F::Coroutines,
                Rust,
                Rgb(0, 180, 90),
                Some(Rgb(0, 90, 45)),
                Some(K::CpythonGreenlet),
            ),
            K::Gevent => row(
                F::Coroutines,
                Rust,
                Rgb(255, 210, 60),
                Some(Rgb(135, 150, 45)),
                Some(K::CpythonGevent),
            ),
            K::CpythonSequential => row(F::Sequential, Cpython, Rgb(60, 100, 80), None, None),
            K::CpythonThread => row(F::Threads, Cpython, Rgb(188, 189, 34), None, None),
            K::CpythonThreadPool => row(F::ThreadPool, Cpython, Rgb(140, 86, 75), None, None),
            K::CpythonProcess => row(F::Processes, Cpython, Rgb(204, 150, 0), None, None),
            K::CpythonProcessPool => row(F::ProcessPool, Cpython, Rgb(150, 0, 150), None, None),
            K::CpythonAsyncio => row(F::EventLoop, Cpython, Rgb(96, 140, 0), None, None),
            K::CpythonGreenlet => row(F::Coroutines, Cpython, Rgb(90, 210, 195), None, None),
            K::CpythonGevent => row(F::Coroutines, Cpython, Rgb(225, 75, 120), None, None),
            // Threads, each in its own interpreter with its own GIL.
            K::CpythonInterpreterPool => row(F::ThreadPool, Cpython, Rgb(0, 70, 200), None, None),
        }
    }

    pub fn family(self) -> Family {
        self.entry().family
    }

    pub fn interpreter(self) -> Interpreter {
        self.entry().interpreter
    }

    /// The real-CPython model this kind stands for when it runs under the
    /// emulated GIL (`thread` -> `cpython-thread`).
    pub fn cpython_twin(self) -> Option<ModelKind> {
        self.entry().twin
    }
}

impl ModelId {
    /// `kind` under the emulated GIL (`thread+gil`); the caller picks a kind
    /// that accepts it (see `ModelKind::accepts_gil`).
    pub const fn under_gil(kind: ModelKind) -> ModelId {
        ModelId {
            gil: true,
            ..ModelId::native(kind)
        }
    }

    pub fn family(self) -> Family {
        self.kind.family()
    }

    pub fn interpreter(self) -> Interpreter {
        self.kind.interpreter()
    }

    /// The colour of the model in every chart and table.
    pub fn colour(self) -> Rgb {
        let entry = self.kind.entry();
        let base = match (self.gil, entry.gil_colour) {
            (true, Some(shade)) => shade,
            _ => entry.colour,
        };
        // Other start methods: the same hue, lighter (fork) or greyer
        // (forkserver), so that a model's three lines read as one family.
        let mix = |Rgb(r, g, b): Rgb, to: u8, share: u16| {
            let m = |c: u8| ((u16::from(c) * (100 - share) + u16::from(to) * share) / 100) as u8;
            Rgb(m(r), m(g), m(b))
        };
        let base = match self.start {
            super::StartMethod::Spawn => base,
            super::StartMethod::Fork => mix(base, 255, 55),
            super::StartMethod::Forkserver => mix(base, 40, 45),
        };
        // Interpreters of one run: the same hue, lighter or darker by
        // version, so that `cpython-thread@3.12` and `@3.13` read as one
        // model and still differ.
        match self.python {
            None => base,
            Some(tag) => {
                let step = u16::from(tag.minor % 3) * 15 + 15;
                let to = if (tag.minor + u8::from(tag.free_threaded)) % 2 == 0 {
                    255
                } else {
                    0
                };
                mix(base, to, step)
            }
        }
    }

    /// The model this one's speedup is measured against: `sequential` for
    /// native and `+gil` models, `cpython-sequential` for `cpython-*`, in
    /// the same interpreter (`cpython-sequential@3.12` for
    /// `cpython-thread@3.12`).
    pub fn baseline(self) -> ModelId {
        ModelId::native(self.kind.baseline()).in_python(self.python)
    }

    /// True for the baselines themselves (run once, at one worker).
    pub fn is_baseline(self) -> bool {
        self.baseline() == self
    }

    /// The real-CPython model an emulated `+gil` model is judged against;
    /// `None` for native and CPython models.
    pub fn cpython_twin(self) -> Option<ModelId> {
        self.gil
            .then(|| self.kind.cpython_twin())
            .flatten()
            .map(|twin| ModelId::native(twin).started_by(self.start))
    }

    /// True when `name`, as a results file spells a model, names this one.
    pub fn is(self, name: &str) -> bool {
        parse(name) == Some(self)
    }
}

/// The model a results file names (`thread`, `thread+gil`,
/// `cpython-thread`, `process:fork`); `None` for a name this harness does
/// not know, which a file from another version may hold.
pub fn parse(name: &str) -> Option<ModelId> {
    ModelId::parse_started(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_id() -> Vec<ModelId> {
        ModelId::all_ids()
            .iter()
            .map(|id| parse(id).unwrap())
            .collect()
    }

    #[test]
    fn every_id_parses_back_to_itself() {
        for id in every_id() {
            assert_eq!(parse(&id.to_string()), Some(id));
            assert!(id.is(&id.to_string()));
        }
        assert_eq!(parse("green-threads"), None);
        assert_eq!(parse("sequential+gil"), None);
    }

    #[test]
    fn start_methods_are_named_after_the_model_except_spawn() {
        use super::super::StartMethod;
        let fork = parse("process-pool+gil:fork").unwrap();
        assert_eq!(
            (fork.kind, fork.gil, fork.start),
            (ModelKind::ProcessPool, true, StartMethod::Fork)
        );
        assert_eq!(fork.to_string(), "process-pool+gil:fork");
        assert_eq!(
            fork.cpython_twin().map(|t| t.to_string()).as_deref(),
            Some("cpython-process-pool:fork")
        );
        assert_eq!(
            parse("cpython-process:forkserver").unwrap().start,
            StartMethod::Forkserver
        );
        // Spawn is the default and never written; threads start no process.
        for bad in ["process:spawn", "thread:fork", "process:vfork", "process:"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        // A suite names start methods with `start_method`, not in `models`.
        assert_eq!(ModelId::parse("process:fork"), None);
        let ids: Vec<ModelId> = StartMethod::ALL
            .iter()
            .map(|&m| ModelId::native(ModelKind::Process).started_by(m))
            .collect();
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                assert_ne!(a.colour(), b.colour(), "{a} and {b}");
            }
        }
    }

    #[test]
    fn rows_agree_with_the_model_enum() {
        for kind in ModelKind::ALL.into_iter().chain(ModelKind::CPYTHON) {
            assert_eq!(
                kind.entry().gil_colour.is_some(),
                kind.accepts_gil(),
                "{kind}"
            );
            assert_eq!(
                kind.interpreter() == Interpreter::Cpython,
                kind.is_cpython(),
                "{kind}"
            );
            if let Some(twin) = kind.cpython_twin() {
                assert!(twin.is_cpython() && kind.accepts_gil(), "{kind}");
            }
        }
    }

    #[test]
    fn baselines_and_twins() {
        let id = |s: &str| parse(s).unwrap();
        assert_eq!(id("thread+gil").baseline(), id("sequential"));
        assert_eq!(id("cpython-thread").baseline(), id("cpython-sequential"));
        assert!(id("cpython-sequential").is_baseline());
        assert!(!id("thread").is_baseline());
        assert_eq!(id("thread+gil").cpython_twin(), Some(id("cpython-thread")));
        assert_eq!(id("async+gil").cpython_twin(), Some(id("cpython-asyncio")));
        assert_eq!(id("thread").cpython_twin(), None);
        assert_eq!(id("thread").colour(), Rgb(31, 119, 180));
    }

    #[test]
    fn interpreters_are_tagged_and_each_has_its_own_baseline() {
        let id = |s: &str| parse(s).unwrap();
        let thread = id("cpython-thread@3.12");
        assert_eq!(thread.kind, ModelKind::CpythonThread);
        assert_eq!(
            thread.python.map(|t| t.to_string()).as_deref(),
            Some("3.12")
        );
        assert_eq!(thread.baseline(), id("cpython-sequential@3.12"));
        assert_ne!(thread.baseline(), id("cpython-sequential@3.13"));
        assert!(id("cpython-sequential@2.7").is_baseline());
        assert!(!id("cpython-sequential@2.7").is("cpython-sequential"));
        let ft = id("cpython-process-pool@3.13t:fork");
        assert!(ft.python.unwrap().free_threaded);
        assert_eq!(ft.to_string(), "cpython-process-pool@3.13t:fork");
        // Only CPython models have an interpreter; a tag is `major.minor[t]`.
        for bad in [
            "thread@3.12",
            "thread+gil@3.12",
            "cpython-thread@",
            "cpython-thread@3",
            "cpython-thread@3.x",
            "cpython-thread@3.12.1",
            "cpython-thread@3.12tt",
            "cpython-thread@99999.1",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        // A suite names models without one: the plan tags them.
        assert_eq!(ModelId::parse("cpython-thread@3.12"), None);
        // Each interpreter's models look alike, and differ.
        let colours: Vec<Rgb> = [
            "cpython-thread",
            "cpython-thread@3.12",
            "cpython-thread@3.13",
        ]
        .iter()
        .map(|s| id(s).colour())
        .collect();
        assert_ne!(colours[0], colours[1]);
        assert_ne!(colours[1], colours[2]);
        assert_eq!(
            id("thread+gil").cpython_twin(),
            Some(id("cpython-thread")),
            "the emulated GIL's twin is untagged; fidelity pairs it with each interpreter"
        );
    }

    #[test]
    fn every_model_has_a_colour_of_its_own() {
        let ids = every_id();
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                let (ca, cb) = (a.colour(), b.colour());
                let distance = (i32::from(ca.0) - i32::from(cb.0)).abs()
                    + (i32::from(ca.1) - i32::from(cb.1)).abs()
                    + (i32::from(ca.2) - i32::from(cb.2)).abs();
                assert!(distance > 60, "{a} and {b} look alike");
            }
        }
    }
}
