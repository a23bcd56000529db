// NumPy `.npy` files: the array format of the command line (LANGUAGE.md section 4). Reads format
// versions 1.0, 2.0 and 3.0, 2-D, C order, little-endian float32 or float64; writes version 1.0
// float32. Anything else is an input error that names the file and what is wrong with it. Bytes
// only, so a browser can use it (mod.ts); reading and writing paths is ./files.ts.
import { inputError } from "../diagnostics.ts";

export interface Array2D {
  rows: number;
  cols: number;
  /** Row-major values, as float64 (float32 files are widened exactly). */
  data: Float64Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** Parse the bytes of a `.npy` file; `file` is only used in messages. */
export function parseNpy(bytes: Uint8Array, file: string): Array2D {
  const fail = (what: string, hint?: string) =>
    inputError(file, `not a usable .npy file: ${what}`, hint);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw fail("it does not start with the NumPy magic string", "save arrays with numpy.save");
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw fail("truncated header");
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw fail(`format version ${major}.${bytes[7]} is not supported (1.0 and 2.0 are)`);
  }
  if (headerStart + headerLen > bytes.length) throw fail("truncated header");
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, headerStart + headerLen),
  );
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw fail(`malformed header ${JSON.stringify(header.trim())}`);
  }
  if (fortran === "True") {
    throw fail(
      "the array is in Fortran order",
      "save a C-ordered array: numpy.ascontiguousarray(a)",
    );
  }
  const itemSize = descr === "<f4" ? 4 : descr === "<f8" ? 8 : 0;
  if (itemSize === 0) {
    throw fail(
      `dtype '${descr}' is not supported`,
      "use little-endian float32 ('<f4') or float64 ('<f8'): a.astype(numpy.float32)",
    );
  }
  const dims = shapeText.split(",").map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (dims.length !== 2 || dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw fail(`shape (${shapeText.trim()}) is not 2-D`, "arrays must be [rows, dimension]");
  }
  const [rows, cols] = dims;
  const dataStart = headerStart + headerLen;
  const expected = rows * cols * itemSize;
  if (bytes.length - dataStart !== expected) {
    throw fail(
      `shape (${rows}, ${cols}) needs ${expected} bytes of data, the file has ${
        bytes.length - dataStart
      }`,
    );
  }
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) {
    const v = itemSize === 4
      ? view.getFloat32(dataStart + 4 * i, true)
      : view.getFloat64(dataStart + 8 * i, true);
    if (!Number.isFinite(v)) {
      throw inputError(
        file,
        `${Number.isNaN(v) ? "NaN" : "an infinity"} at row ${Math.floor(i / cols)}, column ${
          i % cols
        }`,
        "hopc needs finite data: clean or impute the array first",
      );
    }
    data[i] = v;
  }
  return { rows, cols, data };
}

/**
 * Encode a 2-D array as a version 1.0 `.npy` file: float32 by default (values rounded to float32),
 * or float64 (`"<f8"`, exact) for fitted parameters.
 */
export function encodeNpy(
  a: { rows: number; cols: number; data: ArrayLike<number> },
  dtype: "<f4" | "<f8" = "<f4",
): Uint8Array {
  let header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': (${a.rows}, ${a.cols}), }`;
  // The header (with its 10-byte prefix and final newline) is padded to a multiple of 64 bytes.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, " ") + "\n";
  const size = dtype === "<f4" ? 4 : 8;
  const out = new Uint8Array(total + size * a.rows * a.cols);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  for (let i = 0; i < a.data.length; i++) {
    if (size === 4) view.setFloat32(total + 4 * i, a.data[i], true);
    else view.setFloat64(total + 8 * i, a.data[i], true);
  }
  return out;
}
