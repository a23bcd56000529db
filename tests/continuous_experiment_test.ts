// The pure helpers of the continuous-memory experiment (bench/continuous.ts): the subsampled
// baseline's indices (torch.linspace(0, L - 1, N).long()), the query frames, the cosine metric,
// the N grid and the "within 0.02 of the full memory" finder. No GPU and no data set needed.
import assert from "node:assert/strict";
import {
  meanCosine,
  meanStd,
  nGrid,
  queryIndices,
  smallestWithin,
  subsampleIndices,
} from "../bench/continuous.ts";
import { median } from "../bench/lib/common.ts";

/** torch.linspace(0, L - 1, N).long() worked out in exact rationals: floor(i (L - 1) / (N - 1)). */
function linspaceLong(L: number, N: number): number[] {
  if (N === 1) return [0];
  return Array.from({ length: N }, (_, i) => Math.floor((i * (L - 1)) / (N - 1)));
}

Deno.test("subsampleIndices: linspace truncated to integers", () => {
  assert.deepEqual(subsampleIndices(10, 4), [0, 3, 6, 9]);
  assert.deepEqual(subsampleIndices(10, 1), [0]);
  assert.deepEqual(subsampleIndices(10, 10), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(subsampleIndices(512, 8), [0, 73, 146, 219, 292, 365, 438, 511]);
  for (const L of [7, 10, 100, 512, 1024, 4096]) {
    for (const N of [1, 2, 3, 5, 8, 64, L >> 1, L]) {
      if (N < 1 || N > L) continue;
      const idx = subsampleIndices(L, N);
      assert.deepEqual(idx, linspaceLong(L, N), `L=${L} N=${N}`);
      assert.equal(idx[0], 0);
      if (N > 1) assert.equal(idx[N - 1], L - 1);
      for (let i = 1; i < N; i++) assert.ok(idx[i] > idx[i - 1], `strictly increasing L=${L}`);
    }
  }
  assert.throws(() => subsampleIndices(10, 0));
  assert.throws(() => subsampleIndices(0, 4));
});

Deno.test("queryIndices: evenly spaced slice centres, all frames when asked for as many", () => {
  assert.deepEqual(queryIndices(8, 4), [1, 3, 5, 7]);
  assert.deepEqual(queryIndices(4, 4), [0, 1, 2, 3]);
  assert.deepEqual(queryIndices(4, 10), [0, 1, 2, 3]);
  const q = queryIndices(4096, 64);
  assert.equal(q.length, 64);
  assert.equal(q[0], 32);
  assert.equal(q[63], 4064);
});

Deno.test("meanCosine: identical rows give 1, opposite -1, orthogonal 0, scale does not matter", () => {
  const a = [1, 2, 3, -1, 0, 2];
  assert.ok(Math.abs(meanCosine(a, a, 2, 3) - 1) < 1e-15);
  assert.ok(Math.abs(meanCosine(a, a.map((x) => -3 * x), 2, 3) + 1) < 1e-15);
  assert.ok(Math.abs(meanCosine(a, a.map((x) => 0.25 * x), 2, 3) - 1) < 1e-15);
  assert.equal(meanCosine([1, 0, 0, 1], [0, 1, 1, 0], 2, 2), 0);
  // Mean over rows: one identical row (1) and one orthogonal row (0).
  assert.ok(Math.abs(meanCosine([1, 0, 1, 0], [2, 0, 0, 5], 2, 2) - 0.5) < 1e-15);
  // A zero row counts as 0 instead of NaN; float32 inputs work too.
  assert.equal(meanCosine(new Float32Array([0, 0]), new Float64Array([1, 1]), 1, 2), 0);
  assert.throws(() => meanCosine([1, 2], [1, 2, 3], 1, 3));
});

Deno.test("smallestWithin: smallest qualifying N, null if none", () => {
  const pts = [
    { N: 64, cos: 0.95 },
    { N: 8, cos: 0.80 },
    { N: 32, cos: 0.981 },
    { N: 16, cos: 0.965 },
    { N: 128, cos: 0.99 },
  ];
  assert.equal(smallestWithin(pts, 0.99)?.N, 32); // 0.981 >= 0.97, 0.965 < 0.97; 64 (0.95) does not count
  assert.equal(smallestWithin(pts, 0.99, 0.03)?.N, 16);
  assert.equal(smallestWithin(pts, 0.82)?.N, 8);
  assert.equal(smallestWithin(pts, 1.5), null);
  assert.equal(smallestWithin([], 0.5), null);
  assert.equal(smallestWithin([{ N: 4, cos: NaN }, { N: 8, cos: 0.9 }], 0.9)?.N, 8);
  // The boundary counts: exactly full - tol qualifies.
  assert.equal(smallestWithin([{ N: 4, cos: 0.5 }], 0.52, 0.02)?.N, 4);
  // Extra fields come back with the point.
  const hit = smallestWithin([{ N: 2, cos: 1, bytes: 10 }], 1);
  assert.equal(hit?.bytes, 10);
});

Deno.test("nGrid: L/64 .. L in powers of two", () => {
  assert.deepEqual(nGrid(512), [8, 16, 32, 64, 128, 256, 512]);
  assert.deepEqual(nGrid(4096), [64, 128, 256, 512, 1024, 2048, 4096]);
  assert.deepEqual(nGrid(64), [1, 2, 4, 8, 16, 32, 64]);
});

Deno.test("meanStd and median", () => {
  assert.deepEqual(meanStd([1, 3]), { mean: 2, std: 1 });
  assert.deepEqual(meanStd([5]), { mean: 5, std: 0 });
  assert.ok(Number.isNaN(meanStd([]).mean));
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});
