//! Rendering pages that build their content with JavaScript, in headless Chromium (Debian's
//! `chromium`; nothing is downloaded). `decide.rs` says which served pages need it;
//! `browser.rs` runs the browser process (restarted if it dies, killed with mailpatrol);
//! `settle.rs` says when a page is done; this module renders one page at a time per tab of
//! a reused pool, under a time budget, and hands back the DOM.
//!
//! Scope is enforced by the browser itself: `--host-resolver-rules` sends every host
//! outside the institution's scope to "not found" (unless `allow_offscope_resources`), so
//! a rendered page can neither load nor leak requests elsewhere; the links of the rendered
//! DOM go back through the crawler's own scope check. Downloads are denied; dialogs are
//! dismissed.

mod browser;
mod decide;
mod settle;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chromiumoxide::cdp::browser_protocol::page::{
    DialogType, EventJavascriptDialogOpening, HandleJavaScriptDialogParams,
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
    /// Quiet time (no DOM change, no request started or ended) after which a page with
    /// nothing under way counts as settled.
    pub quiet: Duration,
    /// Quiet time (DOM size, loaded resources unchanged) after which a page counts as
    /// settled even with requests or timers under way; also the longest timer waited for.
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
            quiet: Duration::from_millis(settings.quiet_ms),
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
///
/// Tabs are reused: after a page, its tab forgets the page's session storage and goes back
/// to the pool; while no render waits for it, it is navigated to `about:blank` (so the page
/// stops running). A tab whose page timed out or that does not respond is closed; a new one
/// is opened when needed.
pub struct Renderer {
    options: Options,
    browser: Mutex<Option<(browser::Running, u64)>>,
    /// Browsers started so far: tabs of an earlier browser are not reused.
    launches: std::sync::atomic::AtomicU64,
    tabs: Arc<Semaphore>,
    idle: Arc<std::sync::Mutex<Vec<Tab>>>,
    renders: std::sync::atomic::AtomicU32,
}

/// An open tab and the browser it belongs to.
struct Tab {
    page: chromiumoxide::Page,
    launch: u64,
    /// Showing `about:blank`, not a page left from the last render.
    blank: bool,
    /// Pages rendered in this tab.
    uses: u64,
}

/// How long an idle tab keeps showing its last page before it is blanked.
const IDLE_BLANK: Duration = Duration::from_secs(1);

/// How long clearing, blanking or closing a tab may take.
const TAB_CHORE: Duration = Duration::from_secs(5);

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
        let tabs = Arc::new(Semaphore::new(options.concurrency));
        Ok(Arc::new(Renderer {
            options: Options {
                chromium: Some(path),
                ..options
            },
            browser: Mutex::new(None),
            launches: std::sync::atomic::AtomicU64::new(0),
            tabs,
            idle: Arc::new(std::sync::Mutex::new(Vec::new())),
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

    /// The running browser (started if needed) and which start it is.
    async fn browser(&self) -> Result<(Arc<chromiumoxide::Browser>, u64), Unavailable> {
        let mut slot = self.browser.lock().await;
        if let Some((b, launch)) = slot.as_ref().filter(|(b, _)| b.alive()) {
            return Ok((b.browser(), *launch));
        }
        if slot.take().is_some() {
            tracing::warn!("the browser died; starting a new one");
        }
        let path = self.options.chromium.clone().unwrap_or_default();
        let running = browser::Running::launch(&path, &self.options.host_rules).await?;
        let b = running.browser();
        let launch = self
            .launches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *slot = Some((running, launch));
        Ok((b, launch))
    }

    /// An idle tab of the current browser, or a new one: its settle script installed and
    /// its dialogs dismissed.
    async fn tab(&self, browser: &chromiumoxide::Browser, launch: u64) -> Result<Tab, RenderError> {
        let reused = {
            let mut idle = self
                .idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Tabs of a browser that died are gone with it.
            idle.retain(|t| t.launch == launch);
            idle.pop()
        };
        if let Some(tab) = reused {
            return Ok(tab);
        }
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
        let script = settle::init_script(
            self.options
                .settle
                .as_millis()
                .try_into()
                .unwrap_or(u64::MAX),
        );
        if let Err(e) = page.evaluate_on_new_document(script).await {
            // Pages still settle, the slow way (see settle.rs).
            tracing::warn!("cannot install the settle script in a tab: {e}");
        }
        // Dialogs (alert, confirm, prompt) would block the page: dismiss them; accept
        // "leave this page?" so the tab can move on.
        if let Ok(mut dialogs) = page.event_listener::<EventJavascriptDialogOpening>().await {
            let p = page.clone();
            tokio::spawn(async move {
                while let Some(d) = dialogs.next().await {
                    let leave = d.r#type == DialogType::Beforeunload;
                    let _ = p.execute(HandleJavaScriptDialogParams::new(leave)).await;
                }
            });
        }
        Ok(Tab {
            page,
            launch,
            blank: true,
            uses: 0,
        })
    }

    /// Renders `url` in a tab of the pool, within the time budget.
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
        let permit = Arc::clone(&self.tabs)
            .acquire_owned()
            .await
            .map_err(|_| RenderError {
                code: "render-failed",
                detail: "the renderer is shutting down".to_string(),
            })?;
        let began = Instant::now();
        let (browser, launch) = self.browser().await.map_err(|e| RenderError {
            code: "render-failed",
            detail: e.0,
        })?;
        let tab = self.tab(&browser, launch).await?;
        let opened = began.elapsed();
        let budget = self.options.timeout;
        let result = tokio::time::timeout(budget, self.load(&tab.page, url)).await;
        tracing::debug!(
            %url,
            tab_ms = opened.as_millis(),
            total_ms = began.elapsed().as_millis(),
            ok = matches!(result, Ok(Ok(_))),
            "rendered"
        );
        if let Ok(r) = result {
            if forget(&tab.page).await {
                let id = (tab.page.target_id().clone(), tab.uses + 1);
                self.idle
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(Tab {
                        blank: false,
                        uses: tab.uses + 1,
                        ..tab
                    });
                drop(permit);
                tokio::spawn(blank_idle(
                    Arc::clone(&self.idle),
                    Arc::clone(&self.tabs),
                    id,
                ));
            } else {
                close(tab.page).await;
                drop(permit);
            }
            r
        } else {
            // Closing goes through the browser process, so it works even when the
            // page's own renderer is stuck in a script loop.
            close(tab.page).await;
            drop(permit);
            Err(RenderError {
                code: "render-timeout",
                detail: format!(
                    "the page did not finish loading and settling within {} s (render.timeout_secs): a hanging request, a script loop or endless redirects; the served HTML was read instead",
                    budget.as_secs()
                ),
            })
        }
    }

    async fn load(&self, page: &chromiumoxide::Page, url: &Url) -> Result<Rendered, RenderError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| RenderError {
            code: "render-failed",
            detail: format!("{what}: {e}"),
        };
        let started = Instant::now();
        page.goto(url.as_str())
            .await
            .map_err(|e| failed("the browser could not load the page", &e))?;
        let loaded = started.elapsed();
        let html = self.settled(page).await?;
        tracing::debug!(%url, load_ms = loaded.as_millis(), settle_ms = started.elapsed().saturating_sub(loaded).as_millis(), "settled");
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
            let set = settle::touched(&format!(
                "location.hash = {}",
                serde_json::to_string(&target).unwrap_or_default()
            ));
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

    /// Waits until the page settles (settle.rs), then returns the DOM.
    async fn settled(&self, page: &chromiumoxide::Page) -> Result<String, RenderError> {
        settle::settled(page, self.options.quiet, self.options.settle).await
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

/// Forgets what the page left in its tab that would outlive a navigation to the next page:
/// the session storage of its origin and `window.name`. False when the tab does not
/// respond. (Everything else a page keeps — its script state, timers, requests — ends when
/// the tab navigates away.)
async fn forget(page: &chromiumoxide::Page) -> bool {
    let js = "try { sessionStorage.clear(); } catch (e) {} window.name = ''; true";
    matches!(
        tokio::time::timeout(TAB_CHORE, page.evaluate(js)).await,
        Ok(Ok(_))
    )
}

/// Unloads the page left in an idle tab (navigates it to `about:blank`) once the tab has
/// waited [`IDLE_BLANK`] for its next page, so that pages do not keep running — polling the
/// site, animating — in tabs nobody uses. A tab reused sooner navigates straight to its
/// next page, which unloads the old one anyway (blanking first would cost every render
/// about 0.1 s). Only when no render is waiting for a tab, and holding a permit meanwhile,
/// so there are never more tabs than `render.concurrency`. `id` is the tab and its use
/// count when it was put back.
async fn blank_idle(
    idle: Arc<std::sync::Mutex<Vec<Tab>>>,
    tabs: Arc<Semaphore>,
    id: (chromiumoxide::cdp::browser_protocol::target::TargetId, u64),
) {
    tokio::time::sleep(IDLE_BLANK).await;
    let Ok(permit) = tabs.try_acquire_owned() else {
        return;
    };
    let tab = {
        let mut idle = idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        idle.iter()
            .position(|t| !t.blank && t.uses == id.1 && t.page.target_id() == &id.0)
            .map(|i| idle.swap_remove(i))
    };
    let Some(mut tab) = tab else {
        return;
    };
    let t = Instant::now();
    let blanked = matches!(
        tokio::time::timeout(TAB_CHORE, tab.page.goto("about:blank")).await,
        Ok(Ok(_))
    );
    tracing::debug!(ms = t.elapsed().as_millis(), blanked, "idle tab blanked");
    if blanked {
        tab.blank = true;
        idle.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(tab);
    } else {
        close(tab.page).await;
    }
    drop(permit);
}

/// Closes a tab, waiting at most [`TAB_CHORE`].
async fn close(page: chromiumoxide::Page) {
    let _ = tokio::time::timeout(TAB_CHORE, page.close()).await;
}
