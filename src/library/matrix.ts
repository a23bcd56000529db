// Matrices at the library's edge: callers hand in any array of numbers, row-major; the compiler
// works on float64 `Mat`s. Conversion checks what the npy reader checks for files (LANGUAGE.md
// section 4): the length matches the shape, and every value is finite.
import { inputError } from "../diagnostics.ts";
import type { Mat } from "../parts/types.ts";

/** A row-major matrix: `rows` x `cols` numbers in `data` (a plain array or any typed array). */
export interface Matrix {
  rows: number;
  cols: number;
  data: ArrayLike<number>;
}

/**
 * A Matrix from an array of equal-length rows, e.g. `matrix([[1, 0], [0, 1]])`.
 * Throws a RangeError when the rows differ in length.
 */
export function matrix(rows: readonly (readonly number[])[]): Matrix {
  const cols = rows[0]?.length ?? 0;
  const data = new Float64Array(rows.length * cols);
  rows.forEach((r, i) => {
    if (r.length !== cols) {
      throw new RangeError(`matrix: row ${i} has ${r.length} values, row 0 has ${cols}`);
    }
    data.set(r, i * cols);
  });
  return { rows: rows.length, cols, data };
}

/** The float64 Mat of `m`; a HopError naming `what` when the shape or a value is wrong. */
export function toMat(m: Matrix, what: string): Mat {
  if (!(Number.isInteger(m.rows) && Number.isInteger(m.cols) && m.rows >= 0 && m.cols >= 0)) {
    throw inputError(
      what,
      `rows and cols must be non-negative integers, got ${m.rows} x ${m.cols}`,
    );
  }
  if (m.data.length !== m.rows * m.cols) {
    throw inputError(
      what,
      `a ${m.rows} x ${m.cols} matrix needs ${m.rows * m.cols} values, got ${m.data.length}`,
    );
  }
  const data = m.data instanceof Float64Array ? m.data : Float64Array.from(m.data);
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw inputError(
      what,
      `${Number.isNaN(data[bad]) ? "NaN" : "an infinity"} at row ${
        Math.floor(bad / m.cols)
      }, column ${bad % m.cols}`,
      "hopc needs finite data: clean or impute the array first",
    );
  }
  return { rows: m.rows, cols: m.cols, data };
}
