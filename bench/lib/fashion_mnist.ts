// Fashion-MNIST loader for the benchmarks.
//
// The benchmarks store and recall real images, not only random patterns, and Fashion-MNIST is the
// usual choice: 28x28 greyscale pictures of clothes, 60 000 for training and 10 000 for testing.
// We read it from the Debian package `dataset-fashion-mnist`, which puts the four gzipped IDX
// files in FASHION_MNIST_DIR, so the benchmarks never download anything. The IDX format is tiny
// (a big-endian header, then raw unsigned bytes) and DecompressionStream does the gunzip, so this
// module needs no dependency.

/** Where `sudo apt-get install -y dataset-fashion-mnist` puts the files. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

const IMAGES_MAGIC = 0x00000803; // unsigned bytes, 3 dimensions
const LABELS_MAGIC = 0x00000801; // unsigned bytes, 1 dimension

function hex(n: number): string {
  return "0x" + n.toString(16).padStart(8, "0");
}

/** The big-endian header of an IDX file: checks the magic number and the length of the data. */
function idxHeader(bytes: Uint8Array, magic: number, dims: number, what: string): number[] {
  const headerSize = 4 + 4 * dims;
  const truncated = (expected: string, got: number) =>
    new Error(`IDX ${what} file truncated: expected ${expected}, got ${got}`);
  if (bytes.length < 4) throw truncated("a 4-byte magic number", bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const got = view.getUint32(0);
  if (got !== magic) {
    throw new Error(
      `not an IDX ${what} file: expected magic number ${hex(magic)}, got ${hex(got)}`,
    );
  }
  if (bytes.length < headerSize) throw truncated(`a header of ${headerSize} bytes`, bytes.length);
  const shape = Array.from({ length: dims }, (_, i) => view.getUint32(4 + 4 * i));
  const expected = headerSize + shape.reduce((a, b) => a * b, 1);
  if (bytes.length < expected) {
    throw truncated(`${expected} bytes for shape [${shape.join(", ")}]`, bytes.length);
  }
  return shape;
}

/** Parses an uncompressed IDX3 image file (magic 0x00000803, count, rows, cols, then pixels). */
export function parseIdxImages(
  bytes: Uint8Array,
): { count: number; rows: number; cols: number; pixels: Uint8Array } {
  const [count, rows, cols] = idxHeader(bytes, IMAGES_MAGIC, 3, "images");
  const pixels = bytes.slice(16, 16 + count * rows * cols);
  return { count, rows, cols, pixels };
}

/** Parses an uncompressed IDX1 label file (magic 0x00000801, count, then one byte per label). */
export function parseIdxLabels(bytes: Uint8Array): Uint8Array {
  const [count] = idxHeader(bytes, LABELS_MAGIC, 1, "labels");
  return bytes.slice(8, 8 + count);
}

/** Decompresses a gzip file held in memory. */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes.slice()]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function readGz(dir: string, name: string): Promise<Uint8Array> {
  const path = `${dir}/${name}`;
  try {
    return await gunzip(await Deno.readFile(path));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new Error(
      `Fashion-MNIST not found: no file ${path}. On Debian/Ubuntu install it with ` +
        `\`sudo apt-get install -y dataset-fashion-mnist\` (it goes to ${FASHION_MNIST_DIR}), ` +
        `or pass \`dir\` naming a folder that holds the four *-ubyte.gz files.`,
    );
  }
}

/**
 * Loads the first `limit` images of a Fashion-MNIST split as rows of side*side floats in [0, 1]
 * (pixel / 255), with their labels (0..9).
 */
export async function loadFashionMnist(
  opts: { split?: "train" | "test"; limit?: number; dir?: string } = {},
): Promise<{ images: Float64Array; count: number; side: number; labels: Uint8Array }> {
  const dir = opts.dir ?? FASHION_MNIST_DIR;
  const prefix = (opts.split ?? "train") === "train" ? "train" : "t10k";
  const img = parseIdxImages(await readGz(dir, `${prefix}-images-idx3-ubyte.gz`));
  const allLabels = parseIdxLabels(await readGz(dir, `${prefix}-labels-idx1-ubyte.gz`));
  if (allLabels.length !== img.count) {
    throw new Error(`Fashion-MNIST ${prefix}: ${img.count} images but ${allLabels.length} labels`);
  }
  if (img.rows !== img.cols) {
    throw new Error(`Fashion-MNIST ${prefix}: images are ${img.rows}x${img.cols}, not square`);
  }
  const count = Math.max(0, Math.min(img.count, opts.limit ?? img.count));
  const side = img.rows;
  const images = new Float64Array(count * side * side);
  for (let i = 0; i < images.length; i++) images[i] = img.pixels[i] / 255;
  return { images, count, side, labels: allLabels.slice(0, count) };
}
