//! Special routes of a served site, read from `<root>/site.toml`, plus the pieces of the
//! response that do not depend on a file: the Content-Type table, the calendar trap page and
//! the short status pages.
//!
//! The file format is documented on the parent module.

use std::collections::BTreeMap;

use axum::http::{HeaderName, HeaderValue, StatusCode};
use serde::Deserialize;

/// The whole `site.toml` file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteToml {
    #[serde(default)]
    route: Vec<RouteSpec>,
}

/// One `[[route]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    host: String,
    path: String,
    query_prefix: Option<String>,
    status: Option<u16>,
    times: Option<u32>,
    redirect: Option<String>,
    content_type: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    generate: Option<Generator>,
    delay_ms: Option<u64>,
}

/// A generated (not file-backed) page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Generator {
    /// `?month=N` pages linking to `?month=N+1` and `?month=N-1`, for ever.
    Calendar,
}

/// A Content-Type chosen by a route.
#[derive(Debug, Clone)]
pub(crate) enum ContentType {
    /// Send no Content-Type header at all (`content_type = ""`).
    Omit,
    /// Send this value.
    Set(HeaderValue),
}

impl ContentType {
    /// The header value to send, if any.
    pub(crate) fn value(&self) -> Option<HeaderValue> {
        match self {
            ContentType::Omit => None,
            ContentType::Set(v) => Some(v.clone()),
        }
    }
}

/// A validated route.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) host: String,
    pub(crate) path: String,
    pub(crate) query_prefix: Option<String>,
    pub(crate) status: Option<StatusCode>,
    pub(crate) times: Option<u32>,
    pub(crate) redirect: Option<HeaderValue>,
    /// `None`: the default for the file or page.
    pub(crate) content_type: Option<ContentType>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) generate: Option<Generator>,
    pub(crate) delay_ms: u64,
}

impl Route {
    /// Whether this route applies to a request for `host`, `path` (raw or percent-decoded)
    /// and `query` (without the `?`).
    pub(crate) fn matches(
        &self,
        host: &str,
        raw_path: &str,
        decoded_path: &str,
        query: &str,
    ) -> bool {
        if self.host != host || (self.path != raw_path && self.path != decoded_path) {
            return false;
        }
        match &self.query_prefix {
            Some(prefix) => query.starts_with(prefix.as_str()),
            None => true,
        }
    }
}

