// A real browser: Debian's headless Chromium, driven by playwright-core (its `executablePath`, so
// nothing is downloaded; playwright-core runs under Deno's Node compatibility), with WebGPU on
// SwiftShader (Chromium's CPU Vulkan) through `--enable-unsafe-webgpu --use-webgpu-adapter=
// swiftshader`, the only flags that gave navigator.gpu an adapter on a machine without a GPU.
// It builds the playground, serves it, and checks what the page shows against the float64
// reference computed here, independently of the page's own worker:
//   - an edited model's retrieved states equal the reference to 1e-4 (and the page says so);
//   - a misspelt model shows its diagnostic at the right line and column, underlined;
//   - the 2-D basins maps agree with the reference's basins;
//   - hopc's generated modules (generated/NAME.ts) agree with the reference in the browser.
// Screenshots go to tests/results/browser/ (gitignored). Without Chromium the test is skipped
// with a message; .ci/run installs it and sets HOPC_REQUIRE_CHROMIUM=1, so CI always runs it.
import assert from "node:assert/strict";
import { chromium, type Page } from "playwright-core";
import { checkText } from "../src/check.ts";
import { readNpy } from "../src/io/files.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";
import { buildPlayground } from "../playground/build.ts";
import { serveDir } from "../playground/serve.ts";
import { makeQueries } from "../playground/data.ts";
import { basinModel, classify, gridQueries } from "../playground/basins.ts";
import "../playground/hooks.ts"; // the type of globalThis.hopcPlayground

