//! Rendering pages that build their content with JavaScript, in headless Chromium (Debian's
//! `chromium`; nothing is downloaded). `decide.rs` says which served pages need it;
//! `browser.rs` runs the browser process (restarted if it dies, killed with mailpatrol);
//! this module renders one page in its own tab under a time budget and hands back the DOM.
//!
//! Scope is enforced by the browser itself: `--host-resolver-rules` sends every host
//! outside the institution's scope to "not found" (unless `allow_offscope_resources`), so
//! a rendered page can neither load nor leak requests elsewhere; the links of the rendered
//! DOM go back through the crawler's own scope check. Downloads are denied; dialogs are
//! dismissed.

mod browser;
mod decide;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chromiumoxide::cdp::browser_protocol::page::{
    EventJavascriptDialogOpening, HandleJavaScriptDialogParams,
};
use futures::StreamExt as _;
use tokio::sync::{Mutex, Semaphore};
use url::Url;

pub use browser::find_chromium;
pub use decide::decide;

use crate::crawl::fetch::Resolve;
use crate::crawl::scope::Scope;
use crate::profile::RenderSettings;

/// What the browser made of a page.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The DOM after scripts ran, serialised (`document.documentElement.outerHTML`).
    pub html: String,
    /// Where the page ended up (after redirects and script navigation).
    pub url: Url,
    /// Hash routes of a single-page app (`#/contact`) reached from the page's links, each
    /// with its rendered DOM.
    pub routes: Vec<(String, String)>,
}

/// Hash routes rendered at most per page.
const MAX_ROUTES: usize = 20;

/// The page's links to its own hash routes (`#/x`, `#!/x`), as a JSON array.
const ROUTES_JS: &str = "JSON.stringify(Array.from(new Set(Array.from(document.querySelectorAll('a[href]')).map(function(a){return a.getAttribute('href')}).filter(function(h){return /^#!?\\//.test(h)}))))";

/// A page that could not be rendered; the served HTML is still read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    /// Stable kebab-case code for `errors.csv`: `render-timeout`, `render-failed`,
    /// `render-crashed`, `render-limit`.
    pub code: &'static str,
    /// What happened, for people.
    pub detail: String,
}

/// Chromium could not be started.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// How rendering runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The browser binary (found with [`find_chromium`] when `None`).
    pub chromium: Option<std::path::PathBuf>,
    /// Pages rendered at once.
    pub concurrency: usize,
    /// Budget for one page: load, scripts, settling.
    pub timeout: Duration,
    /// Quiet time (no DOM or resource change) after which a page counts as settled.
    pub settle: Duration,
    /// Pages rendered at most in this run.
    pub max_renders: u32,
    /// Host-resolver rules: `--resolve` entries, then in-scope hosts, then everything else
    /// to "not found" (unless off-scope resources are allowed).
    pub host_rules: String,
}

impl Options {
    /// Options from the profile's `[render]` table, the crawl's `--resolve` entries and its
    /// scope.
    #[must_use]
    pub fn new(settings: &RenderSettings, resolve: &[Resolve], scope: &Scope) -> Options {
        Options {
            chromium: settings.chromium.clone(),
            concurrency: settings.concurrency.max(1),
            timeout: Duration::from_secs(settings.timeout_secs.max(1)),
            settle: Duration::from_millis(settings.settle_ms),
            max_renders: settings.max_renders,
            host_rules: host_rules(resolve, scope, settings.allow_offscope_resources),
        }
    }
}

