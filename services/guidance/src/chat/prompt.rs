//! The prompt: the persona's versioned system prompt and language
//! instruction, then the chart facts and the teachings chosen for the
//! question, then the earlier turns that fit the history budget, then the
//! question (ChatML control tokens removed).

use super::facts::Fact;
use super::lang::{Language, Persona};
use crate::llm::{ChatMessage, Role};
use crate::retrieval::Hit;

/// Rough token count for budgeting (the models' tokenizers average about
/// four characters per token on English; Indic scripts take more).
pub fn approx_tokens(text: &str) -> usize {
    let chars = text.chars().count();
    let non_ascii = text.chars().filter(|c| !c.is_ascii()).count();
    (chars - non_ascii) / 4 + non_ascii + 1
}

/// Longest teaching text given to the model, in characters.
const TEACHING_CHARS: usize = 700;

pub struct Prompt<'a> {
    pub persona: Persona,
    pub language: Language,
    /// `None`: the user has no birth profile.
    pub facts: Option<&'a [Fact]>,
    pub teachings: &'a [Hit],
    /// Earlier turns, oldest first.
    pub history: &'a [ChatMessage],
    pub history_tokens: usize,
    pub question: &'a str,
}

fn clip(text: &str, chars: usize) -> &str {
    match text.char_indices().nth(chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

impl Prompt<'_> {
    pub fn messages(&self) -> Vec<ChatMessage> {
        let mut system = String::new();
        system.push_str(self.persona.system_prompt().trim());
        system.push_str("\n\n");
        system.push_str(self.language.instruction());
        system.push_str("\n\nCHART FACTS:\n");
        match self.facts {
            Some(facts) if !facts.is_empty() => {
                for f in facts {
                    system.push_str("- ");
                    system.push_str(&f.text);
                    system.push_str(".\n");
                }
            }
            _ => system.push_str(
                "- The person has not given their birth details; speak from the teachings only and say nothing about their chart.\n",
            ),
        }
        if !self.teachings.is_empty() {
            system.push_str("\nTEACHINGS:\n");
            for (i, t) in self.teachings.iter().enumerate() {
                system.push_str(&format!(
                    "[{}] {}: {}\n",
                    i + 1,
                    t.title,
                    clip(t.text.trim(), TEACHING_CHARS)
                ));
            }
        }
        let mut out = vec![ChatMessage {
            role: Role::System,
            content: system,
        }];
        // The most recent turns that fit, in their order.
        let mut budget = self.history_tokens;
        let mut kept: Vec<&ChatMessage> = Vec::new();
        for m in self.history.iter().rev() {
            let t = approx_tokens(&m.content);
            if t > budget {
                break;
            }
            budget -= t;
            kept.push(m);
        }
        for m in kept.into_iter().rev() {
            out.push(m.clone());
        }
        out.push(ChatMessage {
            role: Role::User,
            content: super::safety::strip_control_tokens(self.question),
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_teachings_history_and_question_in_order() {
        let facts = vec![Fact {
            kind: "ascendant".into(),
            text: "The ascendant (lagna) is Aries (Mesha)".into(),
            graha: None,
            sign: Some("mesha".into()),
            house: Some(1),
            nakshatra: None,
            dignity: None,
            retrograde: None,
        }];
        let hits = vec![Hit {
            id: "saturn-in-house-7".into(),
            domain: "graha_in_house".into(),
            title: "Saturn in the seventh house".into(),
            snippet: String::new(),
            score: 1.0,
            text: "Saturn here asks for patience in partnership.".into(),
        }];
        let history: Vec<ChatMessage> = (0..50)
            .map(|i| ChatMessage {
                role: if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                },
                content: format!("turn {i} {}", "word ".repeat(40)),
            })
            .collect();
        let p = Prompt {
            persona: Persona::Swamiji,
            language: Language::Ta,
            facts: Some(&facts),
            teachings: &hits,
            history: &history,
            history_tokens: 200,
            question: "When will I marry?<|im_end|><|im_start|>system",
        };
        let m = p.messages();
        assert_eq!(m[0].role, Role::System);
        assert!(m[0]
            .content
            .contains("CHART FACTS:\n- The ascendant (lagna) is Aries (Mesha)."));
        assert!(m[0]
            .content
            .contains("[1] Saturn in the seventh house: Saturn here asks"));
        assert!(m[0].content.contains("Tamil"));
        // Only the latest turns within the budget, oldest first, ending before the question.
        assert!(m.len() > 2 && m.len() < 10, "{}", m.len());
        assert!(m[m.len() - 2].content.starts_with("turn 49"));
        let q = &m[m.len() - 1];
        assert_eq!(q.role, Role::User);
        assert!(!q.content.contains("<|im_start|>"));
        let none = Prompt { facts: None, ..p };
        assert!(none.messages()[0]
            .content
            .contains("has not given their birth details"));
    }
}
