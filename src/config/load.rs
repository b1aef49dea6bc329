//! Layered loading of [`Config`].

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::Config;

/// Why the configuration could not be loaded; each message names the source and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// The file or an environment variable holds a bad key or value.
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

const DEFAULT_FILE: &str = "atende.toml";
const PREFIX: &str = "ATENDE_";
/// Flat environment names kept for convenience, and the key each one sets.
const ALIASES: [(&str, &str); 5] = [
    ("ATENDE_DATABASE_URL", "database.url"),
    ("ATENDE_BIND", "http.bind"),
    ("ATENDE_REDIS_URL", "redis.url"),
    ("ATENDE_LOG_DIR", "log.dir"),
    ("ATENDE_MASTER_KEY_FILE", "secrets.master_key_file"),
];

/// Variables naming a file that holds the value (Docker and systemd secrets): a database
/// URL carries a password, so it need not sit in the environment.
const FILE_ALIASES: [(&str, &str); 2] =
    [("ATENDE_DATABASE_URL_FILE", "database.url"), ("ATENDE_REDIS_URL_FILE", "redis.url")];

/// Loads defaults, then the file (`path`, or `./atende.toml` when present), then the environment.
pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_from(path, &env)
}

/// [`load`] with an explicit environment, for tests.
pub fn load_from(path: Option<&Path>, env: &[(String, String)]) -> Result<Config, ConfigError> {
    load_layers(path.or(Some(Path::new(DEFAULT_FILE)).filter(|p| p.exists())), env)
}

/// The configuration of profile `name` (`--profile` / `ATENDE_PROFILE`): `path` when given,
/// else `./atende.<name>.toml` when present (never `./atende.toml`, which belongs to no
/// profile), then the environment. The profile is recorded in [`Config::profile`].
pub fn load_profile(path: Option<&Path>, name: &str, env: &[(String, String)]) -> Result<Config, ConfigError> {
    let valid = !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(ConfigError::Invalid {
            origin: "--profile / ATENDE_PROFILE".into(),
            message: format!("{name:?}: use 1 to 32 characters a-z, 0-9 and -, e.g. staging or production"),
        });
    }
    let own = PathBuf::from(format!("atende.{name}.toml"));
    let mut config = load_layers(path.or(Some(own.as_path()).filter(|p| p.exists())), env)?;
    config.profile = Some(name.to_string());
    Ok(config)
}

fn load_layers(path: Option<&Path>, env: &[(String, String)]) -> Result<Config, ConfigError> {
    let (mut table, origin) = match path {
        Some(path) => (read_table(path)?, path.display().to_string()),
        None => (Table::new(), "defaults".to_string()),
    };
    let mut from_env = Vec::new();
    // `*_FILE` first, so the plain variable wins when both are set.
    for (name, value) in env {
        let Some((_, key)) = FILE_ALIASES.iter().find(|(alias, _)| alias == name) else {
            continue;
        };
        let path = Path::new(value);
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        set_path(&mut table, key, Value::String(text.trim().to_string()));
        from_env.push(name.clone());
    }
    for (name, value) in env {
        let Some(dotted) = env_key(name) else {
            continue;
        };
        set_path(&mut table, &dotted, env_value(value));
        from_env.push(name.clone());
    }
    Value::Table(table).try_into().map_err(|err: toml::de::Error| ConfigError::Invalid {
        origin: if from_env.is_empty() { origin } else { format!("{origin} + environment ({})", from_env.join(", ")) },
        message: err.message().to_string(),
    })
}

fn read_table(path: &Path) -> Result<Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    text.parse::<Table>().map_err(|err| ConfigError::Invalid {
        origin: path.display().to_string(),
        message: super::describe_toml_error(&text, &err),
    })
}

/// `ATENDE_QUEUE__DEBOUNCE` → `queue.debounce`; aliases map to their key; other names are not config.
fn env_key(name: &str) -> Option<String> {
    if let Some((_, key)) = ALIASES.iter().find(|(alias, _)| *alias == name) {
        return Some((*key).to_string());
    }
    let rest = name.strip_prefix(PREFIX)?;
    rest.contains("__").then(|| rest.to_ascii_lowercase().replace("__", "."))
}

/// Numbers and booleans stay typed; anything else is a string.
fn env_value(raw: &str) -> Value {
    match format!("v = {raw}").parse::<Table>() {
        Ok(mut t) if !matches!(t.get("v"), Some(Value::Table(_))) => t.remove("v").unwrap_or(Value::String(raw.into())),
        _ => Value::String(raw.to_string()),
    }
}

