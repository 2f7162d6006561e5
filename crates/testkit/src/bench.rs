//! The load generator the services' benchmark commands share: a fixed
//! number of concurrent workers repeat an operation until a deadline, and
//! the latencies become throughput and nearest-rank percentiles.

use std::future::Future;
use std::time::{Duration, Instant};

/// Throughput and latency of one measurement.
#[derive(Clone, Debug)]
pub struct Stats {
    /// Successful operations.
    pub count: usize,
    pub per_sec: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub errors: usize,
}

/// The nearest-rank percentile `p` (0..=1) of sorted values; 0 when empty.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Stats {
    /// From per-operation latencies in microseconds (nearest-rank percentiles).
    pub fn from_latencies(mut lat: Vec<u64>, errors: usize, elapsed: Duration) -> Stats {
        lat.sort_unstable();
        Stats {
            count: lat.len(),
            per_sec: lat.len() as f64 / elapsed.as_secs_f64().max(1e-9),
            p50_us: percentile(&lat, 0.50),
            p99_us: percentile(&lat, 0.99),
            errors,
        }
    }

    /// One aligned line: `name  N unit  p50 .. ms  p99 .. ms  n=.. errors=..`.
    pub fn print(&self, name: &str, unit: &str) {
        println!(
            "{name:<40} {:>9.0} {unit:<7} p50 {:>7.2} ms   p99 {:>7.2} ms   n={} errors={}",
            self.per_sec,
            self.p50_us as f64 / 1000.0,
            self.p99_us as f64 / 1000.0,
            self.count,
            self.errors
        );
    }
}

/// Runs `op(worker, iteration)` from `concurrency` tasks until `seconds`
/// have passed. An `Err` counts as an error (the first one is printed).
pub async fn run<F, Fut>(seconds: f64, concurrency: usize, op: F) -> anyhow::Result<Stats>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|worker| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(8192);
                let mut errors = 0usize;
                let mut n = 0usize;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match op(worker, n).await {
                        Ok(()) => lat.push(t.elapsed().as_micros() as u64),
                        Err(e) => {
                            if errors == 0 {
                                eprintln!("error: {e:#}");
                            }
                            errors += 1;
                        }
                    }
                    n += 1;
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    Ok(Stats::from_latencies(all, errors, started.elapsed()))
}

/// HTTP load: warms one connection per worker, then sends requests built by
/// `make` until `seconds` pass; a non-2xx answer counts as an error.
pub async fn http<F>(seconds: f64, concurrency: usize, make: F) -> anyhow::Result<Stats>
where
    F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync + Clone + 'static,
{
    let client = platform::http_client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    for _ in 0..concurrency {
        let _ = make(&client).send().await?.bytes().await;
    }
    run(seconds, concurrency, move |_, _| {
        let req = make(&client);
        async move {
            let r = req.send().await?;
            let status = r.status();
            let _ = r.bytes().await?;
            if status.is_success() {
                Ok(())
            } else {
                anyhow::bail!("HTTP {status}")
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = Stats::from_latencies((1..=100).rev().collect(), 2, Duration::from_secs(2));
        assert_eq!((s.count, s.p50_us, s.p99_us, s.errors), (100, 50, 99, 2));
        assert!((s.per_sec - 50.0).abs() < 1e-9);
        let empty = Stats::from_latencies(vec![], 0, Duration::from_secs(1));
        assert_eq!((empty.p50_us, empty.p99_us), (0, 0));
    }
}
