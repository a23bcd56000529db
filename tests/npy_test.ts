// NumPy `.npy` input and output (LANGUAGE.md §4): float32 round trips, float64 and version 2.0
// files built byte by byte, every kind of unusable file rejected with a message that names the
// file, and atomic writes that leave nothing behind when they fail.
import assert from "node:assert/strict";
import fc from "fast-check";
import { HopError } from "../src/diagnostics.ts";
import { type Array2D, encodeNpy, parseNpy } from "../src/io/npy.ts";
import { readNpy, writeFileAtomic } from "../src/io/files.ts";

// ---------------------------------------------------------------------------------------------
// Building files by hand

interface Spec {
  descr?: string;
  fortran?: "True" | "False";
  shape?: string;
  major?: number;
  minor?: number;
  /** The raw header dict text (overrides descr/fortran/shape). */
  header?: string;
  data?: Uint8Array;
  magic?: number[];
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/** A .npy file as NumPy lays it out: magic, version, header length, padded header, data. */
function npyBytes(spec: Spec): Uint8Array {
  const major = spec.major ?? 1;
  const dict = spec.header ??
    `{'descr': '${spec.descr ?? "<f4"}', 'fortran_order': ${spec.fortran ?? "False"}, 'shape': (${
      spec.shape ?? "2, 3"
    }), }`;
  const prefix = major === 1 ? 10 : 12;
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  const header = dict.padEnd(total - prefix - 1, " ") + "\n";
  const data = spec.data ?? new Uint8Array(0);
  const out = new Uint8Array(total + data.length);
  out.set(spec.magic ?? MAGIC, 0);
  out[6] = major;
  out[7] = spec.minor ?? 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  out.set(data, total);
  return out;
}

function f32(values: number[]): Uint8Array {
  const b = new Uint8Array(4 * values.length);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setFloat32(4 * i, x, true));
  return b;
}

function f64(values: number[]): Uint8Array {
  const b = new Uint8Array(8 * values.length);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setFloat64(8 * i, x, true));
  return b;
}

/** parseNpy throws a HopError for `file` whose message (and hint) match every pattern. */
function assertRejects(bytes: Uint8Array, ...patterns: RegExp[]) {
  const file = "data/bad input.npy";
  assert.throws(
    () => parseNpy(bytes, file),
    (e: unknown) => {
      assert.ok(e instanceof HopError, `not a HopError: ${e}`);
      assert.equal(e.diagnostics.length, 1);
      const d = e.diagnostics[0];
      assert.equal(d.file, file, "the diagnostic names the file");
      assert.equal(d.severity, "error");
      const text = `${d.message} ${d.hint ?? ""}`;
      for (const p of patterns) assert.match(text, p);
      // The printed form starts with the file name.
      assert.ok(e.message.startsWith(`${file}:1:1: error: `), e.message);
      return true;
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Round trips and valid files

Deno.test("encode → parse round-trips float32 arrays exactly", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 9 }),
      fc.integer({ min: 1, max: 9 }),
      fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), {
        minLength: 81,
        maxLength: 81,
      }),
      (rows, cols, values) => {
        const a: Array2D = {
          rows,
          cols,
          data: Float64Array.from(values.slice(0, rows * cols)),
        };
        const bytes = encodeNpy(a);
        // Version 1.0, header padded to a multiple of 64 bytes and ended by a newline.
        assert.deepEqual(Array.from(bytes.subarray(0, 8)), [...MAGIC, 1, 0]);
        const headerLen = bytes[8] | (bytes[9] << 8);
        assert.equal((10 + headerLen) % 64, 0);
        assert.equal(bytes[10 + headerLen - 1], 0x0a);
        const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLen));
        assert.match(header, /'descr': '<f4'/);
        assert.match(header, /'fortran_order': False/);
        assert.match(header, new RegExp(`'shape': \\(${rows}, ${cols}\\)`));
        assert.equal(bytes.length, 10 + headerLen + 4 * rows * cols);
        const back = parseNpy(bytes, "x.npy");
        assert.equal(back.rows, rows);
        assert.equal(back.cols, cols);
        assert.deepEqual(back.data, a.data); // -0 stays -0, subnormals stay
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("encode rounds float64 values to the nearest float32", () => {
  const a = { rows: 1, cols: 3, data: Float64Array.of(0.1, 1 / 3, -2.5) };
  const back = parseNpy(encodeNpy(a), "x.npy");
  assert.deepEqual(Array.from(back.data), [Math.fround(0.1), Math.fround(1 / 3), -2.5]);
});

