//! `mailpatrol files DIR`: a folder of uploaded notices, attributed by sub-folder. See: #4

use std::path::Path;

use assert_cmd::Command;

use crate::support;

fn copy(from: &str, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(support::fixtures().join("documents").join(from), to).unwrap();
}

#[test]
fn uploaded_notices_are_read_and_attributed_by_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let uploads = tmp.path().join("uploads");
    copy("notice.docx", &uploads.join("jwc-2024/期末通知.docx"));
    copy("notice.pdf", &uploads.join("jwc-2024/sub/notice.pdf"));
    copy("notice.xlsx", &uploads.join("信息中心/名单.xlsx"));
    copy("scan.pdf", &uploads.join("信息中心/扫描件.pdf"));
    copy("notice.txt", &uploads.join("loose.txt"));
    copy("notice.docx", &uploads.join(".trash/old.docx"));
    let profile = tmp.path().join("p.toml");
    std::fs::write(
        &profile,
        "name = \"辽宁科技大学\"\nseeds = [\"https://www.ustl.edu.cn/\"]\ndomains = [\"ustl.edu.cn\"]\n\
         [[departments]]\nname = \"教务处\"\nfolders = [\"jwc-2024\"]\n",
    )
    .unwrap();
    let day = support::files_command(&uploads, &profile, &tmp.path().join("reports"), &[]);
    let jwc = std::fs::read_to_string(day.join("departments/教务处.csv")).unwrap();
    for (addr, location) in [
        ("12345678@qq.com", ",page 2,"),
        ("zhang@ustl.edu.cn", ",body,"),
    ] {
        assert!(
            jwc.lines()
                .any(|l| l.contains(addr) && l.contains(location)),
            "{addr} {location}\n{jwc}"
        );
    }
    assert!(jwc.contains("期末通知.docx"), "{jwc}");
    let nic = std::fs::read_to_string(day.join("departments/信息中心.csv")).unwrap();
    assert!(
        nic.lines()
            .any(|l| l.contains("12345678@qq.com") && l.contains(",sheet ")),
        "{nic}"
    );
    let loose = std::fs::read_dir(day.join("departments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.contains("unassigned"))
        .unwrap();
    assert!(
        std::fs::read_to_string(day.join("departments").join(loose))
            .unwrap()
            .contains("zhang@ustl.edu.cn")
    );
    let errors = std::fs::read_to_string(day.join("errors.csv")).unwrap();
    assert!(
        errors
            .lines()
            .any(|l| l.contains("%E6%89%AB%E6%8F%8F%E4%BB%B6.pdf") && l.contains("needs-ocr")),
        "{errors}"
    );
    let json = std::fs::read_to_string(day.join("findings.json")).unwrap();
    assert!(!json.contains("trash"), "hidden folders are not read");
    assert!(json.contains("\"profile\": \"辽宁科技大学 [files]\""));
}

#[test]
fn empty_folder_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    let out = Command::cargo_bin("mailpatrol")
        .unwrap()
        .arg("files")
        .arg(tmp.path().join("empty"))
        .arg("--profile")
        .arg(support::profile_path())
        .arg("--out")
        .arg(tmp.path().join("reports"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nothing could be read") && stderr.contains("folder"),
        "{stderr}"
    );
}

#[test]
fn missing_folder_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("mailpatrol")
        .unwrap()
        .args(["files", "/no/such/folder", "--profile"])
        .arg(support::profile_path())
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/folder"));
}
