//! Mail received → Pending on another node: a customer's mail is accepted
//! by the mailbox's SMTP server (submission, relayed by Exim into Dovecot),
//! the fetching node (A) hears of it over IMAP IDLE, takes it in, and the
//! interaction reaches B by sync; timed until B's Pending lists it (B's
//! list is read through its control socket, a `meshdesk` process per read,
//! so the figure includes up to one read's latency). Real servers and
//! processes, as in `tests/tests/email.rs`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use meshdesk_tests::mail::{MailServers, only_a_fetches, pending, team};

fn mail_to_pending(c: &mut Criterion) {
    let servers = MailServers::start();
    let (a, b) = team(&servers);
    // Only A fetches, so the mail has to cross to B.
    only_a_fetches(&a, &b);
    std::thread::sleep(Duration::from_secs(2));
    let mut n = 0u64;
    let mut group = c.benchmark_group("email");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("mail received to pending on another node", |bench| {
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let before = pending(&b).len();
                servers.customer_sends(
                    &format!("<bench-{n}@customer.example>"),
                    &format!("Bench {n}"),
                    "hello",
                    None,
                );
                let start = Instant::now();
                while pending(&b).len() <= before {
                    assert!(
                        start.elapsed() < Duration::from_secs(30),
                        "the mail never reached B\n{}",
                        a.log()
                    );
                }
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, mail_to_pending);
criterion_main!(benches);
