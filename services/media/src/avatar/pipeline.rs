//! One attempt at a job: speech (espeak-ng, or ElevenLabs), then the
//! result: for voice, Opus/Ogg or MP3 (ffmpeg); for video, the avatar image
//! looped over the speech as H.264 + AAC in MP4 with WebVTT captions muxed
//! as a mov_text track (ffmpeg), or D-ID's talking head with the same
//! captions; then the files go to the object store.
//!
//! Work happens in a scratch directory removed afterwards. Transient
//! provider failures are retried with exponential backoff (backon) up to
//! `avatar.retry.max_times`; each retry is reported as a `retrying` event.

use super::captions;
use super::config::{AvatarConfig, VideoProvider, VoiceFormat, VoiceProvider};
use super::jobs::{JobRow, Stored};
use super::metrics::{JobMetrics, ProviderLabels};
use super::model::Kind;
use super::process::{self, Probe, ProcError};
use super::providers::{DId, ElevenLabs, StepError, D_ID, ELEVENLABS};
use super::store::{self, Store};
use backon::{ExponentialBuilder, Retryable};
use object_store::{ObjectStoreExt, PutPayload};
use std::ffi::OsString;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Why an attempt did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// The job was cancelled, the worker lost it, or the instance is stopping.
    Cancelled,
    /// The job fails with this cause.
    Failed { code: &'static str, message: String },
}

impl JobError {
    fn failed(code: &'static str, message: impl Into<String>) -> JobError {
        JobError::Failed {
            code,
            message: message.into(),
        }
    }
}

/// What an attempt reports as it goes (recorded as the job's events).
#[derive(Debug, Clone)]
pub enum Note {
    Stage(&'static str),
    Retry {
        stage: &'static str,
        retry: usize,
        delay_ms: u64,
        error: String,
    },
}

pub type Progress = mpsc::UnboundedSender<Note>;

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(job: Uuid) -> std::io::Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("jyotiflow-avatar-{job}-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn os<S: Into<OsString>>(s: S) -> OsString {
    s.into()
}

/// Speech ready for encoding: the file and whether it is MP3 already.
struct Speech {
    path: PathBuf,
    mp3: bool,
    /// Measured when asked for (videos), and always for a provider's audio.
    duration_secs: Option<f64>,
}

pub struct Pipeline {
    cfg: AvatarConfig,
    store: Store,
    metrics: JobMetrics,
    eleven: Option<ElevenLabs>,
    did: Option<DId>,
}

impl Pipeline {
    pub fn new(cfg: &AvatarConfig, store: Store, metrics: JobMetrics) -> anyhow::Result<Pipeline> {
        let eleven = match cfg.voice_provider {
            VoiceProvider::Elevenlabs => Some(ElevenLabs::new(&cfg.elevenlabs)?),
            VoiceProvider::Local => None,
        };
        let did = match cfg.video_provider {
            VideoProvider::DId => Some(DId::new(&cfg.d_id)?),
            VideoProvider::Local => None,
        };
        Ok(Pipeline {
            cfg: cfg.clone(),
            store,
            metrics,
            eleven,
            did,
        })
    }

    /// The provider that makes a job of `kind` (recorded with the job).
    pub fn provider_for(&self, kind: Kind) -> &'static str {
        match kind {
            Kind::Voice => self.cfg.voice_provider.as_str(),
            Kind::Video => match self.cfg.video_provider {
                VideoProvider::DId => VideoProvider::DId.as_str(),
                VideoProvider::Local => self.cfg.voice_provider.as_str(),
            },
        }
    }

    fn process_timeout(&self) -> Duration {
        Duration::from_secs(self.cfg.process_timeout_secs)
    }

