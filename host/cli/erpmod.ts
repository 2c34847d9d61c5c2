#!/usr/bin/env -S node --no-memory-reducer
// The flag: host/runtime/node-flags.ts (`env -S` splits the line; GNU coreutils 8.30+, BSD, macOS).
import { runCli } from './run-cli';

void runCli(process.argv.slice(2)).then((code) => {
  if (code !== undefined) process.exitCode = code;
});
