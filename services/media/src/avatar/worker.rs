//! The workers: `avatar.workers` loops per instance pull one job id at a
//! time from the work-queue stream (`media.avatar.jobs`, one durable
//! consumer all instances share), claim the job in the database with a
//! lease, run the pipeline while extending the lease (and JetStream's ack
//! wait), then end the job, settle its hold and ack.
//!
//! A worker that dies mid-job neither acks nor ends the job: JetStream
//! redelivers the message after the ack wait, and the next delivery takes
//! the job over once the lease has expired. Only the lease owner can end a
//! job, and the hold is captured with a key derived from the job, so a job
//! completes, and is charged, once. On shutdown a running job gets
//! `avatar.drain_secs` to finish, then goes back to the queue.

use super::credits::{self, Settled};
use super::jobs::{self, Claim, JobMessage, JobRow};
use super::metrics::KindLabels;
use super::model::JobState;
use super::pipeline::{JobError, Note};
use crate::state::AppState;
use actix_web::web;
use async_nats::jetstream::{self, consumer::PullConsumer, AckKind};
use common::subjects::media as subj;
use common::EventEnvelope;
use futures_util::StreamExt;
use platform::nats::Bus;
use platform::AppError;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Creates (or finds) the work-queue stream and the workers' durable consumer.
pub async fn ensure_queue(bus: &Bus, ack_wait: Duration) -> anyhow::Result<PullConsumer> {
    let stream = bus
        .js
        .get_or_create_stream(jetstream::stream::Config {
            name: bus.name(subj::AVATAR_JOBS_STREAM),
            subjects: vec![bus.subject(subj::AVATAR_JOBS)],
            retention: jetstream::stream::RetentionPolicy::WorkQueue,
            storage: jetstream::stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            max_age: Duration::from_secs(7 * 24 * 3600),
            ..Default::default()
        })
        .await?;
    let durable = bus.name(subj::AVATAR_WORKERS);
    let config = jetstream::consumer::pull::Config {
        durable_name: Some(durable.clone()),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait,
        // Deliveries are bounded by the job's attempts in the database.
        max_deliver: -1,
        ..Default::default()
    };
    match stream.create_consumer(config).await {
        Ok(c) => Ok(c),
        Err(e) => {
            // An existing consumer with other settings (an older ack wait):
            // keep using it rather than stop working.
            tracing::warn!(error = %e, "the avatar workers' consumer could not be (re)created; using the existing one");
            stream
                .get_consumer(&durable)
                .await
                .map_err(|e| anyhow::anyhow!("the avatar workers' consumer: {e}"))
        }
    }
}

fn lease(state: &AppState) -> Duration {
    Duration::from_secs(state.cfg.avatar.lease_secs)
}

/// Runs one worker slot until shutdown.
pub async fn slot(state: web::Data<AppState>, slot: usize, token: CancellationToken) {
    let mut backoff = Duration::from_millis(200);
    'setup: loop {
        if token.is_cancelled() {
            return;
        }
        let consumer = match ensure_queue(&state.bus, lease(&state)).await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, slot, "avatar queue not ready; retrying");
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue 'setup;
            }
        };
        backoff = Duration::from_millis(200);
        loop {
            let batch = tokio::select! {
                _ = token.cancelled() => return,
                b = consumer.batch().max_messages(1).expires(Duration::from_secs(5)).messages() => b,
            };
            let mut batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::debug!(error = %e, slot, "pulling avatar jobs failed; setting up again");
                    tokio::select! {
                        _ = token.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    continue 'setup;
                }
            };
            let next = tokio::select! {
                _ = token.cancelled() => return,
                m = batch.next() => m,
            };
            match next {
                Some(Ok(msg)) => handle(&state, msg, &token).await,
                Some(Err(e)) => tracing::debug!(error = %e, slot, "avatar job pull ended"),
                None => {}
            }
        }
    }
}

async fn ack(msg: &jetstream::Message, kind: AckKind) {
    if let Err(e) = msg.ack_with(kind).await {
        tracing::debug!(error = %e, "avatar job ack failed; the message will be redelivered");
    }
}

