//! The Chromium process: started headless with a fresh profile folder, connected over the
//! DevTools protocol (chromiumoxide), killed with its whole process group when dropped,
//! and — through `setpriv --pdeathsig` where available — also when mailpatrol itself is
//! killed, so no browser outlives a scan.

use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use chromiumoxide::Browser;
use chromiumoxide::cdp::browser_protocol::browser::{
    SetDownloadBehaviorBehavior, SetDownloadBehaviorParams,
};
use chromiumoxide::handler::HandlerConfig;
use futures::StreamExt as _;

use super::Unavailable;

/// How long Chromium may take to start and print its DevTools address.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The first of `chromium`, `chromium-browser`, `google-chrome` found on `PATH`.
#[must_use]
pub fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// A started browser.
pub(super) struct Running {
    browser: Arc<Browser>,
    child: Child,
    profile_dir: PathBuf,
    alive: Arc<AtomicBool>,
}

impl Running {
    pub(super) fn browser(&self) -> Arc<Browser> {
        Arc::clone(&self.browser)
    }

    /// False once the connection to the browser ended (it crashed or was killed).
    pub(super) fn alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }

    pub(super) async fn launch(chromium: &Path, host_rules: &str) -> Result<Running, Unavailable> {
        static STARTS: AtomicU32 = AtomicU32::new(0);
        let profile_dir = std::env::temp_dir().join(format!(
            "mailpatrol-chromium-{}-{}",
            std::process::id(),
            STARTS.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&profile_dir);
        std::fs::create_dir_all(&profile_dir).map_err(|e| {
            Unavailable(format!(
                "cannot create the browser profile folder {}: {e}",
                profile_dir.display()
            ))
        })?;
        let setpriv = Path::new("/usr/bin/setpriv");
        let mut cmd = if setpriv.is_file() {
            let mut c = Command::new(setpriv);
            c.args(["--pdeathsig", "KILL", "--"]).arg(chromium);
            c
        } else {
            Command::new(chromium)
        };
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-dev-shm-usage",
            "--mute-audio",
            // Tabs other than the front one count as background tabs, whose timers Chromium
            // throttles (to 1 s and more): a page in a pooled tab would run its scripts late.
            "--disable-background-timer-throttling",
            "--disable-backgrounding-occluded-windows",
            "--disable-renderer-backgrounding",
            "--no-proxy-server",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile_dir.display()))
        .arg(format!("--host-resolver-rules={host_rules}"))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group, so the whole browser (renderers, zygote) is killed together
        // and a Ctrl-C in the terminal reaches mailpatrol only.
        .process_group(0);
        let mut child = cmd.spawn().map_err(|e| {
            Unavailable(format!(
                "cannot start {}: {e}; install Chromium with `apt-get install chromium`",
                chromium.display()
            ))
        })?;
        let Some(stderr) = child.stderr.take() else {
            kill_group(&mut child);
            return Err(Unavailable("no stderr from the browser".to_string()));
        };
        // Chromium prints "DevTools listening on ws://..." on stderr; read it on a thread and
        // keep draining stderr afterwards so the browser never blocks on a full pipe.
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.find("ws://")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(line[at..].trim().to_string());
                }
            }
        });
        let Ok(Ok(ws)) = tokio::time::timeout(LAUNCH_TIMEOUT, rx).await else {
            kill_group(&mut child);
            let _ = std::fs::remove_dir_all(&profile_dir);
            return Err(Unavailable(format!(
                "{} started but did not open its DevTools port within {} s",
                chromium.display(),
                LAUNCH_TIMEOUT.as_secs()
            )));
        };
        let config = HandlerConfig {
            request_timeout: Duration::from_secs(30),
            ..HandlerConfig::default()
        };
        let (browser, mut handler) = match Browser::connect_with_config(ws, config).await {
            Ok(b) => b,
            Err(e) => {
                kill_group(&mut child);
                let _ = std::fs::remove_dir_all(&profile_dir);
                return Err(Unavailable(format!("cannot connect to the browser: {e}")));
            }
        };
        let alive = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&alive);
        tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(e) = event
                    && matches!(
                        e,
                        chromiumoxide::error::CdpError::Ws(_)
                            | chromiumoxide::error::CdpError::Io(_)
                    )
                {
                    tracing::warn!("browser connection lost: {e}");
                    break;
                }
            }
            flag.store(false, Ordering::Relaxed);
        });
        let mut deny = SetDownloadBehaviorParams::new(SetDownloadBehaviorBehavior::Deny);
        deny.events_enabled = Some(false);
        if let Err(e) = browser.execute(deny).await {
            tracing::warn!("cannot deny downloads in the browser: {e}");
        }
        tracing::info!(browser = %chromium.display(), "browser started for rendering");
        Ok(Running {
            browser: Arc::new(browser),
            child,
            profile_dir,
            alive,
        })
    }
}

/// Kills the browser's process group and reaps the main process.
fn kill_group(child: &mut Child) {
    // The group id is the browser's pid (process_group(0)); `kill` is used because sending
    // a signal to a group needs no unsafe code that way.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Running {
    fn drop(&mut self) {
        kill_group(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.profile_dir);
    }
}
