//! The system calls logmux makes, through `nix` where it has them.
