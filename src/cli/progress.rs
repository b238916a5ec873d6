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

    /// Shows the latest counts.
    pub fn update(&self, p: Progress) {
        if let Some(bar) = &self.0 {
            bar.set_message(format!(
                "{} pages read, {} queued, {} in flight, {} skipped/failed, {} hosts",
                p.pages_done, p.queued, p.in_flight, p.misses, p.hosts
            ));
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
