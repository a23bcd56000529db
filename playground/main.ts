/// <reference lib="dom" />
// The playground page: the editor and its live diagnostics, the data and corruption controls, a
// GPU run of the selected model, and its pictures, plots and agreement with the float64 reference
// (computed in a worker). What the page last showed is kept on `globalThis.hopcPlayground`, which
// the browser test (tests/browser_test.ts) reads to check the page against its own reference.
import { checkText, type Mat, type Model } from "./hopc_api.ts";
import { attachEditor, renderDiagnostics } from "./editor.ts";
import {
  BUILT_IN,
  type Corruption,
  fetchBuiltIn,
  makeQueries,
  nearestMemory,
  type QuerySpec,
  readDropped,
} from "./data.ts";
import { device, runOnGpu } from "./gpu.ts";
import { referenceInWorker, type ReferenceResult } from "./reference_client.ts";
import { drawState, linePlot, weightsPlot } from "./plots.ts";
import { attachBasins } from "./basins_ui.ts";
import type { PlaygroundHooks, Shown } from "./hooks.ts";

const DEFAULT_SOURCE = `# Edit a model: hopc checks it as you type.
# Rows are unit length: dot scores lie in [-1, 1].
model sparse {
  similarity dot
  entropy    tsallis(alpha = 1.5)  # 1.5-entmax
  beta       24
  steps      4
}

model dense {
  entropy shannon  # softmax: the classic network
  beta    24
  steps   4
}
`;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const page: PlaygroundHooks = {
  shown: null,
  diagnostics: [],
  ready: null,
  runs: 0,
  basins: { memories: [], maps: [], draws: 0 },
};
globalThis.hopcPlayground = page;

let models: Model[] = [];
const sets = new Map<string, Mat>();

async function dataSet(name: string): Promise<Mat> {
  if (!sets.has(name)) sets.set(name, await fetchBuiltIn(name));
  return sets.get(name)!;
}

function status(text: string, error = false): void {
  const el = $("status");
  el.textContent = text;
  el.className = error ? "error" : "";
}

function onSource(text: string): void {
  const result = checkText(text, "playground.hop");
  models = result.models;
  page.diagnostics = result.diagnostics;
  editor.setDiagnostics(result.diagnostics);
  renderDiagnostics($("diagnostics"), result.diagnostics);
  const select = $<HTMLSelectElement>("model-name");
  const previous = select.value;
  select.replaceChildren(...models.map((m) => new Option(m.name, m.name)));
  if (models.some((m) => m.name === previous)) select.value = previous;
  $<HTMLButtonElement>("run").disabled = models.length === 0;
}

function spec(): QuerySpec {
  const corruption = (document.querySelector("input[name=corruption]:checked") as HTMLInputElement)
    .value as Corruption;
  return {
    memories: Number($<HTMLInputElement>("memories").value),
    queries: Number($<HTMLInputElement>("queries").value),
    corruption,
    amount: Number($<HTMLInputElement>("amount").value),
    normalize: $<HTMLInputElement>("normalize").checked,
    seed: Number($<HTMLInputElement>("seed").value),
  };
}

const row = (m: ArrayLike<number>, b: number, D: number) =>
  Array.prototype.slice.call(m, b * D, (b + 1) * D) as number[];

/** One column per query: the query, the GPU's retrieved state, the memory nearest to it. */
function showImages(X: Mat, Q: Mat, states: Float32Array, steps: Uint32Array): void {
  const table = $("images");
  const D = X.cols;
  const head = document.createElement("tr");
  head.append(document.createElement("th"));
  const rows = ["query", "retrieved (GPU)", "nearest memory", "steps"].map((label) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = label;
    tr.append(th);
    return tr;
  });
  const image = (v: ArrayLike<number>) => {
    const c = document.createElement("canvas");
    drawState(c, v);
    return c;
  };
  for (let b = 0; b < Q.rows; b++) {
    const state = row(states, b, D);
    const near = nearestMemory(X, state);
    const th = document.createElement("th");
    th.textContent = `#${b}`;
    head.append(th);
    const cells = [image(row(Q.data, b, D)), image(state), image(row(X.data, near, D)), null];
    cells.forEach((content, k) => {
      const td = document.createElement("td");
      td.dataset.query = String(b);
      if (content) td.append(content);
      else td.textContent = String(steps[b]);
      if (k === 2) td.title = `memory ${near}`;
      rows[k].append(td);
    });
  }
  table.querySelector("thead")!.replaceChildren(head);
  table.querySelector("tbody")!.replaceChildren(...rows);
}

function showWeights(weights: Float32Array | undefined, M: number, b: number, source: number) {
  const svg = $("weights-plot") as unknown as SVGSVGElement;
  if (!weights) {
    svg.replaceChildren();
    return;
  }
  weightsPlot(svg, `weights of query #${b} over the ${M} memories`, row(weights, b, M), source);
  for (const td of $("images").querySelectorAll("td")) {
    td.classList.toggle("selected", (td as HTMLElement).dataset.query === String(b));
  }
}

