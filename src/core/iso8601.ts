// Date.parse is no validator: it accepts "2024-02-30" (as 1 March) and many non-ISO forms, and reads
// a date-time without offset as local time. The API wants the strict ISO 8601 / RFC 3339 subset.
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;

// An unencoded "+02:00" in a query string arrives as " 02:00" ("+" means space in
// application/x-www-form-urlencoded). A space can mean nothing else there, so put the "+" back.
const PLUS_DECODED_AS_SPACE = /^(.*[Tt]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?) (\d{2}(?::?\d{2})?)$/;

function inRange(n: number, min: number, max: number): boolean {
  return n >= min && n <= max;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

/** Offset from UTC in minutes; 0 for "Z" or no offset (a time without offset is read as UTC). */
function offsetMinutes(zone: string | undefined): number | null {
  if (zone === undefined || zone === 'Z' || zone === 'z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (!inRange(hours, 0, 23) || !inRange(minutes, 0, 59)) return null;
  return sign * (hours * 60 + minutes);
}

/**
 * Parses an ISO 8601 date ("2024-05-01", midnight UTC) or date-time ("2024-05-01T12:00:00Z",
 * "2024-05-01T14:00+02:00", fractions to nanoseconds, no offset = UTC) into epoch milliseconds.
 * Returns null for anything else, including impossible dates such as 2024-02-30.
 */
export function parseIso8601(value: string): number | null {
  const m = ISO_8601.exec(value.replace(PLUS_DECODED_AS_SPACE, '$1+$2'));
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [
    number, number, number, number, number, number,
  ];
  if (!inRange(month, 1, 12) || !inRange(day, 1, daysInMonth(year, month))) return null;
  if (!inRange(hour, 0, 23) || !inRange(minute, 0, 59) || !inRange(second, 0, 59)) return null;
  const offset = offsetMinutes(m[8]);
  if (offset === null) return null;
  const millis = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 to 1900–1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millis);
  return date.getTime() - offset * 60_000;
}
