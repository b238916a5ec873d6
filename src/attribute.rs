//! Attribution: which department owns a URL. Configured URL prefixes first (longest wins),
//! then configured hosts (and their subdomains), and any other in-scope host becomes a
//! department of its own, named later from its home page `<title>`.

use std::collections::BTreeMap;

use url::Url;

use crate::model::{Department, DepartmentId};
use crate::profile::{Profile, is_within};

/// Maps URLs to departments for one profile.
#[derive(Debug, Clone, Default)]
pub struct Attributor {
    prefixes: Vec<(String, DepartmentId)>,
    hosts: Vec<(String, DepartmentId)>,
    configured: Vec<Department>,
}

impl Attributor {
    /// Compiles the profile's department map.
    #[must_use]
    pub fn new(profile: &Profile) -> Attributor {
        let mut prefixes = Vec::new();
        let mut hosts = Vec::new();
        let mut configured = Vec::new();
        for d in &profile.departments {
            let id = DepartmentId(d.name.clone());
            prefixes.extend(d.prefixes.iter().map(|p| (p.clone(), id.clone())));
            hosts.extend(d.hosts.iter().map(|h| (h.clone(), id.clone())));
            configured.push(Department {
                id,
                name: d.name.clone(),
                configured: true,
            });
        }
        // Longest first, so `/jwc/news/` beats `/jwc/` and `cs.x.cn` beats `x.cn`.
        prefixes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        hosts.sort_by_key(|(h, _)| std::cmp::Reverse(h.len()));
        Attributor {
            prefixes,
            hosts,
            configured,
        }
    }

    /// The department that owns a URL.
    #[must_use]
    pub fn attribute(&self, url: &Url) -> DepartmentId {
        if let Some((_, id)) = self
            .prefixes
            .iter()
            .find(|(p, _)| url.as_str().starts_with(p.as_str()))
        {
            return id.clone();
        }
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let owned = self.hosts.iter().find(|(h, _)| is_within(&host, h));
        match owned {
            Some((_, id)) => id.clone(),
            None => DepartmentId(host),
        }
    }

    /// Every department for the report: the configured ones (all of them, so a department
    /// with nothing scanned still gets an empty report), then the discovered hosts among
    /// `used`, named by `titles` (host → home page title) or by the host itself.
    #[must_use]
    pub fn departments<'a>(
        &self,
        used: impl IntoIterator<Item = &'a DepartmentId>,
        titles: &BTreeMap<String, String>,
    ) -> Vec<Department> {
        let mut out = self.configured.clone();
        let mut discovered: Vec<&DepartmentId> = used
            .into_iter()
            .filter(|id| !self.configured.iter().any(|d| d.id == **id))
            .collect();
        discovered.sort();
        discovered.dedup();
        out.extend(discovered.into_iter().map(|id| Department {
            id: id.clone(),
            name: titles.get(&id.0).cloned().unwrap_or_else(|| id.0.clone()),
            configured: false,
        }));
        out
    }
}

/// True when a URL is a host's home page (`/`, `/index.html`, ...), whose title names a
/// discovered department.
#[must_use]
pub fn is_home_page(url: &Url) -> bool {
    url.query().is_none()
        && matches!(
            url.path(),
            "/" | "/index.html"
                | "/index.htm"
                | "/index.php"
                | "/index.jsp"
                | "/main.htm"
                | "/default.aspx"
        )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn prefixes_then_hosts_then_discovered() {
        let p = Profile::parse(
            Path::new("t.toml"),
            r#"
name = "t"
seeds = ["https://www.ustl.edu.cn/"]
domains = ["ustl.edu.cn"]
[[departments]]
name = "教务处"
prefixes = ["https://www.ustl.edu.cn/jwc/"]
[[departments]]
name = "教务处新闻"
prefixes = ["https://www.ustl.edu.cn/jwc/news/"]
[[departments]]
name = "学校办公室"
hosts = ["www.ustl.edu.cn"]
[[departments]]
name = "计算机学院"
hosts = ["cs.ustl.edu.cn"]
"#,
        )
        .expect("valid");
        let a = Attributor::new(&p);
        let at = |u: &str| a.attribute(&Url::parse(u).expect("url")).0;
        assert_eq!(at("https://www.ustl.edu.cn/jwc/a.html"), "教务处");
        assert_eq!(at("https://www.ustl.edu.cn/jwc/news/1.html"), "教务处新闻");
        assert_eq!(at("https://www.ustl.edu.cn/about/"), "学校办公室");
        assert_eq!(at("https://cs.ustl.edu.cn/"), "计算机学院");
        assert_eq!(at("https://ai.cs.ustl.edu.cn/"), "计算机学院");
        assert_eq!(at("https://lib.ustl.edu.cn/x"), "lib.ustl.edu.cn");
        assert_eq!(at("https://xcs.ustl.edu.cn/"), "xcs.ustl.edu.cn");
        let lib = DepartmentId("lib.ustl.edu.cn".into());
        let titles = BTreeMap::from([("lib.ustl.edu.cn".to_string(), "图书馆".to_string())]);
        let all = a.departments([&lib, &lib, &DepartmentId("计算机学院".into())], &titles);
        assert_eq!(all.len(), 5);
        assert_eq!((all[4].name.as_str(), all[4].configured), ("图书馆", false));
    }
}
