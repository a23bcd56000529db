// The query-blocked kernels (what runs) validated by Tint, the shader compiler of Chrome's Dawn,
// through npm:webgpu's null backend: no GPU needed. naga (Deno's WebGPU) compiles every one of
// these texts in the GPU tests; Tint rejects things naga accepts (a barrier in non-uniform control
// flow, above all), so a kernel that passed only naga would break in a browser.
//
// Variants: every model of the examples and a list crossing each entropy, similarity, post, mask
// and step policy, with the features and quadrature families, each at a small and a large D and
// under the plan choices a run can take (the CPU adapters' rules, a GPU's wider workgroups, 4
// queries per thread with short row blocks, X through workgroup tiles, the fused schedule where it
// applies), and for a
// browser that grants only WebGPU's default limits. Every entry point of every distinct text is
// checked; under the default limits Tint must have nothing at all to say.
import assert from "node:assert/strict";
import { checkText } from "../src/check.ts";
import type { Model } from "../src/ir.ts";
import { DEFAULT_LIMITS, gpuUnsupported } from "../src/plan/plan.ts";
import { type BlockedChoices, planBlocked } from "../src/runtime/blocked/plan.ts";
import { assemble, entryPoints } from "../src/runtime/blocked/wgsl.ts";
import { type Message, validateTint } from "../src/runtime/validate.ts";
import { blockedParts } from "../src/wgsl/blocked_parts.ts";
import { workgroupDeclarations } from "./helpers/wgsl.ts";

const LLVMPIPE = {
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupSizeX: 1024,
  maxStorageBufferBindingSize: 134217728,
  maxComputeWorkgroupsPerDimension: 65535,
};

const FIELDS = [
  "entropy shannon beta 4 steps 3",
  "entropy softmax1 similarity cosine post l2 beta 8",
  "entropy tsallis(alpha = 1.5) similarity euclidean post layernorm beta 6 steps 2",
  "entropy tsallis(alpha = 3) similarity manhattan post tanh beta 4",
  "entropy sparsemax steps until(tol = 1e-5, max = 20) beta 3",
  "entropy normmax(gamma = 2) similarity cosine beta 2",
  "entropy normmax(gamma = 5) post l2 beta 2 steps 2",
  "entropy ksubsets(k = 3) beta 5",
  "mask topk(k = 7) similarity manhattan beta 2 steps 2",
  "entropy sparsemax mask topk(k = 20) post layernorm beta 8",
  "mask random(keep = 0.3, seed = 4) similarity euclidean beta 4 steps 2",
  "entropy softmax1 mask random(keep = 0.5) post tanh",
  "similarity kl entropy sparsemax post l2 beta 4 steps 2",
  "similarity js mask random(keep = 0.5) entropy tsallis(alpha = 1.5)",
  "similarity reciprocal_euclidean mask topk(k = 3) post tanh",
  "memory continuous(basis = gaussian, functions = 20) similarity normalized_dot",
  "memory continuous(basis = box, functions = 32) entropy tsallis(alpha = 1.5) beta 4",
  "similarity features(map = positive, count = 64) post l2 steps until(tol = 1e-5, max = 5)",
  "similarity features(map = relu, count = 300, seed = 2) post layernorm",
  "similarity features(map = elu) post tanh steps 3",
  "memory continuous(basis = gaussian, functions = 64) similarity cosine",
  "memory continuous(basis = gaussian, functions = 20, width = 0.1, points = 101) entropy sparsemax similarity euclidean",
  "memory continuous(basis = box, functions = 16, quadrature = trapezoid) entropy tsallis(alpha = 1.5) post layernorm",
  "separation linear(normalize = sum) post l2 steps 2",
  "separation poly(n = 7) similarity manhattan post layernorm",
  "separation exp(scale = 0.5, normalize = sum) mask topk(k = 5) post tanh",
  "separation exp mask random(keep = 0.4)",
  "separation max similarity cosine steps until(tol = 1e-5, max = 9)",
  "readout project(a = 0.5, h = 0.5, c = 1) relax 0.1 steps 3",
  "entropy sparsemax readout project(a = -1, h = 3) post l2 relax 0.5 steps until(tol = 1e-5, max = 9)",
  "separation poly(n = 3, normalize = sum) readout project(h = 1) mask topk(k = 4)",
  "similarity features(map = positive, count = 64) relax 0.3 steps 2",
  "memory continuous(basis = gaussian, functions = 20) relax 0.2 steps 2",
];

