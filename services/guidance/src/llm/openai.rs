//! The `openai` provider: an OpenAI-compatible chat-completions client. (To be completed.)
