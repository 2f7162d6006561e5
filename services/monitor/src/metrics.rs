//! Everything the monitor observes, as Prometheus metrics (in the
//! service's `/metrics`, prefixed `jyotiflow_monitor_`). Only the leader
//! fills the observation gauges; a standby shows `leader` 0.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabel {
    pub service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InstanceLabels {
    pub service: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SeverityLabel {
    pub severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppLabel {
    pub application: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabels {
    pub schema: String,
    pub table: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabel {
    pub consumer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub policy: String,
    pub result: String,
}

type FGauge = Gauge<f64, AtomicU64>;

#[derive(Clone, Default)]
pub struct MonitorMetrics {
    pub leader: Gauge,
    pub instances: Family<InstanceLabels, Gauge>,
    pub instance_ready: Family<InstanceLabels, Gauge>,
    pub incidents_open: Family<SeverityLabel, Gauge>,
    pub incidents_opened: Counter,
    pub incidents_resolved: Counter,
    pub db_connections: Family<AppLabel, Gauge>,
    pub connection_budget_ratio: FGauge,
    pub db_long_statements: Gauge,
    pub db_idle_in_transaction: Gauge,
    pub db_blocked_sessions: Gauge,
    pub db_oldest_statement_seconds: FGauge,
    pub db_age: Gauge,
    pub table_dead_tuples: Family<TableLabels, Gauge>,
    pub table_vacuum_age: Family<TableLabels, Gauge>,
    pub cache_hit_ratio: FGauge,
    pub outbox_pending: Family<ServiceLabel, Gauge>,
    pub outbox_oldest_age_seconds: Family<ServiceLabel, FGauge>,
    pub consumer_pending: Family<ConsumerLabel, Gauge>,
    pub consumer_ack_pending: Family<ConsumerLabel, Gauge>,
    pub consumer_redelivered: Family<ConsumerLabel, Gauge>,
    pub consumer_dead_lettered: Family<ConsumerLabel, Gauge>,
    pub schema_differences: Family<ServiceLabel, Gauge>,
    pub actions: Family<ActionLabels, Counter>,
    pub round_seconds: FGauge,
    pub notifications_failed: Counter,
    pub notifications_dropped: Counter,
}

fn to_i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl MonitorMetrics {
    pub fn new(m: &platform::metrics::Metrics) -> MonitorMetrics {
        let x = MonitorMetrics::default();
        m.register(
            "monitor_leader",
            "1 while this monitor instance is the active one",
            x.leader.clone(),
        );
        m.register(
            "monitor_instances",
            "service instances by state (live, lost)",
            x.instances.clone(),
        );
        m.register(
            "monitor_instance_ready",
            "live instances whose /readyz answered 200",
            x.instance_ready.clone(),
        );
        m.register(
            "monitor_incidents_open",
            "open or acknowledged incidents by severity",
            x.incidents_open.clone(),
        );
        m.register(
            "monitor_incidents_opened",
            "incidents opened",
            x.incidents_opened.clone(),
        );
        m.register(
            "monitor_incidents_resolved",
            "incidents resolved",
            x.incidents_resolved.clone(),
        );
        m.register(
            "monitor_db_connections",
            "connections to this database per application_name",
            x.db_connections.clone(),
        );
        m.register(
            "monitor_connection_budget_ratio",
            "sum of the live instances' pool sizes over max_connections minus the reserve",
            x.connection_budget_ratio.clone(),
        );
        m.register(
            "monitor_db_long_statements",
            "statements running longer than thresholds.long_statement_ms",
            x.db_long_statements.clone(),
        );
        m.register(
            "monitor_db_idle_in_transaction",
            "sessions idle in a transaction longer than thresholds.idle_in_transaction_ms",
            x.db_idle_in_transaction.clone(),
        );
        m.register(
            "monitor_db_blocked_sessions",
            "sessions waiting on locks longer than thresholds.blocked_ms",
            x.db_blocked_sessions.clone(),
        );
        m.register(
            "monitor_db_oldest_statement_seconds",
            "age of the longest-running statement over the lowest threshold",
            x.db_oldest_statement_seconds.clone(),
        );
        m.register(
            "monitor_db_xid_age",
            "transaction ID age of the database (vacuum freeze progress)",
            x.db_age.clone(),
        );
        m.register(
            "monitor_table_dead_tuples",
            "dead tuples of the tables with the most",
            x.table_dead_tuples.clone(),
        );
        m.register(
            "monitor_table_vacuum_age",
            "transaction ID age of those tables",
            x.table_vacuum_age.clone(),
        );
        m.register(
            "monitor_db_cache_hit_ratio",
            "shared buffer hits over all block reads of this database",
            x.cache_hit_ratio.clone(),
        );
        m.register(
            "monitor_outbox_pending",
            "outbox rows not yet relayed, per service",
            x.outbox_pending.clone(),
        );
        m.register(
            "monitor_outbox_oldest_age_seconds",
            "age of the oldest pending outbox row, per service",
            x.outbox_oldest_age_seconds.clone(),
        );
        m.register(
            "monitor_consumer_pending",
            "events not yet delivered to a durable consumer",
            x.consumer_pending.clone(),
        );
        m.register(
            "monitor_consumer_ack_pending",
            "events delivered and not yet acknowledged",
            x.consumer_ack_pending.clone(),
        );
        m.register(
            "monitor_consumer_redelivered",
            "events delivered more than once and not yet acknowledged",
            x.consumer_redelivered.clone(),
        );
        m.register(
            "monitor_consumer_dead_lettered",
            "events of a consumer held in the dead-letter stream",
            x.consumer_dead_lettered.clone(),
        );
        m.register(
            "monitor_schema_differences",
            "differences between a service's live schema and its recorded one",
            x.schema_differences.clone(),
        );
        m.register(
            "monitor_actions",
            "repairs attempted, by policy and result",
            x.actions.clone(),
        );
        m.register(
            "monitor_round_seconds",
            "duration of the last observation round",
            x.round_seconds.clone(),
        );
        m.register(
            "monitor_notifications_failed",
            "webhook notifications that failed every attempt",
            x.notifications_failed.clone(),
        );
        m.register(
            "monitor_notifications_dropped",
            "webhook notifications dropped because the queue was full",
            x.notifications_dropped.clone(),
        );
        x
    }

    pub fn action(&self, policy: &str, result: &str) {
        self.actions
            .get_or_create(&ActionLabels {
                policy: policy.to_owned(),
                result: result.to_owned(),
            })
            .inc();
    }

    pub fn set_instances(&self, views: &[crate::discovery::InstanceView]) {
        self.instances.clear();
        self.instance_ready.clear();
        for v in views {
            let l = InstanceLabels {
                service: v.service.clone(),
                state: v.state.clone(),
            };
            self.instances.get_or_create(&l).inc();
            if v.ready == Some(true) {
                self.instance_ready.get_or_create(&l).inc();
            }
        }
    }

    pub fn set_database(&self, o: &crate::database::DbObservation) {
        self.db_connections.clear();
        for (app, n) in &o.connections {
            self.db_connections
                .get_or_create(&AppLabel {
                    application: app.clone(),
                })
                .set(*n);
        }
        self.connection_budget_ratio.set(o.budget_ratio);
        self.cache_hit_ratio.set(o.cache_hit_ratio);
        self.db_long_statements.set(o.sessions.long_statements);
        self.db_idle_in_transaction
            .set(o.sessions.idle_in_transaction);
        self.db_blocked_sessions.set(o.sessions.blocked);
        self.db_oldest_statement_seconds
            .set(o.sessions.oldest_statement_secs);
        self.db_age.set(o.database_age);
        self.table_dead_tuples.clear();
        self.table_vacuum_age.clear();
        for (schema, table, dead, age) in &o.tables {
            let l = TableLabels {
                schema: schema.clone(),
                table: table.clone(),
            };
            self.table_dead_tuples.get_or_create(&l).set(*dead);
            self.table_vacuum_age.get_or_create(&l).set(*age);
        }
    }

    pub fn set_messaging(&self, o: &crate::messaging::MsgObservation) {
        self.outbox_pending.clear();
        self.outbox_oldest_age_seconds.clear();
        for (svc, pending, age) in &o.outboxes {
            let l = ServiceLabel {
                service: svc.clone(),
            };
            self.outbox_pending.get_or_create(&l).set(*pending);
            self.outbox_oldest_age_seconds.get_or_create(&l).set(*age);
        }
        for f in [
            &self.consumer_pending,
            &self.consumer_ack_pending,
            &self.consumer_redelivered,
            &self.consumer_dead_lettered,
        ] {
            f.clear();
        }
        for (c, pending, ack, redelivered, dead) in &o.consumers {
            let l = ConsumerLabel {
                consumer: c.clone(),
            };
            self.consumer_pending.get_or_create(&l).set(to_i(*pending));
            self.consumer_ack_pending.get_or_create(&l).set(to_i(*ack));
            self.consumer_redelivered
                .get_or_create(&l)
                .set(to_i(*redelivered));
            self.consumer_dead_lettered
                .get_or_create(&l)
                .set(to_i(*dead));
        }
    }

    pub fn set_schema(&self, drift: &[(String, usize)]) {
        self.schema_differences.clear();
        for (svc, n) in drift {
            self.schema_differences
                .get_or_create(&ServiceLabel {
                    service: svc.clone(),
                })
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
    }

    pub fn set_open(&self, by_severity: &[(String, i64)]) {
        self.incidents_open.clear();
        for (s, n) in by_severity {
            self.incidents_open
                .get_or_create(&SeverityLabel {
                    severity: s.clone(),
                })
                .set(*n);
        }
    }
}