/// `--host-resolver-rules`: each `--resolve` entry mapped to its address (first match
/// wins), then — unless off-scope loads are allowed — every other host unresolvable except
/// the scope's. Chromium applies `EXCLUDE` to all rules, so with `--resolve` entries (test
/// and demo setups, where every host is mapped) only the mapped hosts resolve.
fn host_rules(resolve: &[Resolve], scope: &Scope, allow_offscope: bool) -> String {
    let mut rules: Vec<String> = resolve
        .iter()
        .filter(|r| allow_offscope || scope.host_in_scope(&r.host))
        .map(|r| format!("MAP {}:{} {}", r.host, r.port, r.addr))
        .collect();
    if !allow_offscope {
        rules.push("MAP * ~NOTFOUND".to_string());
        if resolve.is_empty() {
            rules.extend(
                scope
                    .host_patterns()
                    .into_iter()
                    .map(|p| format!("EXCLUDE {p}")),
            );
            rules.push("EXCLUDE localhost".to_string());
        }
    }
    rules.join(", ")
}

/// Headless Chromium with a pool of tabs. Cheap to share; the browser starts on the first
/// render and restarts after a crash.
pub struct Renderer {
    options: Options,
    browser: Mutex<Option<browser::Running>>,
    tabs: Semaphore,
    renders: std::sync::atomic::AtomicU32,
}

impl Renderer {
    /// Checks that a browser exists; does not start it yet.
    pub fn new(options: Options) -> Result<Arc<Renderer>, Unavailable> {
        let path = match &options.chromium {
            Some(p) if p.is_file() => p.clone(),
            Some(p) => {
                return Err(Unavailable(format!(
                    "render.chromium = {} does not exist",
                    p.display()
                )));
            }
            None => find_chromium().ok_or_else(|| {
                Unavailable(
                    "no Chromium found on PATH (chromium, chromium-browser, google-chrome): install it with `apt-get install chromium`, or set render.chromium in the profile"
                        .to_string(),
                )
            })?,
        };
        let tabs = Semaphore::new(options.concurrency);
        Ok(Arc::new(Renderer {
            options: Options {
                chromium: Some(path),
                ..options
            },
            browser: Mutex::new(None),
            tabs,
            renders: std::sync::atomic::AtomicU32::new(0),
        }))
    }

    /// Starts the browser now (to fail early, before a crawl).
    pub async fn start(&self) -> Result<(), Unavailable> {
        self.browser().await.map(|_| ())
    }

    /// Pages rendered so far.
    pub fn renders(&self) -> u32 {
        self.renders.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn browser(&self) -> Result<Arc<chromiumoxide::Browser>, Unavailable> {
        let mut slot = self.browser.lock().await;
        if let Some(b) = slot.as_ref().filter(|b| b.alive()) {
            return Ok(b.browser());
        }
        if slot.take().is_some() {
            tracing::warn!("the browser died; starting a new one");
        }
        let path = self.options.chromium.clone().unwrap_or_default();
        let running = browser::Running::launch(&path, &self.options.host_rules).await?;
        let b = running.browser();
        *slot = Some(running);
        Ok(b)
    }

    /// Renders `url` in a new tab, within the time budget.
    pub async fn render(&self, url: &Url) -> Result<Rendered, RenderError> {
        let n = self
            .renders
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n >= self.options.max_renders {
            return Err(RenderError {
                code: "render-limit",
                detail: format!(
                    "not rendered: render.max_renders ({}) reached in this run; raise it in the profile to render more pages",
                    self.options.max_renders
                ),
            });
        }
        let _tab = self.tabs.acquire().await.map_err(|_| RenderError {
            code: "render-failed",
            detail: "the renderer is shutting down".to_string(),
        })?;
        let browser = self.browser().await.map_err(|e| RenderError {
            code: "render-failed",
            detail: e.0,
        })?;
        let page = match tokio::time::timeout(self.options.timeout, browser.new_page("about:blank"))
            .await
        {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                return Err(RenderError {
                    code: "render-crashed",
                    detail: format!(
                        "the browser could not open a tab ({e}); it is restarted for the next page"
                    ),
                });
            }
            Err(_) => {
                return Err(RenderError {
                    code: "render-timeout",
                    detail: "the browser did not open a tab in time".to_string(),
                });
            }
        };
        let budget = self.options.timeout;
        let result = tokio::time::timeout(budget, self.load(&page, url)).await;
        // Closing goes through the browser process, so it works even when the page's own
        // renderer is stuck in a script loop.
        let _ = tokio::time::timeout(Duration::from_secs(5), page.close()).await;
        match result {
            Ok(r) => r,
            Err(_) => Err(RenderError {
                code: "render-timeout",
                detail: format!(
                    "the page did not finish loading and settling within {} s (render.timeout_secs): a hanging request, a script loop or endless redirects; the served HTML was read instead",
                    budget.as_secs()
                ),
            }),
        }
    }

