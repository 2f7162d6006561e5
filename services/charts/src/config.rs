//! The charts service's own configuration sections (beside the platform's).

use platform::config::{ConfigError, Environment, Validate};
use serde::Deserialize;

pub const SERVICE: &str = common::subjects::charts::SERVICE;
pub const DEFAULT_PORT: u16 = 8081;

#[derive(Clone, Debug, Deserialize)]
pub struct ChartsConfig {
    pub cache: CacheConfig,
    pub places: PlacesConfig,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CacheConfig {
    /// Charts kept in the in-process LRU in front of PostgreSQL.
    pub lru_capacity: usize,
    /// Charts computed at once (the bounded blocking pool); 0 = one per core.
    pub compute_threads: usize,
    /// (user, chart) ownership links remembered in process, so repeated
    /// requests skip the database write.
    pub ownership_capacity: usize,
    /// How often accumulated hit counts are written to PostgreSQL.
    pub hit_flush_ms: u64,
    /// Overrides the built-in engine version (`engine::ENGINE_VERSION`); for
    /// tests and for forcing a cache rollover.
    #[serde(default)]
    pub engine_version: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PlacesConfig {
    /// Default and largest `limit` of a place search.
    pub default_limit: usize,
    pub max_limit: usize,
    /// Coordinates farther than this from every known place need an explicit `tz`.
    pub max_zone_distance_km: f64,
}

pub fn defaults(
    b: config::ConfigBuilder<config::builder::DefaultState>,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, config::ConfigError> {
    b.set_default("cache.lru_capacity", 10_000)?
        .set_default("cache.compute_threads", 0)?
        .set_default("cache.ownership_capacity", 100_000)?
        .set_default("cache.hit_flush_ms", 2000)?
        .set_default("places.default_limit", 10)?
        .set_default("places.max_limit", 50)?
        .set_default("places.max_zone_distance_km", 300.0)
}

impl Validate for ChartsConfig {
    fn validate(&self, _env: Environment) -> Result<(), ConfigError> {
        if self.cache.lru_capacity == 0 {
            return Err(ConfigError::invalid(
                "cache.lru_capacity",
                "must be greater than 0",
            ));
        }
        if self.cache.compute_threads > 256 {
            return Err(ConfigError::invalid(
                "cache.compute_threads",
                "must be at most 256 (0 = one per core)",
            ));
        }
        if self.cache.ownership_capacity == 0 {
            return Err(ConfigError::invalid(
                "cache.ownership_capacity",
                "must be greater than 0",
            ));
        }
        if self.cache.hit_flush_ms == 0 {
            return Err(ConfigError::invalid(
                "cache.hit_flush_ms",
                "must be greater than 0",
            ));
        }
        if self.places.default_limit == 0 || self.places.default_limit > self.places.max_limit {
            return Err(ConfigError::invalid(
                "places.default_limit",
                "must be between 1 and places.max_limit",
            ));
        }
        if self.places.max_zone_distance_km.is_nan() || self.places.max_zone_distance_km <= 0.0 {
            return Err(ConfigError::invalid(
                "places.max_zone_distance_km",
                "must be greater than 0",
            ));
        }
        Ok(())
    }
}

impl ChartsConfig {
    pub fn compute_threads(&self) -> usize {
        if self.cache.compute_threads > 0 {
            self.cache.compute_threads
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn load(overrides: &[(&str, &str)]) -> Result<(), ConfigError> {
        let o: Vec<(String, String)> = overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        crate::load_config(&o).map(|_| ())
    }

    #[test]
    fn defaults_load_and_bad_values_name_their_key() {
        let (base, cfg) = crate::load_config(&[]).unwrap();
        assert_eq!(base.http.port, DEFAULT_PORT);
        assert_eq!(base.service, "charts");
        assert!(cfg.compute_threads() >= 1);
        for (key, value) in [
            ("cache.lru_capacity", "0"),
            ("cache.compute_threads", "1000"),
            ("cache.hit_flush_ms", "0"),
            ("places.default_limit", "0"),
            ("places.max_zone_distance_km", "-1"),
        ] {
            let e = load(&[(key, value)]).unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
    }
}
