// The request shapes a run measures, named on the command line by --sizes.

/**
 * Parse "1k,64k,post1k" into workloads. GET sizes are what the backend serves (1k, 64k);
 * "post<N>k" sends an N KiB body to POST /echo and expects it back (request-body streaming).
 */
export function parseSizes(list) {
  return list.split(',').map((raw) => {
    const name = raw.trim();
    if (name === '1k' || name === '64k') {
      const bytes = name === '1k' ? 1024 : 65536;
      return { name, method: 'GET', path: `/${name}`, bodyBytes: 0, expectBytes: bytes, kib: bytes / 1024 };
    }
    const post = /^post(\d{1,5})k$/.exec(name);
    if (post) {
      const bytes = Number(post[1]) * 1024;
      if (bytes > 0) return { name, method: 'POST', path: '/echo', bodyBytes: bytes, expectBytes: bytes, kib: bytes / 1024 };
    }
    throw new Error(`--sizes: unknown size "${name}"; use 1k, 64k or post<N>k (e.g. post1k)`);
  });
}