function showAgreement(gpu: Float32Array, ref: ReferenceResult): number {
  let maxError = 0, scale = 0;
  for (let i = 0; i < gpu.length; i++) {
    maxError = Math.max(maxError, Math.abs(gpu[i] - ref.states[i]));
    scale = Math.max(scale, Math.abs(ref.states[i]));
  }
  const el = $("agreement");
  const ok = maxError <= 1e-4;
  el.className = ok ? "ok" : "bad";
  el.dataset.maxError = String(maxError);
  el.textContent = `GPU vs float64 reference (worker, ${ref.ms.toFixed(0)} ms): max |Δ state| = ${
    maxError.toExponential(2)
  } (largest entry ${scale.toFixed(3)}) ${ok ? "✓ within 1e-4" : "✗ beyond 1e-4"}`;
  return maxError;
}

async function run(): Promise<void> {
  const modelName = $<HTMLSelectElement>("model-name").value;
  const model = models.find((m) => m.name === modelName);
  if (!model) return;
  const dataset = $<HTMLSelectElement>("dataset").value;
  const s = spec();
  $<HTMLButtonElement>("run").disabled = true;
  $("agreement").textContent = "";
  try {
    status(`running ${modelName} on the GPU…`);
    const { X, Q, sources } = makeQueries(await dataSet(dataset), s);
    const gpu = await runOnGpu(model, X, Q, dataset);
    const shown: Shown = {
      source: $<HTMLTextAreaElement>("source").value,
      modelName,
      dataset,
      spec: s,
      Q: Array.from(Q.data),
      states: Array.from(gpu.states),
      weights: gpu.weights ? Array.from(gpu.weights) : null,
      reference: null,
      maxError: null,
      msPerCall: gpu.msPerCall,
    };
    page.shown = shown;
    showImages(X, Q, gpu.states, gpu.stepsRun);
    $("timing").textContent = `${modelName}: ${X.rows} memories × ${X.cols}, ${Q.rows} queries: ` +
      `${gpu.msPerCall.toFixed(2)} ms per retrieve call (median; all steps in one submission)` +
      (gpu.note ? ` — note: ${gpu.note}` : "");
    showWeights(gpu.weights, X.rows, 0, sources[0]);
    for (const td of $("images").querySelectorAll("td")) {
      td.addEventListener("click", () => {
        const b = Number((td as HTMLElement).dataset.query);
        showWeights(gpu.weights, X.rows, b, sources[b]);
      });
    }
    status("GPU done; float64 reference running in a worker…");
    const ref = await referenceInWorker(model, X, Q);
    // Energies and supports: the GPU trace where it ran, else the reference's.
    const trace = gpu.trace ?? ref.trace;
    const who = gpu.trace ? "GPU states" : "reference";
    const series = (f: (t: (typeof trace)[number]) => (number | null)[]) =>
      Array.from({ length: Q.rows }, (_, b) => trace.map((t) => f(t)[b]));
    linePlot($("energy-plot") as unknown as SVGSVGElement, `energy per step (${who})`, [
      ...series((t) => t.energy),
    ]);
    linePlot(
      $("support-plot") as unknown as SVGSVGElement,
      `support size per step (${who})`,
      series((t) => t.support).map((s) => s.slice(1)).map((s) => [null, ...s]),
    );
    shown.reference = { states: Array.from(ref.states), ms: ref.ms };
    shown.maxError = showAgreement(gpu.states, ref);
    status(`done (${X.rows} memories, ${Q.rows} queries)`);
  } catch (e) {
    status(`error: ${(e as Error).message}`, true);
    console.error(e);
  } finally {
    page.runs++;
    $<HTMLButtonElement>("run").disabled = models.length === 0;
  }
}

function attachData(): void {
  const select = $<HTMLSelectElement>("dataset");
  for (const [name, { label }] of Object.entries(BUILT_IN)) select.append(new Option(label, name));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = e.dataTransfer?.files[0];
    if (!file) return;
    try {
      const m = await readDropped(file);
      const name = `file:${file.name}`;
      sets.set(name, m);
      select.append(new Option(`${file.name} (${m.rows} × ${m.cols})`, name));
      select.value = name;
      $<HTMLInputElement>("memories").max = String(m.rows);
      status(`loaded ${file.name}: ${m.rows} rows of ${m.cols}`);
    } catch (err) {
      status(`${file.name}: ${(err as Error).message}`, true);
    }
  });
  const amount = $<HTMLInputElement>("amount");
  amount.addEventListener("input", () => $("amount-value").textContent = amount.value);
}

const area = $<HTMLTextAreaElement>("source");
area.value = DEFAULT_SOURCE;
const editor = attachEditor(area, $("highlight"), onSource);
onSource(area.value);
attachData();
$("run").addEventListener("click", run);
attachBasins(() => models.find((m) => m.name === $<HTMLSelectElement>("model-name").value));
page.ready = device().then(
  (ctx) => void ($("adapter").textContent = `WebGPU: ${ctx.info}`),
  (e) => {
    $("adapter").textContent = `no WebGPU: ${(e as Error).message}`;
    $<HTMLButtonElement>("run").disabled = true;
  },
);
