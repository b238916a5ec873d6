//! robots.txt, one per host (a department sub-site's robots.txt is its own, not the
//! homepage's), parsed with texting_robots, which was tested against millions of real files
//! and reads `Crawl-delay` and `Sitemap` lines too.

use std::time::Duration;

use texting_robots::Robot;

/// What the crawl may do on one host.
#[derive(Debug)]
pub enum Robots {
    /// No usable robots.txt (absent, 4xx, or robots disabled): everything is allowed.
    AllowAll,
    /// The host's rules.
    Rules(Box<Robot>),
    /// robots.txt could not be fetched (5xx or network error). RFC 9309 says to assume
    /// complete disallow; the reason is kept for the report.
    Unavailable(String),
}

impl Robots {
    /// Parses a robots.txt body for our user agent. A body that cannot be parsed allows
    /// everything, as browsers and search engines treat it.
    #[must_use]
    pub fn parse(agent: &str, body: &[u8]) -> Robots {
        match Robot::new(agent, body) {
            Ok(r) => Robots::Rules(Box::new(r)),
            Err(_) => Robots::AllowAll,
        }
    }

    /// True when the URL may be fetched.
    #[must_use]
    pub fn allowed(&self, url: &str) -> bool {
        match self {
            Robots::AllowAll => true,
            Robots::Rules(r) => r.allowed(url),
            Robots::Unavailable(_) => false,
        }
    }

    /// The `Crawl-delay`, if any, capped at one minute (a hostile file must not stall us).
    #[must_use]
    pub fn delay(&self) -> Option<Duration> {
        match self {
            Robots::Rules(r) => r
                .delay
                .filter(|d| d.is_finite() && *d > 0.0)
                .map(|d| Duration::from_secs_f32(d.min(60.0))),
            _ => None,
        }
    }

    /// The sitemaps the file names.
    #[must_use]
    pub fn sitemaps(&self) -> &[String] {
        match self {
            Robots::Rules(r) => &r.sitemaps,
            _ => &[],
        }
    }
}

/// The product token robots.txt groups are matched against.
pub const AGENT_TOKEN: &str = "mailpatrol";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_delay_and_sitemaps() {
        let r = Robots::parse(
            AGENT_TOKEN,
            b"User-agent: *\nDisallow: /private/\nCrawl-delay: 2\nSitemap: http://a.cn/s.xml\n",
        );
        assert!(r.allowed("http://a.cn/public/x.html"));
        assert!(!r.allowed("http://a.cn/private/x.html"));
        assert_eq!(r.delay(), Some(Duration::from_secs(2)));
        assert_eq!(r.sitemaps(), ["http://a.cn/s.xml"]);
        let specific = Robots::parse(
            AGENT_TOKEN,
            b"User-agent: mailpatrol\nDisallow: /\n\nUser-agent: *\nAllow: /\n",
        );
        assert!(!specific.allowed("http://a.cn/x"));
        assert!(!Robots::Unavailable("HTTP 503".into()).allowed("http://a.cn/"));
    }
}
