//! The progress line on stderr while crawling. indicatif hides it when stderr is not a
//! terminal, so logs and CI output stay clean.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mailpatrol::crawl::Progress;

/// A spinner with counts (the total is unknown until the crawl ends).
#[derive(Clone)]
pub struct Bar(Option<ProgressBar>);

impl Bar {
    /// A bar on stderr, or nothing when disabled.
    pub fn new(enabled: bool) -> Bar {
        if !enabled {
            return Bar(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar(Some(bar))
    }

    /// Shows the latest counts: pages (and documents among them), the rate since the start,
    /// the frontier, failures and host activity.
    pub fn update(&self, p: Progress) {
        if let Some(bar) = &self.0 {
            let secs = bar.elapsed().as_secs_f64();
            let rate = if secs > 0.5 {
                f64::from(p.pages_done) / secs
            } else {
                0.0
            };
            let mut msg = format!(
                "{} pages read ({} documents), {rate:.1}/s, {} queued, {} in flight, {} skipped/failed, {} hosts ({} active",
                p.pages_done, p.documents, p.queued, p.in_flight, p.misses, p.hosts, p.hosts_active
            );
            if p.hosts_given_up > 0 {
                msg = format!("{msg}, {} given up", p.hosts_given_up);
            }
            msg.push(')');
            bar.set_message(msg);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
