//! The per-host cap: at most N requests in flight to one host, handed out first come,
//! first served, except that a retry goes before every first attempt still waiting.
//!
//! A request that waits out a `Retry-After` or a backoff holds no place while it
//! waits; without the priority it would then queue again behind every request that
//! arrived meanwhile, and a run with a few rate-limited requests would end a whole
//! queue's length after their waits did.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// The places of one host.
pub(crate) struct Gate {
    state: Mutex<State>,
}

struct State {
    free: usize,
    retries: VecDeque<oneshot::Sender<Permit>>,
    first_attempts: VecDeque<oneshot::Sender<Permit>>,
}

/// One place at the host, given back when dropped.
pub(crate) struct Permit {
    gate: Option<Arc<Gate>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(gate) = self.gate.take() {
            gate.release();
        }
    }
}

impl Gate {
    /// A gate with `places` places (at least 1).
    pub(crate) fn new(places: usize) -> Arc<Gate> {
        Arc::new(Gate {
            state: Mutex::new(State {
                free: places.max(1),
                retries: VecDeque::new(),
                first_attempts: VecDeque::new(),
            }),
        })
    }

    /// Waits for a place; a `retry` is served before first attempts.
    pub(crate) async fn enter(self: &Arc<Gate>, retry: bool) -> Permit {
        loop {
            let handed = {
                let mut state = self.state.lock().expect("gate lock");
                if state.free > 0 {
                    state.free -= 1;
                    return Permit {
                        gate: Some(Arc::clone(self)),
                    };
                }
                let (sender, receiver) = oneshot::channel();
                if retry {
                    state.retries.push_back(sender);
                } else {
                    state.first_attempts.push_back(sender);
                }
                receiver
            };
            // A sender is dropped unsent only with the gate, which `self` keeps alive;
            // should it happen, ask again rather than fail.
            if let Ok(permit) = handed.await {
                return permit;
            }
        }
    }

    /// Hands a place to the next waiter that is still waiting, else frees it.
    fn release(self: Arc<Gate>) {
        let mut state = self.state.lock().expect("gate lock");
        loop {
            let next = match state.retries.pop_front() {
                Some(sender) => Some(sender),
                None => state.first_attempts.pop_front(),
            };
            let Some(sender) = next else {
                state.free += 1;
                return;
            };
            let permit = Permit {
                gate: Some(Arc::clone(&self)),
            };
            if let Err(mut unsent) = sender.send(permit) {
                // That waiter gave up: the place goes to the next without a new release
                // (which would take this lock again).
                unsent.gate = None;
            } else {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_retry_enters_before_first_attempts_that_waited_longer() {
        let gate = Gate::new(1);
        let held = gate.enter(false).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for (name, retry) in [("first-a", false), ("first-b", false), ("retry", true)] {
            let gate = Arc::clone(&gate);
            let order = Arc::clone(&order);
            waiting.push(tokio::spawn(async move {
                let _permit = gate.enter(retry).await;
                order.lock().unwrap().push(name);
            }));
            tokio::task::yield_now().await;
        }
        // A waiter that gives up does not keep its place.
        let gone =
            tokio::time::timeout(std::time::Duration::from_millis(5), gate.enter(true)).await;
        assert!(gone.is_err());
        drop(held);
        for task in waiting {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["retry", "first-a", "first-b"]);
        // Every place came back.
        assert_eq!(gate.state.lock().unwrap().free, 1);
    }
}
