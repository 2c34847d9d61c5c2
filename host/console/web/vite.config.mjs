// Builds the operator console into dist/console-web, which the admin listener serves under /console.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/console/',
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: path.resolve(here, '..', '..', '..', 'dist', 'console-web'),
    emptyOutDir: true,
    // The page's CSP allows no inline script: everything, the preload helper included, stays in files.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: 'es2022',
  },
});
