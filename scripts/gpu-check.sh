#!/usr/bin/env bash
# The WebGPU check for a machine with a real NVIDIA GPU (issue 10 part 3), ending in ONE summary block:
#   1. bash scripts/setup.sh when node_modules or a WebGPU adapter is missing;
#   2. the adapter Dawn picks (lib/models/webgpu.ts); a software one (llvmpipe/lavapipe) stops the check here
#      unless --allow-software: it means the NVIDIA Vulkan ICD is not visible, and speed numbers would be meaningless;
#   3. ipo doctor;
#   4. the parity tests: test/webgpu-parity.test.ts (tfjs webgpu vs wasm/cpu, onnx webgpu vs cpu) and
#      test/cli-backend.test.ts (IPO_TF_BACKEND=webgpu through the CLI), with CI=1 so a missing adapter fails;
#   5. the bench twice with the same options: the defaults (tf on wasm, onnx on the CPU EP), then
#      IPO_TF_BACKEND=webgpu IPO_DEVICE=webgpu (tf on tfjs-backend-webgpu, onnx on onnxruntime-node's WebGPU EP);
#      the summary gives each workload's time on both and the speed-up.
# Logs and bench reports go to reports/gpu-check/.
#
#   bash scripts/gpu-check.sh                    # full bench (both built-in models)
#   bash scripts/gpu-check.sh --quick            # bench --quick (TinyStories only, 3 runs each)
#   bash scripts/gpu-check.sh --bench-args '--models smollm2-135m-random --workloads prefill,dpo'
#   bash scripts/gpu-check.sh --allow-software --quick   # on lavapipe: checks the script, not the speed
# Exit status: 0 all passed; 1 a step failed; 2 software adapter without --allow-software; 3 no adapter.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

allow_software=""
bench_args=()
run_bench=1
while [ $# -gt 0 ]; do
  case "$1" in
    --allow-software) allow_software=1 ;;
    --quick) bench_args+=(--quick) ;;
    --bench-args) shift; read -r -a extra <<<"${1:-}"; bench_args+=("${extra[@]}") ;;
    --no-bench) run_bench="" ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown option '$1' (see --help)" >&2; exit 1 ;;
  esac
  shift
done

OUT=reports/gpu-check
mkdir -p "$OUT"
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
say() { echo "gpu-check: $*" >&2; }
T0=$(now)
failed=()

# one JSON line: {"adapter": {...}} or {"reason": "..."}
probe_json() {
  node --import tsx --input-type=module -e "
    const { probeWebGpu } = await import('./lib/models/webgpu.ts');
    console.log(JSON.stringify(await probeWebGpu({ timeoutMs: 20000 })));
    process.exit(0);" 2>/dev/null | tail -n 1
}
json_get() { node -e "const o = JSON.parse(process.argv[1]); const v = process.argv[2].split('.').reduce((a, k) => a?.[k], o); console.log(v ?? '')" "$1" "$2"; }

# --- 1. setup when needed ------------------------------------------------------------------------------------
t=$(now)
probe=""
[ -d node_modules/webgpu ] && probe="$(probe_json)"
if [ -z "$probe" ] || [ -n "$(json_get "$probe" reason)" ]; then
  say "running bash scripts/setup.sh (${probe:+$(json_get "$probe" reason)}${probe:-node_modules incomplete})"
  if ! bash scripts/setup.sh >"$OUT/setup.log" 2>&1; then
    say "setup FAILED ($(since "$t")); last lines of $OUT/setup.log:"
    tail -n 15 "$OUT/setup.log" >&2
    exit 1
  fi
  grep '^setup: webgpu' "$OUT/setup.log" >&2 || true
  probe="$(probe_json)"
fi

# --- 2. the adapter --------------------------------------------------------------------------------------------
reason="$(json_get "$probe" reason)"
if [ -z "$probe" ] || [ -n "$reason" ]; then
  say "${reason:-the WebGPU probe printed nothing (see node --import tsx -e \"import('./lib/models/webgpu.ts')\")}"
  exit 3
fi
adapter="$(json_get "$probe" adapter.summary)"
software="$(json_get "$probe" adapter.software)"
gpu_line=""
command -v nvidia-smi >/dev/null 2>&1 && gpu_line="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1)"
say "adapter: $adapter${gpu_line:+; nvidia-smi: $gpu_line}"
if [ "$software" = "true" ] && [ -z "$allow_software" ]; then
  icd=""
  for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do [ -f "$f" ] && icd="$f"; done
  say "FAILED: the adapter is a software (CPU) Vulkan driver, not the GPU: ${icd:+$icd exists but Dawn did not pick it}${icd:-no NVIDIA Vulkan ICD (nvidia_icd.json in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d)}${gpu_line:+ although nvidia-smi sees $gpu_line}; install the NVIDIA driver's Vulkan part (in a container: NVIDIA_DRIVER_CAPABILITIES must include graphics, e.g. all). Rerun with --allow-software to run the checks on it anyway."
  exit 2
fi

# --- 3. doctor ------------------------------------------------------------------------------------------------
t=$(now)
if node bin/ipo.mjs doctor >"$OUT/doctor.log" 2>"$OUT/doctor.err"; then
  say "ipo doctor: $(tail -n 1 "$OUT/doctor.log") ($(since "$t"))"
else
  failed+=("doctor")
  say "ipo doctor FAILED ($(since "$t")):"
  grep '^FAIL' "$OUT/doctor.log" >&2 || true
