//! The floor of a re-scan (issue #5): only the conditional requests, nothing else.
//!
//! Reads every URL with its validators from a mailpatrol state database and sends one
//! conditional GET for each (`If-None-Match`, `If-Modified-Since`) through reqwest with the
//! same concurrency as the scan, routing every host to `127.0.0.1:PORT`. No parsing, no state
//! writes, no reports: what a re-scan cannot go below with this HTTP stack on this machine.
//!
//! ```text
//! cargo run --release --example bench_revalidate -- STATE.sqlite PORT [CONCURRENCY]
//! ```
//! `bench/rescan.sh` runs it after its two scans.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;

type Entry = (String, Option<String>, Option<String>);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(db), Some(port)) = (args.first(), args.get(1)) else {
        return Err("usage: bench_revalidate STATE.sqlite PORT [CONCURRENCY]".into());
    };
    let port: u16 = port.parse()?;
    let concurrency: usize = args.get(2).map_or(Ok(32), |c| c.parse())?;

    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare("SELECT url, etag, last_modified FROM resources")?;
    let entries: Vec<Entry> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;

    let mut builder = reqwest::Client::builder();
    let hosts: HashSet<String> = entries
        .iter()
        .filter_map(|(u, _, _)| url::Url::parse(u).ok()?.host_str().map(str::to_string))
        .collect();
    for host in &hosts {
        builder = builder.resolve(host, SocketAddr::from(([127, 0, 0, 1], port)));
    }
    let client = Arc::new(builder.build()?);

    let start = Instant::now();
    let statuses: Vec<u16> = futures::stream::iter(entries)
        .map(|(url, etag, modified)| {
            let client = Arc::clone(&client);
            async move {
                let mut req = client.get(&url);
                if let Some(e) = etag {
                    req = req.header(reqwest::header::IF_NONE_MATCH, e);
                }
                if let Some(m) = modified {
                    req = req.header(reqwest::header::IF_MODIFIED_SINCE, m);
                }
                match req.send().await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        // Read the body, as a scan does (empty for a 304).
                        let _ = resp.bytes().await;
                        status
                    }
                    Err(_) => 0,
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let secs = start.elapsed().as_secs_f64();
    let not_modified = statuses.iter().filter(|s| **s == 304).count();
    println!(
        "{} conditional requests ({} answered 304, {} failed) in {:.3} s: {:.0} requests/s",
        statuses.len(),
        not_modified,
        statuses.iter().filter(|s| **s == 0).count(),
        secs,
        f64::from(u32::try_from(statuses.len()).unwrap_or(u32::MAX)) / secs
    );
    Ok(())
}
