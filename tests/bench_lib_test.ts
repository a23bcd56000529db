// The benchmark helpers in bench/lib: the Fashion-MNIST IDX reader (on synthetic files, and on
// the real data set when it is installed), the smooth rotated-image sequences and their masking,
// and the SVG line-plot writer.
import assert from "node:assert/strict";
import {
  FASHION_MNIST_DIR,
  gunzip,
  loadFashionMnist,
  parseIdxImages,
  parseIdxLabels,
} from "../bench/lib/fashion_mnist.ts";
import { maskBottomHalf, rotatedSequence, toSigned } from "../bench/lib/frames.ts";
import { linePlot, panels } from "../bench/lib/svg.ts";

// ---------------------------------------------------------------------------------------------
// IDX files

/** An IDX file: big-endian magic and dimensions, then the bytes. */
function idx(magic: number, dims: number[], data: number[]): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, magic);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  bytes.set(data, 4 + 4 * dims.length);
  return bytes;
}

const PIXELS = [0, 1, 2, 3, 10, 20, 30, 40, 255, 254, 253, 252]; // 3 images, 2x2
const IMAGES = idx(0x803, [3, 2, 2], PIXELS);
const LABELS = idx(0x801, [3], [7, 0, 9]);

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes.slice()]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("parseIdxImages and parseIdxLabels read a synthetic file", () => {
  const img = parseIdxImages(IMAGES);
  assert.deepEqual([img.count, img.rows, img.cols], [3, 2, 2]);
  assert.deepEqual([...img.pixels], PIXELS);
  assert.deepEqual([...parseIdxLabels(LABELS)], [7, 0, 9]);
});

Deno.test("an IDX file survives a gzip round trip through gunzip", async () => {
  const packed = await gzip(IMAGES);
  assert.notDeepEqual(packed, IMAGES);
  assert.deepEqual(await gunzip(packed), IMAGES);
  assert.deepEqual([...parseIdxImages(await gunzip(packed)).pixels], PIXELS);
});

Deno.test("IDX parsing rejects a wrong magic number and truncated files", () => {
  assert.throws(() => parseIdxImages(LABELS), /magic number 0x00000803, got 0x00000801/);
  assert.throws(() => parseIdxLabels(IMAGES), /magic number 0x00000801, got 0x00000803/);
  assert.throws(() => parseIdxImages(IMAGES.slice(0, 27)), /expected 28 bytes .* got 27/);
  assert.throws(() => parseIdxImages(IMAGES.slice(0, 10)), /header of 16 bytes, got 10/);
  assert.throws(() => parseIdxLabels(LABELS.slice(0, 9)), /expected 11 bytes .* got 9/);
});

// ---------------------------------------------------------------------------------------------
// Frames

/** An asymmetric n x n test image with values in [0, 1]. */
function testImage(n: number): Float64Array {
  return Float64Array.from({ length: n * n }, (_, k) => ((k * 7 + (k % n) ** 2) % 11) / 10);
}

function meanAdjacentSquaredDifference(frames: Float64Array, L: number, n: number): number {
  let sum = 0;
  for (let l = 0; l < L; l++) {
    const next = (l + 1) % L;
    for (let p = 0; p < n; p++) sum += (frames[l * n + p] - frames[next * n + p]) ** 2;
  }
  return sum / (L * n);
}

Deno.test("rotatedSequence: frame 0 is the image itself", () => {
  const image = testImage(6);
  const frames = rotatedSequence(image, 6, 10, { shift: 2 });
  assert.equal(frames.length, 10 * 36);
  for (let p = 0; p < 36; p++) assert.ok(Math.abs(frames[p] - image[p]) < 1e-12);
});

Deno.test("rotatedSequence: a quarter turn of an odd-sized image maps pixels exactly", () => {
  const n = 5;
  const image = testImage(n);
  const frames = rotatedSequence(image, n, 4);
  // Frame 1 is a quarter turn, clockwise on screen: out[i][j] = in[n-1-j][i].
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const got = frames[n * n + i * n + j], want = image[(n - 1 - j) * n + i];
      assert.ok(Math.abs(got - want) < 1e-9, `(${i},${j}): ${got} vs ${want}`);
    }
  }
  // Frame 2 is a half turn.
  for (let p = 0; p < n * n; p++) {
    assert.ok(Math.abs(frames[2 * n * n + p] - image[n * n - 1 - p]) < 1e-9);
  }
});

Deno.test("rotatedSequence: adjacent frames get closer as L grows", () => {
  const n = 16; // an off-centre bright blob, as a picture of an object would be
  const image = Float64Array.from(
    { length: n * n },
    (_, k) => Math.exp(-(((k % n) - 10) ** 2 + (Math.floor(k / n) - 5) ** 2) / 8),
  );
  const msd = [8, 16, 32, 64, 128].map((L) =>
    meanAdjacentSquaredDifference(rotatedSequence(image, n, L, { shift: 2 }), L, n * n)
  );
  for (let k = 1; k < msd.length; k++) assert.ok(msd[k] < msd[k - 1], `${msd}`);
  assert.ok(msd[4] < msd[0] / 100, `${msd}`);
});

