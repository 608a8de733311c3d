/** Longest value shown in a diff line; longer ones are cut in the middle. */
export const MAX_SHOWN = 80;

/** Shortens a text for a diff line, keeping its start and end. */
export function shorten(text: string, max = MAX_SHOWN): string {
  if (text.length <= max) return text;
  const half = Math.floor((max - 1) / 2);
  return `${text.slice(0, half)}…${text.slice(text.length - half)}`;
}

/** A byte count people read: "1.5 KiB", "312 B". */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}