fn set_path(table: &mut Table, dotted: &str, value: Value) {
    let mut parts: Vec<&str> = dotted.split('.').collect();
    let last = parts.pop().unwrap_or_default();
    let mut current = table;
    for part in parts {
        let entry = current.entry(part).or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        current = entry.as_table_mut().expect("just made a table");
    }
    current.insert(last.to_string(), value);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_apply_without_file_or_environment() {
        let config = load_from(None, &[]).unwrap();
        assert_eq!(config.database.url, "sqlite://atende.db");
        assert_eq!(config.http.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.queue.debounce, Duration::from_secs(3));
    }

    #[test]
    fn nested_environment_variables_and_aliases_override_defaults() {
        let vars = env(&[
            ("ATENDE_QUEUE__DEBOUNCE", "250ms"),
            ("ATENDE_QUEUE__WORKERS", "9"),
            ("ATENDE_DATABASE_URL", "sqlite:///tmp/x.db"),
            ("ATENDE_LANG", "en"),
        ]);
        let config = load_from(None, &vars).unwrap();
        assert_eq!(config.queue.debounce, Duration::from_millis(250));
        assert_eq!(config.queue.workers, 9);
        assert_eq!(config.database.url, "sqlite:///tmp/x.db");
    }

    #[test]
    fn the_pool_size_and_the_in_flight_limit_default_and_take_the_file_and_the_environment() {
        let config = load_from(None, &[]).unwrap();
        assert_eq!((config.database.max_connections, config.http.max_in_flight), (10, 1024));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("atende.toml");
        std::fs::write(&path, "[database]\nmax_connections = 4\n[http]\nmax_in_flight = 200\n").unwrap();
        let config = load_from(Some(&path), &[]).unwrap();
        assert_eq!((config.database.max_connections, config.http.max_in_flight), (4, 200));
        let vars = env(&[("ATENDE_DATABASE__MAX_CONNECTIONS", "25"), ("ATENDE_HTTP__MAX_IN_FLIGHT", "0")]);
        let config = load_from(Some(&path), &vars).unwrap();
        assert_eq!((config.database.max_connections, config.http.max_in_flight), (25, 0));
    }

    #[test]
    fn log_files_keep_seven_days_mask_personal_data_and_take_atende_log_dir() {
        let config = load_from(None, &[]).unwrap();
        assert_eq!((config.log.retention_days, config.log.max_files, config.log.include_pii), (7, None, false));
        assert_eq!(config.log.dir, None);
        let vars = env(&[
            ("ATENDE_LOG_DIR", "/var/log/atende"),
            ("ATENDE_LOG__RETENTION_DAYS", "30"),
            ("ATENDE_LOG__INCLUDE_PII", "true"),
        ]);
        let config = load_from(None, &vars).unwrap();
        assert_eq!(config.log.dir.as_deref(), Some(Path::new("/var/log/atende")));
        assert_eq!((config.log.retention_days, config.log.include_pii), (30, true));
    }

    #[test]
    fn database_and_redis_urls_may_come_from_files_and_the_plain_variable_wins() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("database_url");
        std::fs::write(&db, "postgres://atende:pw@db:5432/atende\n").unwrap();
        let redis = dir.path().join("redis_url");
        std::fs::write(&redis, "redis://cache:6379/0").unwrap();
        let (db, redis) = (db.to_str().unwrap(), redis.to_str().unwrap());
        let vars = env(&[("ATENDE_DATABASE_URL_FILE", db), ("ATENDE_REDIS_URL_FILE", redis)]);
        let config = load_from(None, &vars).unwrap();
        assert_eq!(config.database.url, "postgres://atende:pw@db:5432/atende");
        assert_eq!(config.redis.url.as_deref(), Some("redis://cache:6379/0"));
        let vars = env(&[("ATENDE_DATABASE_URL", "sqlite://x.db"), ("ATENDE_DATABASE_URL_FILE", db)]);
        assert_eq!(load_from(None, &vars).unwrap().database.url, "sqlite://x.db");
        let vars = env(&[("ATENDE_DATABASE_URL_FILE", "/nonexistent/database_url")]);
        assert!(load_from(None, &vars).unwrap_err().to_string().contains("/nonexistent/database_url"));
    }

    #[test]
    fn a_profile_takes_its_own_file_and_a_bad_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("atende.staging.toml");
        std::fs::write(&staging, "[queue]\nworkers = 3\n").unwrap();
        let config = load_profile(Some(&staging), "staging", &[]).unwrap();
        assert_eq!((config.queue.workers, config.profile.as_deref()), (3, Some("staging")));
        // No file of its own: defaults and the environment only.
        let config = load_profile(None, "qa-7", &env(&[("ATENDE_QUEUE__WORKERS", "5")])).unwrap();
        assert_eq!((config.queue.workers, config.profile.as_deref()), (5, Some("qa-7")));
        for bad in ["", "Prod", "a/b", "../x", &"x".repeat(33)] {
            let err = load_profile(None, bad, &[]).unwrap_err().to_string();
            assert!(err.contains("ATENDE_PROFILE"), "{bad:?}: {err}");
        }
        assert_eq!(load_from(None, &[]).unwrap().profile, None);
    }

    #[test]
    fn an_unknown_key_in_the_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("atende.toml");
        std::fs::write(&path, "[queue]\ndebounse = \"1s\"\n").unwrap();
        let err = load_from(Some(&path), &[]).unwrap_err().to_string();
        assert!(err.contains("debounse") && err.contains("atende.toml"), "{err}");
    }

    #[test]
    fn knowledge_search_defaults_to_memory_and_takes_database_from_file_or_environment() {
        use crate::config::KnowledgeSearch;
        assert_eq!(load_from(None, &[]).unwrap().brain.knowledge_search, KnowledgeSearch::Memory);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("atende.toml");
        std::fs::write(&path, "[brain]\nknowledge_search = \"database\"\n").unwrap();
        assert_eq!(load_from(Some(&path), &[]).unwrap().brain.knowledge_search, KnowledgeSearch::Database);
        let vars = env(&[("ATENDE_BRAIN__KNOWLEDGE_SEARCH", "database")]);
        assert_eq!(load_from(None, &vars).unwrap().brain.knowledge_search, KnowledgeSearch::Database);
    }

    #[test]
    fn an_unknown_knowledge_search_names_the_key_and_the_valid_values() {
        let vars = env(&[("ATENDE_BRAIN__KNOWLEDGE_SEARCH", "elastic")]);
        let err = load_from(None, &vars).unwrap_err().to_string();
        assert!(err.contains("brain.knowledge_search") && err.contains("\"elastic\""), "{err}");
        assert!(err.contains("\"memory\"") && err.contains("\"database\""), "{err}");
    }
}
