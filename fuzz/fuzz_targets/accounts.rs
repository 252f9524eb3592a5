#![no_main]
//! Fuzz target: no passwd or group text may make the account readers
//! panic, and the primary group always comes first, once.

use libfuzzer_sys::fuzz_target;
use logmux::sys::accounts::{groups_of, passwd_entry};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for name in ["root", "www-data", ""] {
        let _ = passwd_entry(&text, name);
        let groups = groups_of(&text, name, 33);
        assert_eq!(groups.first(), Some(&33));
        assert_eq!(groups.iter().filter(|&&g| g == 33).count(), 1);
    }
});
