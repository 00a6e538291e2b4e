//! The two-stage pipeline of a counter: the desk stage (archives, claim, identity check: the
//! network) runs the next job on its own thread while the devices make the card before it.
//! A rendezvous channel keeps the desk at most one job ahead, so no claim waits long for the
//! devices. `station batch` ([`crate::batch::run_batch`]) and the daemon's worker both use it.

use std::sync::mpsc;
use std::thread::Scope;

/// Runs `desk` on each item on a thread of `scope` (named `issuance-desk`); the devices' side
/// receives each result in order, when it is ready to take it. The stage ends when the items
/// do, or when the receiver is dropped.
pub fn desk_stage<'scope, I, P>(
    scope: &'scope Scope<'scope, '_>,
    items: impl IntoIterator<Item = I> + Send + 'scope,
    mut desk: impl FnMut(I) -> P + Send + 'scope,
) -> mpsc::Receiver<P>
where
    P: Send + 'scope,
{
    let (tx, rx) = mpsc::sync_channel::<P>(0);
    std::thread::Builder::new()
        .name("issuance-desk".into())
        .spawn_scoped(scope, move || {
            for item in items {
                if tx.send(desk(item)).is_err() {
                    return;
                }
            }
        })
        .unwrap_or_else(|e| panic!("cannot start the issuance desk thread: {e}"));
    rx
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn the_desk_runs_one_item_ahead_of_the_devices_and_in_order() {
        let prepared = AtomicUsize::new(0);
        let seen = std::thread::scope(|scope| {
            let rx = desk_stage(scope, 0..5, |i| {
                prepared.fetch_add(1, Ordering::SeqCst);
                i * 10
            });
            let mut seen = Vec::new();
            for got in rx {
                // The desk has prepared this item and at most the next one.
                let ahead = prepared.load(Ordering::SeqCst);
                assert!(ahead <= seen.len() + 2, "the desk ran {ahead} items for {} taken", seen.len() + 1);
                seen.push(got);
            }
            seen
        });
        assert_eq!(seen, [0, 10, 20, 30, 40]);
    }
}
