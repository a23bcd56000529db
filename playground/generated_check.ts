/// <reference lib="dom" />
// A page that runs hopc's committed generated modules (generated/NAME.ts, each standalone with
// its own copy of the runtime) on the browser's WebGPU. It imports nothing from src/: only the
// generated code, as a user's application would. The browser test passes the data in through
// `runGenerated` and checks the states against the float64 reference on its side.
import * as classic_softmax from "../generated/classic_softmax.ts";
import * as entmax15 from "../generated/entmax15.ts";
import * as sparse_l2 from "../generated/sparse_l2.ts";
import * as topk_softmax from "../generated/topk_softmax.ts";
import * as random_half from "../generated/random_half.ts";
import * as until_converged from "../generated/until_converged.ts";
import * as normmax2 from "../generated/normmax2.ts";
import * as elu_features from "../generated/elu_features.ts";
import * as continuous_gaussian from "../generated/continuous_gaussian.ts";

/** One of each kernel family and policy: online, threshold, post, top-k, random mask, until,
 * normmax, features, quadrature. */
const MODULES = {
  classic_softmax,
  entmax15,
  sparse_l2,
  topk_softmax,
  random_half,
  until_converged,
  normmax2,
  elu_features,
  continuous_gaussian,
};

export type GeneratedName = keyof typeof MODULES;

let device: Promise<GPUDevice> | undefined;

async function getDevice(): Promise<GPUDevice> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) throw new Error("no WebGPU adapter");
  return await adapter.requestDevice({
    // The blocked kernels plan with the adapter's limits, as hopc's own device does.
    requiredLimits: {
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: adapter.limits.maxComputeWorkgroupSizeX,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
}

async function runGenerated(
  name: GeneratedName,
  X: number[],
  M: number,
  D: number,
  Q: number[],
  B: number,
): Promise<{ states: number[]; stepsRun: number[]; ms: number }> {
  const mod = MODULES[name];
  if (!mod) throw new Error(`no generated module ${name} on this page`);
  device ??= getDevice();
  const dev = await device;
  const t0 = performance.now();
  const memory = await mod.load(dev, X, M, D);
  try {
    const { states, stepsRun } = await memory.retrieve(Q, B);
    return {
      states: Array.from(states),
      stepsRun: Array.from(stepsRun),
      ms: performance.now() - t0,
    };
  } finally {
    memory.destroy();
  }
}

Object.assign(globalThis, { runGenerated, generatedNames: Object.keys(MODULES) });
document.getElementById("log")!.textContent = `modules: ${Object.keys(MODULES).join(", ")}`;