/// Why a `site.toml` could not be used; turned into a `SiteError` by the caller, which knows
/// the file name.
#[derive(Debug)]
pub(crate) enum RoutesError {
    /// Not TOML, or not the expected shape.
    Parse {
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// The route at `index` (1-based) is well-formed TOML but makes no sense.
    Route {
        index: usize,
        host: String,
        path: String,
        reason: String,
    },
}

/// Parses and validates the text of a `site.toml`.
pub(crate) fn parse_routes(text: &str) -> Result<Vec<Route>, RoutesError> {
    let parsed: SiteToml = toml::from_str(text).map_err(|e| {
        let (line, column) = match e.span() {
            Some(span) => {
                let (l, c) = line_col(text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        RoutesError::Parse {
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;
    parsed
        .route
        .into_iter()
        .enumerate()
        .map(|(i, spec)| {
            let host = spec.host.clone();
            let path = spec.path.clone();
            validate(spec).map_err(|reason| RoutesError::Route {
                index: i + 1,
                host,
                path,
                reason,
            })
        })
        .collect()
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn validate(spec: RouteSpec) -> Result<Route, String> {
    let host = normalize_host(&spec.host);
    if host.is_empty() || host.contains(['/', ' ', '?', '#']) {
        return Err(format!(
            "`host` must be a bare host name, got {:?}",
            spec.host
        ));
    }
    if !spec.path.starts_with('/') {
        return Err(format!("`path` must start with '/', got {:?}", spec.path));
    }
    if spec.path.contains(['?', '#']) {
        return Err(
            "`path` must not contain '?' or '#' (use `query_prefix` for the query)".to_owned(),
        );
    }
    let status = match spec.status {
        None => None,
        Some(code) => Some(
            StatusCode::from_u16(code)
                .ok()
                .filter(|_| (200..=599).contains(&code))
                .ok_or_else(|| {
                    format!("`status` must be an HTTP status between 200 and 599, got {code}")
                })?,
        ),
    };
    if spec.times == Some(0) {
        return Err("`times` must be at least 1 (leave it out for \"always\")".to_owned());
    }
    if spec.redirect.is_some() && spec.generate.is_some() {
        return Err("a route cannot both `redirect` and `generate`".to_owned());
    }
    let redirect =
        match &spec.redirect {
            None => None,
            Some(target) => {
                if let Some(s) = status
                    && !s.is_redirection()
                {
                    return Err(format!(
                        "`redirect` needs a 3xx `status`, got {}",
                        s.as_u16()
                    ));
                }
                if target.is_empty() {
                    return Err("`redirect` must not be empty".to_owned());
                }
                Some(HeaderValue::from_str(target).map_err(|_| {
                    format!("`redirect` is not a valid Location header: {target:?}")
                })?)
            }
        };
    if redirect.is_none()
        && let Some(s) = status
        && s.is_redirection()
    {
        return Err(format!("status {} needs a `redirect` target", s.as_u16()));
    }
    let content_type = match &spec.content_type {
        None => None,
        Some(ct) if ct.is_empty() => Some(ContentType::Omit),
        Some(ct) => Some(ContentType::Set(HeaderValue::from_str(ct).map_err(
            |_| format!("`content_type` is not a valid header value: {ct:?}"),
        )?)),
    };
    let mut headers = Vec::with_capacity(spec.headers.len());
    for (name, value) in &spec.headers {
        let name_ok = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`headers`: {name:?} is not a valid header name"))?;
        let value_ok = HeaderValue::from_str(value)
            .map_err(|_| format!("`headers`: the value of {name:?} is not a valid header value"))?;
        headers.push((name_ok, value_ok));
    }
    let delay_ms = spec.delay_ms.unwrap_or(0);
    if delay_ms > 600_000 {
        return Err(format!(
            "`delay_ms` is at most 600000 (ten minutes), got {delay_ms}"
        ));
    }
    Ok(Route {
        host,
        path: spec.path,
        query_prefix: spec.query_prefix,
        status,
        times: spec.times,
        redirect,
        content_type,
        headers,
        generate: spec.generate,
        delay_ms,
    })
}

/// Lower-cases a host name and strips one trailing dot.
pub(crate) fn normalize_host(host: &str) -> String {
    let h = host.trim();
    h.strip_suffix('.').unwrap_or(h).to_ascii_lowercase()
}

/// The default Content-Type for a file path, from its extension.
pub(crate) fn content_type_for(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = match name.rsplit_once('.') {
        Some((_, ext)) => ext.to_ascii_lowercase(),
        None => return "application/octet-stream",
    };
    match ext.as_str() {
        "html" | "htm" | "shtml" => "text/html; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "csv" => "text/csv; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "rtf" => "application/rtf",
        "wps" => "application/kswps",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// Escapes text for an HTML attribute or element body.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The month number of a calendar request: `month=N` in the query, 0 when absent or not an
/// integer.
pub(crate) fn calendar_month(query: &str) -> i64 {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "month")
        .and_then(|(_, v)| v.trim().parse::<i64>().ok())
        .unwrap_or(0)
}

/// The endless calendar page for `month`, served at `path`.
pub(crate) fn calendar_page(path: &str, month: i64) -> String {
    let p = escape_html(path);
    let next = month.saturating_add(1);
    let prev = month.saturating_sub(1);
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head><meta charset=\"utf-8\"><title>校历 第{month}月</title></head>\n\
         <body>\n<h1>校历（第{month}月）</h1>\n<p>本月暂无安排。</p>\n\
         <p><a href=\"{p}?month={prev}\">上一月</a> | <a href=\"{p}?month={next}\">下一月</a></p>\n\
         </body>\n</html>\n"
    )
}

/// A short HTML page for an error status.
pub(crate) fn status_page(status: StatusCode) -> String {
    let code = status.as_u16();
    let reason = status.canonical_reason().unwrap_or("Error");
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{code} {reason}</title></head>\n\
         <body><h1>{code} {reason}</h1></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_of_route() {
        let routes = parse_routes(
            r#"
[[route]]
host = "A.example.cn."
path = "/x.html"
status = 500
times = 1

[[route]]
host = "a.example.cn"
path = "/go"
status = 301
redirect = "http://b.example.cn/"

[[route]]
host = "a.example.cn"
path = "/gbk.html"
content_type = ""
headers = { "Retry-After" = "1" }
delay_ms = 5

[[route]]
host = "a.example.cn"
path = "/calendar/"
generate = "calendar"
query_prefix = "month="
"#,
        )
        .unwrap();
        assert_eq!(routes.len(), 4);
        assert_eq!(routes[0].host, "a.example.cn");
        assert_eq!(routes[0].status, Some(StatusCode::INTERNAL_SERVER_ERROR));
        assert_eq!(routes[0].times, Some(1));
        assert!(routes[1].redirect.is_some());
        assert!(matches!(routes[2].content_type, Some(ContentType::Omit)));
        assert_eq!(routes[2].headers.len(), 1);
        assert_eq!(routes[3].generate, Some(Generator::Calendar));
        assert!(routes[3].matches("a.example.cn", "/calendar/", "/calendar/", "month=3"));
        assert!(!routes[3].matches("a.example.cn", "/calendar/", "/calendar/", "x=1"));
    }

    #[test]
    fn rejects_unknown_fields_with_position() {
        let err =
            parse_routes("[[route]]\nhost = \"a\"\npath = \"/\"\nstauts = 500\n").unwrap_err();
        match err {
            RoutesError::Parse { line, message, .. } => {
                assert_eq!(line, Some(4));
                assert!(message.contains("stauts"), "{message}");
            }
            RoutesError::Route { .. } => panic!("expected a parse error"),
        }
    }

    #[test]
    fn rejects_nonsense_routes() {
        for (text, needle) in [
            ("[[route]]\nhost = \"a\"\npath = \"x\"\n", "start with '/'"),
            (
                "[[route]]\nhost = \"a\"\npath = \"/\"\nstatus = 99\n",
                "status",
            ),
            (
                "[[route]]\nhost = \"a\"\npath = \"/\"\nstatus = 500\nredirect = \"/b\"\n",
                "3xx",
            ),
            (
                "[[route]]\nhost = \"a\"\npath = \"/\"\nstatus = 302\n",
                "redirect",
            ),
            (
                "[[route]]\nhost = \"a\"\npath = \"/\"\ntimes = 0\n",
                "times",
            ),
            ("[[route]]\nhost = \"a b\"\npath = \"/\"\n", "host"),
            (
                "[[route]]\nhost = \"a\"\npath = \"/\"\nheaders = { \"bad name\" = \"1\" }\n",
                "header name",
            ),
        ] {
            match parse_routes(text) {
                Err(RoutesError::Route { index, reason, .. }) => {
                    assert_eq!(index, 1);
                    assert!(reason.contains(needle), "{reason} should mention {needle}");
                }
                other => panic!("{text}: expected a route error, got {other:?}"),
            }
        }
        assert!(matches!(
            parse_routes("[[route]]\nhost = \"a\"\npath = \"/\"\ngenerate = \"maze\"\n"),
            Err(RoutesError::Parse { .. })
        ));
    }

    #[test]
    fn calendar_month_never_fails() {
        assert_eq!(calendar_month(""), 0);
        assert_eq!(calendar_month("month=7"), 7);
        assert_eq!(calendar_month("a=1&month=-3"), -3);
        assert_eq!(calendar_month("month=abc"), 0);
        assert_eq!(calendar_month("month=99999999999999999999999"), 0);
        assert_eq!(calendar_month("&&=&month"), 0);
        let page = calendar_page("/calendar/", i64::MAX);
        assert!(page.contains(&format!("month={}", i64::MAX)));
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type_for("/a/B.HTML"), "text/html; charset=utf-8");
        assert_eq!(content_type_for("/robots.txt"), "text/plain; charset=utf-8");
        assert_eq!(content_type_for("/files/n.pdf"), "application/pdf");
        assert_eq!(content_type_for("/noext"), "application/octet-stream");
        assert_eq!(content_type_for("/dir.d/noext"), "application/octet-stream");
    }
}
