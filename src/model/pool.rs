//! What the two pools share: the handle `submit` returns, whose result the
//! caller waits on with a deadline (concurrent.futures' Future.result).

use super::{Batch, ModelError, recv_until};
use std::time::Instant;

/// The pending result of one submitted job.
pub struct Handle<T> {
    pub(crate) rx: crossbeam_channel::Receiver<T>,
}

impl<T> Handle<T> {
    /// Waits for the result until the batch's deadline or Ctrl-C.
    pub fn wait(&self, batch: &Batch, started: Instant) -> Result<T, ModelError> {
        recv_until(&self.rx, batch, started)
    }

    /// The result if it is ready now.
    pub fn try_result(&self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Waits for every handle and returns their results in order. The last
/// first: the results before it arrive meanwhile without waking this thread
/// once each (a wake-up, often on the other core, for every task, and one
/// more thread contending for the cores with those that run the tasks), and
/// are then collected at once. Each result carries the time it arrived, so
/// latencies are as they were; this only saves the waiting thread's
/// wake-ups (10-15% of a process pool's per-task cost, measured on 5000
/// trivial tasks, paired rounds).
pub fn wait_all<T>(
    handles: &[Handle<T>],
    batch: &Batch,
    started: Instant,
) -> Result<Vec<T>, ModelError> {
    let Some((last, rest)) = handles.split_last() else {
        return Ok(Vec::new());
    };
    let last = last.wait(batch, started)?;
    let mut results = rest
        .iter()
        .map(|h| h.wait(batch, started))
        .collect::<Result<Vec<_>, _>>()?;
    results.push(last);
    Ok(results)
}

/// A handle and the sender that fulfils it.
pub(crate) fn handle<T>() -> (crossbeam_channel::Sender<T>, Handle<T>) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    (tx, Handle { rx })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    #[test]
    fn wait_all_returns_results_in_handle_order() {
        let cancel = AtomicBool::new(false);
        let batch = Batch {
            tasks: &[],
            workers: 1,
            deadline: Instant::now() + Duration::from_secs(30),
            cancel: &cancel,
            gil: None,
            shape: None,
            switch_interval: Duration::from_millis(5),
            start: Default::default(),
        };
        assert!(
            wait_all::<u8>(&[], &batch, Instant::now())
                .unwrap()
                .is_empty()
        );
        let (senders, handles): (Vec<_>, Vec<_>) = (0..4).map(|_| handle::<u8>()).unzip();
        for i in [3, 0, 2, 1] {
            senders[i].send(i as u8).unwrap();
        }
        assert_eq!(
            wait_all(&handles, &batch, Instant::now()).unwrap(),
            [0, 1, 2, 3]
        );
        let (_kept, pending) = handle::<u8>();
        let short = Batch {
            deadline: Instant::now() + Duration::from_millis(20),
            ..batch
        };
        assert!(matches!(
            wait_all(&[pending], &short, Instant::now()),
            Err(ModelError::TimedOut(_))
        ));
    }
}