fi

# --- 4. parity tests -------------------------------------------------------------------------------------------
t=$(now)
parity_line=""
if CI=1 node --import tsx --test test/webgpu-parity.test.ts test/cli-backend.test.ts >"$OUT/parity.tap" 2>"$OUT/parity.err"; then
  parity_status="pass"
else
  parity_status="FAIL"
  failed+=("parity tests")
fi
parity_line="$(grep -o 'webgpu parity on .*' "$OUT/parity.tap" | tail -n 1)"
parity_counts="$(awk '$1 == "#" && ($2 == "pass" || $2 == "fail" || $2 == "skipped") { n[$2] = $3 } END { printf "%d passed, %d failed, %d skipped", n["pass"], n["fail"], n["skipped"] }' "$OUT/parity.tap")"
parity_time="$(since "$t")"
say "parity tests: $parity_status ($parity_counts, $parity_time)"
[ "$parity_status" = "FAIL" ] && grep -E '^not ok|error:' "$OUT/parity.tap" | head -n 10 >&2

# --- 5. bench: defaults, then webgpu ---------------------------------------------------------------------------
bench_summary=""
if [ -n "$run_bench" ]; then
  for mode in base webgpu; do
    t=$(now)
    mkdir -p "$OUT/bench-$mode"
    if [ "$mode" = webgpu ]; then envs=(IPO_TF_BACKEND=webgpu IPO_DEVICE=webgpu); else envs=(IPO_TF_BACKEND=wasm IPO_DEVICE=cpu); fi
    if env "${envs[@]}" IPO_PROGRESS=0 node --import tsx scripts/bench.ts "${bench_args[@]}" --out "$OUT/bench-$mode" \
         >"$OUT/bench-$mode.log" 2>&1; then
      say "bench ($mode: ${envs[*]}) done ($(since "$t"))"
    else
      failed+=("bench $mode")
      say "bench ($mode: ${envs[*]}) FAILED ($(since "$t")); last lines of $OUT/bench-$mode.log:"
      tail -n 8 "$OUT/bench-$mode.log" >&2
    fi
  done
  # one line per workload: time on the defaults, on webgpu, speed-up, and the webgpu row's ratio to its own peak
  bench_summary="$(node -e '
    const fs = require("fs");
    const read = (m) => { try { return JSON.parse(fs.readFileSync(`${process.argv[1]}/bench-${m}/bench.json`, "utf8")); } catch { return null; } };
    const [a, b] = [read("base"), read("webgpu")];
    if (!b) { console.log("  (no webgpu bench report)"); process.exit(0); }
    const key = (r) => `${r.model} ${r.engine} ${r.workload}`;
    const base = new Map((a?.rows ?? []).map((r) => [key(r), r]));
    const ms = (x) => (x == null ? "-" : x >= 1000 ? `${(x / 1000).toPrecision(3)} s` : `${x.toPrecision(3)} ms`);
    const lines = [`  peaks (GFLOP/s): defaults ${Object.entries(a?.peaks ?? {}).map(([e, p]) => `${e} ${p.gflops?.toPrecision(3)}`).join(", ") || "-"}; webgpu ${Object.entries(b.peaks).map(([e, p]) => `${e} ${p.gflops?.toPrecision(3)}`).join(", ")}`];
    lines.push(`  ${"model engine workload".padEnd(46)} ${"defaults".padStart(10)} ${"webgpu".padStart(10)} ${"speed-up".padStart(9)} ${"ratio".padStart(7)}`);
    for (const r of b.rows) {
      const o = base.get(key(r));
      const cpuBoth = r.kind === "kernel" && r.engine === "onnx"; // ortMatmulPeak always runs on the CPU EP
      const up = cpuBoth ? "(CPU EP)" : o && r.medianMs ? `${(o.medianMs / r.medianMs).toPrecision(3)}x` : "-";
      lines.push(`  ${key(r).padEnd(46)} ${ms(o?.medianMs).padStart(10)} ${ms(r.medianMs).padStart(10)} ${up.padStart(9)} ${(r.ratio == null ? "-" : r.ratio.toPrecision(2)).padStart(7)}`);
    }
    console.log(lines.join("\n"));' "$OUT" 2>&1)"
fi

# --- summary ---------------------------------------------------------------------------------------------------
{
  echo "==================== gpu-check summary ===================="
  echo "adapter:  $adapter${software:+$([ "$software" = true ] && echo ' [SOFTWARE: --allow-software, speed numbers mean nothing]')}"
  [ -n "$gpu_line" ] && echo "gpu:      $gpu_line"
  echo "doctor:   $(tail -n 1 "$OUT/doctor.log" 2>/dev/null)"
  echo "parity:   $parity_status ($parity_counts, $parity_time)"
  [ -n "$parity_line" ] && echo "          ${parity_line#webgpu parity on "$adapter": }" | sed 's/; /\n          /g'
  if [ -n "$run_bench" ]; then
    echo "bench:    ${bench_args[*]:-(full)}; ratio = webgpu run achieved / its matmul peak of the same engine (the onnx peak is on the CPU EP); reports in $OUT/bench-{base,webgpu}"
    echo "$bench_summary"
  fi
  if [ ${#failed[@]} -eq 0 ]; then echo "result:   all passed ($(since "$T0"))"; else echo "result:   FAILED: ${failed[*]} ($(since "$T0")); logs in $OUT"; fi
  echo "==========================================================="
}
[ ${#failed[@]} -eq 0 ]
