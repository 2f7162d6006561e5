//! The embeddings themselves: known properties, and a reference computed
//! without torch (eval/reference_embeddings.py: numpy BERT forward pass).

use crate::helpers::{embedder, glossary, manifest};
use guidance::embed::{dot, DIM};

fn one(text: &str) -> Vec<f32> {
    embedder().embed(&[text]).unwrap().pop().unwrap()
}

#[test]
fn unit_norm_and_known_similarities() {
    let a = one("Saturn in the 7th house affects marriage");
    assert_eq!(a.len(), DIM);
    let norm: f32 = dot(&a, &a).sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    let b = one("Saturn in the seventh house");
    let unrelated = one("How do I bake sourdough bread at home?");
    let close = dot(&a, &b);
    let far = dot(&a, &unrelated);
    assert!(close > 0.7, "cosine of paraphrases {close}");
    assert!(far < 0.2, "cosine of unrelated texts {far}");
}

#[test]
fn batch_padding_gives_the_same_vector_as_alone() {
    let short = "Shani";
    let long = "The seventh house covers marriage and the spouse, committed partnerships, \
                business partners, contracts and public dealings; Saturn gains directional strength here.";
    let alone = one(short);
    let batch = embedder().embed(&[short, long, "Moon"]).unwrap();
    let max_diff = alone
        .iter()
        .zip(&batch[0])
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(max_diff < 1e-5, "padding changed the vector by {max_diff}");
    let long_alone = one(long);
    assert!(dot(&long_alone, &batch[1]) > 0.99999);
}

#[test]
fn long_texts_are_truncated_at_256_tokens() {
    let e = embedder();
    let long = "saturn ".repeat(600);
    assert_eq!(e.token_count(&long).unwrap(), 256);
    assert_eq!(e.embed(&[long.as_str()]).unwrap()[0].len(), DIM);
}

#[test]
fn embeddings_match_the_reference() {
    let path = manifest("tests/knowledge/reference_embeddings.json");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let sentences: Vec<&str> = r["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let ours = embedder().embed(&sentences).unwrap();
    for (i, (v, want)) in ours
        .iter()
        .zip(r["vectors"].as_array().unwrap())
        .enumerate()
    {
        let want: Vec<f32> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let max_diff = v
            .iter()
            .zip(&want)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(
            max_diff < 1e-4,
            "sentence {i} ({:?}) differs from the reference by {max_diff}",
            sentences[i]
        );
    }
}

#[test]
fn the_glossary_brings_sanskrit_questions_close() {
    let g = glossary();
    let english = one("Saturn in the seventh house");
    let sanskrit = "Shani in 7th bhava affects marriage";
    let plain = dot(&english, &one(sanskrit));
    let expanded = dot(&english, &one(&g.expand(sanskrit)));
    assert!(
        expanded > plain + 0.4 && expanded > 0.6,
        "without glossary {plain}, with {expanded}"
    );
}
