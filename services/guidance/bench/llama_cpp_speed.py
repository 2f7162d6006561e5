#!/usr/bin/env python3
"""llama.cpp's speed on a GGUF file, for guidance_llm_bench to compare with.

Reads a JSON file {"prompt": [token ids], "gen": N, "threads": T, "runs": R}
and prints one JSON line: prompt tokens/s (the whole prompt evaluated as one
batch, like llama-bench's pp), generated tokens/s (N single-token steps
after the prompt, greedy, like tg), time to first token for the prompt (its
evaluation plus one greedy pick), and llama-cpp-python's version. The best
of R runs is reported, as for our own side.

Needs `pip install llama-cpp-python` (it builds llama.cpp from source).
"""
import json
import sys
import time

import llama_cpp
import numpy as np
from llama_cpp import Llama


def main():
    gguf, spec_path = sys.argv[1], sys.argv[2]
    spec = json.load(open(spec_path))
    prompt, gen, threads, runs = spec["prompt"], spec["gen"], spec["threads"], spec["runs"]
    llm = Llama(
        model_path=gguf,
        n_ctx=max(1024, len(prompt) + gen + 8),
        n_batch=max(512, len(prompt)),
        n_ubatch=max(512, len(prompt)),
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    n_vocab = llm.n_vocab()

    def pick():
        # The last token's logits (Llama.eval keeps them only with logits_all).
        return int(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,)).argmax())

    best_pp, best_tg, best_ttft = 0.0, 0.0, float("inf")
    for _ in range(runs):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        tok = pick()
        t1 = time.perf_counter()
        best_ttft = min(best_ttft, t1 - t0)
        best_pp = max(best_pp, len(prompt) / (t1 - t0))
        t2 = time.perf_counter()
        for _ in range(gen):
            llm.eval([tok])
            tok = pick()
        t3 = time.perf_counter()
        best_tg = max(best_tg, gen / (t3 - t2))
    print(json.dumps({
        "engine": "llama.cpp (llama-cpp-python %s)" % llama_cpp.__version__,
        "version": llama_cpp.__version__,
        "prompt_tokens_per_s": best_pp,
        "generated_tokens_per_s": best_tg,
        "ttft_s": best_ttft,
    }))


if __name__ == "__main__":
    main()