/// One delivery.
async fn handle(state: &web::Data<AppState>, msg: jetstream::Message, token: &CancellationToken) {
    let bus = &state.bus;
    let producer = bus
        .auth
        .verify_event(msg.headers.as_ref(), &msg.subject, &msg.payload);
    match producer {
        Ok(p) if p == subj::SERVICE => {}
        Ok(p) => {
            tracing::error!(producer = %p, "an avatar job message not signed by media; dropped");
            return ack(&msg, AckKind::Term).await;
        }
        Err(e) => {
            tracing::error!(error = ?e, "an unsigned avatar job message; dropped");
            return ack(&msg, AckKind::Term).await;
        }
    }
    let job_id = match serde_json::from_slice::<EventEnvelope<JobMessage>>(&msg.payload) {
        Ok(env) => env.data.job_id,
        Err(e) => {
            tracing::error!(error = %e, "an unreadable avatar job message; dropped");
            return ack(&msg, AckKind::Term).await;
        }
    };
    let owner = Uuid::now_v7();
    let cfg = &state.cfg.avatar;
    let claim = jobs::claim(state, job_id, owner, lease(state), cfg.max_attempts).await;
    match claim {
        Err(e) => {
            tracing::warn!(error = ?e, job = %job_id, "claiming an avatar job failed; it will be redelivered");
            ack(&msg, AckKind::Nak(Some(Duration::from_secs(1)))).await
        }
        Ok(Claim::Gone) => ack(&msg, AckKind::Ack).await,
        Ok(Claim::Ended) => {
            // A repeat delivery after the end: make sure the hold is settled.
            if let Err(e) = settle(state, job_id).await {
                tracing::debug!(error = ?e, job = %job_id, "settling later");
            }
            ack(&msg, AckKind::Ack).await
        }
        Ok(Claim::Busy(wait)) => ack(&msg, AckKind::Nak(Some(wait))).await,
        Ok(Claim::GaveUp(job)) => {
            tracing::warn!(job = %job.id, attempts = job.attempts, "avatar job failed: its workers kept stopping");
            ended(state, &job);
            let _ = settle(state, job.id).await;
            ack(&msg, AckKind::Ack).await
        }
        Ok(Claim::Run(job)) => {
            hint(&state.bus, job.id).await;
            run(state, msg, *job, owner, token).await
        }
    }
}

