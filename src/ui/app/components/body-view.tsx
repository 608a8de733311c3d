/**
 * A recorded body, shown the way its content type asks: JSON as a tree, text as text, images inline
 * (a data: URL: the page's CSP allows those for images only), anything else as hex. Compressed bodies
 * (gzip, deflate) are decompressed in the browser first; the raw bytes stay one tab away.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { bytes as fmtBytes, header } from '../format';
import type { HeaderLine, JsonBody } from '../types';
import { HexView } from './hex-view';
import { JsonTree } from './json-tree';
import { Badge } from './ui';

type Kind = 'json' | 'image' | 'text' | 'binary' | 'empty';
type View = 'pretty' | 'text' | 'hex';

export function base64Bytes(data: string): Uint8Array {
  const bin = atob(data);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function utf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

const STREAM_FORMATS: Record<string, CompressionFormat> = { gzip: 'gzip', 'x-gzip': 'gzip', deflate: 'deflate' };

async function decompress(data: Uint8Array, coding: string): Promise<Uint8Array> {
  const format = STREAM_FORMATS[coding];
  if (format === undefined) throw new Error(`content-encoding "${coding}" is not decoded here`);
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new DecompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function kindOf(type: string, content: Uint8Array, text: string | null): Kind {
  if (content.length === 0) return 'empty';
  if (type.startsWith('image/')) return 'image';
  const trimmed = text?.trimStart() ?? '';
  if ((type.includes('json') || trimmed.startsWith('{') || trimmed.startsWith('[')) && text !== null) {
    try {
      JSON.parse(text);
      return 'json';
    } catch {
      // falls through to text
    }
  }
  if (text !== null && !/[\u0000-\u0008\u000e-\u001f]/.test(text)) return 'text';
  return 'binary';
}

export function BodyView({ body, headers, label }: { body: JsonBody; headers: readonly HeaderLine[]; label: string }) {
  const raw = useMemo(() => base64Bytes(body.data), [body.data]);
  const coding = (header(headers, 'content-encoding') ?? '').trim().toLowerCase();
  const type = (header(headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const [decoded, setDecoded] = useState<{ bytes: Uint8Array; problem: string | null }>({ bytes: raw, problem: null });
  useEffect(() => {
    if (coding === '' || coding === 'identity' || raw.length === 0) {
      setDecoded({ bytes: raw, problem: null });
      return;
    }
    let live = true;
    decompress(raw, coding).then(
      (b) => live && setDecoded({ bytes: b, problem: null }),
      (e: unknown) => live && setDecoded({ bytes: raw, problem: body.truncated ? `${coding} body is truncated: shown as stored` : (e as Error).message }),
    );
    return () => {
      live = false;
    };
  }, [raw, coding, body.truncated]);
  const text = useMemo(() => utf8(decoded.bytes), [decoded.bytes]);
  const kind = kindOf(type, decoded.bytes, text);
  const [view, setView] = useState<View | null>(null);
  const current: View = view ?? (kind === 'binary' ? 'hex' : 'pretty');
  const views: View[] = kind === 'json' || kind === 'image' ? ['pretty', 'text', 'hex'] : kind === 'text' ? ['pretty', 'hex'] : ['hex'];

  return (
    <div class="body-view">
      <div class="body-head">
        <span class="body-meta">
          {label}: {fmtBytes(body.size)}
          {type !== '' && <> · {type}</>}
          {coding !== '' && <> · {coding}</>}
        </span>
        {body.truncated && (
          <Badge kind="warn" title="storage.max_body: only the start of the body was kept">
            truncated: {fmtBytes(raw.length)} of {fmtBytes(body.size)} kept
          </Badge>
        )}
        {decoded.problem !== null && <Badge kind="muted">{decoded.problem}</Badge>}
        {kind !== 'empty' && views.length > 1 && (
          <span class="tabs" role="tablist" aria-label={`${label} view`}>
            {views.map((v) => (
              <button type="button" role="tab" aria-selected={current === v} class={current === v ? 'tab active' : 'tab'} onClick={() => setView(v)}>
                {v === 'pretty' ? (kind === 'json' ? 'tree' : kind === 'image' ? 'image' : 'text') : v}
              </button>
            ))}
          </span>
        )}
      </div>
      {kind === 'empty' ? (
        <p class="empty">no body</p>
      ) : current === 'hex' ? (
        <HexView bytes={decoded.bytes} />
      ) : current === 'text' || kind === 'text' ? (
        <pre class="body-text">{kind === 'json' && current === 'text' ? JSON.stringify(JSON.parse(text!), null, 2) : text}</pre>
      ) : kind === 'json' ? (
        <JsonTree value={JSON.parse(text!) as unknown} />
      ) : kind === 'image' ? (
        <img class="body-image" alt={`${label} (${type})`} src={`data:${type};base64,${body.data}`} />
      ) : (
        <HexView bytes={decoded.bytes} />
      )}
    </div>
  );
}
