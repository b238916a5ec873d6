//! Classification: gives each address a class and names the rule that decided it, using the
//! profile's domains and allowlist and the shipped lists. Knows nothing about pages,
//! departments or output.
//!
//! Decision order (first match wins): allowed, placeholder, student, legacy, institutional,
//! free_webmail, external. Student and legacy come before institutional because they are
//! usually subdomains or siblings of it (`stu.kust.edu.cn` under `kust.edu.cn`), and the more
//! specific rule must win. `external` is the catch-all, so no address goes unclassified.

pub mod lists;

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::error::ConfigError;
use crate::model::{Class, Classification, Email, Severity};
use crate::profile::{Allow, AllowTarget, Legacy, Profile, is_within};

pub use lists::{Placeholders, Webmail};

/// The default severity of each class (DESIGN.md); a profile's `[severity]` table overrides.
#[must_use]
pub fn default_severity(class: Class) -> Severity {
    match class {
        Class::Allowed | Class::Institutional => Severity::Ok,
        Class::Placeholder => Severity::Ignored,
        Class::Student | Class::External => Severity::Review,
        Class::Legacy | Class::FreeWebmail => Severity::Violation,
    }
}

/// A compiled rule set for one profile and one day.
#[derive(Debug, Clone)]
pub struct Classifier {
    today: NaiveDate,
    allow: Vec<Allow>,
    placeholders: Placeholders,
    student: Vec<String>,
    legacy: Vec<Legacy>,
    institutional: Vec<String>,
    include_subdomains: bool,
    webmail: Webmail,
    severity: BTreeMap<Class, Severity>,
}

impl Classifier {
    /// Builds the classifier for a profile, loading the webmail and placeholder lists.
    /// `today` decides allowlist expiry and legacy retirement.
    pub fn from_profile(profile: &Profile, today: NaiveDate) -> Result<Classifier, ConfigError> {
        Ok(Classifier::new(
            profile,
            lists::webmail(profile)?,
            lists::placeholders(profile)?,
            today,
        ))
    }

    /// Builds the classifier from already loaded lists.
    #[must_use]
    pub fn new(
        profile: &Profile,
        webmail: Webmail,
        placeholders: Placeholders,
        today: NaiveDate,
    ) -> Classifier {
        Classifier {
            today,
            allow: profile.allow.clone(),
            placeholders,
            student: profile.student_domains.clone(),
            legacy: profile.legacy.clone(),
            institutional: profile.domains.clone(),
            include_subdomains: profile.include_subdomains,
            webmail,
            severity: profile.severity.clone(),
        }
    }

    fn verdict(&self, class: Class, rule: String) -> Classification {
        Classification {
            class,
            severity: self
                .severity
                .get(&class)
                .copied()
                .unwrap_or_else(|| default_severity(class)),
            rule,
        }
    }

    /// The domains this classifier knows by name: institutional, student, webmail. OCR
    /// corrects misread domains to these.
    #[must_use]
    pub fn known_domains(&self) -> Vec<String> {
        self.institutional
            .iter()
            .chain(&self.student)
            .chain(self.webmail.domains.keys())
            .cloned()
            .collect()
    }

