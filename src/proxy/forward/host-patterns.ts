/**
 * `forward.tunnel_hosts` patterns: `bank.example.com` matches that name, `*.example.com` any name
 * under it, `*` everything; case-insensitive, a trailing dot ignored. One regular expression for
 * the whole list, compiled once.
 */
export function hostMatcher(patterns: readonly string[]): (host: string) => boolean {
  if (patterns.length === 0) return () => false;
  const alternatives = patterns.map((p) =>
    p
      .toLowerCase()
      .replace(/\.$/, '')
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*'),
  );
  const re = new RegExp(`^(?:${alternatives.join('|')})$`);
  return (host) => re.test(host.toLowerCase().replace(/\.$/, ''));
}
