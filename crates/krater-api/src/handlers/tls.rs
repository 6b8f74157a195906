//! `tls_ciphers`, `tls_versions` and `alpn_protocols`, which listeners and pools share.
//! As in Octavia, a create stores them as given (on any protocol: they only take effect
//! on TLS objects); an update checks the versions and refuses empty lists, and an
//! explicit null resets a value to its default.

use super::*;
use crate::body::{invalid, py_repr, Field, Input};
use krater_domain::{
    TlsOptions, ALPN_PROTOCOLS, DEFAULT_TLS_CIPHERS, DEFAULT_TLS_VERSIONS, TLS_VERSIONS,
};

const CIPHERS_MAX: usize = 2048;
const VERSION_MAX: usize = 32;

/// The three options of a request body, type-checked.
pub(super) struct TlsFields {
    ciphers: Field<String>,
    versions: Field<Vec<String>>,
    alpn_protocols: Field<Vec<String>>,
}

pub(super) fn parse(input: &Input) -> ApiResult<TlsFields> {
    if let Some(raw @ Value::Array(items)) = input.raw_value("alpn_protocols") {
        let known = |item: &Value| item.as_str().is_some_and(|p| ALPN_PROTOCOLS.contains(&p));
        if !items.iter().all(known) {
            return Err(invalid(
                "alpn_protocols",
                &py_repr(raw),
                "Value should be a valid ALPN protocol ID",
            ));
        }
    }
    Ok(TlsFields {
        ciphers: input.string("tls_ciphers", CIPHERS_MAX)?,
        versions: input.string_list("tls_versions", VERSION_MAX)?,
        alpn_protocols: input.string_list("alpn_protocols", usize::MAX)?,
    })
}

/// The options of a new object: what the body gave, nothing else.
pub(super) fn created(fields: TlsFields) -> TlsOptions {
    TlsOptions {
        ciphers: fields.ciphers.value(),
        versions: fields.versions.value(),
        alpn_protocols: fields.alpn_protocols.value(),
    }
}

/// The options after an update of `current`; `default_alpn` is what a null
/// `alpn_protocols` resets to (listeners have a default list, pools none).
pub(super) fn updated_options(
    fields: TlsFields,
    current: TlsOptions,
    default_alpn: Option<&[&str]>,
) -> ApiResult<TlsOptions> {
    let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if let Field::Value(versions) = &fields.versions {
        if versions.is_empty() {
            return Err(ApiError::validation(
                "Empty TLS version list. Either specify at least one TLS version or remove this parameter to use the default.",
            ));
        }
        let unknown: Vec<&str> = versions
            .iter()
            .map(String::as_str)
            .filter(|v| !TLS_VERSIONS.contains(v))
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::validation(format!(
                "Invalid TLS versions: {}",
                unknown.join(", ")
            )));
        }
    }
    if fields.alpn_protocols == Field::Value(vec![]) {
        return Err(ApiError::validation(
            "Empty ALPN protocol list. Either specify at least one ALPN protocol or remove this parameter to use the default.",
        ));
    }
    Ok(TlsOptions {
        ciphers: updated(
            fields.ciphers.map(Some),
            current.ciphers,
            Some(DEFAULT_TLS_CIPHERS.to_string()),
        ),
        versions: updated(
            fields.versions.map(Some),
            current.versions,
            Some(owned(DEFAULT_TLS_VERSIONS)),
        ),
        alpn_protocols: updated(
            fields.alpn_protocols.map(Some),
            current.alpn_protocols,
            default_alpn.map(owned),
        ),
    })
}
