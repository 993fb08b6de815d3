//! Job queue throughput: enqueue + claim + complete, with 1 and 8 concurrent workers, on
//! SQLite and on a PostgreSQL started for the run; prints jobs/s and the number of jobs done
//! twice (must be 0). `cargo bench -p leakgate-store --bench queue`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use leakgate_store::{NewJob, Store};

#[path = "../tests/conformance/pg.rs"]
mod pg;

const JOBS: usize = 2000;

async fn run(store: &Store, workers: usize) -> (f64, usize) {
    let start = Instant::now();
    let enqueue = (0..workers).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            for i in (w..JOBS).step_by(workers) {
                store
                    .enqueue(&NewJob::new("bench", &format!("{{\"n\":{i}}}")))
                    .await
                    .expect("enqueue");
            }
        })
    });
    for t in enqueue.collect::<Vec<_>>() {
        t.await.expect("enqueue task");
    }
    let done = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let (store, done) = (store.clone(), done.clone());
            tokio::spawn(async move {
                let worker = format!("w{w}");
                loop {
                    let jobs =
                        store.claim(&worker, 8, Duration::from_secs(60)).await.expect("claim");
                    if jobs.is_empty() {
                        break;
                    }
                    for job in jobs {
                        store.complete(job.id, &worker).await.expect("complete");
                        done.lock().await.push(job.id);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("worker task");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let done = done.lock().await;
    let twice = done.len() - done.iter().collect::<HashSet<_>>().len();
    assert_eq!(done.len() - twice, JOBS, "every job done");
    (JOBS as f64 / elapsed, twice)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let cluster = pg::start_or_skip();
        for workers in [1, 8] {
            let url = format!("sqlite://{}", dir.path().join(format!("bench-{workers}.db")).display());
            let store = Store::connect(&url).await.expect("sqlite");
            let (rate, twice) = run(&store, workers).await;
            println!("sqlite    {workers} worker(s): {rate:>8.0} jobs/s (enqueue+claim+complete), done twice: {twice}");
            if let Some(pg) = &cluster {
                let url = pg.database(&format!("bench{workers}")).await;
                let store = Store::connect(&url).await.expect("postgres");
                let (rate, twice) = run(&store, workers).await;
                println!("postgres  {workers} worker(s): {rate:>8.0} jobs/s (enqueue+claim+complete), done twice: {twice}");
            }
        }
    });
}
