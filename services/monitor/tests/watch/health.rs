//! Instances, NATS outages, restarts and leadership.

use crate::support::{self, Options, INTERVAL_MS};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_instance_opens_an_incident_within_three_rounds_resolved_when_it_returns() {
    let mut w = support::spawn(Options::default()).await;
    w.wait_watching().await;
    assert!(
        w.incidents("instance_lost:charts").await.is_empty(),
        "no incident while charts runs"
    );
    let mut charts = w.charts.take().unwrap();
    charts.stop().await;
    let stopped = Instant::now();
    let row = w
        .wait_incident("instance_lost:charts", "open", Duration::from_secs(15))
        .await
        .expect("an incident for the lost charts instance");
    let took = stopped.elapsed();
    println!("charts stopped -> incident in {took:?} (rounds of {INTERVAL_MS} ms)");
    // Three missed rounds, plus the phase of the round and the round's own work.
    assert!(
        took <= Duration::from_millis(INTERVAL_MS * 5 + 1500),
        "the incident took {took:?}"
    );
    assert_eq!(row.severity, "critical", "no charts instance is left");
    assert_eq!(row.evidence["live_instances"], 0);
    // One incident, however many rounds see it.
    tokio::time::sleep(Duration::from_millis(INTERVAL_MS * 3)).await;
    assert_eq!(w.incidents("instance_lost:charts").await.len(), 1);
    // A new charts instance replaces the lost one: resolved.
    w.charts = Some(support::start_charts(&w.charts_overrides).await);
    let resolved = w
        .wait_incident("instance_lost:charts", "resolved", Duration::from_secs(20))
        .await
        .expect("resolved when charts returns");
    assert_eq!(resolved.id, row.id);
    // The open and resolve events went out through the outbox.
    let bus = w.bus().await;
    let stream = bus
        .js
        .get_stream("EVT_MONITOR")
        .await
        .expect("monitor's event stream");
    let ok = testkit::wait_until(Duration::from_secs(10), || {
        let mut stream = stream.clone();
        async move {
            stream
                .info()
                .await
                .map(|i| i.state.messages >= 2)
                .unwrap_or(false)
        }
    })
    .await;
    assert!(
        ok,
        "evt.monitor.incident.opened and .resolved were published"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_down_for_ten_seconds_opens_one_incident_and_resolves_it() {
    let mut w = support::spawn(Options::default()).await;
    w.wait_watching().await;
    let before: i64 =
        w.db.query_one("SELECT count(*) FROM monitor.incidents", &[])
            .await
            .unwrap()
            .get(0);
    w.nats.as_mut().unwrap().stop();
    tokio::time::sleep(Duration::from_secs(10)).await;
    w.nats.as_mut().unwrap().resume().unwrap();
    let row = w
        .wait_incident("nats_unreachable", "resolved", Duration::from_secs(30))
        .await
        .expect("the NATS incident resolves when NATS returns");
    // Everyone reconnects and is watched again ...
    w.wait_watching().await;
    // ... and a few more rounds pass without anything else being opened.
    tokio::time::sleep(Duration::from_millis(INTERVAL_MS * 6)).await;
    let all = w.incidents("").await;
    let new: Vec<&support::Row> = all.iter().skip(usize::try_from(before).unwrap()).collect();
    assert_eq!(
        new.iter()
            .map(|r| r.fingerprint.as_str())
            .collect::<Vec<_>>(),
        vec!["nats_unreachable"],
        "one incident for the outage, not a storm: {new:?}"
    );
    assert_eq!(new[0].id, row.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_monitor_continues_the_same_incidents() {
    let mut w = support::spawn(Options::default()).await;
    w.wait_watching().await;
    // A condition that persists: an extra column in charts' schema.
    w.db.batch_execute("CREATE TABLE charts.restart_probe (id int)")
        .await
        .unwrap();
    let first = w
        .wait_incident(
            "schema_drift:charts:extra:table:restart_probe",
            "open",
            Duration::from_secs(15),
        )
        .await
        .expect("drift reported");
    w.stop_monitor(0).await;
    w.start_monitor().await;
    // The new instance leads and observes several rounds.
    let ok =
        testkit::wait_until(Duration::from_secs(15), || async { w.leading() == vec![1] }).await;
    assert!(ok, "the restarted monitor leads");
    w.wait_watching().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let rows = w
        .incidents("schema_drift:charts:extra:table:restart_probe")
        .await;
    assert_eq!(rows.len(), 1, "no duplicate after a restart: {rows:?}");
    assert_eq!(rows[0].id, first.id);
    assert_eq!(rows[0].state, "open");
    let occurrences: i64 =
        w.db.query_one(
            "SELECT occurrences FROM monitor.incidents WHERE id = $1",
            &[&first.id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(occurrences >= 2, "the restarted monitor saw it again");
    // A lost instance survives a restart of the monitor too: neither
    // resolved by the new leader's empty view nor opened twice.
    let mut charts = w.charts.take().unwrap();
    charts.stop().await;
    let lost = w
        .wait_incident("instance_lost:charts", "open", Duration::from_secs(15))
        .await
        .expect("charts lost");
    w.stop_monitor(1).await;
    w.start_monitor().await;
    let ok =
        testkit::wait_until(Duration::from_secs(15), || async { w.leading() == vec![2] }).await;
    assert!(ok, "the second restart leads");
    tokio::time::sleep(Duration::from_millis(INTERVAL_MS * 6)).await;
    let rows = w.incidents("instance_lost:charts").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].id, rows[0].state.as_str()), (lost.id, "open"));
    assert!(
        w.incidents("service_absent:charts").await.is_empty(),
        "the loss is the one incident"
    );
    w.charts = Some(support::start_charts(&w.charts_overrides).await);
    w.wait_incident("instance_lost:charts", "resolved", Duration::from_secs(20))
        .await
        .expect("resolved when charts returns");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_have_one_leader_and_the_other_takes_over_within_15_seconds() {
    let mut w = support::spawn(Options {
        replicas: 2,
        ..Default::default()
    })
    .await;
    let ok =
        testkit::wait_until(Duration::from_secs(15), || async { w.leading().len() == 1 }).await;
    assert!(ok, "one leader");
    // It stays one over several checks.
    for _ in 0..10 {
        assert_eq!(w.leading().len(), 1, "exactly one leader at a time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first = w.leading()[0];
    w.stop_monitor(first).await;
    let lost = Instant::now();
    let other = 1 - first;
    let ok = testkit::wait_until(Duration::from_secs(15), || async {
        w.leading() == vec![other]
    })
    .await;
    println!("failover took {:?}", lost.elapsed());
    assert!(ok, "the standby took over within 15 s");
    // The new leader observes: the overview is fresh and taken by it.
    let ok = testkit::wait_until(Duration::from_secs(10), || async {
        w.db.query_opt(
            "SELECT 1 FROM monitor.snapshots WHERE area = 'overview' AND taken_at > now() - interval '2 seconds'",
            &[],
        )
        .await
        .unwrap()
        .is_some()
    })
    .await;
    assert!(ok, "the new leader keeps observing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_whose_lock_connection_dies_steps_down_and_one_leader_remains() {
    let w = support::spawn(Options {
        replicas: 2,
        ..Default::default()
    })
    .await;
    let ok =
        testkit::wait_until(Duration::from_secs(15), || async { w.leading().len() == 1 }).await;
    assert!(ok, "one leader");
    // The leader's session is killed (as when its host or network fails).
    let killed: i64 = w
        .db
        .query_one(
            "SELECT count(pg_terminate_backend(a.pid)) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'monitor'
               AND a.datname = current_database()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 1, "one leadership lock was held");
    // Within a few checks there is again exactly one leader, holding the lock.
    let ok = testkit::wait_until(Duration::from_secs(15), || async {
        let locks: i64 =
            w.db.query_one(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'monitor'
                   AND a.datname = current_database()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        locks == 1 && w.leading().len() == 1
    })
    .await;
    assert!(ok, "a leader again, and only one");
}
