//! Rendering in the scan: for each served HTML page, whether to render it (the profile's
//! mode for its host, and `render::decide` for `auto`), and merging what the browser saw
//! into the page's extraction: addresses that were not in the served HTML are marked
//! `Source::Rendered`, links found only in the rendered DOM are followed, and the decision
//! is recorded in `Document::render`. A failed render is a problem of the page; the served
//! extraction stands.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use tokio::runtime::Handle;
use url::Url;

use crate::extract;
use crate::model::{Document, ReadProblem, Source};
use crate::profile::{Mode, RenderSettings};
use crate::render::{Renderer, Unavailable};

/// The scan's renderer, or why there is none.
pub(super) struct Rendering {
    settings: RenderSettings,
    renderer: Result<Arc<Renderer>, Unavailable>,
    handle: Handle,
    warned: AtomicBool,
}

impl Rendering {
    pub(super) fn new(
        settings: RenderSettings,
        renderer: Result<Arc<Renderer>, Unavailable>,
        handle: Handle,
    ) -> Rendering {
        Rendering {
            settings,
            renderer,
            handle,
            warned: AtomicBool::new(false),
        }
    }

    /// Renders the page at `url` when it needs it and merges the result into `doc` (the
    /// extraction of the served `html`). Runs on a blocking thread. Returns true when the
    /// browser rendered it.
    pub(super) fn apply(
        &self,
        url: &Url,
        html: &str,
        doc: &mut Document,
        count: &AtomicU32,
    ) -> bool {
        let host = url.host_str().unwrap_or_default();
        let reason = match self.settings.mode_for(host) {
            Mode::Never => return false,
            Mode::Always => "always".to_string(),
            Mode::Auto => match crate::render::decide(html) {
                Some(r) => r,
                None => return false,
            },
        };
        let renderer = match &self.renderer {
            Ok(r) => r,
            Err(e) => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "rendering is unavailable ({e}); pages that build their content with JavaScript are read as served"
                    );
                }
                doc.problems.push(ReadProblem {
                    skipped: true,
                    code: "needs-render".to_string(),
                    detail: format!("the page looks built by JavaScript ({reason}) but rendering is unavailable: {e}"),
                });
                return false;
            }
        };
        tracing::debug!(%url, %reason, "rendering");
        let rendered = match self.handle.block_on(renderer.render(url)) {
            Ok(r) => r,
            Err(e) => {
                doc.problems.push(ReadProblem {
                    skipped: false,
                    code: e.code.to_string(),
                    detail: e.detail,
                });
                doc.render = Some(format!("{reason}; failed"));
                return false;
            }
        };
        count.fetch_add(1, Ordering::Relaxed);
        merge(doc, &rendered.url, &rendered.html, None);
        for (route, dom) in &rendered.routes {
            merge(doc, &rendered.url, dom, Some(route));
        }
        doc.render = Some(reason);
        true
    }
}

/// Adds to `doc` what the rendered `dom` has beyond it: new addresses (marked rendered,
/// with the hash route as their location) and new links.
fn merge(doc: &mut Document, base: &Url, dom: &str, route: Option<&String>) {
    let rendered = extract::html(base, dom);
    let known: BTreeSet<String> = doc.emails.iter().map(|c| c.address.to_string()).collect();
    for mut c in rendered.emails {
        if known.contains(&c.address.to_string()) {
            continue;
        }
        c.source = Source::Rendered;
        if let Some(r) = route {
            c.location = Some(r.clone());
        }
        doc.emails.push(c);
    }
    let links: BTreeSet<Url> = doc.links.iter().cloned().collect();
    doc.links
        .extend(rendered.links.into_iter().filter(|l| !links.contains(l)));
    if doc.title.is_none() {
        doc.title = rendered.title;
    }
}
