//! The shipped data lists: free-webmail providers (`rules/webmail.toml`) and placeholder
//! patterns (`rules/placeholders.toml`). Each is read from the path the profile names, else
//! from the file beside the profile, else from the copy compiled into the binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::{Regex, RegexSet};
use serde::Deserialize;

use crate::error::ConfigError;
use crate::profile::{Profile, normalise_domain};

const BUILTIN_WEBMAIL: &str = include_str!("../../rules/webmail.toml");
const BUILTIN_PLACEHOLDERS: &str = include_str!("../../rules/placeholders.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebmail {
    schema_version: Option<u32>,
    provider: Vec<RawProvider>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    name: String,
    domains: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaceholders {
    schema_version: Option<u32>,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    domain_patterns: Vec<String>,
    #[serde(default)]
    local_patterns: Vec<String>,
}

/// Free-webmail domains, each with its provider's name.
#[derive(Debug, Clone, Default)]
pub struct Webmail {
    /// Domain → provider.
    pub domains: BTreeMap<String, String>,
}

/// Placeholder domains and local-part patterns.
#[derive(Debug, Clone)]
pub struct Placeholders {
    domains: Vec<String>,
    domain_patterns: RegexSet,
    local_patterns: RegexSet,
}

impl Placeholders {
    /// True when the address is a template rather than a real mailbox.
    #[must_use]
    pub fn matches(&self, local: &str, domain: &str) -> bool {
        self.domains.iter().any(|d| d == domain)
            || self.domain_patterns.is_match(domain)
            || self.local_patterns.is_match(local)
    }
}

/// Where a list comes from: `(path for messages, text)`.
fn source(
    profile: &Profile,
    explicit: Option<&PathBuf>,
    file: &str,
    builtin: &'static str,
) -> Result<(PathBuf, String), ConfigError> {
    let candidate = explicit.map_or_else(|| profile.dir().join(file), |p| profile.dir().join(p));
    if explicit.is_some() || candidate.is_file() {
        let text = std::fs::read_to_string(&candidate).map_err(|source| ConfigError::Read {
            path: candidate.clone(),
            source,
        })?;
        Ok((candidate, text))
    } else {
        Ok((
            PathBuf::from(format!("<built-in {file}>")),
            builtin.to_string(),
        ))
    }
}

fn invalid(path: &Path, errors: Vec<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        errors,
    }
}

fn check_version(v: Option<u32>, errors: &mut Vec<String>) {
    if let Some(v) = v
        && v != crate::profile::SCHEMA_VERSION
    {
        errors.push(format!("schema_version {v} is not supported"));
    }
}

/// Loads the webmail list for a profile.
pub fn webmail(profile: &Profile) -> Result<Webmail, ConfigError> {
    let (path, text) = source(
        profile,
        profile.webmail.as_ref(),
        "webmail.toml",
        BUILTIN_WEBMAIL,
    )?;
    parse_webmail(&path, &text)
}

fn parse_webmail(path: &Path, text: &str) -> Result<Webmail, ConfigError> {
    let raw: RawWebmail = toml::from_str(text).map_err(|e| invalid(path, vec![e.to_string()]))?;
    let mut errors = Vec::new();
    check_version(raw.schema_version, &mut errors);
    let mut domains = BTreeMap::new();
    for p in raw.provider {
        for d in p.domains {
            match normalise_domain(&d) {
                Some(n) => {
                    domains.insert(n, p.name.clone());
                }
                None => errors.push(format!("provider {:?}: {d:?} is not a domain name", p.name)),
            }
        }
    }
    if errors.is_empty() {
        Ok(Webmail { domains })
    } else {
        Err(invalid(path, errors))
    }
}

/// Loads the placeholder list for a profile.
pub fn placeholders(profile: &Profile) -> Result<Placeholders, ConfigError> {
    let (path, text) = source(
        profile,
        profile.placeholders.as_ref(),
        "placeholders.toml",
        BUILTIN_PLACEHOLDERS,
    )?;
    parse_placeholders(&path, &text)
}

fn parse_placeholders(path: &Path, text: &str) -> Result<Placeholders, ConfigError> {
    let raw: RawPlaceholders =
        toml::from_str(text).map_err(|e| invalid(path, vec![e.to_string()]))?;
    let mut errors = Vec::new();
    check_version(raw.schema_version, &mut errors);
    let mut anchored = |patterns: &[String], what: &str| {
        for p in patterns {
            if let Err(e) = Regex::new(p) {
                errors.push(format!("{what} {p:?} is not a valid regex: {e}"));
            }
        }
        RegexSet::new(patterns.iter().map(|p| format!("^(?:{p})$"))).ok()
    };
    let domain_patterns = anchored(&raw.domain_patterns, "domain pattern");
    let local_patterns = anchored(&raw.local_patterns, "local pattern");
    match (domain_patterns, local_patterns) {
        (Some(domain_patterns), Some(local_patterns)) if errors.is_empty() => Ok(Placeholders {
            domains: raw
                .domains
                .iter()
                .filter_map(|d| normalise_domain(d))
                .collect(),
            domain_patterns,
            local_patterns,
        }),
        _ => Err(invalid(path, errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lists_parse_and_cover_the_chinese_providers() {
        let w = parse_webmail(Path::new("webmail.toml"), BUILTIN_WEBMAIL).expect("valid");
        assert!(w.domains.len() >= 60, "{}", w.domains.len());
        for d in [
            "qq.com",
            "foxmail.com",
            "163.com",
            "126.com",
            "yeah.net",
            "188.com",
            "sina.com",
            "sina.cn",
            "sohu.com",
            "139.com",
            "189.cn",
            "wo.cn",
            "aliyun.com",
            "tom.com",
            "21cn.com",
            "gmail.com",
            "outlook.com",
            "hotmail.com",
        ] {
            assert!(w.domains.contains_key(d), "{d}");
        }
        let p = parse_placeholders(Path::new("p.toml"), BUILTIN_PLACEHOLDERS).expect("valid");
        assert!(p.matches("xxx", "xxx.com"));
        assert!(p.matches("yourname", "ustl.edu.cn"));
        assert!(p.matches("li", "example.com"));
        assert!(!p.matches("zhang", "ustl.edu.cn"));
        assert!(!p.matches("names", "qq.com"), "patterns are anchored");
    }

    #[test]
    fn bad_lists_are_refused_with_every_error() {
        let e = parse_placeholders(Path::new("p.toml"), "local_patterns = ['(', '[']\n");
        match e {
            Err(ConfigError::Invalid { errors, .. }) => assert_eq!(errors.len(), 2),
            other => panic!("{other:?}"),
        }
        assert!(
            parse_webmail(
                Path::new("w.toml"),
                "[[provider]]\nname='x'\ndomains=['a b']\n"
            )
            .is_err()
        );
    }
}
