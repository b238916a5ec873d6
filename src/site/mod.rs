//! A small virtual-host HTTP server on loopback that serves a bundled or fixture site, for
//! `mailpatrol demo` and the integration tests. It is not part of the scan pipeline.
//!
//! A site is a tree `<root>/<host>/<path...>` (each top-level directory is one virtual host)
//! plus an optional `<root>/site.toml` of special routes (flaky statuses, redirects, lying
//! Content-Type headers, extra headers, delays and an endless calendar trap; the format is
//! described below). [`SiteFiles`] loads the whole tree into memory, from disk
//! ([`SiteFiles::from_dir`]) or from a directory embedded in the binary
//! ([`SiteFiles::from_include_dir`]); [`SiteServer::start`] serves it on `127.0.0.1` at an
//! ephemeral port. The server picks the site from the `Host` header, so the crawler reaches
//! every host through one address, either with `--resolve HOST:80:ADDR`
//! ([`SiteServer::resolve_entries`]) or by using the address as an HTTP proxy (requests then
//! arrive in absolute form, `GET http://host/path HTTP/1.1`).
//!
//! `/` and `/dir/` serve `index.html`; `/dir` redirects to `/dir/`; the Content-Type comes
//! from the file extension (`.html` is `text/html; charset=utf-8`); a query string never
//! changes which file is served. Unknown hosts and paths get a 404. [`SiteServer::hits`]
//! counts requests per host and path-and-query, so tests can check what was (not) fetched.
//!
//! # `site.toml`
//!
//! A list of `[[route]]` tables (unknown keys are errors), tried in file order. A route
//! matches one `host` and one exact `path`; the query is ignored unless `query_prefix` is
//! given. A route with `times = N` applies to its first N requests only, then it is spent and
//! the request falls through to the next route or the file.
//!
//! ```toml
//! [[route]]
//! host = "hr.example.edu.cn"
//! path = "/flaky.html"
//! status = 500                  # 4xx/5xx: a short error page with this status
//! times = 1                     # first request only ("flaky page"); absent = always
//!
//! [[route]]
//! host = "www.example.edu.cn"
//! path = "/busy.html"
//! status = 429
//! times = 1
//! headers = { "Retry-After" = "1" }     # extra response headers
//!
//! [[route]]
//! host = "www.example.edu.cn"
//! path = "/go-away"
//! status = 302                  # 301, 302, 303, 307 or 308 (302 when absent)
//! redirect = "http://elsewhere.example.org/landing"
//!
//! [[route]]
//! host = "math.example.edu.cn"
//! path = "/gbk.html"
//! content_type = "text/html; charset=utf-8"   # override; "" sends no Content-Type
//! delay_ms = 50                 # sleep before answering
//!
//! [[route]]
//! host = "www.example.edu.cn"
//! path = "/calendar/"
//! generate = "calendar"         # ?month=N links to ?month=N+1 and ?month=N-1, for ever
//! ```

mod routes;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use routes::{ContentType, Generator, Route, RoutesError};

/// The name of the special-routes file at the root of a site tree.
pub const SITE_TOML: &str = "site.toml";

/// How deep [`SiteFiles::from_dir`] descends before giving up (guards against symlink loops).
const MAX_DEPTH: usize = 32;

