//! Which URLs belong to the institution: hosts under its registrable domains (by the public
//! suffix list, so `cs.ustl.edu.cn` is in and `ustl.edu.cn.evil.com` is out), hosts listed in
//! `scope.extra_hosts`, minus anything matching `scope.exclude`.

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

/// Puts a URL in the form used for deduplication: no fragment, no empty query, a path of `/`
/// at least. `url` already lowercases the host, drops default ports and resolves dot
/// segments.
#[must_use]
pub fn normalise(url: &Url) -> Url {
    let mut u = url.clone();
    u.set_fragment(None);
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
}
