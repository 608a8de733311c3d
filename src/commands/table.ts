/**
 * Plain-text tables and the number formats the commands print. A table fits a given width by
 * shortening its one flexible column (the URL, usually), so every other column stays readable.
 */
import { visibleLength } from './terminal.js';

export interface Column {
  header: string;
  align?: 'left' | 'right';
  /** This column gives up room when the table is wider than the line (at most one per table). */
  flex?: boolean;
}

const GAP = '  ';
const MIN_FLEX = 12;

function pad(cell: string, width: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, width - visibleLength(cell)));
  return align === 'right' ? fill + cell : cell + fill;
}

/** Shortens `s` to `width` characters, marking the cut with "…". */
export function truncate(s: string, width: number): string {
  if (s.length <= width) return s;
  return width <= 1 ? s.slice(0, width) : `${s.slice(0, width - 1)}…`;
}

/** Renders rows under a header; `width` null = no limit. Lines end without trailing spaces. */
export function renderTable(columns: readonly Column[], rows: readonly string[][], width: number | null): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const flex = columns.findIndex((c) => c.flex === true);
  if (width !== null && flex >= 0) {
    const total = widths.reduce((a, b) => a + b, 0) + GAP.length * (columns.length - 1);
    if (total > width) widths[flex] = Math.max(MIN_FLEX, widths[flex]! - (total - width));
  }
  const line = (cells: readonly string[]): string =>
    columns
      .map((c, i) => {
        const cell = i === flex ? truncate(cells[i] ?? '', widths[i]!) : (cells[i] ?? '');
        return pad(cell, widths[i]!, c.align ?? 'left');
      })
      .join(GAP)
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join('\n');
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** 850 → "850ms", 12_400 → "12.4s", 95_000 → "1m35s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

/** 0.9876 → "98.8%", null → "n/a". */
export function formatRate(rate: number | null): string {
  return rate === null ? 'n/a' : `${(rate * 100).toFixed(1)}%`;
}
