// Choosing one model of a file by name: the command line's `--model NAME` and the library's
// `CompileResult.model(name)` give the same messages.
import { inputError } from "./diagnostics.ts";

/** The model called `name`, or the file's only model when no name is given; else a HopError. */
export function pickModel<T extends { name: string }>(
  models: T[],
  name: string | undefined,
  file: string,
): T {
  if (name === undefined) {
    if (models.length === 1) return models[0];
    throw inputError(
      file,
      models.length === 0
        ? "the file defines no model"
        : `the file defines ${models.length} models (${
          models.map((m) => m.name).join(", ")
        }): choose one with --model NAME`,
    );
  }
  const found = models.find((m) => m.name === name);
  if (found) return found;
  throw inputError(
    file,
    `no model named \`${name}\` in this file (it defines ${models.map((m) => m.name).join(", ")})`,
  );
}
