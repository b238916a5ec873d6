//! Which URLs belong to the institution: hosts under its registrable domains (by the public
//! suffix list, so `cs.ustl.edu.cn` is in and `ustl.edu.cn.evil.com` is out), hosts listed in
//! `scope.extra_hosts`, minus anything matching `scope.exclude`.
//!
//! URL normalisation also strips session ids (`;jsessionid=…` path parameters and
//! `PHPSESSID=`, `sid=`-style query parameters), so a server that mints a new session in
//! every link cannot make one page look like endless new URLs.

use regex::Regex;
use url::Url;

use crate::profile::Profile;

/// The crawl's boundary.
#[derive(Debug, Clone)]
pub struct Scope {
    registrable: Vec<String>,
    extra_hosts: Vec<String>,
    exclude: Vec<Regex>,
}

/// The registrable domain (eTLD+1) of a host, e.g. `mail.ustl.edu.cn` → `ustl.edu.cn`.
#[must_use]
pub fn registrable_domain(host: &str) -> Option<String> {
    let d = psl::domain(host.as_bytes())?;
    std::str::from_utf8(d.as_bytes())
        .ok()
        .map(str::to_ascii_lowercase)
}

impl Scope {
    /// The scope of a profile: its institutional domains, the hosts of its seeds and
    /// departments, and its extra hosts.
    #[must_use]
    pub fn new(profile: &Profile) -> Scope {
        let mut registrable: Vec<String> = profile
            .domains
            .iter()
            .chain(
                profile
                    .seeds
                    .iter()
                    .filter_map(Url::host_str)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
                    .iter(),
            )
            .chain(profile.departments.iter().flat_map(|d| d.hosts.iter()))
            .filter_map(|h| registrable_domain(h))
            .collect();
        registrable.sort();
        registrable.dedup();
        Scope {
            registrable,
            extra_hosts: profile.extra_hosts.clone(),
            exclude: profile.exclude.clone(),
        }
    }

    /// Host patterns of the scope for a browser's resolver rules: each registrable domain
    /// and its subdomains (`ustl.edu.cn`, `*.ustl.edu.cn`), and each extra host.
    #[must_use]
    pub fn host_patterns(&self) -> Vec<String> {
        self.registrable
            .iter()
            .flat_map(|d| [d.clone(), format!("*.{d}")])
            .chain(self.extra_hosts.iter().cloned())
            .collect()
    }

    /// True when the host belongs to the institution.
    #[must_use]
    pub fn host_in_scope(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.extra_hosts.contains(&host)
            || registrable_domain(&host).is_some_and(|r| self.registrable.contains(&r))
    }

    /// True when the URL may be fetched: http(s), in-scope host, not excluded.
    #[must_use]
    pub fn allows(&self, url: &Url) -> bool {
        matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some_and(|h| self.host_in_scope(h))
            && !self.excluded(url)
    }

    /// True when the URL matches an exclude pattern.
    #[must_use]
    pub fn excluded(&self, url: &Url) -> bool {
        self.exclude.iter().any(|re| re.is_match(url.as_str()))
    }
}

/// Session-id parameter names stripped whatever their value.
const SESSION_PARAMS: &[&str] = &["jsessionid", "phpsessid", "aspsessionid", "cfid", "cftoken"];

/// Names stripped only when the value looks like a token (long enough not to be a page or
/// section number, which `sid=12` often is).
const MAYBE_SESSION_PARAMS: &[&str] = &["sid", "sessionid", "session_id", "sess", "oscsid"];

/// Shortest value of a [`MAYBE_SESSION_PARAMS`] parameter taken for a session token.
const MIN_TOKEN_LEN: usize = 16;

/// True when `name=value` (a path or query parameter) carries a session id.
fn is_session_param(param: &str) -> bool {
    let (name, value) = param.split_once('=').unwrap_or((param, ""));
    let name = name.to_ascii_lowercase();
    SESSION_PARAMS.iter().any(|p| name.starts_with(p))
        || (MAYBE_SESSION_PARAMS.contains(&name.as_str()) && value.len() >= MIN_TOKEN_LEN)
}