/// Why a site could not be loaded or served.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// A file or directory of the site tree could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file name in the site tree is not valid UTF-8, so it cannot be a URL path.
    #[error("{}: file name is not valid UTF-8", path.display())]
    BadFileName {
        /// The offending path.
        path: PathBuf,
    },
    /// `site.toml` is not valid TOML or not the expected shape (unknown field, wrong type...).
    #[error("{file}{}: {message}", position(*line, *column))]
    Parse {
        /// The `site.toml` file.
        file: String,
        /// 1-based line of the error, when known.
        line: Option<usize>,
        /// 1-based column of the error, when known.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A `[[route]]` of `site.toml` is well-formed but makes no sense.
    #[error("{file}: route #{index} (host {host:?}, path {path:?}): {reason}")]
    Route {
        /// The `site.toml` file.
        file: String,
        /// 1-based position of the route in the file.
        index: usize,
        /// The route's `host`, as written.
        host: String,
        /// The route's `path`, as written.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The listening socket could not be opened.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

fn routes_error(file: String, e: RoutesError) -> SiteError {
    match e {
        RoutesError::Parse {
            line,
            column,
            message,
        } => SiteError::Parse {
            file,
            line,
            column,
            message,
        },
        RoutesError::Route {
            index,
            host,
            path,
            reason,
        } => SiteError::Route {
            file,
            index,
            host,
            path,
            reason,
        },
    }
}

/// A whole site, in memory: every file keyed by `(host, path)` and the special routes.
///
/// Paths start with `/` and use `/` separators (`/jwc/index.html`); hosts are lower-case.
#[derive(Debug, Clone, Default)]
pub struct SiteFiles {
    files: BTreeMap<(String, String), Vec<u8>>,
    routes: Vec<Route>,
}

impl SiteFiles {
    /// Loads the site tree rooted at `root` from disk: each directory directly under `root`
    /// is a host, and `root/site.toml` (optional) holds the special routes. Other files
    /// directly under `root` (such as `EXPECTED.md`) are ignored.
    pub fn from_dir(root: &Path) -> Result<SiteFiles, SiteError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SiteError::Io { path, source }
        };
        let mut site = SiteFiles::default();
        for entry in std::fs::read_dir(root).map_err(io(root))? {
            let entry = entry.map_err(io(root))?;
            let path = entry.path();
            let meta = std::fs::metadata(&path).map_err(io(&path))?;
            let name = entry.file_name();
            let name = name
                .to_str()
                .ok_or_else(|| SiteError::BadFileName { path: path.clone() })?;
            if meta.is_dir() {
                let host = routes::normalize_host(name);
                read_host_dir(&path, &host, "", 0, &mut site.files)?;
            } else if name == SITE_TOML {
                let text = std::fs::read_to_string(&path).map_err(io(&path))?;
                site.routes = routes::parse_routes(&text)
                    .map_err(|e| routes_error(path.display().to_string(), e))?;
            }
        }
        Ok(site)
    }

    /// Loads a site tree embedded in the binary with `include_dir!`, laid out as for
    /// [`SiteFiles::from_dir`].
    pub fn from_include_dir(
        root: &'static include_dir::Dir<'static>,
    ) -> Result<SiteFiles, SiteError> {
        let mut site = SiteFiles::default();
        let base = root.path();
        for file in root.files() {
            if file.path().file_name().and_then(|n| n.to_str()) == Some(SITE_TOML) {
                let name = format!("{} (embedded)", file.path().display());
                let text = std::str::from_utf8(file.contents()).map_err(|e| SiteError::Parse {
                    file: name.clone(),
                    line: None,
                    column: None,
                    message: format!("not valid UTF-8: {e}"),
                })?;
                site.routes = routes::parse_routes(text).map_err(|e| routes_error(name, e))?;
            }
        }
        for dir in root.dirs() {
            let rel = dir.path().strip_prefix(base).unwrap_or(dir.path());
            let name = rel.to_str().ok_or_else(|| SiteError::BadFileName {
                path: rel.to_path_buf(),
            })?;
            let host = routes::normalize_host(name);
            let mut stack = vec![dir];
            while let Some(d) = stack.pop() {
                stack.extend(d.dirs());
                for file in d.files() {
                    let inner = file.path().strip_prefix(dir.path()).unwrap_or(file.path());
                    let url_path = url_path_of(inner)?;
                    site.files
                        .insert((host.clone(), url_path), file.contents().to_vec());
                }
            }
        }
        Ok(site)
    }

    /// Every host of the site: the top-level directories and the hosts named by routes.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts: BTreeSet<&str> = self.files.keys().map(|(h, _)| h.as_str()).collect();
        hosts.extend(self.routes.iter().map(|r| r.host.as_str()));
        hosts.into_iter().map(str::to_owned).collect()
    }

    /// The bytes of the file at `path` (e.g. `/index.html`) on `host`, if there is one.
    pub fn get(&self, host: &str, path: &str) -> Option<&[u8]> {
        self.files
            .get(&(host.to_owned(), path.to_owned()))
            .map(Vec::as_slice)
    }

    /// Number of files in the site.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the site has no file at all.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Number of special routes read from `site.toml`.
    pub fn route_count(&self) -> usize {
        self.routes.len()
    }
}

/// The URL path (`/a/b.html`) of a file at `rel` (relative to its host directory).
fn url_path_of(rel: &Path) -> Result<String, SiteError> {
    let mut out = String::new();
    for part in rel.components() {
        let s = part
            .as_os_str()
            .to_str()
            .ok_or_else(|| SiteError::BadFileName {
                path: rel.to_path_buf(),
            })?;
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

fn read_host_dir(
    dir: &Path,
    host: &str,
    prefix: &str,
    depth: usize,
    files: &mut BTreeMap<(String, String), Vec<u8>>,
) -> Result<(), SiteError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SiteError::Io { path, source }
    };
    if depth > MAX_DEPTH {
        return Err(SiteError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::other(format!("directory tree deeper than {MAX_DEPTH} levels")),
        });
    }
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name
            .to_str()
            .ok_or_else(|| SiteError::BadFileName { path: path.clone() })?;
        let url_path = format!("{prefix}/{name}");
        let meta = std::fs::metadata(&path).map_err(io(&path))?;
        if meta.is_dir() {
            read_host_dir(&path, host, &url_path, depth + 1, files)?;
        } else {
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            files.insert((host.to_owned(), url_path), bytes);
        }
    }
    Ok(())
}

