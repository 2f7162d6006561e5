//! The `avatar` configuration section.

use platform::config::{ConfigError, Environment};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct AvatarConfig {
    pub enabled: bool,
}

pub fn defaults(
    b: config::ConfigBuilder<config::builder::DefaultState>,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, config::ConfigError> {
    b.set_default("avatar.enabled", true)
}

impl AvatarConfig {
    pub fn validate(&self, _env: Environment) -> Result<(), ConfigError> {
        Ok(())
    }
}