    /// Classifies one address.
    #[must_use]
    pub fn classify(&self, email: &Email) -> Classification {
        let domain = email.domain();
        for a in &self.allow {
            if a.expires.is_some_and(|d| d < self.today) {
                continue;
            }
            let hit = match &a.target {
                AllowTarget::Address(e) => e == email,
                AllowTarget::Domain(d) => is_within(domain, d),
            };
            if hit {
                let what = match &a.target {
                    AllowTarget::Address(e) => e.to_string(),
                    AllowTarget::Domain(d) => d.clone(),
                };
                return self.verdict(Class::Allowed, format!("allow:{what} ({})", a.reason));
            }
        }
        if self.placeholders.matches(email.local(), domain) {
            return self.verdict(Class::Placeholder, "placeholder".to_string());
        }
        if let Some(d) = self.student.iter().find(|d| is_within(domain, d)) {
            return self.verdict(Class::Student, format!("student:{d}"));
        }
        for l in &self.legacy {
            if is_within(domain, &l.domain) {
                return if self.today >= l.retired_on {
                    self.verdict(
                        Class::Legacy,
                        format!("legacy:{} (retired {})", l.domain, l.retired_on),
                    )
                } else {
                    self.verdict(
                        Class::Institutional,
                        format!(
                            "legacy-not-yet-retired:{} (retires {})",
                            l.domain, l.retired_on
                        ),
                    )
                };
            }
        }
        let institutional = self.institutional.iter().find(|d| {
            if self.include_subdomains {
                is_within(domain, d)
            } else {
                domain == d.as_str()
            }
        });
        if let Some(d) = institutional {
            return self.verdict(Class::Institutional, format!("institutional:{d}"));
        }
        let webmail = self
            .webmail
            .domains
            .iter()
            .find(|(d, _)| is_within(domain, d));
        if let Some((d, provider)) = webmail {
            return self.verdict(Class::FreeWebmail, format!("free_webmail:{d} ({provider})"));
        }
        self.verdict(Class::External, "external".to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn classifier(today: &str) -> Classifier {
        let profile = Profile::parse(
            Path::new("/nonexistent/kust.toml"),
            r#"
name = "KUST"
seeds = ["https://www.kust.edu.cn/"]
domains = ["kust.edu.cn"]
student_domains = ["stu.kust.edu.cn"]
[[legacy]]
domain = "kmust.edu.cn"
retired_on = "2020-09-16"
[[allow]]
address = "editor@journal-partner.com"
reason = "journal office"
expires = "2027-05-01"
[[allow]]
domain = "partner.org"
reason = "partner"
[severity]
external = "violation"
"#,
        )
        .expect("valid profile");
        let today = NaiveDate::parse_from_str(today, "%Y-%m-%d").expect("date");
        Classifier::from_profile(&profile, today).expect("built-in lists")
    }

    fn class(c: &Classifier, addr: &str) -> (Class, Severity) {
        let v = c.classify(&Email::parse(addr).expect("address"));
        (v.class, v.severity)
    }

    #[test]
    fn classes_in_decision_order() {
        let c = classifier("2026-11-24");
        let table = [
            ("editor@journal-partner.com", Class::Allowed),
            ("anyone@mail.partner.org", Class::Allowed),
            ("xxx@xxx.com", Class::Placeholder),
            ("li@example.com", Class::Placeholder),
            ("2021001@stu.kust.edu.cn", Class::Student),
            ("wang@kmust.edu.cn", Class::Legacy),
            ("wang@kust.edu.cn", Class::Institutional),
            ("office@cs.kust.edu.cn", Class::Institutional),
            ("mailteam@qq.com", Class::FreeWebmail),
            ("li@vip.163.com", Class::FreeWebmail),
            ("boss@company.com.cn", Class::External),
            ("a@notkust.edu.cn", Class::External),
        ];
        for (addr, want) in table {
            assert_eq!(class(&c, addr).0, want, "{addr}");
        }
    }

    #[test]
    fn severity_defaults_and_overrides() {
        let c = classifier("2026-11-24");
        assert_eq!(class(&c, "a@qq.com").1, Severity::Violation);
        assert_eq!(class(&c, "a@stu.kust.edu.cn").1, Severity::Review);
        assert_eq!(
            class(&c, "a@other.com").1,
            Severity::Violation,
            "profile override"
        );
    }

    #[test]
    fn allowlist_entries_expire() {
        assert_eq!(
            class(&classifier("2027-05-01"), "editor@journal-partner.com").0,
            Class::Allowed
        );
        assert_eq!(
            class(&classifier("2027-05-02"), "editor@journal-partner.com").0,
            Class::External
        );
    }

    #[test]
    fn legacy_domain_counts_only_from_its_retirement_date() {
        assert_eq!(
            class(&classifier("2020-09-15"), "wang@kmust.edu.cn").0,
            Class::Institutional
        );
        assert_eq!(
            class(&classifier("2020-09-16"), "wang@kmust.edu.cn").0,
            Class::Legacy
        );
    }
}