/// Served files by `(host, path)`.
type FileMap = BTreeMap<(String, String), Arc<Vec<u8>>>;

/// What the request handler shares.
#[derive(Debug)]
struct Shared {
    /// Files by `(host, path)`; tests change them between scans.
    files: RwLock<FileMap>,
    /// Status codes forced at run time by tests (a page that starts failing).
    forced: Mutex<HashMap<(String, String), StatusCode>>,
    routes: Vec<Route>,
    /// How many times each route has been used (for `times`).
    route_uses: Vec<AtomicU32>,
    /// Requests per `(host, path_and_query)`.
    hits: Mutex<HashMap<(String, String), u32>>,
    hosts: BTreeSet<String>,
}

/// A running site server; dropping it stops the server.
#[derive(Debug)]
pub struct SiteServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SiteServer {
    /// Binds `127.0.0.1:0` and serves `files` from a background task of the current tokio
    /// runtime.
    pub async fn start(files: SiteFiles) -> Result<SiteServer, SiteError> {
        let hosts = files.hosts().into_iter().collect();
        let route_uses = files.routes.iter().map(|_| AtomicU32::new(0)).collect();
        let shared = Arc::new(Shared {
            files: RwLock::new(
                files
                    .files
                    .into_iter()
                    .map(|(k, v)| (k, Arc::new(v)))
                    .collect(),
            ),
            forced: Mutex::new(HashMap::new()),
            routes: files.routes,
            route_uses,
            hits: Mutex::new(HashMap::new()),
            hosts,
        });
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(SiteError::Bind)?;
        let addr = listener.local_addr().map_err(SiteError::Bind)?;
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                // Either an explicit stop or the sender being dropped.
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!("site server on {addr} stopped: {e}");
            }
        });
        tracing::debug!("site server listening on {addr}");
        Ok(SiteServer {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address the server listens on (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every virtual host served, sorted.
    pub fn hosts(&self) -> Vec<String> {
        self.shared.hosts.iter().cloned().collect()
    }

    /// One `"{host}:80:{addr}"` entry per host, the crawler's `--resolve HOST:PORT:ADDR`
    /// format (ADDR includes the server's real port).
    pub fn resolve_entries(&self) -> Vec<String> {
        self.shared
            .hosts
            .iter()
            .map(|h| format!("{h}:80:{}", self.addr))
            .collect()
    }

    /// How many requests arrived for `host` and `path_and_query` (e.g. `/a.html` or
    /// `/calendar/?month=2`), whatever the answer was.
    pub fn hits(&self, host: &str, path_and_query: &str) -> u32 {
        let hits = self
            .shared
            .hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        hits.get(&(routes::normalize_host(host), path_and_query.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Every `(host, path_and_query)` requested so far with its count, sorted.
    pub fn all_hits(&self) -> Vec<(String, String, u32)> {
        let hits = self
            .shared
            .hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<_> = hits
            .iter()
            .map(|((h, p), n)| (h.clone(), p.clone(), *n))
            .collect();
        all.sort();
        all
    }

    /// Replaces (or adds) the file served at `path` on `host`, as an edited page.
    pub fn set_file(&self, host: &str, path: &str, bytes: impl Into<Vec<u8>>) {
        let mut files = self
            .shared
            .files
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        files.insert(
            (routes::normalize_host(host), path.to_owned()),
            Arc::new(bytes.into()),
        );
    }

    /// Removes the file at `path` on `host` (it then answers 404, as a deleted page).
    pub fn remove_file(&self, host: &str, path: &str) {
        let mut files = self
            .shared
            .files
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        files.remove(&(routes::normalize_host(host), path.to_owned()));
    }

    /// Makes `path` on `host` answer `status` (e.g. 503) until cleared with `None`.
    pub fn force_status(&self, host: &str, path: &str, status: Option<u16>) {
        let mut forced = self
            .shared
            .forced
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = (routes::normalize_host(host), path.to_owned());
        match status.and_then(|s| StatusCode::from_u16(s).ok()) {
            Some(s) => {
                forced.insert(key, s);
            }
            None => {
                forced.remove(&key);
            }
        }
    }

    /// Stops accepting connections, lets requests in flight finish (for at most five
    /// seconds) and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for SiteServer {
    fn drop(&mut self) {
        // Dropping the sender also triggers the graceful shutdown; the task then ends on its
        // own once the open connections are closed.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The virtual host of a request: the `Host` header without its port, else the host of an
/// absolute-form request target.
fn request_host(req: &Request) -> Option<String> {
    let from_header = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(strip_port)
        .filter(|h| !h.is_empty());
    from_header
        .or_else(|| req.uri().host())
        .map(routes::normalize_host)
}

fn strip_port(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        // IPv6 literal: keep the brackets' content.
        return rest.split(']').next().unwrap_or(rest);
    }
    host.split(':').next().unwrap_or(host)
}

/// Percent-decodes a URL path; `None` when the result is not UTF-8 or nothing was encoded.
fn percent_decode(path: &str) -> Option<String> {
    if !path.contains('%') {
        return None;
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16)),
                bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16)),
            )
        {
            // Two hex digits: at most 0xff.
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'%'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn response(
    status: StatusCode,
    content_type: Option<HeaderValue>,
    body: impl Into<Body>,
) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    if let Some(ct) = content_type {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    resp
}

fn html(status: StatusCode, body: String) -> Response {
    response(
        status,
        Some(HeaderValue::from_static("text/html; charset=utf-8")),
        body,
    )
}

fn not_found_page() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>404 Not Found</title></head>\n\
         <body><h1>404 not found</h1><p>您访问的页面不存在。</p></body></html>\n"
            .to_owned(),
    )
}

/// Looks up the file for a request path: `/` and `/dir/` map to their `index.html`.
fn find_file(shared: &Shared, host: &str, path: &str) -> Option<(String, Arc<Vec<u8>>)> {
    let mut candidates = Vec::with_capacity(2);
    if path.ends_with('/') {
        candidates.push(format!("{path}index.html"));
        candidates.push(format!("{path}index.htm"));
    } else {
        candidates.push(path.to_owned());
    }
    let files = shared.files.read().unwrap_or_else(PoisonError::into_inner);
    candidates.into_iter().find_map(|p| {
        files
            .get(&(host.to_owned(), p.clone()))
            .map(|b| (p, Arc::clone(b)))
    })
}

/// Claims one use of route `i`; `false` when the route is spent.
fn claim(shared: &Shared, i: usize, route: &Route) -> bool {
    let Some(limit) = route.times else {
        return true;
    };
    let Some(uses) = shared.route_uses.get(i) else {
        return false;
    };
    uses.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
        (n < limit).then_some(n + 1)
    })
    .is_ok()
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let host = request_host(&req).unwrap_or_default();
    let raw_path = match req.uri().path() {
        "" => "/",
        p => p,
    }
    .to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{raw_path}?{q}"),
        None => raw_path.clone(),
    };
    {
        let mut hits = shared.hits.lock().unwrap_or_else(PoisonError::into_inner);
        *hits.entry((host.clone(), path_and_query)).or_insert(0) += 1;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut resp = html(
            StatusCode::METHOD_NOT_ALLOWED,
            routes::status_page(StatusCode::METHOD_NOT_ALLOWED),
        );
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    let decoded = percent_decode(&raw_path);
    let path = decoded.as_deref().unwrap_or(&raw_path);
    let forced = shared
        .forced
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&(host.clone(), path.to_owned()))
        .copied();
    if let Some(status) = forced {
        return html(status, routes::status_page(status));
    }
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let route = shared
        .routes
        .iter()
        .enumerate()
        .find(|(i, r)| r.matches(&host, &raw_path, path, &query) && claim(&shared, *i, r))
        .map(|(_, r)| r);
    if let Some(route) = route {
        return answer_route(&shared, route, &host, path, &query).await;
    }

    if !shared.hosts.contains(&host) {
        return response(
            StatusCode::NOT_FOUND,
            Some(HeaderValue::from_static("text/plain; charset=utf-8")),
            format!("unknown host {host:?}\n"),
        );
    }
    let resp = serve_file(&shared, &host, path, &query, StatusCode::OK, None);
    not_modified(resp, if_none_match.as_deref())
}

