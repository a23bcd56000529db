// Progress of long runs (`hopc bench`, `hopc tune`, bench/ and experiment scripts) on standard
// error. On a terminal, one status line is redrawn in place (carriage return, erase line), and
// lines that must stay are printed above it. Anywhere else (a pipe, a CI log) there is no cursor to
// move, so lines are printed as they come and a status only as a plain heartbeat line when nothing
// was printed for a few seconds: logs stay readable and short.
//
//   const progress = stderrProgress();
//   progress.update(`timing: ${n} calls`);   // redrawn, or printed now and then
//   progress.line("candidate 3 rejected");   // always printed, above the status
//   progress.done();                         // clears the status line

/** A status line and the lines printed around it. */
export interface Progress {
  /**
   * Replace the status: redrawn on a terminal; elsewhere printed as a plain line when nothing was
   * printed for a few seconds (default 5).
   */
  update(text: string): void;
  /** Print a line that stays (above the status on a terminal). */
  line(text: string): void;
  /** Clear the status line; the next update starts a new one. */
  done(): void;
}

/** Where a terminal's status line is drawn: raw text, no newline added. */
export interface TerminalSink {
  write(raw: string): void;
  /** Width of the terminal: a longer status is cut so that it never wraps (which breaks \r). */
  columns?: number;
}

export interface ProgressOptions {
  /** Milliseconds between redraws of a terminal's status line (default 100). */
  redrawEveryMs?: number;
  /** Milliseconds between plain status lines off a terminal (default 5000). */
  plainEveryMs?: number;
  /** The clock (tests pass their own). */
  now?: () => number;
}

const ERASE_LINE = "\r\x1b[K";

/**
 * A Progress that draws on `terminal` when one is given, else prints plain lines with `line`
 * (for example `console.error`, or a test's collector).
 */
export function createProgress(
  out: { line(text: string): void },
  terminal?: TerminalSink,
  options: ProgressOptions = {},
): Progress {
  const now = options.now ?? (() => performance.now());
  if (!terminal) {
    const every = options.plainEveryMs ?? 5000;
    let last = -Infinity, lastText = "";
    return {
      update(text) {
        const t = now();
        if (text === lastText || t - last < every) return;
        last = t;
        lastText = text;
        out.line(text);
      },
      line(text) {
        out.line(text);
        last = now(); // a status is a heartbeat for silent stretches: not right after a line
      },
      done() {
        last = -Infinity; // the next run's first status is printed at once
        lastText = "";
      },
    };
  }
  const every = options.redrawEveryMs ?? 100;
  const fit = (text: string) => {
    const width = (terminal.columns ?? 80) - 1;
    return text.length > width ? `${text.slice(0, Math.max(0, width - 3))}...` : text;
  };
  let status = "", last = -Infinity;
  return {
    update(text) {
      status = fit(text);
      const t = now();
      if (t - last < every) return; // drawn at the next update or line
      last = t;
      terminal.write(ERASE_LINE + status);
    },
    line(text) {
      terminal.write(`${ERASE_LINE}${text}\n${status}`);
    },
    done() {
      if (status) terminal.write(ERASE_LINE);
      status = "";
      last = -Infinity;
    },
  };
}

/** Progress on this process's standard error: a status line on a terminal, plain lines otherwise. */
export function stderrProgress(options: ProgressOptions = {}): Progress {
  const encoder = new TextEncoder();
  let terminal: TerminalSink | undefined;
  if (Deno.stderr.isTerminal()) {
    let columns: number | undefined;
    try {
      columns = Deno.consoleSize().columns;
    } catch {
      columns = undefined; // no size (an odd terminal): 80 is assumed
    }
    terminal = { write: (raw) => void Deno.stderr.writeSync(encoder.encode(raw)), columns };
  }
  return createProgress({ line: (text) => console.error(text) }, terminal, options);
}
