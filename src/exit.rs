//! Exit codes: the sysexits table, and the one place an outcome becomes a code.
