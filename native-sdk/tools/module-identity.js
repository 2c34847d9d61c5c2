#!/usr/bin/env node
// Prints module.yml's code and version for the build glues (erpmod.gypi, erpmod.cmake), which compile
// them into the library as ERPMOD_BUILD_CODE / ERPMOD_BUILD_VERSION: module.yml stays the one place
// the module's identity is written. Plain JavaScript with no dependencies, because builders run it
// before anything else is known about the project.
//
//   node module-identity.js <module.yml> gyp     'ERPMOD_BUILD_CODE="hello"' 'ERPMOD_BUILD_VERSION="1.0.0"'
//   node module-identity.js <module.yml> cmake   hello;1.0.0
//
// A missing module.yml prints nothing (a library built outside a module directory keeps the
// literals it was given); a module.yml without a usable code or version fails the build.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [file = 'module.yml', format = 'gyp'] = process.argv.slice(2);
const manifest = path.resolve(file);
if (!fs.existsSync(manifest)) process.exit(0);

const text = fs.readFileSync(manifest, 'utf8');
// Top-level scalars only; quoting as YAML allows it. The same rules as module.yml's schema.
const rules = {
  code: /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/,
  version: /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/,
};
const values = {};
for (const key of Object.keys(rules)) {
  const match = new RegExp(`^${key}:[ \\t]*(?:"([^"]*)"|'([^']*)'|([^#\\s][^#\\r\\n]*?))[ \\t]*(?:#.*)?$`, 'm').exec(text);
  const value = match === null ? undefined : (match[1] ?? match[2] ?? match[3]);
  if (value === undefined || !rules[key].test(value)) {
    process.stderr.write(`erpmod: ${manifest}: expected a top-level ${key} (${key === 'code' ? 'lowercase kebab-case' : 'a semantic version like 1.0.0'}), found ${value === undefined ? 'none' : JSON.stringify(value)}\n`);
    process.exit(1);
  }
  values[key] = value;
}
if (format === 'cmake') {
  process.stdout.write(`${values.code};${values.version}\n`);
} else {
  process.stdout.write(`'ERPMOD_BUILD_CODE="${values.code}"' 'ERPMOD_BUILD_VERSION="${values.version}"'\n`);
}
