//! Delivery: each department receives its own report of a stored run by email. A message is
//! built from the [`ScanRun`] alone ([`subject`], [`body`], [`message`]: pure), with the
//! department's CSV and/or workbook attached; [`deliver`] walks the departments, asks the
//! [`Store`] what was already delivered, hands each message to a [`Sink`] (an SMTP server, or
//! `.eml` files for a dry run) and records what the server accepted, so running it again
//! sends nothing twice. A department without contacts is returned, never skipped silently.
//!
//! SMTP goes through lettre ([`transport`]); credentials come from the caller (the CLI reads
//! them from the environment or a file, never from the command line), and a password in the
//! URL is refused.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Local;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};
use url::Url;

use crate::error::ReportError;
use crate::model::{
    Department, DepartmentFindings, DepartmentStats, FindingSource, ScanRun, Severity, Status,
};
use crate::profile::Profile;
use crate::report::{self, Lang};
use crate::store::{Store, StoreError};

/// How many violations the body lists before pointing to the attachment.
const LISTED: usize = 10;

/// MIME type of a department CSV.
pub const CSV_TYPE: &str = "text/csv; charset=utf-8";
/// MIME type of a department workbook.
pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Errors of delivery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliverError {
    /// The SMTP settings are unusable (bad URL, password in the URL, clear-text credentials).
    #[error("{0}")]
    Settings(String),
    /// An address could not be used as a mailbox.
    #[error("invalid address {address:?}: {source}")]
    Address {
        /// The address.
        address: String,
        /// Why.
        source: lettre::address::AddressError,
    },
    /// The message could not be built.
    #[error("cannot build the message: {0}")]
    Message(#[from] lettre::error::Error),
    /// The SMTP server refused or could not be reached.
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    /// An attachment could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Which report files to attach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AttachKind {
    /// The department CSV (UTF-8 with BOM, as in `departments/`).
    Csv,
    /// The department workbook (`report::xlsx::write_department_workbook`).
    Xlsx,
}

/// A file attached to a message.
#[derive(Debug, Clone)]
pub struct File {
    /// Its name as the recipient sees it.
    pub name: String,
    /// Its MIME type.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// An address as a lettre mailbox.
pub fn mailbox(address: &str) -> Result<Mailbox, DeliverError> {
    address
        .parse::<Mailbox>()
        .map_err(|source| DeliverError::Address {
            address: address.to_string(),
            source,
        })
}

/// The stats of one department of the run (zero when the run does not know it).
fn stats(run: &ScanRun, department: &Department) -> DepartmentStats {
    run.department_stats()
        .find(|(d, _)| d.id == department.id)
        .map(|(_, s)| s.clone())
        .unwrap_or_default()
}

/// The run's day, `YYYY-MM-DD`.
fn day(run: &ScanRun) -> String {
    run.started.format("%Y-%m-%d").to_string()
}

/// The subject: institution, department, day and the number of violations.
#[must_use]
pub fn subject(department: &Department, run: &ScanRun, lang: Lang) -> String {
    let s = stats(run, department);
    match lang {
        Lang::Zh => format!(
            "【邮箱公布检查】{}：{} 检查结果，违规 {} 项（{}）",
            department.name,
            day(run),
            s.violations,
            run.profile
        ),
        Lang::En => format!(
            "[Email audit] {}: results of {}, {} violation(s) ({})",
            department.name,
            day(run),
            s.violations,
            run.profile
        ),
    }
}

/// The plain-text body: counts, what to fix, the first violations, where the details are.
#[must_use]
pub fn body(
    department: &Department,
    run: &ScanRun,
    findings: &DepartmentFindings,
    lang: Lang,
) -> String {
    let s = stats(run, department);
    let zh = lang == Lang::Zh;
    let mut b = String::new();
    let date = day(run);
    if zh {
        let _ = writeln!(b, "{} 负责同志：\n", department.name);
        let _ = writeln!(
            b,
            "{} 于 {date} 检查了各单位网站上公布的电子邮箱（第 {} 次检查）。贵单位的结果：\n",
            run.profile, run.id
        );
        let _ = writeln!(b, "  违规（须整改）：{} 项", s.violations);
        let _ = writeln!(b, "  待核查：{} 项", s.reviews);
        let _ = writeln!(b, "  本次新发现：{} 项", s.new);
        let _ = writeln!(b, "  已整改（上次有、本次已无）：{} 项\n", s.resolved);
    } else {
        let _ = writeln!(b, "To the {} office,\n", department.name);
        let _ = writeln!(
            b,
            "{} checked the email addresses published on its websites on {date} (run {}). Your results:\n",
            run.profile, run.id
        );
        let _ = writeln!(b, "  violations (to fix): {}", s.violations);
        let _ = writeln!(b, "  to review: {}", s.reviews);
        let _ = writeln!(b, "  new since the last check: {}", s.new);
        let _ = writeln!(b, "  resolved since the last check: {}\n", s.resolved);
    }
    if s.violations + s.reviews == 0 {
        b.push_str(if zh {
            "本次检查未发现需要整改的问题，感谢配合。\n"
        } else {
            "Nothing to fix this time. Thank you.\n"
        });
    } else {
        b.push_str(if zh {
            "请整改：把页面上公布的免费邮箱（QQ、163、Gmail 等）和其他非学校邮箱换成学校邮箱，或删除该地址；“待核查”的地址请确认是否为本单位正式邮箱。每一项的页面链接、原文和上下文见附件。\n"
        } else {
            "What to fix: replace free webmail (QQ, 163, Gmail, ...) and other non-institutional addresses on your pages with institutional ones, or remove them; check whether the addresses to review are official. The attachment lists each one with its page, text and context.\n"
        });
    }
    let violations: Vec<_> = findings
        .current
        .iter()
        .filter(|f| f.severity == Severity::Violation)
        .collect();
    if !violations.is_empty() {
        b.push_str(if zh {
            "\n违规地址：\n"
        } else {
            "\nViolations:\n"
        });
        for f in violations.iter().take(LISTED) {
            let class = if zh { f.class.zh() } else { f.class.as_str() };
            let new = match (f.status, zh) {
                (Status::New, true) => "，新发现",
                (Status::New, false) => ", new",
                _ => "",
            };
            let sep = if zh { "（" } else { " (" };
            let close = if zh { "）" } else { ")" };
            let _ = writeln!(b, "  - {}{sep}{class}{new}{close} {}", f.email, f.page);
        }
        if violations.len() > LISTED {
            let more = violations.len() - LISTED;
            let _ = writeln!(
                b,
                "{}",
                if zh {
                    format!("  ……另有 {more} 项，见附件。")
                } else {
                    format!("  ... and {more} more in the attachment.")
                }
            );
        }
    }
    if !run.complete {
        b.push_str(if zh {
            "\n注意：本次检查没有完成（中断或达到上限），结果可能不全。\n"
        } else {
            "\nNote: this check did not complete (interrupted or stopped by a limit); results may be partial.\n"
        });
    }
    b.push_str(if zh {
        "\n本邮件由 mailpatrol 自动发送。\n"
    } else {
        "\nSent automatically by mailpatrol.\n"
    });
    b
}

/// One department's message: subject and body from the run, `files` attached.
pub fn message(
    department: &Department,
    run: &ScanRun,
    findings: &DepartmentFindings,
    lang: Lang,
    from: &Mailbox,
    to: &[Mailbox],
    files: &[File],
) -> Result<Message, DeliverError> {
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(subject(department, run, lang))
        .message_id(None)
        .user_agent(format!("mailpatrol {}", env!("CARGO_PKG_VERSION")));
    for t in to {
        builder = builder.to(t.clone());
    }
    let mut parts =
        MultiPart::mixed().singlepart(SinglePart::plain(body(department, run, findings, lang)));
    for f in files {
        let content_type = ContentType::parse(f.content_type)
            .map_err(|e| DeliverError::Settings(format!("{}: {e}", f.content_type)))?;
        parts =
            parts.singlepart(Attachment::new(f.name.clone()).body(f.bytes.clone(), content_type));
    }
    Ok(builder.multipart(parts)?)
}

/// The attachments of every department, in the order of `run.departments`, written through
/// the report writers into `scratch` and read back.
pub fn attachments(
    run: &ScanRun,
    findings: &dyn FindingSource,
    kinds: &[AttachKind],
    lang: Lang,
    scratch: &Path,
) -> Result<Vec<Vec<File>>, DeliverError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| DeliverError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let mut out: Vec<Vec<File>> = vec![Vec::new(); run.departments.len()];
    let date = day(run);
    if kinds.contains(&AttachKind::Csv) {
        let written = report::write_all(run, findings, scratch, lang)?;
        // write_all writes the department CSVs first, in the order of run.departments.
        for (files, rel) in out.iter_mut().zip(&written.files) {
            let stem = rel
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            files.push(File {
                name: format!("{stem}_{date}.csv"),
                content_type: CSV_TYPE,
                bytes: read(&written.dir.join(rel))?,
            });
        }
    }
    if kinds.contains(&AttachKind::Xlsx) {
        for (i, (files, d)) in out.iter_mut().zip(&run.departments).enumerate() {
            let path = scratch.join(format!("department-{i}.xlsx"));
            report::xlsx::write_department_workbook(run, findings, &d.id, &path, lang)?;
            files.push(File {
                name: format!("{}_{date}.xlsx", report::file_name(&d.id.0)),
                content_type: XLSX_TYPE,
                bytes: read(&path)?,
            });
        }
    }
    Ok(out)
}

/// Where messages go.
#[derive(Debug)]
pub enum Sink<'a> {
    /// Write `<department>.eml` files into this folder; nothing is sent or recorded.
    DryRun(&'a Path),
    /// Send through this SMTP transport and record each accepted delivery.
    Smtp(&'a SmtpTransport),
}

/// Settings of a delivery.
#[derive(Debug, Clone)]
pub struct Options {
    /// The sender.
    pub from: Mailbox,
    /// Language of subject, body and attachments.
    pub lang: Lang,
    /// What to attach.
    pub attach: Vec<AttachKind>,
}

/// A message handed to the sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The department's display name.
    pub department: String,
    /// The recipients it was addressed to.
    pub recipients: Vec<String>,
    /// The `.eml` file, in a dry run.
    pub file: Option<PathBuf>,
}

/// What [`deliver`] did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Messages sent (or written, in a dry run).
    pub sent: Vec<Delivered>,
    /// Departments whose every contact already received this run's report.
    pub already: Vec<Delivered>,
    /// Departments without any contact in the profile: nobody receives their report.
    pub no_contact: Vec<Department>,
    /// Departments whose message failed, with the error; the others went on.
    pub failed: Vec<(String, String)>,
}

