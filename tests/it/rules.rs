//! Every shipped profile in rules/ loads and validates (a bad rule fails CI).

use std::path::Path;

use mailpatrol::classify::Classifier;
use mailpatrol::profile::Profile;

#[test]
fn every_shipped_profile_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut profiles = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.extension().is_some_and(|e| e == "toml")
            && !["webmail.toml", "placeholders.toml"].contains(&name.as_str())
        {
            let p = Profile::load(&path).unwrap_or_else(|e| panic!("{e}"));
            Classifier::from_profile(&p, chrono::Local::now().date_naive())
                .unwrap_or_else(|e| panic!("{e}"));
            profiles += 1;
        }
    }
    assert!(profiles >= 2, "demo.toml and ustl.toml at least");
}
