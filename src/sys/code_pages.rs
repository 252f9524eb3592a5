//! Giving back the pages of logmux's own code that start-up touched and an
//! idle supervisor does not run.
//!
//! The kernel maps a binary's code in runs of 64 KiB around each page that
//! runs (fault-around), and start-up (arguments, the config, templates,
//! spawning the programs) runs code spread over most of the binary: about
//! 4.7 of the static binary's 5.3 MB of idle RSS were its code and
//! constants, of which the idle loop runs a few pages. `MADV_PAGEOUT`
//! (Linux 5.4) drops them from this process and from the page cache; the
//! pages that run again (the pipeline, when a program writes) are read back
//! from the binary as they are used.

use std::io;
use std::path::Path;

/// Pages out this process's read-only mappings of its own executable (its
/// code and constants; not its data). Returns the bytes advised.
pub fn page_out_code() -> io::Result<usize> {
    let exe = std::fs::read_link("/proc/self/exe")?;
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let mut advised = 0;
    for (start, end) in read_only_mappings_of(&maps, &exe) {
        // SAFETY: `[start, end)` is one of this process's private, read-only
        // mappings of its executable file, as the kernel listed them. Paging
        // it out changes no memory's contents: the pages are read back from
        // the file when next touched. Nothing is dereferenced here.
        let rc =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        advised += end - start;
    }
    Ok(advised)
}

/// The address ranges of `maps` (`/proc/PID/maps`) that map `exe` private
/// and not writable.
fn read_only_mappings_of(maps: &str, exe: &Path) -> Vec<(usize, usize)> {
    let Some(exe) = exe.to_str() else {
        return Vec::new();
    };
    maps.lines()
        .filter_map(|line| {
            // `start-end perms offset dev inode path`; the path may hold spaces.
            let mut parts = line.splitn(6, ' ');
            let range = parts.next()?;
            let perms = parts.next()?.as_bytes();
            let path = parts.nth(3)?.trim_start();
            let read_only = perms.first() == Some(&b'r')
                && perms.get(1) == Some(&b'-')
                && perms.get(3) == Some(&b'p');
            if !read_only || path != exe {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            (start < end).then_some((start, end))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_executables_read_only_private_mappings_are_taken() {
        let maps = "\
5581a0000000-5581a0149000 r--p 00000000 fd:01 1234   /usr/bin/logmux
5581a0149000-5581a065d000 r-xp 00149000 fd:01 1234   /usr/bin/logmux
5581a065d000-5581a067e000 r--p 0065d000 fd:01 1234   /usr/bin/logmux
5581a067e000-5581a0681000 rw-p 0067e000 fd:01 1234   /usr/bin/logmux
5581a0681000-5581a0700000 rw-p 00000000 00:00 0      [heap]
7f0000000000-7f0000100000 r-xp 00000000 fd:01 99     /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000200000-7f0000201000 r-xs 00000000 fd:01 1234   /usr/bin/logmux
7f0000300000-7f0000301000 r-xp 00000000 fd:01 77     /usr/bin/logmux-other
7f0000400000-7f0000401000 r-xp 00000000 fd:01 1235   /usr/bin/logmux (deleted)
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0      [stack]
";
        let got = read_only_mappings_of(maps, Path::new("/usr/bin/logmux"));
        assert_eq!(
            got,
            vec![
                (0x5581_a000_0000, 0x5581_a014_9000),
                (0x5581_a014_9000, 0x5581_a065_d000),
                (0x5581_a065_d000, 0x5581_a067_e000),
            ]
        );
        let spaced = "00400000-00401000 r-xp 00000000 fd:01 5 /opt/my tools/logmux\n";
        assert_eq!(
            read_only_mappings_of(spaced, Path::new("/opt/my tools/logmux")),
            vec![(0x40_0000, 0x40_1000)]
        );
        assert_eq!(
            read_only_mappings_of("garbage\n\n- r-xp", Path::new("/x")),
            vec![]
        );
    }

    /// The resident kB of this process's read-only mappings of its
    /// executable, from `/proc/self/smaps`.
    fn resident_code_kib() -> u64 {
        let exe = std::fs::read_link("/proc/self/exe").unwrap_or_default();
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
        let ranges = read_only_mappings_of(&smaps, &exe);
        let mut counted = false;
        let mut kib = 0;
        for line in smaps.lines() {
            let mut words = line.split_whitespace();
            let first = words.next().unwrap_or("");
            if let Some((start, _)) = first.split_once('-') {
                let start = usize::from_str_radix(start, 16).unwrap_or(0);
                counted = ranges.iter().any(|(s, _)| *s == start);
            } else if counted && first == "Rss:" {
                kib += words
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
        kib
    }

    #[test]
    fn paging_out_this_test_binarys_code_drops_its_resident_pages() {
        let before = resident_code_kib();
        let advised = page_out_code().unwrap_or_else(|e| panic!("madvise: {e}"));
        let after = resident_code_kib();
        assert!(advised > 0, "no mapping of the test binary found");
        // Other tests run beside this one and read some of it back.
        assert!(
            after * 2 < before,
            "resident code {before} kB, then {after} kB"
        );
    }
}
