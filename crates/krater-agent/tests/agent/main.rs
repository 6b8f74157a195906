//! Integration tests of the amphora agent. They run as root: each makes its own
//! namespaces (`kt-<random>-...`) and removes them, whatever happens, and kills the
//! HAProxy processes it started.

mod graph;
mod haproxy;
mod heartbeat;
mod netns;
mod plug;
mod support;
mod tls;
