//! `mailpatrol schedule --print systemd|cron`: ready-to-install units for the weekly scan,
//! with the real paths of this binary, the profile and the reports folder.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::Exit;

/// Which scheduler.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    /// A systemd service and timer.
    Systemd,
    /// A crontab line.
    Cron,
}

/// Arguments of `schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// What to print.
    #[arg(long, value_enum)]
    print: Kind,
    /// The institution profile the weekly scan uses.
    #[arg(long, short)]
    profile: PathBuf,
    /// The reports folder.
    #[arg(long, short, default_value = "reports")]
    out: PathBuf,
    /// Days of reports and runs to keep (pruned after each scan).
    #[arg(long, default_value_t = 100)]
    keep_days: u32,
}

fn absolute(p: &Path) -> PathBuf {
    p.canonicalize()
        .unwrap_or_else(|_| std::env::current_dir().map_or_else(|_| p.to_path_buf(), |d| d.join(p)))
}

/// Quotes a path for a shell or a systemd command line.
fn quote(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Prints the units.
pub fn run(args: &ScheduleArgs) -> Exit {
    if !args.profile.is_file() {
        eprintln!("error: profile {} not found", args.profile.display());
        return Exit::Config;
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("mailpatrol"));
    let (exe, profile, out) = (
        quote(&absolute(&exe)),
        quote(&absolute(&args.profile)),
        quote(&absolute(&args.out)),
    );
    let dir = absolute(&args.out);
    let work = quote(dir.parent().unwrap_or(&dir));
    let keep = args.keep_days;
    match args.print {
        Kind::Systemd => print!(
            "\
# /etc/systemd/system/mailpatrol.service
[Unit]
Description=mailpatrol weekly email-address audit
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
WorkingDirectory={work}
ExecStart={exe} scan --profile {profile} --out {out} --no-progress
ExecStartPost={exe} prune --out {out} --keep-days {keep}
# Exit code 2 means the scan did not complete; the next run can resume it with --resume.
SuccessExitStatus=0 1

# /etc/systemd/system/mailpatrol.timer
[Unit]
Description=Run mailpatrol every Monday night

[Timer]
OnCalendar=Mon *-*-* 02:00:00
RandomizedDelaySec=30m
Persistent=true

[Install]
WantedBy=timers.target

# Install: save the two units above, then
#   systemctl daemon-reload && systemctl enable --now mailpatrol.timer
"
        ),
        Kind::Cron => println!(
            "# crontab -e: every Monday at 02:00, then prune reports older than {keep} days\n0 2 * * 1 cd {work} && {exe} scan --profile {profile} --out {out} --no-progress >> {out}/cron.log 2>&1; {exe} prune --out {out} --keep-days {keep} >> {out}/cron.log 2>&1"
        ),
    }
    Exit::Ok
}