    /// Runs one attempt of `job` and stores its files.
    pub async fn run(
        &self,
        job: &JobRow,
        cancel: &CancellationToken,
        progress: &Progress,
    ) -> Result<Stored, JobError> {
        let scratch = Scratch::new(job.id)
            .map_err(|e| JobError::failed("internal", format!("no scratch directory: {e}")))?;
        let (result, content_type, ext, captions) = match job.kind {
            Kind::Voice => self.voice(job, &scratch, cancel, progress).await?,
            Kind::Video => match self.cfg.video_provider {
                VideoProvider::Local => self.video_local(job, &scratch, cancel, progress).await?,
                VideoProvider::DId => self.video_did(job, &scratch, cancel, progress).await?,
            },
        };
        let probe = self
            .retrying(
                "probe",
                "ffprobe",
                "encoding_failed",
                cancel,
                progress,
                || self.probe(&result, cancel),
            )
            .await?;
        let wanted = if job.kind == Kind::Video {
            ["video", "audio"].as_slice()
        } else {
            ["audio"].as_slice()
        };
        if let Some(missing) = wanted.iter().find(|t| !probe.has(t)) {
            return Err(JobError::failed(
                "encoding_failed",
                format!("the result has no {missing} stream"),
            ));
        }
        let _ = progress.send(Note::Stage("storing"));
        let bytes = tokio::fs::read(&result)
            .await
            .map_err(|e| JobError::failed("internal", format!("reading the result: {e}")))?;
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let result_key = store::result_key(job.id, ext);
        self.put(&result_key, bytes.into(), cancel).await?;
        let captions_key = match captions {
            Some(vtt) => {
                let key = store::captions_key(job.id);
                self.put(&key, vtt.into_bytes().into(), cancel).await?;
                Some(key)
            }
            None => None,
        };
        if cancel.is_cancelled() {
            return Err(JobError::Cancelled);
        }
        Ok(Stored {
            result_key,
            content_type: content_type.to_owned(),
            bytes: size,
            duration_ms: millis(probe.duration_secs),
            captions_key,
        })
    }

    async fn put(
        &self,
        key: &str,
        bytes: bytes::Bytes,
        cancel: &CancellationToken,
    ) -> Result<(), JobError> {
        let path = store::path(key);
        let attempt = || {
            let payload = PutPayload::from(bytes.clone());
            let path = path.clone();
            async move {
                self.store
                    .put(&path, payload)
                    .await
                    .map(|_| ())
                    .map_err(|e| StepError::transient(format!("the avatar store: {e}")))
            }
        };
        let (tx, _rx) = mpsc::unbounded_channel();
        self.retrying("storing", "store", "storage_error", cancel, &tx, attempt)
            .await
    }

