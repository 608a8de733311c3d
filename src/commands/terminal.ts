/**
 * What the commands know about their terminal: whether to use colour (only on a TTY, never with
 * NO_COLOR set or TERM=dumb) and how wide a line may be.
 */

/** The slice of a process stream the commands write to. */
export interface OutStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

/** Plain ANSI styles; every function returns its input unchanged when colour is off. */
export interface Style {
  bold: (s: string) => string;
  dim: (s: string) => string;
  red: (s: string) => string;
  green: (s: string) => string;
  yellow: (s: string) => string;
}

const ESC = '\u001b[';

function wrap(open: number, close: number): (s: string) => string {
  return (s) => `${ESC}${open}m${s}${ESC}${close}m`;
}

const plain = (s: string): string => s;

/** True when `stream` is a terminal and the user has not asked for no colour (https://no-color.org). */
export function colorEnabled(stream: OutStream, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR ?? '') === '' && env.TERM !== 'dumb';
}

/** ANSI styles for `stream`, or identity functions. */
export function styleFor(stream: OutStream, env: NodeJS.ProcessEnv): Style {
  if (!colorEnabled(stream, env)) return { bold: plain, dim: plain, red: plain, green: plain, yellow: plain };
  return { bold: wrap(1, 22), dim: wrap(2, 22), red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39) };
}

/** Line width to fit on a TTY; null (no limit) when the output goes to a file or a pipe. */
export function lineWidth(stream: OutStream): number | null {
  return stream.isTTY === true && typeof stream.columns === 'number' && stream.columns > 0 ? stream.columns : null;
}

/** Length of `s` as displayed (ANSI escapes take no room). */
export function visibleLength(s: string): number {
  return s.replace(/\u001b\[[0-9;]*m/g, '').length;
}
