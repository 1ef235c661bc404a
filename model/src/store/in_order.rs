//! Work on many documents spread over threads, each result handed back on
//! the calling thread (the one that holds the write transaction) in the
//! order of the input, as soon as it and those before it are ready: the
//! writing overlaps the loading and judging.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, sync_channel};

use super::{StoreError, StoreResult};

/// Threads that load, judge and read documents.
pub const THREADS: usize = 2;

/// How many items wait for each thread, and results for the caller: enough
/// to keep every thread busy, few enough to bound what is held.
const QUEUE: usize = 32;

/// Items handed over at a time, each way: a thread woken per item cost a
/// few percent of a first sync in futex calls.
const CHUNK: usize = 8;

/// Runs `work` on each of `items` on [`THREADS`] threads (one more reads
/// `items`, which may read from the store), and `take` on this thread on
/// each result, in order. Stops at the first error `take` returns.
pub(crate) fn in_order<I: Send, O: Send>(
    items: impl IntoIterator<Item = I, IntoIter: Send>,
    work: impl Fn(I) -> O + Sync,
    mut take: impl FnMut(O) -> StoreResult<()>,
) -> StoreResult<()> {
    std::thread::scope(|scope| {
        let (results_tx, results) = sync_channel::<Vec<(usize, O)>>(QUEUE * THREADS / CHUNK);
        let mut queues = Vec::with_capacity(THREADS);
        let mut workers = Vec::with_capacity(THREADS + 1);
        for _ in 0..THREADS {
            let (tx, rx): (_, Receiver<Vec<(usize, I)>>) = sync_channel(QUEUE / CHUNK);
            queues.push(tx);
            let results_tx = results_tx.clone();
            let work = &work;
            workers.push(scope.spawn(move || {
                for chunk in rx {
                    let done = chunk.into_iter().map(|(i, item)| (i, work(item))).collect();
                    // The caller is gone once `take` failed.
                    if results_tx.send(done).is_err() {
                        break;
                    }
                }
            }));
        }
        drop(results_tx);
        let items = items.into_iter();
        workers.push(scope.spawn(move || {
            let mut chunk = Vec::with_capacity(CHUNK);
            let mut sent = 0;
            for (i, item) in items.enumerate() {
                chunk.push((i, item));
                if chunk.len() == CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                    if queues[sent % THREADS].send(full).is_err() {
                        return;
                    }
                    sent += 1;
                }
            }
            if !chunk.is_empty() {
                let _ = queues[sent % THREADS].send(chunk);
            }
        }));
        let taken = (|| {
            let mut ready = BTreeMap::new();
            let mut next = 0;
            for done in results.iter() {
                ready.extend(done);
                while let Some(out) = ready.remove(&next) {
                    next += 1;
                    take(out)?;
                }
            }
            Ok(())
        })();
        drop(results);
        let mut joined = Ok(());
        for worker in workers {
            if worker.join().is_err() {
                joined = Err(StoreError::BadDocData {
                    doc: String::new(),
                    reason: "a loading thread panicked".into(),
                });
            }
        }
        taken.and(joined)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order_and_an_error_stops_the_rest() {
        let mut seen = Vec::new();
        in_order(
            0..500u32,
            |n| n * 2,
            |n| {
                seen.push(n);
                Ok(())
            },
        )
        .expect("all taken");
        assert_eq!(seen, (0..500).map(|n| n * 2).collect::<Vec<_>>());

        let mut taken = 0;
        let stopped = in_order(
            0..10_000u32,
            |n| n,
            |n| {
                taken += 1;
                if n == 7 {
                    return Err(StoreError::BadDocId("seven".into()));
                }
                Ok(())
            },
        );
        assert!(matches!(stopped, Err(StoreError::BadDocId(_))));
        assert_eq!(taken, 8, "nothing is taken after the error");
    }
}
