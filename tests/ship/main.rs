//! Shipping: the portable build (dist/libfaultdump.so, for glibc 2.17 and
//! later), scripts/install.sh and scripts/faultdump-run, one file each.

#[path = "../common/mod.rs"]
mod common;

mod install;
mod portable;
mod runner;
