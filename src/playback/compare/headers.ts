import type { HeaderLine } from '../../recording/model.js';

/** The first value of a header, matched case-insensitively. */
export function headerValue(lines: readonly HeaderLine[], lowerName: string): string | undefined {
  for (const [name, value] of lines) {
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return value;
  }
  return undefined;
}