Deno.test("rotatedSequence: outSide resamples the same square", () => {
  const frames = rotatedSequence(new Float64Array(16).fill(1), 4, 3, { outSide: 8 });
  assert.equal(frames.length, 3 * 64);
  assert.equal(frames[3 * 8 + 3], 1); // the centre of frame 0 is inside the image
});

Deno.test("maskBottomHalf zeroes exactly the bottom rows and keeps the top ones", () => {
  const side = 5, count = 2;
  const frames = Float64Array.from({ length: count * side * side }, (_, k) => k + 1);
  const masked = maskBottomHalf(frames, count, side);
  const first = Math.floor(side * 0.5); // rows 2, 3, 4 are hidden
  for (let f = 0; f < count; f++) {
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) {
        const k = (f * side + r) * side + c;
        assert.equal(masked[k], r >= first ? 0 : frames[k]);
      }
    }
  }
  assert.equal(frames[side * side - 1], side * side, "the input is left unchanged");
  const quarter = maskBottomHalf(frames, count, side, 0.25); // rows from floor(3.75) = 3
  assert.equal(quarter[2 * side], frames[2 * side]);
  assert.equal(quarter[3 * side], 0);
  assert.deepEqual(maskBottomHalf(frames, count, side, 0), frames);
});

Deno.test("toSigned maps [0, 1] to [-1, 1]", () => {
  assert.deepEqual([...toSigned(Float64Array.of(0, 0.5, 1))], [-1, 0, 1]);
});

// ---------------------------------------------------------------------------------------------
// SVG

Deno.test("linePlot writes a standalone SVG with labels, escaped text and log axes", () => {
  const svg = linePlot({
    title: `Recall <error> & "capacity"`,
    xLabel: "patterns",
    yLabel: "error",
    logX: true,
    logY: true,
    series: [
      { label: "dense", x: [1, 2, 4, 8, 16, 1024], y: [0.01, 0.02, NaN, 0.1, 0.5, 1] },
      { label: "classic", x: [1, 2, 4], y: [0.1, 0, 1], dashed: true },
    ],
  });
  assert.ok(svg.startsWith("<svg"));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.ok(svg.includes("Recall &lt;error&gt; &amp; &quot;capacity&quot;"));
  assert.ok(!svg.includes("<error>"));
  for (const label of ["dense", "classic", "patterns", "error"]) assert.ok(svg.includes(label));
  assert.ok(svg.includes(">1024<"), "powers-of-2 ticks on the x axis");
  assert.ok(svg.includes("stroke-dasharray"));
  assert.ok(!/NaN|Infinity/.test(svg), "non-finite points are skipped");
  assert.equal(svg.match(/<circle/g)?.length, 7);
});

Deno.test("linePlot: linear axes get round ticks", () => {
  const svg = linePlot({
    title: "t",
    xLabel: "x",
    yLabel: "y",
    series: [{ label: "s", x: [0, 1, 2, 3], y: [0.3, 0.1, 0.7, 0.45] }],
  });
  for (const tick of [">0<", ">1<", ">3<", ">0.2<", ">0.4<"]) assert.ok(svg.includes(tick), tick);
});

Deno.test("panels places several plots in one SVG", () => {
  const plot = (title: string) =>
    linePlot({
      title,
      xLabel: "x",
      yLabel: "y",
      width: 300,
      height: 200,
      series: [{ label: title, x: [1, 2], y: [3, 4] }],
    });
  const svg = panels([plot("first plot"), plot("second plot"), plot("third plot")], 2);
  assert.ok(svg.startsWith("<svg"));
  assert.ok(svg.includes(`width="600" height="400"`));
  for (const t of ["first plot", "second plot", "third plot"]) assert.ok(svg.includes(t));
  assert.ok(svg.includes(`<svg x="300" y="0"`));
  assert.ok(svg.includes(`<svg x="0" y="200"`));
});

// ---------------------------------------------------------------------------------------------
// Fashion-MNIST

Deno.test("loadFashionMnist reads the installed data set, or says how to install it", async () => {
  const installed = await Deno.stat(FASHION_MNIST_DIR).then(() => true, () => false);
  if (installed) {
    const data = await loadFashionMnist({ split: "test", limit: 5 });
    assert.equal(data.count, 5);
    assert.equal(data.side, 28);
    assert.equal(data.images.length, 5 * 28 * 28);
    assert.equal(data.labels.length, 5);
    assert.ok(data.images.every((v) => v >= 0 && v <= 1));
    assert.ok(data.images.some((v) => v > 0));
    assert.ok(data.labels.every((v) => v < 10));
  } else {
    await assert.rejects(loadFashionMnist({ split: "test", limit: 5 }), (e: Error) => {
      assert.match(e.message, /apt-get install -y dataset-fashion-mnist/);
      assert.ok(e.message.includes(FASHION_MNIST_DIR));
      return true;
    });
  }
});

Deno.test("loadFashionMnist names the missing file and the install command", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(loadFashionMnist({ dir, split: "test" }), (e: Error) => {
      assert.match(e.message, /apt-get install -y dataset-fashion-mnist/);
      assert.ok(e.message.includes(`${dir}/t10k-images-idx3-ubyte.gz`));
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
