//! The database of one test (feature `test-support`, for the tests of every crate).
//!
//! With `KRATER_TEST_POSTGRES_URL` set to a PostgreSQL server's URL (not empty)
//! (`scripts/test.sh` starts one, `scripts/pg-cluster.sh`), each test gets a new
//! database of its own on that server, so tests running in parallel never meet;
//! without it, a SQLite file in the test's directory.

use sqlx::Connection;
use std::path::Path;

/// The variable that names the PostgreSQL server tests run on.
pub const POSTGRES_URL_VAR: &str = "KRATER_TEST_POSTGRES_URL";

/// The URL of the database of the test that owns `dir`: the same one on every call
/// for the same `dir`, so a test can restart a service on its database.
pub async fn database_url(dir: &Path) -> String {
    let Some(server) = std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return format!("sqlite://{}", dir.join("krater.db").display());
    };
    let recorded = dir.join("postgres-database-url");
    if let Ok(url) = std::fs::read_to_string(&recorded) {
        return url;
    }
    let name = format!("kt_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}={server}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    conn.close().await.ok();
    let url = with_database(&server, &name);
    std::fs::write(&recorded, &url).expect("record the test's database");
    url
}

/// `server` (`postgres://user@host:port/db?options`) with its database replaced.
fn with_database(server: &str, name: &str) -> String {
    let (base, options) = match server.split_once('?') {
        Some((base, options)) => (base, Some(options)),
        None => (server, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(options) = options {
        url.push('?');
        url.push_str(options);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_server_url_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "kt_1"),
            "postgres://postgres@127.0.0.1:5432/kt_1"
        );
        assert_eq!(
            with_database("postgres://u@h:1?sslmode=disable", "kt_1"),
            "postgres://u@h:1/kt_1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres:///x?host=/tmp/pg", "kt_1"),
            "postgres:///kt_1?host=/tmp/pg"
        );
    }
}
