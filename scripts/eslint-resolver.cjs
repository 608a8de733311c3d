'use strict';
/**
 * Import resolver (eslint-module-utils interface 2) for eslint-plugin-boundaries: resolves an
 * import the way tsc does, so "./x.js" names x.ts. TypeScript's own resolver, which the project
 * already has, rather than a resolver package: the maintained one (eslint-import-resolver-typescript
 * 4) brings a native resolver whose install step may fetch a binary.
 */
const { isBuiltin } = require('node:module');
const ts = require('typescript');

const options = { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, allowJs: true };

exports.interfaceVersion = 2;

exports.resolve = function resolve(source, file) {
  if (isBuiltin(source)) return { found: true, path: null };
  const m = ts.resolveModuleName(source, file, options, ts.sys).resolvedModule;
  if (m === undefined) return { found: false };
  return { found: true, path: m.isExternalLibraryImport ? null : m.resolvedFileName };
};
