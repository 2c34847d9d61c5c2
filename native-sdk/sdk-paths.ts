/**
 * `require('erpmod/sdk')`: where the kit's native SDK is, for build files that find it through node's
 * package resolution, as binding.gyp files find node-addon-api (`require('node-addon-api').include_dir`):
 *
 *   execute_process(COMMAND node -p "require('erpmod/sdk').cmake" ...)       # CMakeLists.txt
 *   "include_dirs": ["<!(node -p \"require('erpmod/sdk').include_dir\")"]      # binding.gyp
 *
 * The names follow node-addon-api's (snake_case) because build files read them next to its.
 */
import path from 'node:path';

/** native-sdk/ of the installed kit (this file is dist/native-sdk/sdk-paths.js). */
export const sdk_dir = path.resolve(__dirname, '..', '..', 'native-sdk');
/** The C/C++ headers: `#include <erpmod/module.h>`, `#include "erpmod/abi.h"`. */
export const include_dir = path.join(sdk_dir, 'include');
/** node-gyp glue: include it in each module target of a binding.gyp. */
export const gypi = path.join(sdk_dir, 'gyp', 'erpmod.gypi');
/** cmake-js glue: `include()` it, then `erpmod_add_module(<code> SOURCES ...)`. */
export const cmake = path.join(sdk_dir, 'cmake', 'erpmod.cmake');
