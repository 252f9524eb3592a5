//! Who a program's `user` is: uid, gid, supplementary groups and home, read
//! from `/etc/passwd` and `/etc/group` directly.
//!
//! The files are read first, always: containers keep their accounts there,
//! and a static logmux (a `FROM scratch` image, or copied into someone
//! else's) cannot rely on glibc's NSS, whose `getpwnam` loads shared modules
//! that must match the glibc logmux was linked with. Only a dynamically
//! linked logmux falls back to the libc lookup (LDAP, sssd) for a name the
//! files do not hold. The parsers below are pure, for tests and fuzzing.

use std::io;
use std::path::{Path, PathBuf};

/// A user account, as a program is started under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Every group the user is in: the primary gid first, then the groups
    /// of `/etc/group` that list the user as a member, each once.
    pub groups: Vec<u32>,
    pub home: PathBuf,
}

/// Why an account could not be looked up (its absence is `Ok(None)`).
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("cannot read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{0}")]
    Libc(nix::Error),
}

/// The system's files.
pub const PASSWD: &str = "/etc/passwd";
pub const GROUP: &str = "/etc/group";

/// `name`'s account from the system's files (then libc, see the module).
pub fn lookup(name: &str) -> Result<Option<Account>, LookupError> {
    match lookup_in(Path::new(PASSWD), Path::new(GROUP), name)? {
        Some(account) => Ok(Some(account)),
        None => libc_lookup(name),
    }
}

/// `name`'s account from the given passwd and group files. A missing
/// passwd file holds nobody; a missing group file, no extra groups.
pub fn lookup_in(passwd: &Path, group: &Path, name: &str) -> Result<Option<Account>, LookupError> {
    let Some(passwd_text) = read_optional(passwd)? else {
        return Ok(None);
    };
    let Some(entry) = passwd_entry(&passwd_text, name) else {
        return Ok(None);
    };
    let group_text = read_optional(group)?.unwrap_or_default();
    Ok(Some(Account {
        name: name.to_owned(),
        uid: entry.uid,
        gid: entry.gid,
        groups: groups_of(&group_text, name, entry.gid),
        home: PathBuf::from(entry.home),
    }))
}

fn read_optional(path: &Path) -> Result<Option<String>, LookupError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LookupError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// One line of `/etc/passwd`: `name:password:uid:gid:gecos:home:shell`.
#[derive(Debug, PartialEq, Eq)]
pub struct PasswdEntry<'a> {
    pub uid: u32,
    pub gid: u32,
    pub home: &'a str,
}

/// The first well-formed line for `name` in passwd `text`. Comments, blank
/// lines, NIS `+`/`-` lines and lines with too few fields or non-numeric
/// ids are skipped, as glibc's files module does.
pub fn passwd_entry<'a>(text: &'a str, name: &str) -> Option<PasswdEntry<'a>> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != name || name.is_empty() {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.trim().parse().ok()?;
        let gid = fields.next()?.trim().parse().ok()?;
        let _gecos = fields.next()?;
        let home = fields.next()?;
        Some(PasswdEntry { uid, gid, home })
    })
}

