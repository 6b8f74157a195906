//! Why a load balancer's graph cannot be rendered.

/// A value of the graph or of the options cannot be written into `haproxy.cfg`.
///
/// `field` names the offending attribute as `object.attribute` (for example
/// `health_monitor.url_path`); offending values are shown escaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The value holds whitespace, a control character, a quote, `#` or a backslash,
    /// any of which could change the structure of the configuration.
    #[error(
        "{field} {value:?} contains whitespace, a control character, a quote, '#' or a backslash"
    )]
    UnsafeValue { field: &'static str, value: String },
    /// The value is not of the form the field needs.
    #[error("{field} {value:?} is invalid: {reason}")]
    InvalidValue {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    /// A value the configuration needs is absent.
    #[error("{field} is missing")]
    Missing { field: &'static str },
    /// A listener's default pool is not part of the graph.
    #[error("listener {listener_id:?} has default pool {pool_id:?}, which is not in the load balancer's graph")]
    UnknownPool {
        listener_id: String,
        pool_id: String,
    },
}
