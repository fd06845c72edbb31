//! Deadlock detection on a lock board: the wait-for graph (each waiting
//! unit points at the unit that holds the lock it waits for) and a watch
//! that calls a deadlock only when every running unit waits, the graph has
//! a cycle, and nothing has moved for a while. The harness polls it while
//! a deadlock case runs in a child; it names the cycle in the case's status.

use super::board::{LockBoard, UnitState, UnitView};
use std::time::{Duration, Instant};

/// How long a cycle must stand still before it is called a deadlock: the
/// board is read cell by cell, so one reading could mix two moments; a
/// deadlock shows the same picture for ever.
pub const STALL: Duration = Duration::from_millis(100);

/// The cycle of a wait-for graph, if every running unit waits and one unit
/// leads back to itself: `[(unit, holds, waits for)]` in cycle order.
pub fn cycle(units: &[UnitView]) -> Option<Vec<(u32, u64, usize)>> {
    let running: Vec<u32> = (0..units.len() as u32)
        .filter(|&u| units[u as usize].state == UnitState::Running)
        .collect();
    if running.is_empty() || running.iter().any(|&u| units[u as usize].waits.is_none()) {
        return None;
    }
    let holder =
        |lock: usize| (0..units.len() as u32).find(|&u| units[u as usize].holds & (1 << lock) != 0);
    for &start in &running {
        let mut path = vec![start];
        let mut at = start;
        while let Some(next) = units[at as usize].waits.and_then(holder) {
            if let Some(from) = path.iter().position(|&u| u == next) {
                let edge = |&u: &u32| {
                    let v = units[u as usize];
                    (u, v.holds, v.waits.unwrap_or(0))
                };
                return Some(path[from..].iter().map(edge).collect());
            }
            if path.len() > units.len() {
                break;
            }
            path.push(next);
            at = next;
        }
    }
    None
}

/// "unit 0 holds L1 and waits for L2; unit 1 holds L2 and waits for L1".
pub fn describe(cycle: &[(u32, u64, usize)]) -> String {
    let locks = |holds: u64| {
        let held: Vec<String> = (0..2)
            .filter(|l| holds & (1 << l) != 0)
            .map(|l| format!("L{}", l + 1))
            .collect();
        held.join(" and ")
    };
    cycle
        .iter()
        .map(|&(u, holds, waits)| {
            format!(
                "unit {u} holds {} and waits for L{}",
                locks(holds),
                waits + 1
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Polls a board for a deadlock: the same cycle, with no unit's progress
/// changed, for at least [`STALL`].
pub struct Watch {
    since: Option<(Vec<UnitView>, Instant)>,
}

impl Watch {
    pub fn new() -> Watch {
        Watch { since: None }
    }

    /// The cycle, described, once the board has shown it unchanged for
    /// [`STALL`]; None while the units move (or before).
    pub fn poll(&mut self, board: &LockBoard) -> Option<String> {
        let now = board.snapshot();
        let Some(found) = cycle(&now) else {
            self.since = None;
            return None;
        };
        match &self.since {
            Some((seen, at)) if *seen == now => (at.elapsed() >= STALL).then(|| describe(&found)),
            _ => {
                self.since = Some((now, Instant::now()));
                None
            }
        }
    }
}

impl Default for Watch {
    fn default() -> Self {
        Watch::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(holds: u64, waits: Option<usize>) -> UnitView {
        UnitView {
            progress: 0,
            holds,
            waits,
            state: UnitState::Running,
        }
    }

    #[test]
    fn opposite_order_is_a_two_unit_cycle() {
        let units = [unit(0b01, Some(1)), unit(0b10, Some(0))];
        let c = cycle(&units).unwrap();
        assert_eq!(
            describe(&c),
            "unit 0 holds L1 and waits for L2; unit 1 holds L2 and waits for L1"
        );
    }

    #[test]
    fn a_unit_waiting_for_its_own_lock_is_a_cycle_of_one() {
        // Unit 1 waits behind unit 0, which waits for itself.
        let units = [unit(0b01, Some(0)), unit(0, Some(0))];
        let c = cycle(&units).unwrap();
        assert_eq!(describe(&c), "unit 0 holds L1 and waits for L1");
    }

    #[test]
    fn waiting_behind_a_working_holder_is_no_deadlock() {
        // Unit 0 holds L1 and computes; unit 1 waits for it.
        assert_eq!(cycle(&[unit(0b01, None), unit(0, Some(0))]), None);
        // Every unit waits, but for a lock nobody holds (just released).
        assert_eq!(cycle(&[unit(0, Some(0)), unit(0, Some(1))]), None);
        // Finished and unstarted units do not count; nothing runs: no cycle.
        let mut done = unit(0, None);
        done.state = UnitState::Finished;
        assert_eq!(cycle(&[done, UnitView::default()]), None);
    }
}