/// Answers 304 when the client already has this version (its `If-None-Match` equals the
/// ETag), as nginx does; the tests use it to check that unchanged pages are not re-read.
fn not_modified(resp: Response, if_none_match: Option<&str>) -> Response {
    let etag = resp
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok());
    match (etag, if_none_match) {
        (Some(e), Some(inm))
            if resp.status() == StatusCode::OK && inm.split(',').any(|t| t.trim() == e) =>
        {
            let mut r = response(StatusCode::NOT_MODIFIED, None, Vec::new());
            if let Ok(v) = HeaderValue::from_str(e) {
                r.headers_mut().insert(header::ETAG, v);
            }
            r
        }
        _ => resp,
    }
}

/// A strong ETag from the content: changes exactly when the bytes do.
fn etag(bytes: &[u8]) -> Option<HeaderValue> {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let hex = digest[..8].iter().fold(String::new(), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    });
    HeaderValue::from_str(&format!("\"{hex}\"")).ok()
}

async fn answer_route(
    shared: &Shared,
    route: &Route,
    host: &str,
    path: &str,
    query: &str,
) -> Response {
    if route.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(route.delay_ms)).await;
    }
    let default_html = || Some(HeaderValue::from_static("text/html; charset=utf-8"));
    let content_type = |default: Option<HeaderValue>| match &route.content_type {
        Some(ct) => ct.value(),
        None => default,
    };
    let mut resp = if route.generate == Some(Generator::Calendar) {
        let month = routes::calendar_month(query);
        response(
            route.status.unwrap_or(StatusCode::OK),
            content_type(default_html()),
            routes::calendar_page(&route.path, month),
        )
    } else if let Some(location) = &route.redirect {
        let mut r = response(
            route.status.unwrap_or(StatusCode::FOUND),
            content_type(default_html()),
            "<!DOCTYPE html>\n<html><body><p>Moved.</p></body></html>\n",
        );
        r.headers_mut().insert(header::LOCATION, location.clone());
        r
    } else if let Some(status) = route
        .status
        .filter(|s| s.is_client_error() || s.is_server_error())
    {
        response(
            status,
            content_type(default_html()),
            routes::status_page(status),
        )
    } else {
        serve_file(
            shared,
            host,
            path,
            query,
            route.status.unwrap_or(StatusCode::OK),
            route.content_type.as_ref(),
        )
    };
    for (name, value) in &route.headers {
        resp.headers_mut().insert(name.clone(), value.clone());
    }
    resp
}

