/**
 * Comparison of non-JSON bodies: text (UTF-8) with ignore patterns and redaction wildcards, or raw
 * bytes. The diff line names the sizes and shows the first difference in context.
 */
import { isUtf8 } from 'node:buffer';
import { bytes, shorten } from './format.js';
import { equalsWithMarkers, hasMarker } from './redaction-marks.js';
import { maskPatterns } from './rules.js';
import type { Difference } from './types.js';

const CONTEXT = 24;

/** Null when equal; otherwise the difference. `prefix`: compare only the first recorded.length bytes. */
export function diffBodies(recorded: Buffer, replayed: Buffer, patterns: readonly RegExp[], prefix: boolean): Difference | null {
  const other = prefix ? replayed.subarray(0, recorded.length) : replayed;
  if (recorded.equals(other)) return null;
  if (isUtf8(recorded) && isUtf8(other)) {
    const a = recorded.toString('utf8');
    const b = other.toString('utf8');
    if ((patterns.length > 0 || hasMarker(a)) && textEqual(a, b, patterns)) return null;
    return { kind: 'body', line: textLine(a, b, recorded.length, replayed.length, prefix) };
  }
  return { kind: 'body', line: bytesLine(recorded, other, replayed.length, prefix) };
}

function textEqual(a: string, b: string, patterns: readonly RegExp[]): boolean {
  return equalsWithMarkers(maskPatterns(a, patterns), maskPatterns(b, patterns));
}

function firstDifference(a: ArrayLike<unknown>, b: ArrayLike<unknown>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

function sizes(recordedLength: number, replayedLength: number, prefix: boolean): string {
  return prefix
    ? `first ${bytes(recordedLength)} (recorded prefix) of ${bytes(replayedLength)}`
    : `${bytes(recordedLength)} → ${bytes(replayedLength)}`;
}

function textLine(a: string, b: string, recordedLength: number, replayedLength: number, prefix: boolean): string {
  const at = firstDifference(a, b);
  const from = Math.max(0, at - CONTEXT);
  const snippet = (s: string): string => {
    const part = s.slice(from, at + CONTEXT);
    return at >= s.length ? '(end)' : shorten(JSON.stringify(`${from > 0 ? '…' : ''}${part}${at + CONTEXT < s.length ? '…' : ''}`));
  };
  return `body: ${sizes(recordedLength, replayedLength, prefix)}, first difference at character ${at}: ${snippet(a)} → ${snippet(b)}`;
}

function bytesLine(a: Buffer, b: Buffer, replayedLength: number, prefix: boolean): string {
  const at = firstDifference(a, b);
  const hex = (buf: Buffer): string => (at >= buf.length ? '(end)' : buf.subarray(at, at + 16).toString('hex'));
  return `body (binary): ${sizes(a.length, replayedLength, prefix)}, first difference at byte ${at}: ${hex(a)} → ${hex(b)}`;
}
