//! One telemetry initialisation per process: `tracing` with JSON (or pretty)
//! logs, and OpenTelemetry traces exported over OTLP/HTTP when
//! `telemetry.otlp_endpoint` is set. W3C trace context is the propagator, so
//! one trace spans gateway, NATS and services.

use crate::config::{LogFormat, TelemetryConfig};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes and shuts the trace exporter down when dropped (or on [`TelemetryGuard::shutdown`]).
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    pub fn shutdown(&mut self) {
        if let Some(p) = self.provider.take() {
            if let Err(e) = p.shutdown() {
                eprintln!("telemetry shutdown: {e}");
            }
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Installs the global subscriber. Call once, before the async runtime
/// starts (the OTLP exporter uses a blocking HTTP client on its own thread).
pub fn init(service: &str, cfg: &TelemetryConfig) -> anyhow::Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_new(&cfg.log_level)?;
    let fmt_layer = match cfg.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer().boxed(),
    };
    let endpoint = cfg
        .otlp_endpoint
        .as_deref()
        .filter(|e| !e.trim().is_empty());
    let provider = match endpoint {
        Some(ep) => Some(build_provider(service, ep)?),
        None => None,
    };
    let otel_layer = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(service.to_owned()))
            .boxed()
    });
    if let Some(p) = &provider {
        opentelemetry::global::set_tracer_provider(p.clone());
    }
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt_layer)
        .with(otel_layer)
        .try_init()?;
    Ok(TelemetryGuard { provider })
}

fn build_provider(service: &str, endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    // The exporter builds a reqwest client, which needs the TLS provider.
    crate::http_client::install_tls_provider();
    use opentelemetry_otlp::WithExportConfig;
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build())
}

/// For tests: installs a subscriber once per process, printing logs only
/// when `TEST_LOG=1`, otherwise writing them to `sink` (so tests can assert
/// that secrets never reach the logs).
pub fn init_for_tests(
    sink: impl for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
) {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter =
        EnvFilter::try_from_env("TEST_LOG_FILTER").unwrap_or_else(|_| EnvFilter::new("info"));
    let result = if std::env::var("TEST_LOG").is_ok_and(|v| v == "1") {
        tracing_subscriber::registry()
            .with(filter)
            .with(tracing_subscriber::fmt::layer().with_test_writer())
            .try_init()
    } else {
        tracing_subscriber::registry()
            .with(filter)
            .with(tracing_subscriber::fmt::layer().json().with_writer(sink))
            .try_init()
    };
    // A second call in the same process finds the subscriber installed; that is fine.
    let _ = result;
}
