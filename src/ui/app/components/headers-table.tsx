import type { HeaderLine } from '../types';

/** Header lines in order and case as recorded; redacted values marked. */
export function HeadersTable({ headers, caption }: { headers: readonly HeaderLine[]; caption: string }) {
  if (headers.length === 0) return <p class="empty">no {caption.toLowerCase()}</p>;
  return (
    <table class="kv">
      <caption class="sr-only">{caption}</caption>
      <tbody>
        {headers.map(([name, value], i) => (
          <tr key={i}>
            <th scope="row">{name}</th>
            <td class={value.includes('REDACTED') ? 'redacted-mark' : undefined} title={value.includes('REDACTED') ? 'redacted at record time' : undefined}>
              {value}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
