//! When a rendered page is done: a small script, installed in every tab before any page
//! script runs (`Page.addScriptToEvaluateOnNewDocument`), counts what is still under way —
//! `fetch` calls and the reading of their bodies, `XMLHttpRequest`s, scripts inserted after
//! the load, short timers (`setTimeout` up to `settle` ms) — and notes when the DOM last
//! changed or a request started or ended (a `MutationObserver` on the whole document).
//!
//! A page counts as settled when it is loaded, nothing is under way and nothing changed for
//! `quiet` (fast: a page that fetches its data and builds its view is done in about
//! `quiet` after the last answer). A page that keeps something under way (a long poll, a
//! timer loop) still settles the old way: when its DOM size, loaded resources, address and
//! ready state stay the same for `settle`.

use std::time::{Duration, Instant};

use super::RenderError;

/// How often the page's state is read.
const POLL: Duration = Duration::from_millis(25);

/// Every how many polls the slower signature (the serialised DOM's length) is read.
const FULL_EVERY: u32 = 4;

/// Failed reads of the state in a row (the page is navigating itself, say) before the
/// render fails.
const MAX_READ_ERRORS: u32 = 8;

/// The name of the page-side state. Defined non-writable, so a page cannot replace it.
const STATE: &str = "__mailpatrolSettle";

/// The script run in every document of a tab before the page's own scripts. Timers of at
/// most `timer_limit_ms` count as work under way.
pub(super) fn init_script(timer_limit_ms: u64) -> String {
    r"(function () {
  if (window.__mailpatrolSettle) return;
  var s = { pending: 0, timers: 0, last: 0 };
  try { Object.defineProperty(window, '__mailpatrolSettle', { value: s }); } catch (e) { return; }
  var now = function () { return performance.now(); };
  var touch = function () { s.last = now(); };
  touch();
  var start = function () {
    s.pending++; touch();
    var done = false;
    return function () { if (!done) { done = true; s.pending--; touch(); } };
  };
  var track = function (p) {
    if (p && typeof p.then === 'function') { var end = start(); p.then(end, end); }
    return p;
  };
  if (window.fetch) {
    var fetch0 = window.fetch;
    window.fetch = function () { return track(fetch0.apply(this, arguments)); };
  }
  if (window.Response) {
    ['arrayBuffer', 'blob', 'formData', 'json', 'text'].forEach(function (m) {
      var read = Response.prototype[m];
      if (read) Response.prototype[m] = function () { return track(read.apply(this, arguments)); };
    });
  }
  if (window.XMLHttpRequest) {
    var send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function () {
      var end = start();
      this.addEventListener('loadend', end);
      try { return send.apply(this, arguments); } catch (e) { end(); throw e; }
    };
  }
  var set0 = window.setTimeout, clear0 = window.clearTimeout, clearI0 = window.clearInterval;
  var live = {};
  window.setTimeout = function (fn, ms) {
    var d = Number(ms) || 0;
    if (typeof fn !== 'function' || d > LIMIT) return set0.apply(window, arguments);
    var args = Array.prototype.slice.call(arguments, 2), id;
    s.timers++;
    id = set0.call(window, function () {
      if (live[id]) { delete live[id]; s.timers--; }
      return fn.apply(this, args);
    }, d);
    live[id] = true;
    return id;
  };
  var forget = function (id) { if (live[id]) { delete live[id]; s.timers--; } };
  window.clearTimeout = function (id) { forget(id); return clear0.apply(window, arguments); };
  window.clearInterval = function (id) { forget(id); return clearI0.apply(window, arguments); };
  var js = /^(|module|text\/javascript|application\/javascript|text\/ecmascript|application\/ecmascript)$/i;
  var watch = function (n) {
    if (n.tagName === 'SCRIPT' && n.src && js.test(n.type || '')) {
      var end = start();
      n.addEventListener('load', end);
      n.addEventListener('error', end);
    }
  };
  new MutationObserver(function (records) {
    touch();
    // Scripts inserted before the load hold up the load event already.
    if (document.readyState !== 'complete') return;
    for (var i = 0; i < records.length; i++) {
      var added = records[i].addedNodes;
      for (var j = 0; j < added.length; j++) {
        var n = added[j];
        if (n.nodeType !== 1) continue;
        watch(n);
        if (n.querySelectorAll) Array.prototype.forEach.call(n.querySelectorAll('script[src]'), watch);
      }
    }
  }).observe(document, { childList: true, subtree: true, characterData: true });
})();"
        .replace("LIMIT", &timer_limit_ms.to_string())
}

