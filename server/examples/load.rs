//! Load generator for `POST /webhooks/github`: signed push deliveries over keep-alive
//! connections; prints accepted deliveries per second and latency percentiles, then checks
//! in the database that every delivery was stored exactly once.
//!
//! ```text
//! cargo run --release -p leakgate-server --example load -- \
//!     ADDR SECRET DELIVERIES CONNECTIONS [DATABASE_URL]
//! ```
//! `bench/webhooks.sh` starts the service on SQLite and on a throwaway PostgreSQL and runs it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn request(addr: &str, secret: &[u8], run: &str, i: usize) -> Vec<u8> {
    // A push payload of a typical size (~6 KB): GitHub sends the commit list, which the
    // service ignores.
    let commits: Vec<serde_json::Value> = (0..8)
        .map(|c| {
            serde_json::json!({
                "id": format!("{:040x}", i * 16 + c), "message": "Update the deployment configuration and its tests",
                "author": {"name": "Dev", "email": "dev@example.invalid"}, "added": [], "removed": [],
                "modified": ["config/deploy.yml", "src/main.rs", "README.md", "tests/deploy.rs"],
                "url": "https://github.com/acme/app/commit/0000000000000000000000000000000000000000",
            })
        })
        .collect();
    let body = serde_json::json!({
        "ref": "refs/heads/main", "before": format!("{:040x}", i * 2 + 1), "after": format!("{:040x}", i * 2 + 2),
        "repository": {"full_name": format!("acme/app-{}", i % 50), "clone_url": "https://github.com/acme/app.git"},
        "pusher": {"name": "dev"}, "installation": {"id": 1}, "commits": commits,
    })
    .to_string();
    let signature = leakgate_server::signature::sign_github(secret, body.as_bytes());
    let mut out = format!(
        "POST /webhooks/github HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: push\r\nX-GitHub-Delivery: {run}-{i}\r\nX-Hub-Signature-256: {signature}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Reads one response; returns its status.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let status = String::from_utf8_lossy(&buf[..head_end])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(status)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: load ADDR SECRET DELIVERIES CONNECTIONS [DATABASE_URL]");
        std::process::exit(2);
    }
    let (addr, secret) = (args[1].clone(), args[2].clone());
    let total: usize = args[3].parse()?;
    let connections: usize = args[4].parse()?;
    let run = format!("load-{}", std::process::id());
    // Requests are built before the clock starts: the generator shares the machine.
    let requests: Arc<Vec<Vec<u8>>> =
        Arc::new((0..total).map(|i| request(&addr, secret.as_bytes(), &run, i)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (addr, requests, next) = (addr.clone(), requests.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut stream = TcpStream::connect(&addr).await?;
            stream.set_nodelay(true)?;
            let mut buf = Vec::with_capacity(8192);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests.len() {
                    break;
                }
                let sent = Instant::now();
                stream.write_all(&requests[i]).await?;
                let status = read_response(&mut stream, &mut buf).await?;
                latencies.push(sent.elapsed());
                if status != 202 {
                    errors += 1;
                }
            }
            Ok::<_, std::io::Error>((latencies, errors))
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await??;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "deliveries={} connections={connections} seconds={:.2} rate={:.0}/s p50={:.2}ms p99={:.2}ms max={:.2}ms non_202={errors}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(*latencies.last().unwrap_or(&Duration::ZERO)),
    );
    if let Some(url) = args.get(5) {
        let store = leakgate_store::Store::connect_without_migrating(url).await?;
        let (queued, running, done, dead) = store.job_counts().await?;
        let jobs = queued + running + done + dead;
        println!("stored_jobs={jobs} expected={total} stored_once={}", jobs as usize == total);
    }
    Ok(())
}