function models(): Model[] {
  const out: Model[] = [];
  FIELDS.forEach((fields, i) => {
    const { models, diagnostics } = checkText(`model m${i} { ${fields} }`, `m${i}.hop`);
    assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), [], fields);
    out.push(...models);
  });
  for (const e of Deno.readDirSync("examples")) {
    if (!e.name.endsWith(".hop")) continue;
    const file = `examples/${e.name}`;
    out.push(...checkText(Deno.readTextFileSync(file), file).models);
  }
  return out.filter((m) => gpuUnsupported(m) === null);
}

interface Variant {
  label: string;
  limits: typeof LLVMPIPE;
  code: string;
  entries: string[];
}

const CHOICES: [string, BlockedChoices][] = [
  ["cpu rules", { workgroupSize: 16, rowWorkgroupSize: 32 }],
  ["gpu rules", { workgroupSize: 64, rowWorkgroupSize: 64 }],
  ["q4 r1", { queriesPerThread: 4, rowBlock: 1, workgroupSize: 16, rowWorkgroupSize: 32 }],
  ["fused", { schedule: "fused", rowBlock: 2, workgroupSize: 16, rowWorkgroupSize: 32 }],
  ["tiled", { tile: "workgroup", workgroupSize: 64, rowWorkgroupSize: 64 }],
];

function variants(): Variant[] {
  const byText = new Map<string, Variant>();
  for (const model of models()) {
    const parts = blockedParts(model);
    assert.ok(parts, `${model.name}: every GPU model has blocked parts`);
    const keys = parts.projected?.kind === "quadrature" ? parts.projected.N : 300;
    for (const D of [13, 700]) {
      for (const [label, choices] of CHOICES) {
        if (label === "fused" && parts.family !== "online") continue;
        for (const limits of [LLVMPIPE, DEFAULT_LIMITS]) {
          if (limits === DEFAULT_LIMITS && label !== "gpu rules" && label !== "tiled") continue;
          const plan = planBlocked(parts, keys, D, limits, 60000, choices);
          const code = assemble(parts, plan);
          if (byText.has(code)) continue;
          byText.set(code, {
            label: `${model.name} D=${D} ${label}${
              limits === DEFAULT_LIMITS ? " (default limits)" : ""
            }`,
            limits,
            code,
            entries: entryPoints(parts, plan),
          });
        }
      }
    }
  }
  return [...byText.values()];
}

const show = (ms: Message[]) =>
  ms.map((m) => `${m.severity}${m.line ? ` ${m.line}:${m.col}` : ""}: ${m.text}`).join("\n");

Deno.test("the blocked kernels: every entry point of every variant validates with Tint", async () => {
  const all = variants();
  assert.ok(all.length > 100, `${all.length} variants`);
  let entries = 0;
  for (const v of all) {
    // Workgroup memory as declared (each variable rounded to 16 bytes, as Dawn does) fits.
    const declared = [...workgroupDeclarations(v.code).values()]
      .reduce((a, b) => a + Math.ceil(b / 16) * 16, 0);
    assert.ok(declared <= v.limits.maxComputeWorkgroupStorageSize, `${v.label}: ${declared} bytes`);
    for (const entryPoint of v.entries) {
      const ms = await validateTint(v.code, { entryPoint, limits: v.limits });
      assert.deepEqual(
        ms.filter((m) => m.severity === "error"),
        [],
        `${v.label} ${entryPoint}:\n${show(ms)}`,
      );
      if (v.limits === DEFAULT_LIMITS) assert.deepEqual(ms, [], `${v.label} ${entryPoint}`);
      entries++;
    }
  }
  console.log(`${all.length} blocked WGSL texts, ${entries} entry points: no Tint errors`);
});