    /// Runs `f` until it succeeds, fails for good, or the retries run out;
    /// each retry is reported. Cancellation wins over everything.
    async fn retrying<T, F, Fut>(
        &self,
        stage: &'static str,
        provider: &'static str,
        code: &'static str,
        cancel: &CancellationToken,
        progress: &Progress,
        f: F,
    ) -> Result<T, JobError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StepError>>,
    {
        let r = &self.cfg.retry;
        let policy = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(r.min_delay_ms))
            .with_max_delay(Duration::from_millis(r.max_delay_ms))
            .with_max_times(r.max_times)
            .with_jitter();
        let tries = AtomicUsize::new(1);
        let labels = ProviderLabels {
            provider: provider.to_owned(),
        };
        let attempt = f
            .retry(policy)
            .sleep(tokio::time::sleep)
            .when(|e: &StepError| e.transient)
            .notify(|e: &StepError, after: Duration| {
                let retry = tries.fetch_add(1, Ordering::Relaxed);
                self.metrics.provider_retries.get_or_create(&labels).inc();
                tracing::info!(stage, provider, retry, ?after, error = %e, "retrying");
                let _ = progress.send(Note::Retry {
                    stage,
                    retry,
                    delay_ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
                    error: e.message.clone(),
                });
            });
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(JobError::Cancelled),
            r = attempt => r,
        };
        match result {
            Ok(v) => Ok(v),
            Err(_) if cancel.is_cancelled() => Err(JobError::Cancelled),
            Err(e) => {
                let n = tries.load(Ordering::Relaxed);
                let message = if n > 1 {
                    format!("{} (after {n} tries)", e.message)
                } else {
                    e.message
                };
                Err(JobError::Failed { code, message })
            }
        }
    }

    async fn exec(
        &self,
        program: &str,
        args: Vec<OsString>,
        cancel: &CancellationToken,
    ) -> Result<Vec<u8>, StepError> {
        process::run(program, &args, self.process_timeout(), cancel)
            .await
            .map_err(proc_step)
    }

    async fn probe(&self, file: &Path, cancel: &CancellationToken) -> Result<Probe, StepError> {
        process::probe(
            &self.cfg.tools.ffprobe,
            file,
            self.process_timeout(),
            cancel,
        )
        .await
        .map_err(proc_step)
    }

    /// The spoken text as a file: WAV from espeak-ng, or MP3 from ElevenLabs.
    async fn speech(
        &self,
        job: &JobRow,
        scratch: &Scratch,
        measure: bool,
        cancel: &CancellationToken,
        progress: &Progress,
    ) -> Result<Speech, JobError> {
        let _ = progress.send(Note::Stage("speech"));
        let (path, mp3) = match &self.eleven {
            None => {
                let input = scratch.file("input.txt");
                tokio::fs::write(&input, job.text.as_bytes())
                    .await
                    .map_err(|e| JobError::failed("internal", format!("writing the text: {e}")))?;
                let out = scratch.file("speech.wav");
                let voice = match &job.voice {
                    Some(v) => format!("{}+{v}", job.language.as_str()),
                    None => job.language.as_str().to_owned(),
                };
                let args = vec![
                    os("-v"),
                    os(voice),
                    os("-f"),
                    input.into_os_string(),
                    os("-w"),
                    out.clone().into_os_string(),
                ];
                let espeak = &self.cfg.tools.espeak_ng;
                self.retrying(
                    "speech",
                    "espeak-ng",
                    "synthesis_failed",
                    cancel,
                    progress,
                    || self.exec(espeak, args.clone(), cancel),
                )
                .await?;
                (out, false)
            }
            Some(el) => {
                let voice = job.voice.as_deref().unwrap_or(&el.default_voice_id);
                let audio = self
                    .retrying(
                        "speech",
                        ELEVENLABS,
                        "provider_error",
                        cancel,
                        progress,
                        || el.speak(&job.text, voice),
                    )
                    .await?;
                let out = scratch.file("speech.mp3");
                tokio::fs::write(&out, &audio).await.map_err(|e| {
                    JobError::failed("internal", format!("writing the speech: {e}"))
                })?;
                (out, true)
            }
        };
        // espeak-ng's WAV is checked with the result (voice jobs): one
        // ffprobe run less. A provider's file is always checked here.
        if !measure && !mp3 {
            return Ok(Speech {
                path,
                mp3,
                duration_secs: None,
            });
        }
        let probe = self
            .retrying(
                "speech",
                "ffprobe",
                "synthesis_failed",
                cancel,
                progress,
                || self.probe(&path, cancel),
            )
            .await
            .map_err(|e| match e {
                JobError::Failed { message, .. } if mp3 => JobError::failed(
                    "provider_error",
                    format!("elevenlabs sent something that is not audio: {message}"),
                ),
                other => other,
            })?;
        if !probe.has("audio") || probe.duration_secs <= 0.0 {
            let code = if mp3 {
                "provider_error"
            } else {
                "synthesis_failed"
            };
            return Err(JobError::failed(code, "the speech has no audio"));
        }
        Ok(Speech {
            path,
            mp3,
            duration_secs: Some(probe.duration_secs),
        })
    }

    async fn voice(
        &self,
        job: &JobRow,
        scratch: &Scratch,
        cancel: &CancellationToken,
        progress: &Progress,
    ) -> Result<(PathBuf, &'static str, &'static str, Option<String>), JobError> {
        let speech = self.speech(job, scratch, false, cancel, progress).await?;
        let format = self.cfg.voice_format;
        if speech.mp3 && format == VoiceFormat::Mp3 {
            return Ok((speech.path, format.content_type(), format.extension(), None));
        }
        let _ = progress.send(Note::Stage("encoding"));
        let out = scratch.file(&format!("result.{}", format.extension()));
        let codec: &[&str] = match format {
            VoiceFormat::Ogg => &["-c:a", "libopus", "-b:a", "48k"],
            VoiceFormat::Mp3 => &["-c:a", "libmp3lame", "-b:a", "64k"],
        };
        let mut args = vec![
            os("-nostdin"),
            os("-v"),
            os("error"),
            os("-y"),
            os("-i"),
            speech.path.into_os_string(),
            os("-vn"),
            os("-map_metadata"),
            os("-1"),
        ];
        args.extend(codec.iter().map(|s| os(*s)));
        args.push(out.clone().into_os_string());
        let ffmpeg = &self.cfg.tools.ffmpeg;
        self.retrying(
            "encoding",
            "ffmpeg",
            "encoding_failed",
            cancel,
            progress,
            || self.exec(ffmpeg, args.clone(), cancel),
        )
        .await?;
        Ok((out, format.content_type(), format.extension(), None))
    }

    /// The job's avatar image in the scratch directory, if it has one.
    async fn image(
        &self,
        job: &JobRow,
        scratch: &Scratch,
        cancel: &CancellationToken,
        progress: &Progress,
    ) -> Result<Option<PathBuf>, JobError> {
        let Some(key) = job.image_key.as_deref() else {
            return Ok(None);
        };
        let path = store::path(key);
        let bytes = self
            .retrying("video", "store", "storage_error", cancel, progress, || {
                let path = path.clone();
                async move {
                    match self.store.get(&path).await {
                        Ok(r) => r
                            .bytes()
                            .await
                            .map_err(|e| StepError::transient(format!("the avatar store: {e}"))),
                        Err(object_store::Error::NotFound { .. }) => Err(StepError::permanent(
                            "the avatar image is missing from the store",
                        )),
                        Err(e) => Err(StepError::transient(format!("the avatar store: {e}"))),
                    }
                }
            })
            .await?;
        let ext = key.rsplit('.').next().unwrap_or("png");
        let out = scratch.file(&format!("image.{ext}"));
        tokio::fs::write(&out, &bytes)
            .await
            .map_err(|e| JobError::failed("internal", format!("writing the image: {e}")))?;
        Ok(Some(out))
    }

    async fn video_local(
        &self,
        job: &JobRow,
        scratch: &Scratch,
        cancel: &CancellationToken,
        progress: &Progress,
    ) -> Result<(PathBuf, &'static str, &'static str, Option<String>), JobError> {
        let speech = self.speech(job, scratch, true, cancel, progress).await?;
        let duration = speech.duration_secs.unwrap_or(0.0);
        let vtt = captions::webvtt(&job.text, u64::try_from(millis(duration)).unwrap_or(0));
        let vtt_path = scratch.file("captions.vtt");
        tokio::fs::write(&vtt_path, vtt.as_bytes())
            .await
            .map_err(|e| JobError::failed("internal", format!("writing the captions: {e}")))?;
        let image = self.image(job, scratch, cancel, progress).await?;
        let _ = progress.send(Note::Stage("video"));
        let v = &self.cfg.video;
        let side = v.max_side;
        let mut args = vec![os("-nostdin"), os("-v"), os("error"), os("-y")];
        let filter = match &image {
            Some(path) => {
                args.extend([
                    os("-loop"),
                    os("1"),
                    os("-framerate"),
                    os(v.fps.to_string()),
                    os("-i"),
                    path.clone().into_os_string(),
                ]);
                format!(
                    "scale=w={side}:h={side}:force_original_aspect_ratio=decrease,\
                     scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p"
                )
            }
            None => {
                args.extend([
                    os("-f"),
                    os("lavfi"),
                    os("-i"),
                    os(format!(
                        "color=c={}:s={side}x{side}:r={}",
                        v.background, v.fps
                    )),
                ]);
                "format=yuv420p".to_owned()
            }
        };
        let out = scratch.file("result.mp4");
        // `-t` with the speech's length rather than `-shortest`: with a
        // subtitle stream in the output, `-shortest` cuts the audio short.
        args.extend([
            os("-i"),
            speech.path.into_os_string(),
            os("-i"),
            vtt_path.into_os_string(),
            os("-map"),
            os("0:v:0"),
            os("-map"),
            os("1:a:0"),
            os("-map"),
            os("2:s:0"),
            os("-vf"),
            os(filter),
            os("-c:v"),
            os("libx264"),
            os("-preset"),
            os(v.preset.clone()),
            os("-tune"),
            os("stillimage"),
            os("-pix_fmt"),
            os("yuv420p"),
            os("-r"),
            os(v.fps.to_string()),
            os("-c:a"),
            os("aac"),
            os("-b:a"),
            os("96k"),
            os("-c:s"),
            os("mov_text"),
            os("-metadata:s:s:0"),
            os(format!("language={}", job.language.iso639_2())),
            os("-t"),
            os(format!("{duration:.3}")),
            os("-movflags"),
            os("+faststart"),
            out.clone().into_os_string(),
        ]);
        let ffmpeg = &self.cfg.tools.ffmpeg;
        self.retrying(
            "video",
            "ffmpeg",
            "encoding_failed",
            cancel,
            progress,
            || self.exec(ffmpeg, args.clone(), cancel),
        )
        .await?;
        Ok((out, "video/mp4", "mp4", Some(vtt)))
    }

    async fn video_did(
        &self,
        job: &JobRow,
        scratch: &Scratch,
        cancel: &CancellationToken,
        progress: &Progress,
    ) -> Result<(PathBuf, &'static str, &'static str, Option<String>), JobError> {
        let Some(did) = &self.did else {
            return Err(JobError::failed(
                "provider_not_configured",
                "d-id is not configured",
            ));
        };
        let Some(image_key) = job.image_key.as_deref() else {
            return Err(JobError::failed(
                "provider_error",
                "d-id needs an avatar image: an admin uploads one (POST /api/v1/admin/media/avatar-images)",
            ));
        };
        let source_url = format!("{}/{image_key}", did.image_base_url);
        let _ = progress.send(Note::Stage("video"));
        let voice = job.voice.as_deref();
        let talk_id = self
            .retrying("video", D_ID, "provider_error", cancel, progress, || {
                did.create_talk(&source_url, &job.text, voice)
            })
            .await?;
        let result_url = loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(JobError::Cancelled),
                _ = tokio::time::sleep(did.poll_interval) => {}
            }
            let talk = self
                .retrying("video", D_ID, "provider_error", cancel, progress, || {
                    did.talk(&talk_id)
                })
                .await?;
            match talk.status.as_str() {
                "done" => match talk.result_url {
                    Some(u) => break u,
                    None => {
                        return Err(JobError::failed(
                            "provider_error",
                            "d-id reported the video done without a result_url",
                        ))
                    }
                },
                "error" | "rejected" => {
                    return Err(JobError::failed("provider_error", talk.failure()))
                }
                _ => continue,
            }
        };
        let video = self
            .retrying("video", D_ID, "provider_error", cancel, progress, || {
                did.download(&result_url)
            })
            .await?;
        let talk_path = scratch.file("talk.mp4");
        tokio::fs::write(&talk_path, &video)
            .await
            .map_err(|e| JobError::failed("internal", format!("writing the video: {e}")))?;
        let probe = self
            .retrying(
                "video",
                "ffprobe",
                "provider_error",
                cancel,
                progress,
                || self.probe(&talk_path, cancel),
            )
            .await?;
        if !probe.has("video") {
            return Err(JobError::failed(
                "provider_error",
                "d-id's result has no video stream",
            ));
        }
        let vtt = captions::webvtt(
            &job.text,
            u64::try_from(millis(probe.duration_secs)).unwrap_or(0),
        );
        let vtt_path = scratch.file("captions.vtt");
        tokio::fs::write(&vtt_path, vtt.as_bytes())
            .await
            .map_err(|e| JobError::failed("internal", format!("writing the captions: {e}")))?;
        let out = scratch.file("result.mp4");
        let args = vec![
            os("-nostdin"),
            os("-v"),
            os("error"),
            os("-y"),
            os("-i"),
            talk_path.into_os_string(),
            os("-i"),
            vtt_path.into_os_string(),
            os("-map"),
            os("0:v:0"),
            os("-map"),
            os("0:a?"),
            os("-map"),
            os("1:s:0"),
            os("-c:v"),
            os("copy"),
            os("-c:a"),
            os("copy"),
            os("-c:s"),
            os("mov_text"),
            os("-metadata:s:s:0"),
            os(format!("language={}", job.language.iso639_2())),
            os("-movflags"),
            os("+faststart"),
            out.clone().into_os_string(),
        ];
        let ffmpeg = &self.cfg.tools.ffmpeg;
        self.retrying(
            "video",
            "ffmpeg",
            "encoding_failed",
            cancel,
            progress,
            || self.exec(ffmpeg, args.clone(), cancel),
        )
        .await?;
        Ok((out, "video/mp4", "mp4", Some(vtt)))
    }
}

fn millis(secs: f64) -> i32 {
    let ms = (secs * 1000.0).round();
    if ms.is_finite() && ms >= 0.0 && ms <= f64::from(i32::MAX) {
        ms as i32
    } else {
        0
    }
}

/// A program's failure as a step: a timeout is worth retrying; a missing
/// program, a crash or a refusal is not.
fn proc_step(e: ProcError) -> StepError {
    if e.transient() {
        StepError::transient(e.to_string())
    } else {
        StepError::permanent(e.to_string())
    }
}