/// Works on a claimed job until it ends, is cancelled, or is handed back.
async fn run(
    state: &web::Data<AppState>,
    msg: jetstream::Message,
    job: JobRow,
    owner: Uuid,
    token: &CancellationToken,
) {
    let av = &state.avatars;
    let cfg = &state.cfg.avatar;
    av.metrics
        .attempts
        .get_or_create(&KindLabels {
            kind: job.kind.as_str().to_owned(),
        })
        .inc();
    if cfg.fault.abandon_first_delivery && job.attempts == 1 {
        // Test hook: behave as a worker that died here (no ack, no update).
        tracing::warn!(job = %job.id, "test hook: abandoning the first delivery mid-job");
        return;
    }
    av.metrics.running.inc();
    let msg = Arc::new(msg);
    let cancel = CancellationToken::new();
    let done = CancellationToken::new();
    av.track(job.id, cancel.clone());
    // Shutdown: the job gets `drain_secs` to finish, then it is handed back.
    let drain = Duration::from_secs(cfg.drain_secs);
    tokio::spawn({
        let (token, cancel, done) = (token.clone(), cancel.clone(), done.clone());
        async move {
            tokio::select! {
                _ = done.cancelled() => {}
                _ = token.cancelled() => {
                    tokio::select! {
                        _ = done.cancelled() => {}
                        _ = tokio::time::sleep(drain) => cancel.cancel(),
                    }
                }
            }
        }
    });
    tokio::spawn(heartbeat(
        state.clone(),
        job.id,
        owner,
        msg.clone(),
        cancel.clone(),
        done.clone(),
    ));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Note>();
    let writer = tokio::spawn({
        let state = state.clone();
        let id = job.id;
        async move {
            while let Some(note) = rx.recv().await {
                let (kind, data) = match note {
                    Note::Stage(stage) => ("progress", json!({"state": "running", "stage": stage})),
                    Note::Retry {
                        stage,
                        retry,
                        delay_ms,
                        error,
                    } => (
                        "retrying",
                        json!({"state": "running", "stage": stage, "retry": retry,
                               "delay_ms": delay_ms, "error": error}),
                    ),
                };
                match jobs::record_progress(&state, id, owner, kind, data).await {
                    Ok(true) => hint(&state.bus, id).await,
                    Ok(false) => {}
                    Err(e) => tracing::debug!(error = ?e, "a progress event was not recorded"),
                }
            }
        }
    });
    let timeout = Duration::from_secs(cfg.job_timeout_secs);
    let outcome = match tokio::time::timeout(timeout, av.pipeline.run(&job, &cancel, &tx)).await {
        Ok(r) => r,
        Err(_) => Err(JobError::Failed {
            code: "timeout",
            message: format!("the job did not finish within {} s", timeout.as_secs()),
        }),
    };
    drop(tx);
    let _ = writer.await;
    done.cancel();
    av.untrack(job.id);
    av.metrics.running.dec();
    let result = match outcome {
        Ok(stored) => jobs::end(
            state,
            job.id,
            Some(owner),
            JobState::Succeeded,
            None,
            Some(&stored),
        )
        .await
        .map(|r| (r, Some(stored))),
        Err(JobError::Failed { code, message }) => {
            tracing::warn!(job = %job.id, code, %message, "avatar job failed");
            jobs::end(
                state,
                job.id,
                Some(owner),
                JobState::Failed,
                Some((code, &message)),
                None,
            )
            .await
            .map(|r| (r, None))
        }
        Err(JobError::Cancelled) => {
            if token.is_cancelled() {
                match jobs::hand_back(state, job.id, owner).await {
                    Ok(true) => {
                        tracing::info!(job = %job.id, "avatar job handed back at shutdown");
                        hint(&state.bus, job.id).await;
                        return ack(&msg, AckKind::Nak(None)).await;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        // The lease expires and another delivery takes over.
                        tracing::warn!(error = ?e, job = %job.id, "handing back failed");
                        return;
                    }
                }
            }
            return ack(&msg, AckKind::Ack).await;
        }
    };
    match result {
        Ok((Some(ended_job), _)) => {
            ended(state, &ended_job);
            if let Err(e) = settle(state, ended_job.id).await {
                tracing::warn!(error = ?e, job = %ended_job.id, "settling the hold failed; the sweeper retries");
            }
            ack(&msg, AckKind::Ack).await
        }
        Ok((None, stored)) => {
            // Cancelled meanwhile (or taken over after a lost lease).
            if let Some(s) = stored {
                let now = match platform::db::conn(&state.pool).await {
                    Ok(c) => jobs::get(&c, job.id).await.ok().flatten(),
                    Err(_) => None,
                };
                if now.is_some_and(|j| j.state == JobState::Cancelled) {
                    remove_files(state, &s).await;
                }
            }
            ack(&msg, AckKind::Ack).await
        }
        Err(e) => {
            // The end could not be written: leave the message to be
            // redelivered; the next delivery finds the lease expired.
            tracing::warn!(error = ?e, job = %job.id, "ending an avatar job failed; it will be retried");
        }
    }
}

async fn remove_files(state: &AppState, s: &jobs::Stored) {
    use object_store::ObjectStoreExt;
    let store = &state.avatars.store;
    let _ = store.delete(&super::store::path(&s.result_key)).await;
    if let Some(k) = &s.captions_key {
        let _ = store.delete(&super::store::path(k)).await;
    }
}

/// Metrics and the SSE hint for a job that just ended.
pub fn ended(state: &AppState, job: &JobRow) {
    state
        .avatars
        .metrics
        .finished(job.kind.as_str(), job.state.as_str(), job.age_secs());
    state.outbox.notify();
    let bus = state.bus.clone();
    let id = job.id;
    tokio::spawn(async move { hint(&bus, id).await });
}