/// Marks the page busy now, before something that takes effect a moment later (setting
/// `location.hash` fires `hashchange` in a later task), then runs `js`.
pub(super) fn touched(js: &str) -> String {
    format!(
        "(function () {{ var s = window.{STATE}; if (s) s.last = performance.now(); {js}; }})()"
    )
}

/// What one read of the page's state says.
#[derive(Debug, PartialEq, serde::Deserialize)]
struct Probe {
    ready: String,
    href: String,
    /// Requests, inserted scripts and short timers under way; -1 without the script.
    pending: i64,
    /// Milliseconds since the DOM last changed or a request started or ended.
    quiet: f64,
    /// Loaded resources and the serialised DOM's length (-1 when not read).
    resources: i64,
    length: i64,
}

fn probe_js(full: bool) -> String {
    let slow = if full {
        "performance.getEntriesByType('resource').length, document.documentElement ? document.documentElement.outerHTML.length : 0"
    } else {
        "-1, -1"
    };
    format!(
        "(function () {{ var s = window.{STATE}; var a = [document.readyState, location.href, s ? s.pending + s.timers : -1, s ? performance.now() - s.last : -1, {slow}]; return JSON.stringify({{ready: a[0], href: a[1], pending: a[2], quiet: a[3], resources: a[4], length: a[5]}}); }})()"
    )
}

/// Waits until the page settles (see the module comment), then returns its DOM.
pub(super) async fn settled(
    page: &chromiumoxide::Page,
    quiet: Duration,
    settle: Duration,
) -> Result<String, RenderError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| RenderError {
        code: "render-failed",
        detail: format!("{what}: {e}"),
    };
    let quiet_ms = quiet.min(settle).as_secs_f64() * 1000.0;
    let (fast, full) = (probe_js(false), probe_js(true));
    let mut signature: Option<(String, String, i64, i64)> = None;
    let mut since = Instant::now();
    let mut errors = 0;
    for n in 0u32.. {
        let is_full = n % FULL_EVERY == 0;
        let read = page
            .evaluate(if is_full {
                full.as_str()
            } else {
                fast.as_str()
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|v| v.into_value::<String>().map_err(|e| e.to_string()))
            .and_then(|s| serde_json::from_str::<Probe>(&s).map_err(|e| e.to_string()));
        let probe = match read {
            Ok(p) => {
                errors = 0;
                p
            }
            Err(e) => {
                errors += 1;
                if errors >= MAX_READ_ERRORS {
                    return Err(failed("the page's state could not be read", &e));
                }
                tokio::time::sleep(POLL).await;
                continue;
            }
        };
        if probe.ready == "complete" && probe.pending == 0 && probe.quiet >= quiet_ms {
            break;
        }
        if is_full {
            let now = (probe.ready, probe.href, probe.resources, probe.length);
            if signature.as_ref() != Some(&now) {
                signature = Some(now);
                since = Instant::now();
            } else if since.elapsed() >= settle {
                break;
            }
        }
        tokio::time::sleep(POLL).await;
    }
    page.evaluate("document.documentElement ? document.documentElement.outerHTML : ''")
        .await
        .map_err(|e| failed("the rendered DOM could not be read", &e))
        .map(|v| v.into_value::<String>().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timer_limit_is_filled_in() {
        let js = init_script(500);
        assert!(js.contains("d > 500"));
        assert!(!js.contains("LIMIT"));
        assert!(js.contains(STATE));
    }

    #[test]
    fn probes_parse() {
        let p: Probe = serde_json::from_str(
            r#"{"ready":"complete","href":"http://a/","pending":0,"quiet":12.5,"resources":-1,"length":-1}"#,
        )
        .expect("probe");
        assert_eq!(p.pending, 0);
        assert!(probe_js(true).contains("outerHTML.length"));
        assert!(!probe_js(false).contains("outerHTML"));
        assert!(touched("location.hash = \"/x\"").contains("s.last = performance.now()"));
    }
}