/// Serves the file for `path` on `host` with `status`, the Content-Type from its extension
/// unless `content_type` overrides it; a directory without its trailing slash is redirected.
fn serve_file(
    shared: &Shared,
    host: &str,
    path: &str,
    query: &str,
    status: StatusCode,
    content_type: Option<&ContentType>,
) -> Response {
    if let Some((file_path, bytes)) = find_file(shared, host, path) {
        let ct = match content_type {
            Some(ct) => ct.value(),
            None => Some(HeaderValue::from_static(routes::content_type_for(
                &file_path,
            ))),
        };
        let mut resp = response(status, ct, bytes.to_vec());
        if let Some(tag) = etag(&bytes) {
            resp.headers_mut().insert(header::ETAG, tag);
        }
        return resp;
    }
    if !path.ends_with('/') && find_file(shared, host, &format!("{path}/")).is_some() {
        let target = if query.is_empty() {
            format!("{path}/")
        } else {
            format!("{path}/?{query}")
        };
        if let Ok(location) = HeaderValue::from_str(&target) {
            let mut resp = html(
                StatusCode::MOVED_PERMANENTLY,
                routes::status_page(StatusCode::MOVED_PERMANENTLY),
            );
            resp.headers_mut().insert(header::LOCATION, location);
            return resp;
        }
    }
    not_found_page()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::redirect::Policy;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const SITE_TOML_TEXT: &str = r#"
[[route]]
host = "www.t.cn"
path = "/flaky.html"
status = 500
times = 1

[[route]]
host = "www.t.cn"
path = "/busy.html"
status = 429
times = 1
headers = { "Retry-After" = "1" }

[[route]]
host = "www.t.cn"
path = "/go"
status = 301
redirect = "http://other.t.cn/"

[[route]]
host = "www.t.cn"
path = "/gbk.html"
content_type = "text/html; charset=utf-8"
headers = { "X-Lie" = "yes" }

[[route]]
host = "www.t.cn"
path = "/bare.html"
content_type = ""

[[route]]
host = "www.t.cn"
path = "/calendar/"
generate = "calendar"

[[route]]
host = "www.t.cn"
path = "/slow.html"
delay_ms = 30
"#;

    fn write(root: &Path, rel: &str, bytes: &[u8]) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "www.t.cn/index.html",
            "<title>www 首页</title>".as_bytes(),
        );
        write(root, "www.t.cn/dir/index.html", b"<title>dir</title>");
        write(root, "www.t.cn/flaky.html", b"flaky ok");
        write(root, "www.t.cn/busy.html", b"busy ok");
        write(root, "www.t.cn/slow.html", b"slow ok");
        write(root, "www.t.cn/bare.html", b"bare");
        write(root, "www.t.cn/gbk.html", &[0xd6, 0xd0, 0xce, 0xc4]); // "中文" in GBK
        write(
            root,
            "www.t.cn/robots.txt",
            b"User-agent: *\nDisallow: /private/\n",
        );
        write(root, "www.t.cn/files/a.pdf", b"%PDF-1.4\n");
        write(root, "www.t.cn/中文.html", "中文页".as_bytes());
        write(root, "Other.T.cn/index.html", b"<title>other</title>");
        write(root, "EXPECTED.md", b"ignored");
        write(root, SITE_TOML, SITE_TOML_TEXT.as_bytes());
        dir
    }

    async fn start() -> (tempfile::TempDir, SiteServer) {
        let dir = tree();
        let files = SiteFiles::from_dir(dir.path()).unwrap();
        let server = SiteServer::start(files).await.unwrap();
        (dir, server)
    }

    /// A client that reaches every virtual host through the server used as an HTTP proxy
    /// (absolute-form requests).
    fn proxy_client(server: &SiteServer) -> reqwest::Client {
        reqwest::Client::builder()
            .proxy(reqwest::Proxy::http(format!("http://{}", server.addr())).unwrap())
            .redirect(Policy::none())
            .build()
            .unwrap()
    }

    async fn get(client: &reqwest::Client, url: &str) -> (u16, Option<String>, Vec<u8>) {
        let resp = client.get(url).send().await.unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        (status, ct, resp.bytes().await.unwrap().to_vec())
    }

    /// Sends raw bytes and returns the raw answer.
    async fn raw(server: &SiteServer, request: &[u8]) -> String {
        let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn loads_tree() {
        let dir = tree();
        let files = SiteFiles::from_dir(dir.path()).unwrap();
        assert_eq!(
            files.hosts(),
            vec!["other.t.cn".to_owned(), "www.t.cn".to_owned()]
        );
        assert_eq!(
            files.get("www.t.cn", "/dir/index.html"),
            Some(&b"<title>dir</title>"[..])
        );
        assert!(files.get("www.t.cn", "/EXPECTED.md").is_none());
        assert_eq!(files.route_count(), 7);
        assert_eq!(files.len(), 11);
    }

    static DEMO: include_dir::Dir<'static> =
        include_dir::include_dir!("$CARGO_MANIFEST_DIR/src/demo/site");

    #[tokio::test]
    async fn bundled_demo_site_loads_and_serves() {
        let files = SiteFiles::from_include_dir(&DEMO).unwrap();
        assert_eq!(
            files.hosts(),
            ["cs", "hr", "lib", "math", "www"]
                .map(|h| format!("{h}.demo-univ.edu.cn"))
                .to_vec()
        );
        assert!(files.route_count() >= 5);
        assert!(files.get("www.demo-univ.edu.cn", "/EXPECTED.md").is_none());
        let server = SiteServer::start(files).await.unwrap();
        let client = proxy_client(&server);
        let (s, _, body) = get(&client, "http://www.demo-univ.edu.cn/").await;
        assert_eq!(s, 200);
        assert!(
            String::from_utf8(body)
                .unwrap()
                .contains("<title>演示理工大学</title>")
        );
        let (s, ct, body) = get(&client, "http://math.demo-univ.edu.cn/faculty.html").await;
        assert_eq!((s, ct.as_deref()), (200, Some("text/html; charset=utf-8")));
        assert!(
            std::str::from_utf8(&body).is_err(),
            "faculty.html must be GBK bytes"
        );
        let (_, ct, _) = get(&client, "http://math.demo-univ.edu.cn/").await;
        assert_eq!(ct.as_deref(), Some("text/html"));
        let (s, _, _) = get(&client, "http://hr.demo-univ.edu.cn/zhaopin.html").await;
        assert_eq!(s, 500);
        let (s, _, _) = get(&client, "http://hr.demo-univ.edu.cn/zhaopin.html").await;
        assert_eq!(s, 200);
        let (s, ct, body) = get(&client, "http://hr.demo-univ.edu.cn/files/notice.pdf").await;
        assert_eq!((s, ct.as_deref()), (200, Some("application/pdf")));
        assert!(body.starts_with(b"%PDF-"));
        let (s, _, body) = get(&client, "http://www.demo-univ.edu.cn/calendar/?month=3").await;
        assert_eq!(s, 200);
        assert!(String::from_utf8(body).unwrap().contains("?month=4"));
        let (s, _, _) = get(&client, "http://www.demo-univ.edu.cn/notice/missing.html").await;
        assert_eq!(s, 404);
        let (_, _, body) = get(&client, "http://cs.demo-univ.edu.cn/robots.txt").await;
        assert!(
            String::from_utf8(body)
                .unwrap()
                .contains("Disallow: /drafts/")
        );
    }

    #[tokio::test]
    async fn fixture_site_loads_and_serves() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/site");
        let files = SiteFiles::from_dir(&root).unwrap();
        assert_eq!(
            files.hosts(),
            ["dept-a", "dept-b", "www"]
                .map(|h| format!("{h}.fixture-univ.edu.cn"))
                .to_vec()
        );
        let server = SiteServer::start(files).await.unwrap();
        let client = proxy_client(&server);
        let resp = client
            .get("http://www.fixture-univ.edu.cn/go-away")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 302);
        assert_eq!(
            resp.headers()[header::LOCATION],
            "http://evil.example.org/landing"
        );
        let resp = client
            .get("http://www.fixture-univ.edu.cn/busy.html")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 429);
        assert_eq!(resp.headers()["retry-after"], "1");
        let (s, _, _) = get(&client, "http://www.fixture-univ.edu.cn/busy.html").await;
        assert_eq!(s, 200);
        let (s, _, body) = get(&client, "http://dept-b.fixture-univ.edu.cn/").await;
        assert_eq!(s, 200);
        assert!(
            String::from_utf8(body)
                .unwrap()
                .contains("<title>乙学院</title>")
        );
        let (s, ct, body) = get(&client, "http://dept-a.fixture-univ.edu.cn/gbk.html").await;
        assert_eq!((s, ct.as_deref()), (200, Some("text/html; charset=utf-8")));
        assert!(
            std::str::from_utf8(&body).is_err(),
            "gbk.html must be GBK bytes"
        );
        assert_eq!(server.hits("evil.example.org", "/landing"), 0);
    }

    #[test]
    fn site_toml_errors_name_the_file() {
        let dir = tree();
        write(
            dir.path(),
            SITE_TOML,
            b"[[route]]\nhost = \"a\"\npath = \"/\"\nstauts = 500\n",
        );
        let err = SiteFiles::from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("site.toml:4:1"), "{err}");
        assert!(err.contains("stauts"), "{err}");
        write(
            dir.path(),
            SITE_TOML,
            b"[[route]]\nhost = \"a\"\npath = \"/\"\n[[route]]\nhost = \"a\"\npath = \"nope\"\n",
        );
        let err = SiteFiles::from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("site.toml: route #2"), "{err}");
        assert!(err.contains("start with '/'"), "{err}");
        let err = SiteFiles::from_dir(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read"), "{err}");
    }

    #[tokio::test]
    async fn selects_virtual_host_with_resolve() {
        let (_dir, server) = start().await;
        let port = server.addr().port();
        let client = reqwest::Client::builder()
            .no_proxy()
            .resolve("www.t.cn", server.addr())
            .resolve("other.t.cn", server.addr())
            .resolve("nobody.t.cn", server.addr())
            .build()
            .unwrap();
        let (s, ct, body) = get(&client, &format!("http://www.t.cn:{port}/")).await;
        assert_eq!(s, 200);
        assert_eq!(ct.as_deref(), Some("text/html; charset=utf-8"));
        assert_eq!(String::from_utf8(body).unwrap(), "<title>www 首页</title>");
        let (s, _, body) = get(&client, &format!("http://other.t.cn:{port}/?x=1")).await;
        assert_eq!(s, 200);
        assert_eq!(body, b"<title>other</title>");
        let (s, ct, body) = get(&client, &format!("http://nobody.t.cn:{port}/")).await;
        assert_eq!(s, 404);
        assert_eq!(ct.as_deref(), Some("text/plain; charset=utf-8"));
        assert!(String::from_utf8(body).unwrap().contains("unknown host"));
        assert_eq!(
            server.resolve_entries(),
            vec![
                format!("other.t.cn:80:{}", server.addr()),
                format!("www.t.cn:80:{}", server.addr())
            ]
        );
        assert_eq!(server.hits("www.t.cn", "/"), 1);
        assert_eq!(server.hits("other.t.cn", "/?x=1"), 1);
        assert_eq!(server.hits("other.t.cn", "/"), 0);
    }

    #[tokio::test]
    async fn serves_through_proxy_in_absolute_form() {
        let (_dir, server) = start().await;
        let client = proxy_client(&server);
        let (s, _, body) = get(&client, "http://www.t.cn/dir/").await;
        assert_eq!((s, body.as_slice()), (200, &b"<title>dir</title>"[..]));
        let (s, ct, _) = get(&client, "http://www.t.cn/robots.txt").await;
        assert_eq!((s, ct.as_deref()), (200, Some("text/plain; charset=utf-8")));
        let (s, ct, body) = get(&client, "http://www.t.cn/files/a.pdf?download=1").await;
        assert_eq!((s, ct.as_deref()), (200, Some("application/pdf")));
        assert!(body.starts_with(b"%PDF-"));
        let (s, _, body) = get(&client, "http://www.t.cn/%E4%B8%AD%E6%96%87.html").await;
        assert_eq!(
            (s, String::from_utf8(body).unwrap().as_str()),
            (200, "中文页")
        );
        let resp = client.get("http://www.t.cn/dir").send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 301);
        assert_eq!(resp.headers()[header::LOCATION], "/dir/");
        assert_eq!(server.hits("www.t.cn", "/files/a.pdf?download=1"), 1);

        // Absolute form without a Host header: the host comes from the request target.
        let answer = raw(
            &server,
            b"GET http://other.t.cn/ HTTP/1.1\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("<title>other</title>"), "{answer}");
        // The Host header wins, and its port is ignored.
        let answer = raw(
            &server,
            b"GET http://other.t.cn/ HTTP/1.1\r\nHost: WWW.T.CN:80\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(answer.contains("www"), "{answer}");
    }

    #[tokio::test]
    async fn unknown_path_is_a_404_page() {
        let (_dir, server) = start().await;
        let client = proxy_client(&server);
        let (s, ct, body) = get(&client, "http://www.t.cn/notice/missing.html").await;
        assert_eq!(s, 404);
        assert_eq!(ct.as_deref(), Some("text/html; charset=utf-8"));
        assert!(String::from_utf8(body).unwrap().contains("not found"));
        assert_eq!(server.hits("www.t.cn", "/notice/missing.html"), 1);
        assert_eq!(server.hits("www.t.cn", "/private/secret.html"), 0);
        let resp = client.post("http://www.t.cn/").send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 405);
    }

    #[tokio::test]
    async fn flaky_then_ok_and_retry_after() {
        let (_dir, server) = start().await;
        let client = proxy_client(&server);
        let (s, ct, _) = get(&client, "http://www.t.cn/flaky.html").await;
        assert_eq!((s, ct.as_deref()), (500, Some("text/html; charset=utf-8")));
        let (s, _, body) = get(&client, "http://www.t.cn/flaky.html").await;
        assert_eq!((s, body.as_slice()), (200, &b"flaky ok"[..]));
        let (s, _, _) = get(&client, "http://www.t.cn/flaky.html").await;
        assert_eq!(s, 200);
        assert_eq!(server.hits("www.t.cn", "/flaky.html"), 3);

        let resp = client
            .get("http://www.t.cn/busy.html")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 429);
        assert_eq!(resp.headers()["retry-after"], "1");
        let resp = client
            .get("http://www.t.cn/busy.html")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        assert!(resp.headers().get("retry-after").is_none());
    }

    #[tokio::test]
    async fn redirects() {
        let (_dir, server) = start().await;
        let client = proxy_client(&server);
        let resp = client.get("http://www.t.cn/go?a=b").send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 301);
        assert_eq!(resp.headers()[header::LOCATION], "http://other.t.cn/");
    }

    #[tokio::test]
    async fn content_type_override_and_delay() {
        let (_dir, server) = start().await;
        let client = proxy_client(&server);
        let resp = client.get("http://www.t.cn/gbk.html").send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(resp.headers()["x-lie"], "yes");
        assert_eq!(
            resp.bytes().await.unwrap().as_ref(),
            &[0xd6, 0xd0, 0xce, 0xc4]
        );
        let (s, ct, _) = get(&client, "http://www.t.cn/bare.html").await;
        assert_eq!((s, ct), (200, None));
        let started = std::time::Instant::now();
        let (s, _, _) = get(&client, "http://www.t.cn/slow.html").await;
        assert_eq!(s, 200);
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    #[tokio::test]
    async fn calendar_is_endless() {
        let (_dir, server) = start().await;
        let client = proxy_client(&server);
        let (s, _, body) = get(&client, "http://www.t.cn/calendar/").await;
        assert_eq!(s, 200);
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains("href=\"/calendar/?month=1\""), "{body}");
        assert!(body.contains("href=\"/calendar/?month=-1\""), "{body}");
        let (_, _, body) = get(&client, "http://www.t.cn/calendar/?month=41").await;
        let body = String::from_utf8(body).unwrap();
        assert!(
            body.contains("?month=42\"") && body.contains("?month=40\""),
            "{body}"
        );
        let (s, _, body) = get(&client, "http://www.t.cn/calendar/?month=%ff&&=&month").await;
        assert_eq!(s, 200);
        assert!(String::from_utf8(body).unwrap().contains("?month=1\""));
        assert_eq!(server.hits("www.t.cn", "/calendar/?month=41"), 1);
        assert_eq!(server.hits("www.t.cn", "/calendar/"), 1);
    }

    #[tokio::test]
    async fn survives_malformed_requests() {
        let (_dir, server) = start().await;
        for request in [
            &b"GET /%zz%%%e4?%%%=&== HTTP/1.1\r\nHost: www.t.cn\r\nConnection: close\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: [::1\r\nConnection: close\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: :::\r\nConnection: close\r\n\r\n",
            b"garbage\r\n\r\n",
        ] {
            let answer = raw(&server, request).await;
            assert!(
                answer.is_empty() || answer.starts_with("HTTP/1."),
                "{answer}"
            );
        }
        let long = format!(
            "GET /{} HTTP/1.1\r\nHost: www.t.cn\r\nConnection: close\r\n\r\n",
            "a".repeat(200_000)
        );
        let _ = raw(&server, long.as_bytes()).await;
        let client = proxy_client(&server);
        let (s, _, _) = get(&client, "http://www.t.cn/").await;
        assert_eq!(s, 200);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn drop_stops_the_server() {
        let (_dir, server) = start().await;
        let addr = server.addr();
        drop(server);
        let mut refused = false;
        for _ in 0..50 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(refused, "server still accepting after drop");
    }
}