/// Puts a URL in the form used for deduplication: no fragment, no empty query, a path of `/`
/// at least, no session ids (`;jsessionid=` path parameters, session query parameters).
/// `url` already lowercases the host, drops default ports and resolves dot segments.
#[must_use]
pub fn normalise(url: &Url) -> Url {
    let mut u = url.clone();
    u.set_fragment(None);
    if u.path().contains(';') {
        let path: Vec<String> = u
            .path()
            .split('/')
            .map(|segment| {
                let mut parts = segment.split(';');
                let mut kept = parts.next().unwrap_or_default().to_string();
                for p in parts.filter(|p| !is_session_param(p)) {
                    kept.push(';');
                    kept.push_str(p);
                }
                kept
            })
            .collect();
        u.set_path(&path.join("/"));
    }
    if let Some(q) = u.query()
        && q.split('&').any(is_session_param)
    {
        let kept: Vec<&str> = q
            .split('&')
            .filter(|p| !p.is_empty() && !is_session_param(p))
            .collect();
        let kept = kept.join("&");
        u.set_query(Some(&kept));
    }
    if u.query() == Some("") {
        u.set_query(None);
    }
    u
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn scope() -> Scope {
        let p = Profile::parse(
            Path::new("t.toml"),
            r#"
name = "t"
seeds = ["https://www.ustl.edu.cn/"]
domains = ["ustl.edu.cn"]
[scope]
extra_hosts = ["ustl-news.com.cn"]
exclude = ['\.mp4$', '^https?://mail\.ustl\.edu\.cn/']
"#,
        )
        .expect("valid");
        Scope::new(&p)
    }

    #[test]
    fn scope_uses_registrable_domains() {
        let s = scope();
        let u = |s: &str| Url::parse(s).expect("url");
        assert!(s.allows(&u("https://cs.ustl.edu.cn/a")));
        assert!(s.allows(&u("http://WWW.USTL.EDU.CN./")));
        assert!(s.allows(&u("http://ustl-news.com.cn/x")));
        assert!(!s.allows(&u("http://ustl.edu.cn.evil.com/")));
        assert!(!s.allows(&u("http://notustl.edu.cn/")));
        assert!(!s.allows(&u("http://edu.cn/")));
        assert!(!s.allows(&u("ftp://www.ustl.edu.cn/")));
        assert!(!s.allows(&u("https://www.ustl.edu.cn/v.mp4")));
        assert!(!s.allows(&u("https://mail.ustl.edu.cn/login")));
        assert!(!s.allows(&u("http://127.0.0.1/")));
    }

    #[test]
    fn normalisation_dedups_equivalent_urls() {
        let n = |s: &str| normalise(&Url::parse(s).expect("url")).to_string();
        assert_eq!(
            n("HTTP://WWW.Ustl.edu.cn:80/a/../b/#top"),
            "http://www.ustl.edu.cn/b/"
        );
        assert_eq!(n("https://www.ustl.edu.cn"), "https://www.ustl.edu.cn/");
        assert_eq!(n("https://www.ustl.edu.cn/x?"), "https://www.ustl.edu.cn/x");
        assert_eq!(
            n("https://www.ustl.edu.cn/x?a=1#f"),
            "https://www.ustl.edu.cn/x?a=1"
        );
    }

    #[test]
    fn normalisation_strips_session_ids() {
        let n = |s: &str| normalise(&Url::parse(s).expect("url")).to_string();
        assert_eq!(
            n("http://a.edu.cn/list.jsp;jsessionid=0A1B2C3D4E5F?id=7"),
            "http://a.edu.cn/list.jsp?id=7"
        );
        assert_eq!(
            n("http://a.edu.cn/x;JSESSIONID=abc/y.jsp"),
            "http://a.edu.cn/x/y.jsp"
        );
        assert_eq!(
            n("http://a.edu.cn/x.php?PHPSESSID=9f8e7d&page=2"),
            "http://a.edu.cn/x.php?page=2"
        );
        assert_eq!(
            n("http://a.edu.cn/x.php?page=2&sid=5f2b8c9d0e1f2a3b4c5d"),
            "http://a.edu.cn/x.php?page=2"
        );
        assert_eq!(
            n("http://a.edu.cn/x.asp?ASPSESSIONIDQQ=KLMNOP"),
            "http://a.edu.cn/x.asp"
        );
        // A short `sid` is a section number, not a session.
        assert_eq!(
            n("http://a.edu.cn/list.jsp?sid=12"),
            "http://a.edu.cn/list.jsp?sid=12"
        );
        // Other path parameters stay.
        assert_eq!(n("http://a.edu.cn/x;v=2"), "http://a.edu.cn/x;v=2");
    }
}
