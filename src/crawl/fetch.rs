//! HTTP: one shared reqwest client, timeouts, retries with exponential back-off on timeouts,
//! connection errors and 5xx, `Retry-After` on 429/503, a byte cap per response read as a
//! stream, and `--resolve` / proxy routing. Redirects are not followed here: each hop goes
//! back to the frontier, so scope, robots.txt and dedup apply to every hop.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{
    CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION,
    RETRY_AFTER,
};
use reqwest::{Client, StatusCode};
use url::Url;

use crate::error::ScanError;
use crate::model::Validators;
use crate::profile::CrawlSettings;

/// A `--resolve HOST:PORT:ADDR` entry, as in curl: requests for `HOST` on `PORT` go to
/// `ADDR`. `ADDR` may carry a port of its own (`127.0.0.1:8080`, like curl's `--connect-to`),
/// which is how the demo and the tests serve several virtual hosts from one loopback port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    /// Host name as it appears in URLs.
    pub host: String,
    /// The URL port this entry applies to.
    pub port: u16,
    /// Where to connect instead.
    pub addr: SocketAddr,
}

impl std::str::FromStr for Resolve {
    type Err = ScanError;
    fn from_str(entry: &str) -> Result<Resolve, ScanError> {
        let bad = |reason: &str| ScanError::Resolve {
            entry: entry.to_string(),
            reason: reason.to_string(),
        };
        let mut parts = entry.splitn(3, ':');
        let (Some(host), Some(port), Some(addr)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("it needs three parts separated by ':'"));
        };
        if host.is_empty() {
            return Err(bad("the host is empty"));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| bad("the port is not a number 0-65535"))?;
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let addr = if let Ok(ip) = addr.parse::<IpAddr>() {
            SocketAddr::new(ip, port)
        } else {
            addr.parse::<SocketAddr>()
                .or_else(|_| format!("[{addr}").replacen("]:", "]:", 1).parse())
                .map_err(|_| bad("the address is not an IP address (optionally with :port)"))?
        };
        Ok(Resolve {
            host: host.to_ascii_lowercase(),
            port,
            addr,
        })
    }
}

/// What one GET came to, after retries.
#[derive(Debug)]
pub enum Fetch {
    /// A 2xx body within the cap.
    Body {
        /// The HTTP status.
        status: u16,
        /// The `Content-Type` header.
        content_type: Option<String>,
        /// `ETag` and `Last-Modified`, for the next run's conditional request.
        validators: Validators,
        /// The file name from `Content-Disposition`, if the server sent one (attachments
        /// behind `download.jsp?id=123` are named only there).
        file_name: Option<String>,
        /// The body bytes (decompressed).
        body: Vec<u8>,
    },
    /// 304: unchanged since the validators we sent.
    NotModified,
    /// A 3xx with a usable `Location`.
    Redirect(Url),
    /// Not read, on purpose (too large, not a readable type).
    Skipped {
        /// Stable code.
        code: String,
        /// For people.
        detail: String,
    },
    /// Failed after the allowed retries.
    Failed {
        /// Stable code, e.g. `http-404`, `timeout`, `connect`.
        code: String,
        /// For people.
        detail: String,
    },
}

/// Which bodies a request wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Pages and documents: everything but media (images, audio, video, fonts, scripts,
    /// styles), which are skipped before their body is read.
    Page,
    /// Anything (robots.txt, sitemaps).
    Any,
}

/// The shared HTTP client and its retry policy.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: Client,
    max_bytes: u64,
    max_document_bytes: u64,
    retries: u32,
    backoff: Duration,
    max_retry_after: Duration,
}

/// The default User-Agent: names the tool and says what it does, so a webmaster who sees it
/// in a log knows who is asking.
#[must_use]
pub fn default_user_agent() -> String {
    format!(
        "mailpatrol/{} (institutional email compliance audit; obeys robots.txt)",
        env!("CARGO_PKG_VERSION")
    )
}

