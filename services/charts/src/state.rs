//! What every handler shares.

use crate::cache::ChartCache;
use crate::config::ChartsConfig;
use crate::engine::{self, BirthInput, Normalized, OptionsInput};
use crate::places::Gazetteer;
use platform::AppError;
use std::sync::Arc;
use uuid::Uuid;

pub struct AppState {
    pub pool: deadpool_postgres::Pool,
    pub cache: Arc<ChartCache>,
    pub places: Arc<Gazetteer>,
    pub cfg: ChartsConfig,
    pub compute_threads: usize,
    pub bus: platform::nats::Bus,
}

/// A chart as answered to a client.
pub struct ChartReply {
    pub chart_id: Uuid,
    pub cached: bool,
    pub input: Normalized,
    pub chart: Arc<str>,
}

impl ChartReply {
    /// `{chart_id, cached, input, chart}` without re-serializing the chart.
    pub fn body(&self) -> Result<String, AppError> {
        let input = serde_json::to_string(&self.input).map_err(AppError::internal)?;
        Ok(format!(
            "{{\"chart_id\":\"{}\",\"cached\":{},\"input\":{},\"chart\":{}}}",
            self.chart_id, self.cached, input, self.chart
        ))
    }
}

impl AppState {
    pub fn normalize(
        &self,
        birth: &BirthInput,
        options: &OptionsInput,
    ) -> Result<Normalized, AppError> {
        engine::normalize(
            birth,
            options,
            &self.places,
            self.cfg.places.max_zone_distance_km,
            &self.cache.engine_version,
        )
    }

    /// The chart of a birth for a user (computed or cached), linked to the user.
    pub async fn chart_for(
        &self,
        user: Uuid,
        birth: &BirthInput,
        options: &OptionsInput,
    ) -> Result<ChartReply, AppError> {
        let n = self.normalize(birth, options)?;
        self.chart_of(user, n).await
    }

    /// The chart of a normalized birth for a user (computed or cached),
    /// linked to the user.
    pub async fn chart_of(&self, user: Uuid, n: Normalized) -> Result<ChartReply, AppError> {
        let mut attempt = 0;
        loop {
            let (c, source) = self.cache.get_or_compute(&n).await?;
            if self.cache.ensure_owner(user, c.id).await? {
                return Ok(ChartReply {
                    chart_id: c.id,
                    cached: source.cached(),
                    input: n,
                    chart: c.chart.clone(),
                });
            }
            // The row was purged while this process still held it in memory.
            self.cache.forget(&n.key);
            attempt += 1;
            if attempt > 2 {
                return Err(AppError::internal(anyhow::anyhow!(
                    "chart row disappeared repeatedly"
                )));
            }
        }
    }

    /// A chart document the user may see: `(input, chart)` as JSON text.
    pub async fn owned_chart(
        &self,
        user: Uuid,
        chart_id: Uuid,
    ) -> Result<(String, String), AppError> {
        let client = platform::db::conn(&self.pool).await?;
        let row = client
            .query_opt(
                "SELECT c.input::text, c.chart::text FROM chart_cache c
                 JOIN user_charts u ON u.chart_id = c.id
                 WHERE u.user_id = $1 AND c.id = $2",
                &[&user, &chart_id],
            )
            .await
            .map_err(platform::db::q)?
            .ok_or_else(|| AppError::not_found("chart"))?;
        Ok((row.get(0), row.get(1)))
    }
}
