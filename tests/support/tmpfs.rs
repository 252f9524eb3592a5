//! A small tmpfs for the full-disk tests: mounted at a directory (needs
//! root; `None` where it cannot be), unmounted lazily on drop so a file
//! still open in a dying child does not keep it.

use std::path::Path;
use std::process::Command;

/// A 1 MiB tmpfs at `dir`, unmounted on drop.
pub struct Tmpfs<'a>(&'a Path);

impl<'a> Tmpfs<'a> {
    pub fn mount(dir: &'a Path) -> Option<Tmpfs<'a>> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0).status();
    }
}
