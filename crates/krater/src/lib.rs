//! The roles of the `krater` binary, as a library so that tests can start them
//! in-process.

mod pki;
pub mod serve;
