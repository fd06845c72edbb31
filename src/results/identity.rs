//! Which machine a results file comes from, defined once: its identity
//! (host, CPU, cores, memory, kernel), whether two records are the same
//! hardware (what `compare` asks before it judges a change), and a short
//! readable label ("2 cores · AMD EPYC 7B13 · 24 GiB") for tables, chart
//! panels and directory names. Pure: a `Machine` in, values out.

use super::Machine;

/// What tells two machines apart. Two results files with the same identity
/// come from one machine; `parabench report` refuses to put them side by
/// side as if they were two (see README, "Many machines").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MachineIdentity {
    pub hostname: Option<String>,
    pub cpu_brand: String,
    pub logical_cores: usize,
    pub physical_cores: Option<usize>,
    pub memory_bytes: u64,
    pub kernel: String,
}

impl std::fmt::Display for MachineIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "host {}, {}, {} logical cores, {} bytes of memory, kernel {}",
            self.hostname.as_deref().unwrap_or("unknown"),
            self.cpu_brand,
            self.logical_cores,
            self.memory_bytes,
            self.kernel
        )
    }
}

/// Words CPU brands carry that say nothing about the CPU.
const CPU_NOISE: [&str; 6] = ["(R)", "(r)", "(TM)", "(tm)", "CPU", "Processor"];

/// The most characters of a CPU brand a label keeps.
const MAX_CPU_CHARS: usize = 32;

impl Machine {
    pub fn identity(&self) -> MachineIdentity {
        MachineIdentity {
            hostname: self.hostname.clone(),
            cpu_brand: self.cpu_brand.clone(),
            logical_cores: self.logical_cores,
            physical_cores: self.physical_cores,
            memory_bytes: self.memory_bytes,
            kernel: self.kernel.clone(),
        }
    }

    /// The same CPU, cores and memory: timings of one may be judged against
    /// the other's. Host and kernel may differ (CI runners of one size).
    pub fn same_hardware(&self, other: &Machine) -> bool {
        self.cpu_brand == other.cpu_brand
            && self.logical_cores == other.logical_cores
            && self.memory_bytes == other.memory_bytes
    }

    /// `2 cores · AMD EPYC 7B13 · 24 GiB`: logical cores, the CPU without
    /// its trademarks and clock, memory in whole GiB (MiB below 1 GiB).
    pub fn label(&self) -> String {
        format!(
            "{} {} · {} · {}",
            self.logical_cores,
            if self.logical_cores == 1 {
                "core"
            } else {
                "cores"
            },
            short_cpu(&self.cpu_brand),
            memory(self.memory_bytes)
        )
    }
}

/// The CPU brand without trademarks, "CPU", "Processor", "N-Core" or the
/// clock ("@ 2.20GHz"), at most `MAX_CPU_CHARS` characters.
fn short_cpu(brand: &str) -> String {
    let before_clock = brand.split('@').next().unwrap_or(brand);
    let mut text = before_clock.to_owned();
    for noise in CPU_NOISE {
        text = text.replace(noise, " ");
    }
    let words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| !w.to_ascii_lowercase().ends_with("-core"))
        .collect();
    let short = words.join(" ");
    let short = if short.is_empty() {
        "unknown CPU".to_owned()
    } else {
        short
    };
    if short.chars().count() > MAX_CPU_CHARS {
        let cut: String = short.chars().take(MAX_CPU_CHARS - 1).collect();
        format!("{}…", cut.trim_end())
    } else {
        short
    }
}

fn memory(bytes: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    let gib = bytes as f64 / GIB;
    if gib >= 1.0 {
        format!("{} GiB", gib.round())
    } else {
        format!("{} MiB", (bytes as f64 / MIB).round())
    }
}

/// One label per machine, in order, each unique: the short label, then with
/// the host name where two share it, then with the kernel, then numbered.
pub fn distinct_labels(machines: &[&Machine]) -> Vec<String> {
    let levels: [&dyn Fn(&Machine) -> String; 3] = [
        &|m| m.label(),
        &|m| format!("{} · {}", m.label(), m.hostname.as_deref().unwrap_or("?")),
        &|m| {
            format!(
                "{} · {} · {}",
                m.label(),
                m.hostname.as_deref().unwrap_or("?"),
                m.kernel
            )
        },
    ];
    let mut labels: Vec<String> = machines.iter().map(|m| levels[0](m)).collect();
    for level in &levels[1..] {
        if unique(&labels) {
            return labels;
        }
        labels = machines
            .iter()
            .zip(&labels)
            .map(|(m, label)| {
                let shared = labels.iter().filter(|l| *l == label).count() > 1;
                if shared { level(m) } else { label.clone() }
            })
            .collect();
    }
    if unique(&labels) {
        return labels;
    }
    labels
        .iter()
        .enumerate()
        .map(|(idx, label)| format!("{label} #{}", idx + 1))
        .collect()
}

fn unique(labels: &[String]) -> bool {
    let set: std::collections::HashSet<&String> = labels.iter().collect();
    set.len() == labels.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(cpu: &str, cores: usize, gib: u64, host: &str) -> Machine {
        Machine {
            cpu_brand: cpu.into(),
            logical_cores: cores,
            physical_cores: Some(cores / 2),
            memory_bytes: gib << 30,
            os: "Linux".into(),
            kernel: "6.8.0".into(),
            hostname: Some(host.into()),
        }
    }

    #[test]
    fn labels_are_short_and_readable() {
        let m = machine("AMD EPYC 7B13 64-Core Processor", 2, 24, "a");
        assert_eq!(m.label(), "2 cores · AMD EPYC 7B13 · 24 GiB");
        let intel = machine("Intel(R) Xeon(R) CPU E5-2690 v4 @ 2.60GHz", 1, 0, "b");
        assert_eq!(intel.label(), "1 core · Intel Xeon E5-2690 v4 · 0 MiB");
        let long = machine(&"x".repeat(200), 4, 16, "c");
        assert!(long.label().chars().count() < 60, "{}", long.label());
    }

    #[test]
    fn labels_that_clash_take_the_host_then_a_number() {
        let a = machine("EPYC", 2, 8, "runner-a");
        let b = machine("EPYC", 2, 8, "runner-b");
        let c = machine("Xeon", 4, 8, "runner-c");
        let labels = distinct_labels(&[&a, &b, &c]);
        assert_eq!(labels[0], "2 cores · EPYC · 8 GiB · runner-a");
        assert_eq!(labels[1], "2 cores · EPYC · 8 GiB · runner-b");
        assert_eq!(labels[2], "4 cores · Xeon · 8 GiB");
        let twins = distinct_labels(&[&a, &a]);
        assert_ne!(twins[0], twins[1]);
    }

    #[test]
    fn identity_and_hardware_differ_in_host_and_kernel() {
        let a = machine("EPYC", 2, 8, "runner-a");
        let b = machine("EPYC", 2, 8, "runner-b");
        assert!(a.same_hardware(&b));
        assert_ne!(a.identity(), b.identity());
        let mut newer = a.clone();
        newer.kernel = "6.9.0".into();
        assert_ne!(a.identity(), newer.identity());
        let mut bigger = a.clone();
        bigger.logical_cores = 4;
        assert!(!a.same_hardware(&bigger));
        // The OS name alone (an upgrade of userland) is the same machine.
        let mut renamed = a.clone();
        renamed.os = "Ubuntu 24.04".into();
        assert_eq!(a.identity(), renamed.identity());
    }
}