/// `primary`, then every group of group `text` (`name:password:gid:members`)
/// whose comma-separated members include `user`, each gid once.
pub fn groups_of(text: &str, user: &str, primary: u32) -> Vec<u32> {
    let mut groups = vec![primary];
    for line in text.lines() {
        let mut fields = line.split(':');
        let (Some(_), Some(_), Some(gid), Some(members)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Ok(gid) = gid.trim().parse::<u32>() else {
            continue;
        };
        let member = members.trim_end().split(',').any(|m| m.trim() == user);
        if member && !groups.contains(&gid) {
            groups.push(gid);
        }
    }
    groups
}

/// The libc lookup, for a dynamically linked logmux only: a static one's
/// glibc cannot load NSS modules safely (see the module).
fn libc_lookup(name: &str) -> Result<Option<Account>, LookupError> {
    if cfg!(target_feature = "crt-static") {
        return Ok(None);
    }
    let Some(user) = nix::unistd::User::from_name(name).map_err(LookupError::Libc)? else {
        return Ok(None);
    };
    let groups = libc_groups(name, user.gid.as_raw());
    Ok(Some(Account {
        name: name.to_owned(),
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups,
        home: user.dir,
    }))
}

/// The user's groups by `getgrouplist`, else the primary group alone.
fn libc_groups(name: &str, gid: u32) -> Vec<u32> {
    let Ok(cname) = std::ffi::CString::new(name) else {
        return vec![gid];
    };
    match nix::unistd::getgrouplist(&cname, nix::unistd::Gid::from_raw(gid)) {
        Ok(list) => list.into_iter().map(|g| g.as_raw()).collect(),
        Err(_) => vec![gid],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD_TEXT: &str = "\
root:x:0:0:root:/root:/bin/bash
# a comment, then a blank line

+nis
broken:x:notanumber:1:x:/nowhere:/bin/sh
short:x:5
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
www-data:x:99:99:second:/second:/bin/sh
app:x:1000:1000:App,,,:/home/app:/bin/sh
";

    const GROUP_TEXT: &str = "\
root:x:0:
adm:x:4:syslog,app
www-data:x:33:
tty:x:5:
bad:x:nan:app
app:x:1000:
ssl-cert:x:110:postgres, app ,other
dup:x:4:app
appdev:x:1001:application
";

    #[test]
    fn passwd_gives_uid_gid_home_of_the_first_matching_line() {
        assert_eq!(
            passwd_entry(PASSWD_TEXT, "www-data"),
            Some(PasswdEntry {
                uid: 33,
                gid: 33,
                home: "/var/www"
            })
        );
        assert_eq!(
            passwd_entry(PASSWD_TEXT, "app"),
            Some(PasswdEntry {
                uid: 1000,
                gid: 1000,
                home: "/home/app"
            })
        );
    }

    #[test]
    fn malformed_lines_and_unknown_names_give_nothing() {
        for name in ["broken", "short", "nobody", "", "+nis", "www"] {
            assert_eq!(passwd_entry(PASSWD_TEXT, name), None, "{name}");
        }
        assert_eq!(passwd_entry("", "root"), None);
    }

    #[test]
    fn groups_are_the_primary_then_each_listing_once() {
        assert_eq!(groups_of(GROUP_TEXT, "app", 1000), vec![1000, 4, 110]);
        assert_eq!(groups_of(GROUP_TEXT, "www-data", 33), vec![33]);
        assert_eq!(groups_of(GROUP_TEXT, "syslog", 104), vec![104, 4]);
        assert_eq!(groups_of("", "app", 7), vec![7]);
    }

    #[test]
    fn lookup_in_reads_both_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (p, g) = (dir.path().join("passwd"), dir.path().join("group"));
        std::fs::write(&p, PASSWD_TEXT).expect("write");
        std::fs::write(&g, GROUP_TEXT).expect("write");
        let got = lookup_in(&p, &g, "app").expect("lookup");
        assert_eq!(
            got,
            Some(Account {
                name: "app".into(),
                uid: 1000,
                gid: 1000,
                groups: vec![1000, 4, 110],
                home: PathBuf::from("/home/app"),
            })
        );
        assert_eq!(lookup_in(&p, &g, "nobody").expect("lookup"), None);
        // No group file: the primary group alone; no passwd file: nobody.
        let none = dir.path().join("absent");
        let alone = lookup_in(&p, &none, "app").expect("lookup");
        assert_eq!(alone.map(|a| a.groups), Some(vec![1000]));
        assert_eq!(lookup_in(&none, &g, "app").expect("lookup"), None);
    }

    #[test]
    fn an_unreadable_passwd_path_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A directory cannot be read as a file.
        let err = lookup_in(dir.path(), dir.path(), "app").expect_err("a directory");
        assert!(
            err.to_string()
                .starts_with(&format!("cannot read `{}`", dir.path().display())),
            "{err}"
        );
    }
}
