/** Bytes as a classic hex dump: offset, sixteen bytes in hex, the printable ones as text. */
import { useState } from 'preact/hooks';

const FIRST = 4096;
const MOST = 1024 * 1024;

function line(bytes: Uint8Array, offset: number): string {
  const row = bytes.subarray(offset, offset + 16);
  let hex = '';
  let text = '';
  for (let i = 0; i < 16; i++) {
    const b = row[i];
    hex += b === undefined ? '   ' : `${b.toString(16).padStart(2, '0')} `;
    if (i === 7) hex += ' ';
    if (b !== undefined) text += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
  }
  return `${offset.toString(16).padStart(8, '0')}  ${hex} ${text}`;
}

export function HexView({ bytes }: { bytes: Uint8Array }) {
  const [limit, setLimit] = useState(FIRST);
  const shown = Math.min(bytes.length, limit);
  const lines: string[] = [];
  for (let o = 0; o < shown; o += 16) lines.push(line(bytes, o));
  return (
    <div class="hex">
      <pre class="hex-dump">{lines.join('\n')}</pre>
      {bytes.length > shown && (
        <button type="button" class="link" onClick={() => setLimit(MOST)} disabled={limit >= MOST}>
          {limit >= MOST ? `first ${MOST} bytes shown of ${bytes.length}` : `show all ${bytes.length} bytes`}
        </button>
      )}
    </div>
  );
}