/// Extends the lease (and the ack wait) every third of it; cancels the
/// attempt when the job was lost (cancelled by its owner, or taken over).
async fn heartbeat(
    state: web::Data<AppState>,
    id: Uuid,
    owner: Uuid,
    msg: Arc<jetstream::Message>,
    cancel: CancellationToken,
    done: CancellationToken,
) {
    let lease = lease(&state);
    let every = (lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match jobs::extend_lease(&state, id, owner, lease).await {
            Ok(true) => ack(&msg, AckKind::Progress).await,
            Ok(false) => {
                tracing::info!(job = %id, "the avatar job was cancelled or taken over; stopping");
                cancel.cancel();
                return;
            }
            Err(e) => tracing::warn!(error = ?e, job = %id, "extending the lease failed"),
        }
    }
}

/// Publishes the hint that a job has new events (SSE followers re-read).
pub async fn hint(bus: &Bus, job: Uuid) {
    let subject = bus.subject(&format!("{}.{job}", subj::AVATAR_PROGRESS_PREFIX));
    if let Err(e) = bus.client.publish(subject, bytes::Bytes::new()).await {
        tracing::debug!(error = %e, "progress hint not sent");
    }
}

/// Captures (succeeded) or releases (failed, cancelled) an ended job's hold,
/// once: the request's key is derived from the job, and `settled` is set after.
pub async fn settle(state: &AppState, id: Uuid) -> Result<(), AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let Some(job) = jobs::get(&c, id).await? else {
        return Ok(());
    };
    drop(c);
    let (Some(hold), Some(amount)) = (job.hold_id, job.hold_amount) else {
        return Ok(());
    };
    if job.settled || !job.state.is_terminal() {
        return Ok(());
    }
    let p = credits::owner(job.user_id);
    let settled = if job.state == JobState::Succeeded {
        credits::capture(&state.bus, &p, id, hold, amount).await?
    } else {
        credits::release(&state.bus, &p, id, hold).await?
    };
    let charged = match settled {
        Settled::Captured(n) => n,
        Settled::Released => 0,
    };
    jobs::mark_settled(state, id, charged).await
}

/// Settles holds left unsettled, queues again jobs whose message was lost,
/// and forgets abandoned submits; every `avatar.sweep_interval_ms`.
pub async fn sweep(state: web::Data<AppState>, token: CancellationToken) {
    let cfg = &state.cfg.avatar;
    let every = Duration::from_millis(cfg.sweep_interval_ms);
    let redispatch_after = Duration::from_secs(cfg.redispatch_after_secs);
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match jobs::unsettled(&state, Duration::from_secs(2)).await {
            Ok(ids) => {
                for id in ids {
                    if let Err(e) = settle(&state, id).await {
                        tracing::debug!(error = ?e, job = %id, "settling failed; will retry");
                    }
                }
            }
            Err(e) => tracing::debug!(error = ?e, "looking for unsettled avatar jobs failed"),
        }
        match jobs::redispatch_stuck(&state, redispatch_after).await {
            Ok(ids) if !ids.is_empty() => {
                tracing::warn!(jobs = ?ids, "avatar jobs queued again (their message seemed lost)");
                state.outbox.notify();
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = ?e, "redispatching avatar jobs failed"),
        }
        if let Err(e) = jobs::forget_abandoned_submits(&state).await {
            tracing::debug!(error = ?e, "forgetting abandoned submits failed");
        }
    }
}

/// Cancels a job this instance runs when another instance took the cancel
/// request (a signed broadcast on `media.avatar.cancel`).
pub async fn cancel_listener(state: web::Data<AppState>, token: CancellationToken) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let sub = tokio::select! {
            _ = token.cancelled() => return,
            s = state.bus.subscribe(subj::AVATAR_CANCEL) => s,
        };
        let mut sub = match sub {
            Ok(s) => s,
            Err(_) => {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(200);
        loop {
            let msg = tokio::select! {
                _ = token.cancelled() => return,
                m = sub.next() => m,
            };
            let Some(msg) = msg else { break };
            if state.bus.verify_broadcast(&msg, &[subj::SERVICE]).is_err() {
                continue;
            }
            if let Ok(id) = std::str::from_utf8(&msg.payload)
                .ok()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or(())
            {
                state.avatars.cancel_local(id);
            }
        }
    }
}
