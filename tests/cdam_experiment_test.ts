// The CDAM experiment's core (bench/cdam.ts): Pearson correlation and both correct-fraction
// readings by hand, the notebook's data (scaled by the max pixel, seeded noise), the forward cycle,
// and one small cell and one mode on the float64 reference and the GPU (which must agree).
import assert from "node:assert/strict";
import {
  correlation,
  forwardCycle,
  MODES,
  notebookData,
  runCell,
  trajectory,
  uniformRng,
  verdicts,
} from "../bench/cdam.ts";
import { FASHION_MNIST_DIR, loadFashionMnist } from "../bench/lib/fashion_mnist.ts";
import type { Mat } from "../src/parts/types.ts";
import { gpuContext, gpuTest } from "./helpers/gpu.ts";

Deno.test("correlation and verdicts: by hand", () => {
  assert.equal(correlation([1, 2, 3], [2, 4, 6]), 1);
  assert.equal(correlation([1, 2, 3], [3, 2, 1]), -1);
  assert.equal(correlation([1, 1, 1], [1, 2, 3]), 0); // no variance: 0, not NaN
  const X: Mat = { rows: 2, cols: 3, data: Float64Array.from([1, 0, 0, 0, 1, 0]) };
  const S: Mat = { rows: 2, cols: 3, data: Float64Array.from([1, 0.1, 0, 0, 1, 0.2]) };
  // Both final states near pattern 0: retrieval finds one right; the start reading compares, for
  // each start, the two final states, and both starts pick final state 0 or 1 by their pattern.
  const states = [1, 0, 0, 0.9, 0.2, 0];
  assert.deepEqual(verdicts(states, X, S, "retrieval"), [true, false]);
  assert.deepEqual(verdicts(states, X, S, "start"), [true, true]);
  assert.deepEqual(verdicts([0, 1, 0, 1, 0, 0], X, S, "start"), [false, false]);
});

Deno.test("notebookData and forwardCycle: max-pixel scaling, seeded U(-0.5, 0.5) noise", () => {
  const images = Float64Array.from([0, 0.25, 0.5, 0.5, 0, 0.25]);
  const { X, Q } = notebookData(images, 2, 3, 4);
  assert.deepEqual(Array.from(X.data), [0, 0.5, 1, 1, 0, 0.5]);
  const rnd = uniformRng(4);
  for (let i = 0; i < 6; i++) assert.equal(Q.data[i], X.data[i] + rnd() - 0.5);
  assert.deepEqual(notebookData(images, 2, 3, 4).Q.data, Q.data); // fixed seed, same noise
  assert.deepEqual(Array.from(forwardCycle(3).data), [0, 0, 1, 1, 0, 0, 0, 1, 0]);
});

const haveData = (() => {
  try {
    Deno.statSync(`${FASHION_MNIST_DIR}/t10k-images-idx3-ubyte.gz`);
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "one cell of the table and the quiescence mode on the float64 reference",
  ignore: !haveData,
  fn: async () => {
    const { images } = await loadFashionMnist({ split: "test", limit: 10 });
    const c = await runCell(null, images, 784, 10, 0.1, 0.9, 2);
    assert.equal(c.reference, 1); // as the notebook's 1.0
    assert.equal(c.notebook, 1);
    assert.equal(c.seeds.count, 2);
    const { X } = notebookData(images, 10, 784, 0);
    const t = await trajectory(null, X, 1, 7, MODES[3], 30);
    assert.equal(t.overlap.length, 31);
    // Quiescence: the state decays to -mean(X), anti-correlated with every pattern.
    assert.ok(t.overlap[30].every((v) => v < 0), t.overlap[30].join(" "));
  },
});

gpuTest("one cell and the auto-association mode: the GPU agrees with the reference", async () => {
  if (!haveData) return;
  const { images } = await loadFashionMnist({ split: "test", limit: 10 });
  const c = await runCell(gpuContext, images, 784, 10, 0.5, 0.5, 1);
  assert.equal(c.gpu, c.reference);
  assert.equal(c.verdictsDiffer, 0);
  assert.ok(c.gpuError! < 1e-5, `${c.gpuError}`);
  const { X } = notebookData(images, 10, 784, 0);
  const t = await trajectory(gpuContext, X, 1, 7, MODES[0], 40);
  assert.ok(t.gpuError! < 1e-5, `${t.gpuError}`);
});