Deno.test("parse a little-endian float64 ('<f8') file built by hand", () => {
  const values = [0.1, -1e300, 5e-324, 1 / 3, 42, -0];
  const a = parseNpy(npyBytes({ descr: "<f8", shape: "2, 3", data: f64(values) }), "f8.npy");
  assert.equal(a.rows, 2);
  assert.equal(a.cols, 3);
  assert.deepEqual(Array.from(a.data), values); // exact: no float32 rounding on the way in
});

Deno.test("parse format version 2.0 (4-byte header length) and odd header spellings", () => {
  const v2 = parseNpy(
    npyBytes({ major: 2, descr: "<f4", shape: "3, 1", data: f32([1, 2, 3]) }),
    "v2.npy",
  );
  assert.deepEqual(v2, { rows: 3, cols: 1, data: Float64Array.of(1, 2, 3) });
  // A header long enough to need more than 16 bits is what version 2.0 is for.
  const long = `{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), ${" ".repeat(70000)}}`;
  const big = parseNpy(npyBytes({ major: 2, header: long, data: f64([7, 8]) }), "v2.npy");
  assert.deepEqual(Array.from(big.data), [7, 8]);
  // Keys in another order, no trailing comma, no spaces.
  const odd = parseNpy(
    npyBytes({ header: "{'shape':(1,2),'fortran_order':False,'descr':'<f4'}", data: f32([5, 6]) }),
    "odd.npy",
  );
  assert.deepEqual(Array.from(odd.data), [5, 6]);
  // An empty array is a valid file (the shape check rejects it later, with its own message).
  assert.equal(parseNpy(npyBytes({ shape: "0, 4" }), "e.npy").rows, 0);
});

// ---------------------------------------------------------------------------------------------
// Unusable files

Deno.test("errors name the file: bad magic and truncated headers", () => {
  assertRejects(new TextEncoder().encode("x,y\n1,2\n"), /NumPy magic/);
  assertRejects(new Uint8Array(0), /NumPy magic/);
  assertRejects(npyBytes({ magic: [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x58] }), /magic/);
  assertRejects(npyBytes({ data: f32([1, 2, 3, 4, 5, 6]) }).subarray(0, 40), /truncated header/);
  assertRejects(npyBytes({ major: 2 }).subarray(0, 11), /truncated header/);
  assertRejects(npyBytes({ major: 9 }), /version 9\.0/);
  assertRejects(npyBytes({ header: "{'descr': '<f4'}" }), /malformed header/);
});

Deno.test("errors name the file: big-endian, integer and other dtypes", () => {
  assertRejects(npyBytes({ descr: ">f4", data: new Uint8Array(24) }), />f4/, /little-endian/);
  assertRejects(npyBytes({ descr: ">f8", data: new Uint8Array(48) }), />f8/);
  assertRejects(npyBytes({ descr: "<i4", data: new Uint8Array(24) }), /<i4/, /float32/);
  assertRejects(npyBytes({ descr: "<i8", data: new Uint8Array(48) }), /<i8/);
  assertRejects(npyBytes({ descr: "<f2", data: new Uint8Array(12) }), /<f2/);
  assertRejects(npyBytes({ descr: "|u1", data: new Uint8Array(6) }), /\|u1/);
});

