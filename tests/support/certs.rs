//! Test certificates made by the real openssl in a directory: two
//! unrelated CAs (`ca`, `other-ca`), a server certificate for 127.0.0.1 and
//! localhost, and (for client authentication) a client certificate from
//! each CA. Each `NAME` leaves `NAME.pem` and `NAME.key` in the directory.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// A server's extensions: 127.0.0.1 and localhost, server authentication.
pub const SERVER_EXT: &str = "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n";

/// A client's extensions: `client.test`, client authentication.
pub const CLIENT_EXT: &str = "subjectAltName=DNS:client.test\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n";

/// `openssl ARGS` in `dir`; panics with its stderr if it fails.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A certificate `name.pem` (and `name.key`) for CN `cn`, signed by `ca`,
/// with the extensions `ext`.
pub fn signed(dir: &Path, name: &str, cn: &str, ca: &str, ext: &str) {
    let (key, csr, pem, cnf) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("{name}.cnf"),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    std::fs::write(dir.join(&cnf), ext).unwrap();
    let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &cnf,
            "-out",
            &pem,
        ],
    );
}

/// The two self-signed CAs, `ca` and `other-ca`.
pub fn make_cas(dir: &Path) {
    for ca in ["ca", "other-ca"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=logmux test {ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
            ],
        );
    }
}

/// The CAs and `server` (signed by `ca`).
pub fn make_server_certificates(dir: &Path) {
    make_cas(dir);
    signed(dir, "server", "localhost", "ca", SERVER_EXT);
}

/// `ca.pem`, `other-ca.pem`; `server.pem` for 127.0.0.1 and localhost
/// (signed by ca); `client.pem` (by ca) and `rogue.pem` (by other-ca).
pub fn make_certificates(dir: &Path) {
    make_server_certificates(dir);
    signed(dir, "client", "client.test", "ca", CLIENT_EXT);
    signed(dir, "rogue", "client.test", "other-ca", CLIENT_EXT);
}