const root = new URL("../", import.meta.url);
const CHROMIUM = Deno.env.get("HOPC_CHROMIUM") ?? "/usr/bin/chromium";
const RESULTS = new URL("tests/results/browser/", root).pathname;
const FLAGS = [
  "--enable-unsafe-webgpu",
  "--use-webgpu-adapter=swiftshader",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const hasChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
if (!hasChromium && Deno.env.get("HOPC_REQUIRE_CHROMIUM") === "1") {
  // .ci/run sets this: CI must run the browser, not skip it.
  throw new Error(`tests/browser_test.ts: no Chromium at ${CHROMIUM} and HOPC_REQUIRE_CHROMIUM=1`);
}
if (!hasChromium) {
  console.warn(
    `tests/browser_test.ts: SKIPPED: no Chromium at ${CHROMIUM} ` +
      "(apt-get install -y chromium, or set HOPC_CHROMIUM; .ci/run installs it)",
  );
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

const RETRIEVAL_MODEL = `# edited by tests/browser_test.ts
model browser_entmax {
  similarity dot
  entropy    tsallis(alpha = 1.5)
  beta       20
  steps      3
}
`;

async function checkRetrieval(page: Page): Promise<void> {
  await page.fill("#source", RETRIEVAL_MODEL);
  await page.waitForFunction(() => {
    const s = document.getElementById("model-name") as HTMLSelectElement;
    return s.value === "browser_entmax";
  });
  await page.fill("#memories", "64");
  await page.fill("#queries", "4");
  await page.check("input[name=corruption][value=noise]");
  await page.fill("#amount", "0.3");
  await page.fill("#seed", "7");
  const runs = await page.evaluate(() => globalThis.hopcPlayground.runs);
  await page.click("#run");
  await page.waitForFunction((n) => globalThis.hopcPlayground.runs > n, runs, { timeout: 60_000 });
  assert.equal(
    await page.getAttribute("#status", "class"),
    "",
    `${await page.textContent("#status")}`,
  );
  const shown = (await page.evaluate(() => globalThis.hopcPlayground.shown))!;
  assert.equal(shown.modelName, "browser_entmax");
  assert.deepEqual(shown.spec, {
    memories: 64,
    queries: 4,
    corruption: "noise",
    amount: 0.3,
    normalize: true,
    seed: 7,
  });
  // The queries the page made are the ones data.ts makes from the committed file here (to the
  // last bits of Math.cos and Math.log, which differ between Chromium's V8 and Deno's).
  const set = await readNpy(new URL(`playground/data/${shown.dataset}.npy`, root).pathname);
  const { X, Q } = makeQueries(set, shown.spec);
  assert.ok(maxAbsDiff(shown.Q, Q.data) <= 1e-12, "the page's queries are not data.ts's");
  const [model] = checkText(shown.source, "playground.hop").models;
  const ref = retrieveReference(model, X, { ...Q, data: Float64Array.from(shown.Q) });
  const err = maxAbsDiff(shown.states, ref.states.data);
  assert.ok(err <= 1e-4, `the states shown differ from the reference by ${err}`);
  // The page's own verdict (its worker's reference) is shown and agrees.
  assert.ok(shown.maxError !== null && shown.maxError <= 1e-4, `page says ${shown.maxError}`);
  assert.equal(await page.getAttribute("#agreement", "class"), "ok");
  assert.equal(await page.locator("#images canvas").count(), 3 * 4);
  assert.ok(await page.locator("#energy-plot path").count() >= 4, "one energy line per query");
  assert.match((await page.textContent("#timing"))!, /ms per retrieve call/);
  await page.screenshot({ path: `${RESULTS}/playground-retrieval.png`, fullPage: true });
}

async function checkDiagnostic(page: Page): Promise<void> {
  const bad = "model typo {\n  similarity dot\n  entropy tsalis(alpha = 1.5)\n  beta 4\n}\n";
  await page.fill("#source", bad);
  const item = page.locator("#diagnostics li.error").first();
  await item.waitFor();
  assert.equal(await item.getAttribute("data-line"), "3");
  assert.equal(await item.getAttribute("data-col"), "11");
  assert.match((await item.textContent())!, /unknown entropy `tsalis`.*did you mean `tsallis`/);
  // The span is underlined in the highlighted text, and nothing can run.
  assert.equal(await page.locator("#highlight .err").first().textContent(), "tsalis");
  assert.ok(await page.isDisabled("#run"));
  await page.locator("#model-panel").screenshot({ path: `${RESULTS}/playground-diagnostic.png` });
}

async function checkBasins(page: Page): Promise<void> {
  // Two normalizers on a 32 x 32 grid: each map is a kernel compile on SwiftShader (seconds).
  for (const label of ["1.5-entmax", "2-normmax", "your model"]) {
    await page.uncheck(`#basin-normalizers input[value="${label}"]`);
  }
  await page.selectOption("#basin-size", "32");
  await page.click("#basin-run");
  await page.waitForFunction(() => globalThis.hopcPlayground.basins.maps.length === 2, null, {
    timeout: 60_000,
  });
  const { memories, maps } = await page.evaluate(() => {
    const b = globalThis.hopcPlayground.basins;
    return {
      memories: b.memories,
      maps: b.maps.map((m) => ({
        label: m.label,
        basinOf: Array.from(m.basinOf),
      })),
    };
  });
  const entropies: Record<string, string> = { softmax: "shannon", sparsemax: "sparsemax" };
  const settings = { similarity: "euclidean", beta: 8, steps: 5, size: 32 };
  for (const map of maps) {
    const model = basinModel(entropies[map.label], settings);
    const X = { rows: memories.length, cols: 2, data: Float64Array.from(memories.flat()) };
    const ref = classify(retrieveReference(model, X, gridQueries(32)).states.data, memories);
    // Pixels on a basin border may fall either way in float32; the rest must agree.
    const differ = map.basinOf.filter((b, p) => b !== ref[p]).length;
    assert.ok(differ <= 0.02 * ref.length, `${map.label}: ${differ} pixels differ`);
    assert.equal(new Set(ref).size >= memories.length, true, `${map.label}: too few basins`);
  }
  await page.locator("#basins-panel").screenshot({ path: `${RESULTS}/playground-basins.png` });
}

/** Generated modules of four families in the browser: threshold, random mask, features, quadrature. */
const GENERATED = [
  ["entmax.hop", "entmax15"],
  ["masks.hop", "random_half"],
  ["features.hop", "elu_features"],
  ["continuous.hop", "continuous_gaussian"],
];

async function checkGenerated(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/generated_check.html`);
  await page.waitForFunction(() => "runGenerated" in globalThis);
  const M = 40, D = 10, B = 3;
  const X = Array.from({ length: M * D }, (_, i) => Math.sin(1.7 * i) + Math.cos(0.3 * i * i));
  const Q = Array.from({ length: B * D }, (_, i) => X[i] + 0.2 * Math.sin(5.1 * i));
  const lines: string[] = [];
  for (const [file, name] of GENERATED) {
    const out = await page.evaluate(
      ({ name, X, M, D, Q, B }) =>
        (globalThis as unknown as {
          runGenerated(...a: unknown[]): Promise<{ states: number[]; ms: number }>;
        }).runGenerated(name, X, M, D, Q, B),
      { name, X, M, D, Q, B },
    );
    const text = await Deno.readTextFile(new URL(`examples/${file}`, root));
    const model = checkText(text, file).models.find((m) => m.name === name)!;
    const ref = retrieveReference(model, { rows: M, cols: D, data: Float64Array.from(X) }, {
      rows: B,
      cols: D,
      data: Float64Array.from(Q),
    });
    const scale = Math.max(...ref.states.data.map(Math.abs));
    const err = maxAbsDiff(out.states, ref.states.data);
    assert.ok(err <= 1e-4 * scale, `generated/${name}.ts: max error ${err} vs scale ${scale}`);
    lines.push(`${name}: max error ${err.toExponential(2)} (scale ${scale.toFixed(2)})`);
  }
  await page.evaluate((t) => document.getElementById("log")!.textContent = t, lines.join("\n"));
  await page.screenshot({ path: `${RESULTS}/generated-modules.png` });
}

Deno.test({
  name: "the playground in headless Chromium: retrieval = reference, diagnostics, basins, " +
    "generated modules",
  ignore: !hasChromium,
  // playwright-core keeps its connection's timers and sockets past close; they are its own.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await Deno.mkdir(RESULTS, { recursive: true });
    const dist = await Deno.makeTempDir({ prefix: "hopc-playground-" });
    await buildPlayground(dist);
    const server = serveDir(dist, 0);
    const base = `http://127.0.0.1:${server.addr.port}`;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${base}/`);
      await page.waitForFunction(() => globalThis.hopcPlayground?.ready);
      await page.evaluate(() => globalThis.hopcPlayground.ready);
      assert.match((await page.textContent("#adapter"))!, /^WebGPU: /);
      await t.step(
        "an edited model's retrieved states equal the reference",
        () => checkRetrieval(page),
      );
      await t.step("a misspelt model shows its diagnostic at line 3", () => checkDiagnostic(page));
      await page.fill("#source", RETRIEVAL_MODEL);
      await t.step("the 2-D basins agree with the reference's", () => checkBasins(page));
      await t.step(
        "generated modules agree with the reference in the browser",
        () => checkGenerated(page, base),
      );
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await server.shutdown();
      await Deno.remove(dist, { recursive: true });
    }
  },
});