Deno.test("errors name the file: Fortran order, 1-D and 3-D shapes", () => {
  assertRejects(npyBytes({ fortran: "True", data: f32([1, 2, 3, 4, 5, 6]) }), /Fortran order/);
  assertRejects(npyBytes({ shape: "6,", data: f32([1, 2, 3, 4, 5, 6]) }), /not 2-D/);
  assertRejects(npyBytes({ shape: "", data: f32([1]) }), /not 2-D/);
  assertRejects(npyBytes({ shape: "1, 2, 3", data: f32([1, 2, 3, 4, 5, 6]) }), /not 2-D/);
});

Deno.test("errors name the file: truncated or overlong data", () => {
  const full = npyBytes({ data: f32([1, 2, 3, 4, 5, 6]) });
  assertRejects(full.subarray(0, full.length - 1), /needs 24 bytes of data, the file has 23/);
  assertRejects(full.subarray(0, full.length - 24), /needs 24 bytes/);
  const extra = new Uint8Array(full.length + 4);
  extra.set(full);
  assertRejects(extra, /needs 24 bytes of data, the file has 28/);
});

Deno.test("errors name the file: NaN and infinities, with their row and column", () => {
  assertRejects(npyBytes({ data: f32([1, 2, 3, 4, NaN, 6]) }), /NaN at row 1, column 1/);
  assertRejects(npyBytes({ data: f32([Infinity, 2, 3, 4, 5, 6]) }), /infinity at row 0, column 0/);
  assertRejects(
    npyBytes({ descr: "<f8", data: f64([1, 2, 3, 4, 5, -Infinity]) }),
    /infinity at row 1, column 2/,
  );
  assertRejects(
    npyBytes({ descr: "<f8", shape: "3, 2", data: f64([0, 0, NaN, 0, 0, 0]) }),
    /row 1, column 0/,
  );
  // A float64 value beyond float32's range is finite and read as it is.
  const big = parseNpy(npyBytes({ descr: "<f8", shape: "1, 1", data: f64([1e300]) }), "x.npy");
  assert.equal(big.data[0], 1e300);
});

Deno.test("readNpy names a missing or unreadable file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hopc-npy-" });
  try {
    for (const path of [`${dir}/missing.npy`, dir]) {
      await assert.rejects(readNpy(path), (e: unknown) => {
        assert.ok(e instanceof HopError);
        assert.equal(e.diagnostics[0].file, path);
        assert.match(e.diagnostics[0].message, /cannot read the file/);
        return true;
      });
    }
    const ok = `${dir}/ok.npy`;
    await Deno.writeFile(ok, encodeNpy({ rows: 1, cols: 2, data: Float64Array.of(3, 4) }));
    assert.deepEqual(Array.from((await readNpy(ok)).data), [3, 4]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Atomic writes

async function listing(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("writeFileAtomic writes, overwrites, and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hopc-npy-" });
  try {
    const path = `${dir}/out.npy`;
    await writeFileAtomic(path, Uint8Array.of(1, 2, 3));
    assert.deepEqual(Array.from(await Deno.readFile(path)), [1, 2, 3]);
    await writeFileAtomic(path, Uint8Array.of(9));
    assert.deepEqual(Array.from(await Deno.readFile(path)), [9]);
    assert.deepEqual(await listing(dir), ["out.npy"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic leaves nothing behind when the write fails", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hopc-npy-" });
  try {
    // The target's directory does not exist: the temporary file cannot even be created.
    await assert.rejects(writeFileAtomic(`${dir}/no/such/dir/out.npy`, Uint8Array.of(1)));
    assert.deepEqual(await listing(dir), []);
    // The temporary file is written but the rename fails (the target is a directory): it is
    // removed again, and the directory is untouched.
    await Deno.mkdir(`${dir}/taken.npy`);
    await assert.rejects(writeFileAtomic(`${dir}/taken.npy`, Uint8Array.of(1)));
    assert.deepEqual(await listing(dir), ["taken.npy"]);
    assert.deepEqual(await listing(`${dir}/taken.npy`), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
