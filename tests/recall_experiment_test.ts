// bench/recall.ts, the pieces: numpy's percentile, the seeded draw, the [-1, 1] normalization, and
// one cell of the protocol on synthetic images (well separated: every free method recalls all).
import assert from "node:assert/strict";
import { memories, METHODS, percentile, runCell, shuffle, table } from "../bench/recall.ts";

Deno.test("percentile interpolates as numpy's", () => {
  assert.equal(percentile([1, 2, 3, 4, 5], 50), 3);
  assert.equal(percentile([5, 1, 4, 2, 3], 25), 2);
  assert.equal(percentile([1, 2, 3, 4], 25), 1.75);
  assert.equal(percentile([1, 2, 3, 4], 75), 3.25);
  assert.equal(percentile([7], 75), 7);
});

Deno.test("the seeded draw is a permutation, the same every time; pixels map to [-1, 1]", () => {
  const a = shuffle(50, 3), b = shuffle(50, 3);
  assert.deepEqual(a, b);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.notDeepEqual(shuffle(50, 4), a);
  const images = Float64Array.from({ length: 4 * 3 }, (_, i) => (i % 3) / 2); // 0, 0.5, 1
  const X = memories(images, 4, 3, 2, 0);
  assert.deepEqual(Array.from(X.data), [-1, 0, 1, -1, 0, 1]);
});

Deno.test("one cell of the protocol on separated synthetic images", async () => {
  // 40 random binary images of 64 pixels: overlaps far below the self-overlap.
  let s = 9;
  const images = Float64Array.from({ length: 40 * 64 }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s < 2 ** 31 ? 0 : 1;
  });
  const cells = [];
  for (const m of METHODS) cells.push(await runCell(m, images, 40, 64, 8, 1, 3));
  for (const c of cells.filter((c) => c.metric === "unique")) {
    assert.equal(c.median, 1, `${c.method}: ${c.values}`);
    assert.equal(c.values.length, 3);
  }
  for (const c of cells) assert.ok(c.q25 <= c.median && c.median <= c.q75);
  assert.match(table(cells, "N", [8]), /\| free softmax \| unique ratio \| 1\.000/);
});
