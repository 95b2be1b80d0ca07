# GPT-2 on TensorFlow Java. `make help` lists targets and variables.
SHELL := /bin/bash
MVN ?= mvn -q -B
# Maven 3.8's console library ends each quiet run with stray colour resets ("[0m") without this
export MAVEN_OPTS := $(MAVEN_OPTS) -Djansi.noreset=true
JAVA ?= java
JAR := target/gpt2.jar
GPT2 := $(JAVA) -jar $(JAR)

MODEL ?= 124M
MODEL_DIR ?= checkpoints/$(MODEL)
PROMPT ?=
PORT ?=
CHECK_MODEL_DIR ?=
LENGTH ?=
TOP_K ?=
TOP_P ?=
TEMPERATURE ?=
SEED ?=
TASK ?= hellaswag
LIMIT ?=
DTYPE ?=

SOURCES := pom.xml $(shell find src/main -type f 2>/dev/null)

BENCH_MODEL_DIR ?= checkpoints/bench-124M
CONFIG ?= configs/shakespeare.properties
ARGS ?=
DATA_FILE ?=
SHAKESPEARE_URL := https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt

.PHONY: help build test test-fast test-slow format check-format sample serve check-openai-client eval download data data-char train bench bench-sample bench-train bench-cluster bench-eval bench-ggml bench-serve profile-step llamacpp bench-llamacpp export-gguf clean

help: ## list targets and variables
	@echo "Targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-14s %s\n", $$1, $$2}'
	@echo
	@echo "Variables (make VAR=value):"
	@echo "  MODEL=$(MODEL)          one of 124M 355M 774M 1558M (sample, download)"
	@echo "  MODEL_DIR=$(MODEL_DIR)  model directory in OpenAI's layout"
	@echo "  PROMPT=\"...\"           prompt for sample"
	@echo "  LENGTH, TOP_K, TOP_P, TEMPERATURE, SEED   sampling options (defaults: see sample --help)"
	@echo "  DATA_FILE=path          text for make data (default: fetch Tiny Shakespeare)"
	@echo "  CONFIG=$(CONFIG)   training config; ARGS=\"--max_iters=100 ...\" overrides keys"

build: $(JAR) ## build target/gpt2.jar (dependencies in target/lib)

$(JAR): $(SOURCES)
	$(MVN) package -DskipTests

test: ## run the test suite (offline; tests needing ../shared or real weights skip)
	mvn -B --no-transfer-progress test

test-fast: ## the suite without the classes that start processes (tagged "process"): a quick loop while working
	mvn -B --no-transfer-progress test -DexcludedGroups=process

test-slow: ## the test suite with one busy loop per core beside it [ROUNDS=n]: passing must not depend on speed
	scripts/test-slow.sh