    async fn load(&self, page: &chromiumoxide::Page, url: &Url) -> Result<Rendered, RenderError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| RenderError {
            code: "render-failed",
            detail: format!("{what}: {e}"),
        };
        // Dialogs (alert, confirm, prompt, beforeunload) would block the page: dismiss them.
        if let Ok(mut dialogs) = page.event_listener::<EventJavascriptDialogOpening>().await {
            let p = page.clone();
            tokio::spawn(async move {
                while dialogs.next().await.is_some() {
                    let _ = p.execute(HandleJavaScriptDialogParams::new(false)).await;
                }
            });
        }
        let started = Instant::now();
        page.goto(url.as_str())
            .await
            .map_err(|e| failed("the browser could not load the page", &e))?;
        let html = self.settled(page).await?;
        let final_url = page
            .url()
            .await
            .ok()
            .flatten()
            .and_then(|u| Url::parse(&u).ok())
            .map_or_else(
                || url.clone(),
                |mut u| {
                    u.set_fragment(None);
                    u
                },
            );
        // A hash-routed app shows its other views only after navigation inside the page:
        // visit the routes its links name, breadth first, while the budget lasts.
        let mut routes: Vec<(String, String)> = Vec::new();
        let mut queue: std::collections::VecDeque<String> = self.route_links(page).await.into();
        let mut seen: std::collections::BTreeSet<String> = queue.iter().cloned().collect();
        while let Some(route) = queue.pop_front() {
            if routes.len() >= MAX_ROUTES || started.elapsed() * 4 > self.options.timeout * 3 {
                break;
            }
            let target = route.trim_start_matches('#').to_string();
            let set = format!(
                "location.hash = {}",
                serde_json::to_string(&target).unwrap_or_default()
            );
            if page.evaluate(set).await.is_err() {
                continue;
            }
            let Ok(dom) = self.settled(page).await else {
                continue;
            };
            for next in self.route_links(page).await {
                if seen.insert(next.clone()) {
                    queue.push_back(next);
                }
            }
            routes.push((route, dom));
        }
        Ok(Rendered {
            html,
            url: final_url,
            routes,
        })
    }

    /// Waits until the DOM size and the number of loaded resources stay the same for
    /// `settle` (XHR answers and what they build have arrived), then returns the DOM.
    async fn settled(&self, page: &chromiumoxide::Page) -> Result<String, RenderError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| RenderError {
            code: "render-failed",
            detail: format!("{what}: {e}"),
        };
        let probe = "JSON.stringify([document.readyState, location.href, performance.getEntriesByType('resource').length, document.documentElement ? document.documentElement.outerHTML.length : 0])";
        let mut last = String::new();
        let mut since = Instant::now();
        loop {
            let now: String = page
                .evaluate(probe)
                .await
                .map_err(|e| failed("the page's state could not be read", &e))?
                .into_value()
                .unwrap_or_default();
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= self.options.settle {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        page.evaluate("document.documentElement ? document.documentElement.outerHTML : ''")
            .await
            .map_err(|e| failed("the rendered DOM could not be read", &e))
            .map(|v| v.into_value::<String>().unwrap_or_default())
    }

    /// The page's links to its own hash routes.
    async fn route_links(&self, page: &chromiumoxide::Page) -> Vec<String> {
        let Ok(v) = page.evaluate(ROUTES_JS).await else {
            return Vec::new();
        };
        let json: String = v.into_value().unwrap_or_default();
        serde_json::from_str(&json).unwrap_or_default()
    }
}