/// `name (id)` when the two differ, else the name.
#[must_use]
pub fn label(d: &Department) -> String {
    if d.name == d.id.0 {
        d.name.clone()
    } else {
        format!("{} ({})", d.name, d.id.0)
    }
}

/// Sends each department of `run` its report, to its `contacts` in `profile`, skipping
/// recipients the store says already received it; `scratch` is a folder for the attachments.
pub fn deliver(
    run: &ScanRun,
    profile: &Profile,
    store: &Store,
    sink: &Sink<'_>,
    options: &Options,
    scratch: &Path,
) -> Result<Outcome, DeliverError> {
    let mut outcome = Outcome::default();
    let mut todo = Vec::new();
    for (i, d) in run.departments.iter().enumerate() {
        let contacts: Vec<String> = profile
            .departments
            .iter()
            .find(|r| r.name == d.id.0)
            .map(|r| r.contacts.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        if contacts.is_empty() {
            outcome.no_contact.push(d.clone());
            continue;
        }
        let mut pending = Vec::new();
        for c in contacts {
            if !store.delivered(run.id, &d.id.0, &c)? {
                pending.push(c);
            }
        }
        if pending.is_empty() {
            outcome.already.push(Delivered {
                department: label(d),
                recipients: Vec::new(),
                file: None,
            });
            continue;
        }
        todo.push((i, d, pending));
    }
    if todo.is_empty() {
        return Ok(outcome);
    }
    let findings = store.findings_of(run);
    let files = attachments(run, &findings, &options.attach, options.lang, scratch)?;
    for (i, d, pending) in todo {
        let to = pending
            .iter()
            .map(|c| mailbox(c))
            .collect::<Result<Vec<_>, _>>()?;
        let mine = findings.department(&d.id).map_err(|e| {
            DeliverError::Report(ReportError::Read {
                department: d.name.clone(),
                message: e.to_string(),
            })
        })?;
        let msg = message(d, run, &mine, options.lang, &options.from, &to, &files[i])?;
        match sink {
            Sink::DryRun(dir) => {
                let path = dir.join(format!("{}.eml", report::file_name(&d.id.0)));
                std::fs::write(&path, msg.formatted()).map_err(|source| DeliverError::Io {
                    path: path.clone(),
                    source,
                })?;
                outcome.sent.push(Delivered {
                    department: label(d),
                    recipients: pending,
                    file: Some(path),
                });
            }
            Sink::Smtp(transport) => match transport.send(&msg) {
                Ok(_) => {
                    let id = msg.headers().get_raw("Message-ID").unwrap_or_default();
                    let now = Local::now();
                    for c in &pending {
                        store.record_delivery(run.id, &d.id.0, c, now, id)?;
                    }
                    outcome.sent.push(Delivered {
                        department: label(d),
                        recipients: pending,
                        file: None,
                    });
                }
                Err(e) => outcome.failed.push((label(d), e.to_string())),
            },
        }
    }
    Ok(outcome)
}

/// Whether `host` is this machine (a local relay may take credentials in clear text).
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An SMTP transport for `url`:
///
/// - `smtp://HOST[:25]`: plain SMTP, for a local relay;
/// - `smtp://HOST[:587]?tls=required`: STARTTLS, refused if the server does not offer it;
/// - `smtp://HOST[:587]?tls=opportunistic`: STARTTLS when offered, else plain;
/// - `smtps://HOST[:465]`: TLS from the first byte.
///
/// The user is the URL's (`smtp://user@host`) or `user`; a password in the URL is refused
/// (it would sit in the shell history and the process list). Credentials are sent only over
/// TLS (`smtps://` or `tls=required`), or to a relay on this machine.
pub fn transport(
    url: &str,
    user: Option<String>,
    password: Option<String>,
) -> Result<SmtpTransport, DeliverError> {
    let settings = |m: String| DeliverError::Settings(m);
    let mut parsed = Url::parse(url).map_err(|e| settings(format!("--smtp-url {url:?}: {e}")))?;
    if parsed.password().is_some() {
        return Err(settings(
            "a password in --smtp-url is refused: set MAILPATROL_SMTP_PASSWORD or use --password-file"
                .into(),
        ));
    }
    let tls = parsed
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let encrypted = match (parsed.scheme(), tls.as_deref()) {
        ("smtps", None) | ("smtp", Some("required")) => true,
        ("smtp", None | Some("opportunistic")) => false,
        (scheme, tls) => {
            return Err(settings(format!(
                "--smtp-url {url:?}: use smtp://, smtp://...?tls=required, smtp://...?tls=opportunistic or smtps:// (got scheme {scheme:?}, tls {tls:?})"
            )));
        }
    };
    let host = parsed.host_str().unwrap_or_default().to_string();
    let url_user = percent_encoding::percent_decode_str(parsed.username())
        .decode_utf8_lossy()
        .into_owned();
    let user = if url_user.is_empty() {
        user
    } else {
        Some(url_user)
    };
    let credentials = match (user, password) {
        (Some(u), Some(p)) => Some(Credentials::new(u, p)),
        (None, None) => None,
        (Some(u), None) => {
            return Err(settings(format!(
                "SMTP user {u:?} given but no password: set MAILPATROL_SMTP_PASSWORD or use --password-file"
            )));
        }
        (None, Some(_)) => {
            return Err(settings(
                "a password but no SMTP user: put it in the URL (smtps://user@host) or set MAILPATROL_SMTP_USER".into(),
            ));
        }
    };
    if credentials.is_some() && !encrypted && !is_loopback(&host) {
        return Err(settings(format!(
            "refusing to send the SMTP password to {host} in clear text: use smtps:// or add ?tls=required"
        )));
    }
    let _ = parsed.set_username("");
    let mut builder =
        SmtpTransport::from_url(parsed.as_str())?.timeout(Some(Duration::from_secs(60)));
    if let Some(c) = credentials {
        builder = builder.credentials(c);
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_urls_and_off_clear_text() {
        let err = |u: &str, user: Option<&str>, pw: Option<&str>| {
            transport(u, user.map(Into::into), pw.map(Into::into))
                .unwrap_err()
                .to_string()
        };
        assert!(err("smtps://u:secret@mail.x.edu.cn", None, None).contains("refused"));
        assert!(err("smtp://u@mail.x.edu.cn", None, Some("p")).contains("clear text"));
        assert!(
            err(
                "smtp://mail.x.edu.cn?tls=opportunistic",
                Some("u"),
                Some("p")
            )
            .contains("clear text")
        );
        assert!(err("smtp://u@mail.x.edu.cn?tls=required", None, None).contains("no password"));
        assert!(err("smtp://mail.x.edu.cn?tls=required", None, Some("p")).contains("no SMTP user"));
        assert!(err("http://mail.x.edu.cn", None, None).contains("smtps://"));
        assert!(
            transport(
                "smtp://u@mail.x.edu.cn?tls=required",
                None,
                Some("p".into())
            )
            .is_ok()
        );
        assert!(transport("smtps://mail.x.edu.cn", Some("u".into()), Some("p".into())).is_ok());
        assert!(transport("smtp://127.0.0.1:2525", Some("u".into()), Some("p".into())).is_ok());
        assert!(transport("smtp://localhost", None, None).is_ok());
    }
}