C_SOURCES := $(wildcard src/main/c/*.c src/main/c/*.h)

format: ## reformat the Java sources (google-java-format, through Spotless) and the C kernels (clang-format)
	$(MVN) spotless:apply
	clang-format -i $(C_SOURCES)

check-format: ## fail if a Java or C source is not formatted (CI runs it)
	mvn -B --no-transfer-progress spotless:check
	@command -v clang-format >/dev/null || { echo 'make check-format: clang-format is not installed (apt-get install clang-format)' >&2; exit 2; }
	clang-format --dry-run --Werror $(C_SOURCES)

sample: $(JAR) ## generate text: make sample PROMPT="..." [MODEL=124M] [MODEL_DIR=...] [LENGTH=...] [TOP_K=...]
	@test -n '$(PROMPT)' || { echo 'make sample: set PROMPT="..."' >&2; exit 2; }
	@test -f '$(MODEL_DIR)/checkpoint' || test '$(MODEL_DIR)' != 'checkpoints/$(MODEL)' || \
	  $(GPT2) download --model $(MODEL) --dir checkpoints
	@$(GPT2) sample --model-dir '$(MODEL_DIR)' --prompt '$(subst ','\'',$(PROMPT))' \
	  $(if $(LENGTH),--length $(LENGTH)) $(if $(TOP_K),--top-k $(TOP_K)) \
	  $(if $(TOP_P),--top-p $(TOP_P)) $(if $(TEMPERATURE),--temperature $(TEMPERATURE)) \
	  $(if $(SEED),--seed $(SEED))

eval: $(JAR) ## score a model on a task: make eval TASK=hellaswag|lambada|wikitext [MODEL=124M] [MODEL_DIR=...] [LIMIT=N] [DTYPE=bfloat16]
	@test -f '$(MODEL_DIR)/checkpoint' || test '$(MODEL_DIR)' != 'checkpoints/$(MODEL)' || \
	  $(GPT2) download --model $(MODEL) --dir checkpoints
	@$(GPT2) eval --model-dir '$(MODEL_DIR)' --task $(TASK) \
	  $(if $(LIMIT),--limit $(LIMIT)) $(if $(DTYPE),--dtype $(DTYPE))

serve: $(JAR) ## OpenAI-compatible completions server: make serve [MODEL=124M] [MODEL_DIR=...] [PORT=8000] [DTYPE=...]
	@test -f '$(MODEL_DIR)/checkpoint' || test '$(MODEL_DIR)' != 'checkpoints/$(MODEL)' || \
	  $(GPT2) download --model $(MODEL) --dir checkpoints
	@$(GPT2) serve --model-dir '$(MODEL_DIR)' $(if $(PORT),--port $(PORT)) $(if $(DTYPE),--dtype $(DTYPE)) $(ARGS)

check-openai-client: $(JAR) ## OpenAI's npm client against serve (needs node; [CHECK_MODEL_DIR=...], default a small init model)
	scripts/check-openai-client.sh $(CHECK_MODEL_DIR)

download: $(JAR) ## fetch OpenAI's checkpoint: make download MODEL=124M
	$(GPT2) download --model $(MODEL) --dir checkpoints

data: $(JAR) ## tokenize Tiny Shakespeare into data/shakespeare: make data [DATA_FILE=path]
ifneq ($(DATA_FILE),)
	$(GPT2) prepare --input '$(DATA_FILE)' --out data/shakespeare
else
	$(GPT2) prepare --url $(SHAKESPEARE_URL) --out data/shakespeare
endif

data-char: $(JAR) ## Tiny Shakespeare as characters into data/shakespeare_char (nanoGPT's shakespeare_char)
ifneq ($(DATA_FILE),)
	$(GPT2) prepare --input '$(DATA_FILE)' --out data/shakespeare_char --tokenizer char
else
	$(GPT2) prepare --url $(SHAKESPEARE_URL) --out data/shakespeare_char --tokenizer char
endif

train: $(JAR) ## train: make train [CONFIG=configs/...] [ARGS="--max_iters=100 --out_dir=..."]
	$(GPT2) train --config '$(CONFIG)' $(ARGS)

bench: bench-sample bench-train bench-cluster bench-eval ## all benchmarks

llamacpp: ## install llama.cpp's prebuilt CPU libraries (node-llama-cpp 3.21.1, linux-x64 only) into scripts/llamacpp: the peer LlamaCppTest checks exports against
	cd scripts/llamacpp && npm install --no-audit --no-fund --omit=optional

GGUF ?= $(MODEL_DIR).gguf
FTYPE ?= f16

export-gguf: $(JAR) ## write MODEL_DIR as a GGUF file for llama.cpp or ollama: make export-gguf [MODEL_DIR=...] [GGUF=out.gguf] [FTYPE=f32|f16|bf16]
	$(GPT2) export-gguf --model-dir '$(MODEL_DIR)' --out '$(GGUF)' --ftype $(FTYPE)

bench-llamacpp: $(JAR) ## llama.cpp (make llamacpp) against bench-sample on a 124M model, alternating [ROUNDS=2]
	@test -f '$(BENCH_MODEL_DIR)/checkpoint' || $(GPT2) init --model-dir '$(BENCH_MODEL_DIR)' --like 124M --seed 1
	scripts/bench-llamacpp.sh '$(BENCH_MODEL_DIR)' $(or $(ROUNDS),2)

bench-sample: $(JAR) ## decoding tokens/s on a 124M-shaped model made by init
	@test -f '$(BENCH_MODEL_DIR)/checkpoint' || $(GPT2) init --model-dir '$(BENCH_MODEL_DIR)' --like 124M --seed 1
	$(GPT2) bench-sample --model-dir '$(BENCH_MODEL_DIR)'

bench-eval: $(JAR) ## eval's examples/s at 124M per task, float32 and bfloat16 (rows cut from Tiny Shakespeare)
	@test -f '$(BENCH_MODEL_DIR)/checkpoint' || $(GPT2) init --model-dir '$(BENCH_MODEL_DIR)' --like 124M --seed 1
	scripts/bench-eval.sh '$(BENCH_MODEL_DIR)' ../shared/data/tinyshakespeare.txt $(or $(LIMIT),100)

bench-serve: $(JAR) ## serve under 1, 8 and 32 streaming clients beside bench-sample's batch 8 [DTYPE=float32]
	@test -f '$(BENCH_MODEL_DIR)/checkpoint' || $(GPT2) init --model-dir '$(BENCH_MODEL_DIR)' --like 124M --seed 1
	scripts/bench-serve.sh '$(BENCH_MODEL_DIR)' $(or $(DTYPE),float32)

bench-ggml: $(JAR) ## decoding against ggml's gpt-2 example on the same checkpoint (GGML_SRC=clone of ggml-org/ggml)
	@test -f '$(BENCH_MODEL_DIR)/checkpoint' || $(GPT2) init --model-dir '$(BENCH_MODEL_DIR)' --like 124M --seed 1
	scripts/bench-ggml.sh '$(BENCH_MODEL_DIR)'

profile-step: $(JAR) ## where a batch-1 decoding step's time goes, from perf profiles [DTYPE=bfloat16]
	@test -f '$(BENCH_MODEL_DIR)/checkpoint' || $(GPT2) init --model-dir '$(BENCH_MODEL_DIR)' --like 124M --seed 1
	scripts/profile-step.sh '$(BENCH_MODEL_DIR)' $(or $(DTYPE),bfloat16)

bench-train: $(JAR) ## training tokens/s, XLA on and off, baby config and 124M shape
	$(GPT2) bench-train

bench-cluster: $(JAR) ## training on loopback: one process against two tasks (124M shape; make data first)
	@test -f '$(BENCH_MODEL_DIR)/checkpoint' || $(GPT2) init --model-dir '$(BENCH_MODEL_DIR)' --like 124M --seed 1
	@test -f data/shakespeare/train.bin || { echo 'make bench-cluster: no data/shakespeare/train.bin; run make data first' >&2; exit 2; }
	scripts/bench-cluster.sh '$(BENCH_MODEL_DIR)' data/shakespeare

clean: ## remove build output
	$(MVN) clean
