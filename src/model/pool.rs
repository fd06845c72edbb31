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

/// A handle and the sender that fulfils it.
pub(crate) fn handle<T>() -> (crossbeam_channel::Sender<T>, Handle<T>) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    (tx, Handle { rx })
}