impl Fetcher {
    /// Builds the client. Proxies come from `http_proxy` / `https_proxy` / `all_proxy` /
    /// `no_proxy`; `--resolve` entries override DNS (or route to another port).
    pub fn new(settings: &CrawlSettings, resolve: &[Resolve]) -> Result<Fetcher, ScanError> {
        let agent = settings
            .user_agent
            .clone()
            .unwrap_or_else(default_user_agent);
        let mut builder = Client::builder()
            .user_agent(agent)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(settings.timeout_secs))
            .connect_timeout(Duration::from_secs(settings.connect_timeout_secs))
            .pool_max_idle_per_host(usize::try_from(settings.per_host_concurrency).unwrap_or(2));
        let mut routed = Vec::new();
        for r in resolve {
            if r.addr.port() == r.port {
                builder = builder.resolve(&r.host, r.addr);
            } else {
                routed.push(r.clone());
            }
        }
        if !routed.is_empty() {
            // reqwest's DNS override cannot change the port, so entries that do are served
            // as an HTTP proxy: the request line carries the full URL and the Host header
            // stays the virtual host. Adding any proxy turns off reqwest's own reading of
            // the proxy variables, so they are added back by hand after ours.
            builder = builder.proxy(reqwest::Proxy::custom(move |url| {
                let host = url.host_str()?.to_ascii_lowercase();
                let port = url.port_or_known_default()?;
                routed
                    .iter()
                    .find(|r| r.host == host && r.port == port && url.scheme() == "http")
                    .map(|r| format!("http://{}", r.addr))
            }));
            for var in ["http_proxy", "https_proxy", "all_proxy"] {
                let value = std::env::var(var).or_else(|_| std::env::var(var.to_ascii_uppercase()));
                if let Ok(v) = value
                    && !v.is_empty()
                {
                    let p = match var {
                        "http_proxy" => reqwest::Proxy::http(&v),
                        "https_proxy" => reqwest::Proxy::https(&v),
                        _ => reqwest::Proxy::all(&v),
                    };
                    let p = p.map_err(|e| ScanError::Client(format!("{var}={v}: {e}")))?;
                    builder = builder.proxy(p.no_proxy(reqwest::NoProxy::from_env()));
                }
            }
        }
        let client = builder
            .build()
            .map_err(|e| ScanError::Client(e.to_string()))?;
        Ok(Fetcher {
            client,
            max_bytes: settings.max_bytes,
            max_document_bytes: settings.max_document_bytes,
            retries: settings.retries,
            backoff: Duration::from_millis(settings.retry_backoff_ms),
            max_retry_after: Duration::from_secs(settings.max_retry_after_secs),
        })
    }

    /// GETs a URL, retrying transient failures. With `known` validators the request is
    /// conditional and may come back [`Fetch::NotModified`].
    pub async fn get(&self, url: &Url, want: Want, known: Option<&Validators>) -> Fetch {
        let mut attempt = 0;
        loop {
            let (outcome, retry) = self.attempt(url, want, known).await;
            match retry {
                Some(after) if attempt < self.retries => {
                    // Exponential back-off unless the server said how long to wait.
                    let wait =
                        after.unwrap_or_else(|| self.backoff.saturating_mul(1 << attempt.min(16)));
                    attempt += 1;
                    tracing::debug!(%url, attempt, ?wait, "retrying");
                    tokio::time::sleep(wait).await;
                }
                _ => return outcome,
            }
        }
    }

    /// One try. The second value is `Some(_)` when the failure is worth retrying, with the
    /// wait the server asked for, if it did.
    async fn attempt(
        &self,
        url: &Url,
        want: Want,
        known: Option<&Validators>,
    ) -> (Fetch, Option<Option<Duration>>) {
        let mut request = self.client.get(url.clone());
        if let Some(v) = known {
            if let Some(etag) = &v.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &v.last_modified {
                request = request.header(IF_MODIFIED_SINCE, lm);
            }
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return (request_error(&e), Some(None)),
        };
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED && known.is_some() {
            return (Fetch::NotModified, None);
        }
        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url.join(l).ok());
            return match location {
                Some(to) => (Fetch::Redirect(to), None),
                None => (
                    failed(
                        &format!("http-{}", status.as_u16()),
                        format!("HTTP {status} without a usable Location header"),
                    ),
                    None,
                ),
            };
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let outcome = failed(
                &format!("http-{}", status.as_u16()),
                format!("HTTP {status}: the server asked us to slow down"),
            );
            return match retry_after {
                Some(wait) if wait > self.max_retry_after => (
                    failed(
                        &format!("http-{}", status.as_u16()),
                        format!(
                            "HTTP {status} with Retry-After {}s, longer than crawl.max_retry_after_secs ({}s)",
                            wait.as_secs(),
                            self.max_retry_after.as_secs()
                        ),
                    ),
                    None,
                ),
                wait => (outcome, Some(wait)),
            };
        }
        if status.is_server_error() {
            return (
                failed(
                    &format!("http-{}", status.as_u16()),
                    format!("HTTP {status} from the server"),
                ),
                Some(None),
            );
        }
        if !status.is_success() {
            let hint = match status.as_u16() {
                404 | 410 => ": the link is broken; fix or remove it",
                401 | 403 => ": the page needs a login or is forbidden",
                _ => "",
            };
            return (
                failed(
                    &format!("http-{}", status.as_u16()),
                    format!("HTTP {status}{hint}"),
                ),
                None,
            );
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if want == Want::Page && is_media_type(content_type.as_deref()) {
            let ct = content_type.unwrap_or_default();
            return (
                Fetch::Skipped {
                    code: "not-a-page".to_string(),
                    detail: format!("content type {ct} is neither a page nor a document"),
                },
                None,
            );
        }
        // Pages get the page cap; anything else may be a document, which may be larger.
        let cap = if is_page_type(content_type.as_deref()) {
            (self.max_bytes, "crawl.max_bytes")
        } else {
            (self.max_document_bytes, "crawl.max_document_bytes")
        };
        let file_name = response
            .headers()
            .get(reqwest::header::CONTENT_DISPOSITION)
            .and_then(|v| crate::extract::documents::disposition_file_name(v.as_bytes()));
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
        };
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > cap.0) {
            return (too_large(declared, cap), None);
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => {
                    if body.len() as u64 + c.len() as u64 > cap.0 {
                        return (too_large(None, cap), None);
                    }
                    body.extend_from_slice(&c);
                }
                Err(e) => return (request_error(&e), Some(None)),
            }
        }
        (
            Fetch::Body {
                status: status.as_u16(),
                content_type,
                validators,
                file_name,
                body,
            },
            None,
        )
    }
}

