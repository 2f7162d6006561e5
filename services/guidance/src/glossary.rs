//! Sanskrit, Tamil and Hindi terms → English, so that "Shani in the 7th
//! bhava" finds what "Saturn in the seventh house" does. (To be completed.)

#[derive(Clone, Default)]
pub struct Glossary;

impl Glossary {
    pub fn load(path: &str) -> anyhow::Result<Glossary> {
        let _ = path;
        Ok(Glossary)
    }

    /// `text` followed by the English expansions of the terms it contains.
    pub fn expand(&self, text: &str) -> String {
        text.to_owned()
    }
}
