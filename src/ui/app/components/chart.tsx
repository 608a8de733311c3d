/**
 * A time-series chart (uPlot: small, canvas-drawn, fast with thousands of points). Colours come from
 * the page's CSS variables, so the chart follows the light or dark scheme; it follows the width of
 * its box too.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { useDarkScheme } from '../hooks';

export interface SeriesSpec {
  label: string;
  /** A CSS variable such as "--c1". */
  color: string;
  /** How a value is written in the legend. */
  format: (v: number | null) => string;
}

const HEIGHT = 160;

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

function latest(u: uPlot, sidx: number): number | null {
  const values = u.data[sidx];
  if (values === undefined) return null;
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i];
    if (v !== null && v !== undefined) return v;
  }
  return null;
}

function timeText(v: number | null): string {
  return v === null ? '–' : new Date(v * 1000).toLocaleTimeString();
}

export function Chart({ title, series, data, yFormat }: { title: string; series: SeriesSpec[]; data: uPlot.AlignedData; yFormat: (v: number) => string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const dark = useDarkScheme();
  const shape = series.map((s) => s.label).join('|');

  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const fg = cssVar('--muted');
    const grid = cssVar('--line');
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: HEIGHT,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 78, values: (_u, splits) => splits.map((v) => yFormat(v)) },
      ],
      series: [
        { label: 'time', value: (u, v, _s, idx) => timeText(idx === null ? latest(u, 0) : v) },
        ...series.map((s) => ({
          label: s.label,
          stroke: cssVar(s.color),
          width: 2,
          points: { show: false },
          spanGaps: false,
          // Without the cursor over the chart, the legend shows the latest value.
          value: (u: uPlot, v: number | null, sidx: number, idx: number | null) => s.format(idx === null ? latest(u, sidx) : v),
        })),
      ],
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // The chart is rebuilt only when its shape or the colour scheme changes; data updates below.
  }, [dark, shape]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} class="chart-box" role="img" aria-label={title} />
    </figure>
  );
}