fn too_large(declared: Option<u64>, (cap, setting): (u64, &str)) -> Fetch {
    let size = declared.map_or_else(|| "more than".to_string(), |n| format!("{n} bytes,"));
    Fetch::Skipped {
        code: "too-large".to_string(),
        detail: format!(
            "response is {size} over {setting} ({cap} bytes); raise the limit to read it"
        ),
    }
}

/// Media that is neither a page nor a document: never downloaded.
fn is_media_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    ["image/", "audio/", "video/", "font/"]
        .iter()
        .any(|p| mime.starts_with(p))
        || matches!(
            mime.as_str(),
            "text/css"
                | "text/javascript"
                | "application/javascript"
                | "application/x-javascript"
                | "application/wasm"
        )
}

fn failed(code: &str, detail: String) -> Fetch {
    Fetch::Failed {
        code: code.to_string(),
        detail,
    }
}

fn request_error(e: &reqwest::Error) -> Fetch {
    // The source chain holds the useful part ("connection refused", "dns error").
    let mut detail = e.to_string();
    let mut io_kind = None;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            io_kind = io_kind.or(Some(io.kind()));
        }
        source = s.source();
    }
    let lower = detail.to_ascii_lowercase();
    let code = if e.is_timeout() {
        detail.push_str(" (crawl.timeout_secs covers the whole request, body included)");
        "timeout"
    } else if matches!(
        io_kind,
        Some(std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted)
    ) || lower.contains("connection reset")
    {
        "connection-reset"
    } else if [
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "invalidcontenttype",
    ]
    .iter()
    .any(|w| lower.contains(w))
    {
        detail.push_str(" (TLS error: the server's HTTPS setup is broken)");
        "tls"
    } else if e.is_connect() {
        "connect"
    } else if matches!(io_kind, Some(std::io::ErrorKind::UnexpectedEof))
        || lower.contains("end of file before message length")
        || lower.contains("incomplete")
    {
        detail.push_str(" (the server closed the connection before the end of the body)");
        "truncated"
    } else if e.is_body() {
        "body"
    } else if e.is_decode() {
        "decode"
    } else {
        "request"
    };
    failed(code, detail)
}

/// HTML, XHTML and plain text are pages; a missing type is read and sniffed later.
pub(crate) fn is_page_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return true };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        mime.as_str(),
        "text/html" | "application/xhtml+xml" | "text/plain" | ""
    )
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v.trim()).ok()?;
    let secs = (when.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_entries_parse_like_curl() {
        let r: Resolve = "www.ustl.edu.cn:80:127.0.0.1".parse().expect("valid");
        assert_eq!(r.addr, "127.0.0.1:80".parse().expect("addr"));
        let r: Resolve = "WWW.ustl.edu.cn:80:127.0.0.1:8080".parse().expect("valid");
        assert_eq!(
            (r.host.as_str(), r.port, r.addr.port()),
            ("www.ustl.edu.cn", 80, 8080)
        );
        let r: Resolve = "a.cn:443:[::1]".parse().expect("valid");
        assert_eq!(r.addr, "[::1]:443".parse().expect("addr"));
        let r: Resolve = "a.cn:80:[::1]:9000".parse().expect("valid");
        assert_eq!(r.addr, "[::1]:9000".parse().expect("addr"));
        for bad in [
            "a.cn",
            "a.cn:x:127.0.0.1",
            ":80:127.0.0.1",
            "a.cn:80:localhost",
        ] {
            assert!(bad.parse::<Resolve>().is_err(), "{bad}");
        }
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn page_types() {
        assert!(is_page_type(Some("text/html; charset=gbk")));
        assert!(is_page_type(None));
        assert!(!is_page_type(Some("application/pdf")));
        assert!(is_media_type(Some("image/png")));
        assert!(is_media_type(Some("text/css; charset=utf-8")));
        assert!(
            !is_media_type(Some("application/octet-stream")),
            "attachments come as octet-stream"
        );
        assert!(!is_media_type(None));
    }
}
